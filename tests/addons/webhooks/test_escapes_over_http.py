"""The sandbox escape corpus replayed through real webhook calls.

Each attempt runs as a Target Record (eval) or an Execute Code action (exec) of a real rule,
called over HTTP. Each must end as a clean 500 with a message, leak nothing, and change nothing.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from addons.webhooks.models import AutomationRule, ServerAction
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.core.sandbox.escape_corpus import ESCAPES

CANARY_TEXT = "canary-7f3a9c-do-not-leak"


@pytest.fixture(scope="module")
def canary_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("canary") / "secret.txt"
    path.write_text(CANARY_TEXT)
    return path


@pytest.fixture
def rules(make_rule):
    """One rule per mode; each test puts the attempt's source in place."""
    return {
        "eval": make_rule(
            "sale.order",
            actions=[{"name": "noop", "action_type": "execute_code", "settings": {"code": "pass"}}],
        ),
        "exec": make_rule(
            "sale.order",
            target_record="model.browse([1])",
            actions=[
                {"name": "attempt", "action_type": "execute_code", "settings": {"code": "pass"}}
            ],
        ),
    }


def put_source(app, rule_id: int, mode: str, source: str) -> None:
    with app.app_context():
        if mode == "eval":
            db.session.get(AutomationRule, rule_id).target_record = source
        else:
            action = db.session.scalars(
                sa.select(ServerAction).where(ServerAction.rule_id == rule_id)
            ).one()
            action.settings = {"code": source}
        db.session.commit()


# A NUL character cannot be stored in a rule (PostgreSQL text refuses it, the forms and API
# refuse it on save), so those attempts can only be replayed directly against the sandbox.
STORABLE = [e for e in ESCAPES if "\x00" not in e[2]]


@pytest.mark.parametrize(("name", "mode", "source"), STORABLE, ids=[e[0] for e in STORABLE])
def test_escape_attempt_over_http(app, client, rules, canary_file, name, mode, source):
    app.config["CANARY_PATH"] = str(canary_file)
    rule = rules[mode]
    put_source(app, rule["id"], mode, source)
    orders_before = read(app, "sale.order", [], ["currency_id", "state", "amount_total"])
    partners_before = read(app, "res.partner", [], ["name", "email"])

    response = client.post(
        rule["path"], json={"_model": "sale.order", "_id": "1", "path": str(canary_file)}
    )

    assert response.status_code == 500, (name, response.get_data(as_text=True))
    body = response.get_json()
    assert body["status"] == "error" and body["message"], name
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert app.config["SECRET_KEY"] not in text
    assert CANARY_TEXT not in text
    assert canary_file.read_text() == CANARY_TEXT
    assert read(app, "sale.order", [], ["currency_id", "state", "amount_total"]) == orders_before
    assert read(app, "res.partner", [], ["name", "email"]) == partners_before
    # The server goes on serving: a harmless call on the same rule works.
    put_source(app, rule["id"], mode, "model.browse([1])" if mode == "eval" else "pass")
    assert client.post(rule["path"], json={"_model": "sale.order", "_id": "1"}).status_code == 200
