"""Rules cached per process, keyed by the automation revision (addons/webhooks/rules/revision.py).

Each app here stands for a server process: ``app`` is where the admin edits, ``second_app``
serves the calls with its own caches, on the same database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import AutomationRule, ServerAction
from addons.webhooks.rules import revision
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.conftest import BUMP_REVISION, read

SHOP = "203.0.113.9"


def _revision(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(
            sa.text("SELECT revision FROM base_automation_revision")
        ).scalar_one()


def _set_currency_rule(make_rule: Any, currency: str, **values: Any) -> dict[str, Any]:
    """Use case 1's rule: order 7 (the default Target Record) to ``currency``."""
    action = {
        "name": "Set currency",
        "action_type": "update_record",
        "settings": {"field": "currency_id", "value": _currency_id(currency)},
    }
    return make_rule("sale.order", [action], **values)


def _currency_id(name: str) -> int:
    return get_env()["res.currency"].search([("name", "=", name)]).id


def _order_currency(app: Flask) -> str:
    return read(app, "sale.order", [("id", "=", 7)], ["currency_id"])[0]["currency_id"][1]


def _call(client: Any, rule: dict[str, Any], remote: str = SHOP) -> Any:
    payload = {"_model": "sale.order", "_id": "7"}
    return client.post(rule["path"], json=payload, environ_base={"REMOTE_ADDR": remote})


def test_every_committed_change_of_rules_and_actions_bumps_the_revision(
    app: Flask, make_rule: Any
) -> None:
    start = _revision(app)
    with app.app_context():
        rule = _set_currency_rule(make_rule, "USD")  # a rule and an action: one transaction
    after_create = _revision(app)
    assert after_create > start
    with app.app_context():  # the unit of work
        db.session.get(AutomationRule, rule["id"]).log_calls = True
        db.session.commit()
    after_edit = _revision(app)
    assert after_edit > after_create
    with app.app_context():  # a bulk statement through the session
        db.session.execute(sa.update(ServerAction).values(name="Renamed"))
        db.session.commit()
    after_bulk = _revision(app)
    assert after_bulk > after_edit
    with app.app_context():  # rolled back: nothing changed, no new revision
        db.session.get(AutomationRule, rule["id"]).name = "Never saved"
        db.session.flush()
        db.session.rollback()
    assert _revision(app) == after_bulk


def test_a_process_runs_its_copy_of_the_rule_until_the_revision_changes(
    app: Flask, second_app: Flask, make_rule: Any, demo: None
) -> None:
    with app.app_context():
        rule = _set_currency_rule(make_rule, "USD")
        eur = _currency_id("EUR")
    caller = second_app.test_client()
    assert _call(caller, rule).status_code == 200
    assert _order_currency(app) == "USD"
    with app.app_context():  # SQL by hand, without telling the processes
        db.session.execute(
            sa.text("UPDATE ir_actions_server SET settings = :settings WHERE rule_id = :rule"),
            {"settings": f'{{"field": "currency_id", "value": {eur}}}', "rule": rule["id"]},
        )
        db.session.commit()
    # Not read again: the process's copy still sets USD (no per-call rule query)...
    assert _call(caller, rule).status_code == 200
    assert _order_currency(app) == "USD"
    with app.app_context():  # ...until the revision says rules changed
        db.session.execute(sa.text(BUMP_REVISION))
        db.session.commit()
    response = _call(caller, rule)
    assert response.status_code == 200, response.get_json()
    assert _order_currency(app) == "EUR"


def test_a_rule_deleted_in_another_process_answers_404_and_runs_nothing(
    app: Flask, second_app: Flask, make_rule: Any, demo: None
) -> None:
    with app.app_context():
        rule = _set_currency_rule(make_rule, "USD", log_calls=True)
    caller = second_app.test_client()
    assert _call(caller, rule).status_code == 200
    with app.app_context():
        eur = _currency_id("EUR")
        get_env()["sale.order"].browse(7).write({"currency_id": eur})
        db.session.delete(db.session.get(AutomationRule, rule["id"]))
        db.session.commit()
    assert _call(caller, rule).status_code == 404
    assert _order_currency(app) == "EUR"


def test_guards_changed_in_another_process_apply_to_the_next_call(
    app: Flask, second_app: Flask, make_rule: Any, demo: None
) -> None:
    with app.app_context():
        rule = _set_currency_rule(make_rule, "USD", ip_allowlist="198.51.100.0/24")
    caller = second_app.test_client()
    assert _call(caller, rule).status_code == 403  # cached with the shop not allowed
    with app.app_context():
        db.session.get(AutomationRule, rule["id"]).ip_allowlist = "203.0.113.0/24"
        db.session.commit()
    # The copy would refuse; a refusal is only answered once the rule is known to be current.
    assert _call(caller, rule).status_code == 200
    assert _order_currency(app) == "USD"
    with app.app_context():
        db.session.get(AutomationRule, rule["id"]).ip_allowlist = "198.51.100.0/24"
        db.session.commit()
    # The copy would run; the call's transaction finds a newer revision and starts again.
    assert _call(caller, rule).status_code == 403


def test_a_record_rule_added_in_another_process_fires_from_the_next_transaction(
    app: Flask, second_app: Flask, make_rule: Any, demo: None
) -> None:
    def set_state(state: str) -> None:
        with second_app.app_context():
            get_env()["sale.order"].browse(7).write({"state": state})
            db.session.commit()

    set_state("sent")  # the second process reads the record rules: none
    with app.app_context():
        usd, eur = _currency_id("USD"), _currency_id("EUR")
    make_rule(
        "sale.order",
        [
            {
                "name": "To USD",
                "action_type": "update_record",
                "settings": {"field": "currency_id", "value": usd},
            }
        ],
        trigger="on_write",
        trigger_fields="state",
    )
    with app.app_context():
        get_env()["sale.order"].browse(7).write({"currency_id": eur})
        db.session.commit()
    set_state("draft")
    assert _order_currency(app) == "USD"


def test_a_transaction_that_changed_rules_reads_them_itself(app: Flask, make_rule: Any) -> None:
    with app.app_context():
        session = db.session()
        assert revision.current(session) is not None
        rule = get_env(trusted=True)["base.automation"].create(
            {"name": "Uncommitted", "model": "sale.order"}
        )
        db.session.flush()
        assert revision.current(session) is None  # nothing it reads may be cached
        assert rule.id is not None
        db.session.rollback()
        assert revision.current(session) is not None
