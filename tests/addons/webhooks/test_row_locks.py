"""PostgreSQL: a call locks its Target Record's rows when its actions first read them.

Another connection holds a row lock, as a concurrent call or an admin's edit would: a rule that
reads the record waits for it and reads the committed value (no lost update); a rule that never
reads its Target Record (the specification's use case 2 and its placeholder) does not wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.addons.webhooks.conftest import read
from tests.conftest import TEST_DATABASE_URL
from tests.support.spec import USE_CASE_2_CODE, USE_CASE_2_PAYLOAD, USE_CASE_2_TARGET

pytestmark = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="row locks are PostgreSQL's; on SQLite a call holds the database's write lock",
)

#: How long a call may take when nothing holds it up (generous: a shared CI machine).
PROMPTLY_SECONDS = 10


@pytest.fixture
def row_lock(app: Flask) -> Iterator[Any]:
    """A connection of another client: ``hold(sql)`` runs it in a transaction left open."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    connection = engine.connect()

    def hold(statement: str) -> None:
        connection.execute(sa.text(statement))

    yield hold, connection
    connection.rollback()
    connection.close()
    engine.dispose()


def _call_in_thread(
    client: Any, path: str, payload: dict[str, Any]
) -> tuple[threading.Thread, list]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(client.post(path, json=payload)))
    thread.start()
    return thread, answers


def test_a_rule_that_reads_its_target_waits_for_the_row_and_loses_no_update(
    app: Flask, make_rule: Any, row_lock: Any
) -> None:
    increment = {
        "name": "Count",
        "action_type": "execute_code",
        "settings": {"code": "record.write({'customer_rank': record.customer_rank + 1})"},
    }
    rule = make_rule("res.partner", target_record="model.browse([2])", actions=[increment])
    before = read(app, "res.partner", [("id", "=", 2)], ["customer_rank"])[0]["customer_rank"]
    hold, connection = row_lock
    hold("UPDATE res_partner SET customer_rank = customer_rank + 10 WHERE id = 2")
    thread, answers = _call_in_thread(app.test_client(), rule["path"], {})
    time.sleep(0.5)
    assert thread.is_alive(), "the call read the row without waiting for its lock"
    connection.commit()
    thread.join(PROMPTLY_SECONDS)
    assert not thread.is_alive()
    assert answers[0].status_code == 200, answers[0].get_json()
    after = read(app, "res.partner", [("id", "=", 2)], ["customer_rank"])[0]["customer_rank"]
    assert after == before + 11


def test_a_rule_that_never_reads_its_target_does_not_wait_for_the_row(
    app: Flask, make_rule: Any, row_lock: Any
) -> None:
    code = {"name": "Create contact", "action_type": "execute_code"}
    code["settings"] = {"code": USE_CASE_2_CODE}
    rule = make_rule("res.partner", target_record=USE_CASE_2_TARGET, actions=[code])
    hold, connection = row_lock
    hold("SELECT id FROM res_partner WHERE id = 2 FOR UPDATE")  # the placeholder's row
    thread, answers = _call_in_thread(app.test_client(), rule["path"], USE_CASE_2_PAYLOAD)
    thread.join(PROMPTLY_SECONDS)
    stuck = thread.is_alive()
    connection.rollback()  # let a stuck call finish before failing
    thread.join(PROMPTLY_SECONDS)
    assert not stuck, "the call waited for a row its actions never read"
    assert answers[0].status_code == 200, answers[0].get_json()
    made = read(app, "res.partner", [("email", "=", USE_CASE_2_PAYLOAD["email"])], ["name"])
    assert [row["name"] for row in made] == [USE_CASE_2_PAYLOAD["name"]]
