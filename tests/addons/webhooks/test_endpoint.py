"""The secret URL over HTTP: every response code, the call log, transactions."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from addons.webhooks.models import AutomationRule, WebhookCall
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.conftest import read

SET_USD = {
    "name": "Set USD",
    "action_type": "update_record",
    "settings": {
        "field": "currency_id",
        "expression": "env['res.currency'].search([('name', '=', 'USD')]).id",
    },
}


def currency_of(app, order_id):
    return read(app, "sale.order", [("id", "=", order_id)], ["currency_id"])[0]["currency_id"][1]


def calls(app, rule_id):
    with app.app_context():
        rows = db.session.scalars(
            sa.select(WebhookCall).where(WebhookCall.rule_id == rule_id).order_by(WebhookCall.id)
        )
        return [
            {c.name: getattr(row, c.name) for c in WebhookCall.__table__.columns} for row in rows
        ]


@pytest.fixture
def usd_rule(make_rule):
    return make_rule("sale.order", actions=[SET_USD], log_calls=True)


def test_id_as_a_number_works_too(app, client, usd_rule):
    response = client.post(usd_rule["path"], json={"_model": "sale.order", "_id": 3})
    assert response.status_code == 200
    assert currency_of(app, 3) == "USD"


def test_json_body_is_read_whatever_the_content_type(app, client, usd_rule):
    body = json.dumps({"_model": "sale.order", "_id": "4"})
    response = client.post(usd_rule["path"], data=body, content_type="text/plain")
    assert response.status_code == 200
    assert currency_of(app, 4) == "USD"


def test_form_body_and_query_parameters_are_the_payload(app, client, usd_rule):
    assert (
        client.post(usd_rule["path"], data={"_model": "sale.order", "_id": "5"}).status_code == 200
    )
    assert currency_of(app, 5) == "USD"
    assert client.get(usd_rule["path"] + "?_model=sale.order&_id=6").status_code == 200
    assert currency_of(app, 6) == "USD"


def test_unknown_id_is_an_error_and_changes_nothing(app, client, usd_rule):
    before = read(app, "sale.order", [], ["currency_id"])
    response = client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "99999"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["status"] == "error"
    assert "99999" in body["message"] and "Traceback" not in body["message"]
    assert read(app, "sale.order", [], ["currency_id"]) == before


def test_another_model_is_an_error_and_changes_nothing(app, client, usd_rule):
    before = read(app, "res.partner", [], ["name"])
    response = client.post(usd_rule["path"], json={"_model": "res.partner", "_id": "1"})
    assert response.status_code == 500
    message = response.get_json()["message"]
    # The step, what went wrong, and what the default Target Record expects.
    assert message.startswith(
        "Target Record: expected sale.order records, got res.partner records. "
        "Expected: _model (a technical name) and _id (a record's id as a number)"
    ), message
    assert '{"_model": "sale.order", "_id": 7}' in message
    assert read(app, "res.partner", [], ["name"]) == before


@pytest.mark.parametrize("target", ["model.browse([])", "None", "False"])
def test_empty_target_is_reported(client, make_rule, target):
    rule = make_rule("sale.order", target_record=target, actions=[SET_USD])
    response = client.post(rule["path"], json={})
    assert response.status_code == 500
    assert response.get_json()["message"] == (
        "Target Record: No record to run the automation on was found"
    )


@pytest.mark.parametrize(("target", "got"), [("42", "int"), ("[7]", "list"), ("'S00007'", "str")])
def test_target_that_is_not_records_is_reported(client, make_rule, target, got):
    rule = make_rule("sale.order", target_record=target, actions=[SET_USD])
    response = client.post(rule["path"], json={})
    assert response.status_code == 500
    assert (
        response.get_json()["message"] == f"Target Record: expected sale.order records, got {got}"
    )


def test_failure_in_a_later_action_rolls_back_the_earlier_ones(app, client, make_rule):
    failing = {
        "name": "Fail",
        "action_type": "execute_code",
        "settings": {"code": "raise UserError('stop here')"},
    }
    rule = make_rule("sale.order", actions=[SET_USD, failing])
    response = client.post(rule["path"], json={"_model": "sale.order", "_id": "7"})
    assert response.status_code == 500
    # The answer names the step that failed: the second action, by name.
    assert response.get_json() == {"status": "error", "message": "Action 2 'Fail': stop here"}
    assert currency_of(app, 7) != "USD"


def test_a_write_the_database_refuses_fails_the_call_and_keeps_nothing(app, client, make_rule):
    # Update Record writes without a savepoint (its failure ends the transaction anyway); the
    # caller still reads why, the log still has the call, and the earlier action is undone.
    rename = {
        "name": "Rename",
        "action_type": "update_record",
        "settings": {"field": "symbol", "value": "E"},
    }
    clash = {"name": "Clash", "action_type": "update_record", "settings": {"field": "name"}}
    clash["settings"]["value"] = "USD"  # unique: only the database can tell
    rule = make_rule(
        "res.currency",
        actions=[rename, clash],
        target_record="model.search([('name', '=', 'EUR')])",
        log_calls=True,
    )
    response = client.post(rule["path"], json={})
    assert response.status_code == 500
    message = response.get_json()["message"]
    assert message.startswith("Action 2 'Clash': res.currency: cannot write: the database refused")
    euro = read(app, "res.currency", [("name", "=", "EUR")], ["symbol"])
    assert [row["symbol"] for row in euro] == ["€"]
    assert [(c["http_status"], c["error_message"]) for c in calls(app, rule["id"])] == [
        (500, message)
    ]


CLASH = "env['res.currency'].search([('name', '=', 'EUR')]).write({'name': 'USD'})"


def _statements(app, call):
    """The SQL statements sent while ``call()`` runs."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        return call(), seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def test_code_without_try_writes_without_savepoints_and_fails_just_as_clearly(
    app, client, make_rule
):
    code = {"name": "Clash", "action_type": "execute_code", "settings": {"code": CLASH}}
    rule = make_rule("res.partner", actions=[code], target_record="model.browse([2])")
    response, statements = _statements(app, lambda: client.post(rule["path"], json={}))
    assert response.status_code == 500
    message = response.get_json()["message"]
    assert "res.currency: cannot write: the database refused it" in message
    assert not any("SAVEPOINT" in s for s in statements)
    assert read(app, "res.currency", [("name", "=", "EUR")], ["name"]) != []


def test_code_with_try_goes_on_after_a_refused_write(app, client, make_rule):
    source = "\n".join(
        [
            "try:",
            f"    {CLASH}",
            "except UserError:",
            "    log('refused')",
            "env['res.partner'].create({'name': 'After the refusal'})",
        ]
    )
    code = {"name": "Careful", "action_type": "execute_code", "settings": {"code": source}}
    rule = make_rule("res.partner", actions=[code], target_record="model.browse([2])")
    response, statements = _statements(app, lambda: client.post(rule["path"], json={}))
    assert response.status_code == 200, response.get_json()
    assert any("SAVEPOINT" in s for s in statements)  # what lets the transaction go on
    assert read(app, "res.partner", [("name", "=", "After the refusal")], ["name"]) != []
    assert read(app, "res.currency", [("name", "=", "EUR")], ["name"]) != []


def test_unknown_secret_and_archived_rule_are_404(app, client, usd_rule):
    assert client.post("/web/hook/not-a-secret", json={}).status_code == 404
    assert client.post("/web/hook/" + "x" * 5000, json={}).get_json() == {"status": "error"}
    with app.app_context():
        get_env(trusted=True)["base.automation"].browse(usd_rule["id"]).write({"active": False})
        db.session.commit()
    response = client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "7"})
    assert response.status_code == 404
    assert response.get_json() == {"status": "error"}
    assert currency_of(app, 7) != "USD"


def test_rotating_the_secret_retires_the_old_url(app, client, usd_rule):
    with app.app_context():
        rule = db.session.get(AutomationRule, usd_rule["id"])
        rule.rotate_secret()
        new_path = f"/web/hook/{rule.webhook_secret}"
        db.session.commit()
    assert (
        client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "7"}).status_code == 404
    )
    assert client.post(new_path, json={"_model": "sale.order", "_id": "7"}).status_code == 200


def test_bad_bodies_are_400_with_a_message(client, usd_rule):
    for body, expected in [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[1, 2]", "must be an object"),
        (b'"text"', "must be an object"),
    ]:
        response = client.post(usd_rule["path"], data=body, content_type="application/json")
        assert response.status_code == 400, body
        assert expected in response.get_json()["message"]


def test_body_above_the_limit_is_413(app, client, usd_rule):
    app.config["WEBHOOK_MAX_BODY_BYTES"] = 1000
    try:
        response = client.post(usd_rule["path"], data=b"x" * 2000, content_type="application/json")
    finally:
        del app.config["WEBHOOK_MAX_BODY_BYTES"]
    assert response.status_code == 413


def test_calls_are_logged_success_and_failure(app, client, usd_rule):
    client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "7"})
    client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "424242"})
    client.post(usd_rule["path"], data=b"{oops", content_type="application/json")
    logged = calls(app, usd_rule["id"])
    assert [(c["status"], c["http_status"], c["method"]) for c in logged] == [
        ("ok", 200, "POST"),
        ("error", 500, "POST"),
        ("error", 400, "POST"),
    ]
    assert json.loads(logged[0]["payload"]) == {"_model": "sale.order", "_id": "7"}
    assert logged[0]["error_message"] is None
    assert "424242" in logged[1]["error_message"]
    assert "Traceback" in logged[1]["traceback"]
    assert logged[0]["duration_ms"] > 0


def test_no_log_when_log_calls_is_off(app, client, make_rule):
    rule = make_rule("sale.order", actions=[SET_USD], log_calls=False)
    assert client.post(rule["path"], json={"_model": "sale.order", "_id": "7"}).status_code == 200
    assert calls(app, rule["id"]) == []


def test_logged_payload_is_truncated(app, client, usd_rule):
    app.config["WEBHOOK_LOG_PAYLOAD_BYTES"] = 200
    try:
        client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "7", "junk": "y" * 5000})
    finally:
        del app.config["WEBHOOK_LOG_PAYLOAD_BYTES"]
    (logged,) = calls(app, usd_rule["id"])
    assert logged["payload_truncated"] is True
    assert len(logged["payload"].encode()) < 300


def test_unknown_model_in_the_target_record_is_reported(client, make_rule):
    rule = make_rule("sale.order", target_record="model.env['no.such.model']", actions=[SET_USD])
    response = client.post(rule["path"], json={})
    assert response.status_code == 500
    assert "no.such.model" in response.get_json()["message"]


def test_unexpected_errors_get_a_generic_message_with_a_reference(
    app, client, usd_rule, monkeypatch, caplog
):
    from addons.webhooks.action_types.builtin import UpdateRecord

    def broken(*_args, **_kwargs):
        raise RuntimeError("internal detail: password=hunter2")

    monkeypatch.setattr(UpdateRecord, "run", broken)
    response = client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "7"})
    assert response.status_code == 500
    message = response.get_json()["message"]
    assert "hunter2" not in message and "reference" in message
    reference = message.split("reference ")[1].rstrip(").")
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)
    (logged,) = calls(app, usd_rule["id"])
    assert "RuntimeError" in logged["error_message"]  # the admin's log has the detail


def test_pruning_keeps_recent_calls_up_to_the_limit(app, client, usd_rule):
    import datetime as dt

    from addons.webhooks.rules.calllog import prune_calls

    for _ in range(5):
        client.post(usd_rule["path"], json={"_model": "sale.order", "_id": "7"})
    with app.app_context():
        oldest = db.session.scalars(sa.select(WebhookCall).order_by(WebhookCall.id)).first()
        oldest.called_at = dt.datetime(2000, 1, 1)
        db.session.commit()
        app.config["WEBHOOK_LOG_MAX_ROWS_PER_RULE"] = 3
        try:
            assert prune_calls() == 2  # one too old, one beyond the three newest
        finally:
            del app.config["WEBHOOK_LOG_MAX_ROWS_PER_RULE"]
    remaining = calls(app, usd_rule["id"])
    assert len(remaining) == 3
