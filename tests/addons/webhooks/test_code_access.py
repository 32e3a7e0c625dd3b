"""What rule code can reach of the automation engine through ``env``: real webhook calls.

Rules, actions, the call log, the outbox and its attempts are read-only to automation code;
their secrets (a rule's URL secret and its digests, signing secrets and their previous values,
an action's settings with their header values, a message's extra headers) cannot be read,
searched, sorted by or written, through any path; the engine's own tables (idempotency keys,
the revision counter) are not models at all. This holds for code an admin wrote as much as for
anyone's: whoever writes a rule must not learn another rule's URL or change the log that
records what the rules did. Each attempt below is the Execute Code action of a real rule,
called over HTTP; each fails with a message naming what was refused, and nothing leaks or
changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from addons.webhooks.models import (
    AutomationRule,
    ServerAction,
    WebhookCall,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookRequest,
)
from nightpos_app.extensions import db
from tests.support.web import ADMIN, api_client, read_records

MakeRule = Callable[..., dict[str, Any]]

RECEIVER_TOKEN = "Bearer receiver-token-5b1e"  # noqa: S105 (test data)
NOTIFY = {
    "name": "Notify ERP",
    "action_type": "send_webhook",
    "settings": {
        "url": "https://receiver.example/hook",
        "fields": ["note"],
        "headers": {"Authorization": RECEIVER_TOKEN},
    },
}
#: The engine's tables and their rows: what rule code must leave alone.
ENGINE_TABLES = (
    AutomationRule,
    ServerAction,
    WebhookCall,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookRequest,
)


@pytest.fixture
def victim(app: Flask, make_rule: MakeRule) -> dict[str, Any]:
    """A rule with secrets of every kind: its URL (and a previous one in its grace period), its
    signing secret, a Send Webhook action (signing secret, previous one, a receiver's token in
    its headers), a logged call, a message in the outbox with an attempt, an idempotency key."""
    rule = make_rule("sale.order", actions=[NOTIFY], log_calls=True, name="Victim")
    with app.app_context():
        row = db.session.get(AutomationRule, rule["id"])
        row.rotate_secret(dt.timedelta(hours=1))
        action = db.session.scalars(
            sa.select(ServerAction).where(ServerAction.rule_id == rule["id"])
        ).one()
        action.rotate_signing_secret(dt.timedelta(hours=1))
        db.session.commit()
        rule.update(
            action=action.id,
            secret=row.webhook_secret,
            path=f"/web/hook/{row.webhook_secret}",
            secrets=[
                row.webhook_secret,
                row.webhook_secret_digest,
                row.previous_secret_digest,
                row.signing_secret,
                action.signing_secret,
                action.previous_signing_secret,
                RECEIVER_TOKEN,
                "receiver-token-5b1e",
            ],
        )
    response = app.test_client().post(rule["path"], json={"_model": "sale.order", "_id": 7})
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
        db.session.add(WebhookDeliveryAttempt(delivery_id=delivery.id, status_code=503))
        db.session.add(WebhookRequest(rule_id=rule["id"], key="key-1", http_status=200, body={}))
        db.session.commit()
        rule["delivery"] = delivery.id
    assert all(rule["secrets"])
    return rule


@pytest.fixture
def attacker(app: Flask, make_rule: MakeRule, victim: dict[str, Any]) -> dict[str, Any]:
    """An admin's rule on order 7 whose Execute Code each test replaces."""
    return make_rule(
        "sale.order",
        target_record="model.browse([7])",
        actions=[{"name": "Try", "action_type": "execute_code", "settings": {"code": "pass"}}],
        log_calls=True,
        name="Attacker",
    )


def put_code(app: Flask, rule_id: int, code: str) -> None:
    with app.app_context():
        action = db.session.scalars(
            sa.select(ServerAction).where(ServerAction.rule_id == rule_id)
        ).one()
        action.settings = {"code": code}
        db.session.commit()


def engine_rows(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the engine's tables, every column (the call log of the attacker's own
    calls aside: the endpoint writes one per call)."""
    with app.app_context():
        rows = {}
        for model in ENGINE_TABLES:
            table = model.__table__
            query = sa.select(table).order_by(table.c.id)
            if model is WebhookCall:
                query = query.where(
                    table.c.rule_id.in_(
                        sa.select(AutomationRule.id).where(AutomationRule.name == "Victim")
                    )
                )
            rows[table.name] = [tuple(r) for r in db.session.execute(query)]
        return rows


def everything_said(app: Flask, response_text: str) -> str:
    """The answer, and every call-log row and order note the calls left: where a secret read
    by the code could have gone."""
    with app.app_context():
        calls = db.session.scalars(sa.select(WebhookCall)).all()
        logged = [f"{c.payload} {c.error_message} {c.traceback}" for c in calls]
    notes = [str(o["note"]) for o in read_records(app, "sale.order", [], ["note"])]
    return "\n".join([response_text, *logged, *notes])


def call(app: Flask, client: FlaskClient, attacker: dict[str, Any]) -> Any:
    return client.post(attacker["path"], json={"victim": "x"})


def code_for(template: str, victim: dict[str, Any]) -> str:
    return template.format(rule=victim["id"], action=victim["action"], delivery=victim["delivery"])


#: (what, code, what the answer says). ``{rule}``, ``{action}`` and ``{delivery}`` are the
#: victim's ids. Each piece of code puts what it reads into the order's note (where the caller
#: could read it back), if it ever gets that far.
READS = [
    (
        "attribute",
        "record.write({{'note': env['base.automation'].browse({rule}).webhook_secret}})",
        "base.automation.webhook_secret cannot be read by automation code",
    ),
    (
        "item",
        "record.write({{'note': env['base.automation'].browse({rule})['signing_secret']}})",
        "base.automation.signing_secret cannot be read by automation code",
    ),
    (
        "digest",
        "record.write({{'note': env['base.automation'].browse({rule}).webhook_secret_digest}})",
        "base.automation.webhook_secret_digest cannot be read by automation code",
    ),
    (
        "previous digest",
        "record.write({{'note': env['base.automation'].browse({rule}).previous_secret_digest}})",
        "base.automation.previous_secret_digest cannot be read by automation code",
    ),
    (
        "read",
        "record.write({{'note': str(env['base.automation'].browse({rule})"
        ".read(['name', 'webhook_secret']))}})",
        "base.automation.webhook_secret cannot be read by automation code",
    ),
    (
        "mapped",
        "record.write({{'note': str(env['base.automation'].search([]).mapped('signing_secret'))}})",
        "base.automation.signing_secret cannot be read by automation code",
    ),
    (
        "filtered",
        "record.write({{'note': str(env['base.automation'].search([])"
        ".filtered('webhook_secret'))}})",
        "base.automation.webhook_secret cannot be read by automation code",
    ),
    (
        "dotted mapped",
        "record.write({{'note': str(env['base.automation.call'].search([])"
        ".mapped('rule_id.webhook_secret'))}})",
        "base.automation.webhook_secret cannot be read by automation code",
    ),
    (
        "through a relation",
        "record.write({{'note': env['ir.actions.server'].browse({action}).rule_id"
        ".webhook_secret}})",
        "base.automation.webhook_secret cannot be read by automation code",
    ),
    (
        "action signing secret",
        "record.write({{'note': env['ir.actions.server'].browse({action}).signing_secret}})",
        "ir.actions.server.signing_secret cannot be read by automation code",
    ),
    (
        "action previous signing secret",
        "record.write({{'note': env['ir.actions.server'].browse({action})"
        ".previous_signing_secret}})",
        "ir.actions.server.previous_signing_secret cannot be read by automation code",
    ),
    (
        "action settings (header values)",
        "record.write({{'note': str(env['ir.actions.server'].browse({action}).settings)}})",
        "ir.actions.server.settings cannot be read by automation code",
    ),
    (
        "action settings, read()",
        "record.write({{'note': str(env['ir.actions.server'].browse({action})"
        ".read(['settings']))}})",
        "ir.actions.server.settings cannot be read by automation code",
    ),
    (
        "message headers",
        "record.write({{'note': str(env['webhook.delivery'].browse({delivery}).headers)}})",
        "webhook.delivery.headers cannot be read by automation code",
    ),
    (
        "message's action settings",
        "record.write({{'note': str(env['webhook.delivery'].browse({delivery})"
        ".mapped('action_id.settings'))}})",
        "ir.actions.server.settings cannot be read by automation code",
    ),
]

SEARCHES = [
    (
        "like",
        "record.write({{'note': str(env['base.automation'].search("
        "[('webhook_secret', 'like', 'a%')]))}})",
        "base.automation.webhook_secret cannot be searched by automation code",
    ),
    (
        "=like",
        "env['base.automation'].search([('webhook_secret', '=like', 'a%')])",
        "base.automation.webhook_secret cannot be searched by automation code",
    ),
    (
        "search_count",
        "env['base.automation'].search_count([('signing_secret', 'ilike', 'whsec_a')])",
        "base.automation.signing_secret cannot be searched by automation code",
    ),
    (
        "digest equality",
        "env['base.automation'].search([('webhook_secret_digest', '=', 'ab')])",
        "base.automation.webhook_secret_digest cannot be searched by automation code",
    ),
    (
        "previous digest",
        "env['base.automation'].search([('previous_secret_digest', '!=', False)])",
        "base.automation.previous_secret_digest cannot be searched by automation code",
    ),
    (
        "behind an operator",
        "env['base.automation'].search(['|', ('name', '=', 'x'), ('webhook_secret', '>', 'm')])",
        "base.automation.webhook_secret cannot be searched by automation code",
    ),
    (
        "dotted path",
        "env['base.automation.call'].search([('rule_id.webhook_secret', 'like', 'a%')])",
        "base.automation.webhook_secret cannot be searched by automation code",
    ),
    (
        "dotted path to an action",
        "env['webhook.delivery'].search([('action_id.signing_secret', 'like', 'whsec_a%')])",
        "ir.actions.server.signing_secret cannot be searched by automation code",
    ),
    (
        "action settings",
        "env['ir.actions.server'].search([('settings', '!=', False)])",
        "ir.actions.server.settings cannot be searched by automation code",
    ),
    (
        "message headers",
        "env['webhook.delivery'].search([('headers', '=', False)])",
        "webhook.delivery.headers cannot be searched by automation code",
    ),
    (
        "order",
        "env['base.automation'].search([], order='webhook_secret')",
        "base.automation.webhook_secret cannot be sorted by automation code",
    ),
    (
        "order, second key",
        "env['base.automation'].search([], order='name, signing_secret desc')",
        "base.automation.signing_secret cannot be sorted by automation code",
    ),
    (
        "order of actions",
        "env['ir.actions.server'].search([], order='previous_signing_secret')",
        "ir.actions.server.previous_signing_secret cannot be sorted by automation code",
    ),
]

WRITES = [
    (
        "unlink the call log",
        "env['base.automation.call'].search([]).unlink()",
        "base.automation.call records are read-only to automation code",
    ),
    (
        "forge a call",
        "env['base.automation.call'].create({{'rule_id': {rule}, 'method': 'POST', "
        "'status': 'ok', 'http_status': 200}})",
        "base.automation.call records are read-only to automation code",
    ),
    (
        "unlink the outbox",
        "env['webhook.delivery'].search([]).unlink()",
        "webhook.delivery records are read-only to automation code",
    ),
    (
        "redirect a message",
        "env['webhook.delivery'].browse({delivery}).write({{'url': 'https://evil.example/'}})",
        "webhook.delivery records are read-only to automation code",
    ),
    (
        "unlink the attempts",
        "env['webhook.delivery.attempt'].search([]).unlink()",
        "webhook.delivery.attempt records are read-only to automation code",
    ),
    (
        "rewrite a rule's code",
        "env['base.automation'].browse({rule}).write({{'target_record': 'model.browse([1])'}})",
        "base.automation records are read-only to automation code",
    ),
    (
        "deactivate a rule",
        "env['base.automation'].browse({rule}).write({{'active': False}})",
        "base.automation records are read-only to automation code",
    ),
    (
        "create a rule",
        "env['base.automation'].create({{'name': 'Mine', 'model': 'sale.order'}})",
        "base.automation records are read-only to automation code",
    ),
    (
        "delete a rule",
        "env['base.automation'].browse({rule}).unlink()",
        "base.automation records are read-only to automation code",
    ),
    (
        "add code to a rule",
        "env['ir.actions.server'].create({{'rule_id': {rule}, 'name': 'Mine', "
        "'action_type': 'execute_code', 'settings': {{'code': 'pass'}}}})",
        "ir.actions.server records are read-only to automation code",
    ),
    (
        "rename an action",
        "env['ir.actions.server'].browse({action}).write({{'name': 'Mine'}})",
        "ir.actions.server records are read-only to automation code",
    ),
    (
        "delete an action",
        "env['ir.actions.server'].browse({action}).unlink()",
        "ir.actions.server records are read-only to automation code",
    ),
    (
        "idempotency keys",
        "env['base.automation.request'].search([]).unlink()",
        "unknown model 'base.automation.request'",
    ),
    (
        "the revision counter",
        "env['base.automation.revision'].search([])",
        "unknown model 'base.automation.revision'",
    ),
]


@pytest.mark.parametrize(
    ("what", "template", "message"),
    READS + SEARCHES + WRITES,
    ids=[what for what, _, _ in READS + SEARCHES + WRITES],
)
def test_rule_code_cannot_reach_secrets_or_change_the_engine(
    app: Flask,
    client: FlaskClient,
    victim: dict[str, Any],
    attacker: dict[str, Any],
    what: str,
    template: str,
    message: str,
) -> None:
    put_code(app, attacker["id"], code_for(template, victim))
    before = engine_rows(app)
    response = call(app, client, attacker)
    assert response.status_code == 500, (what, response.get_data(as_text=True))
    # The refusal, after the step it came from (the attacker's one action).
    assert response.get_json() == {"status": "error", "message": f"Action 1 'Try': {message}"}
    said = everything_said(app, response.get_data(as_text=True))
    for secret in victim["secrets"]:
        assert secret not in said, what
    assert engine_rows(app) == before, what
    # The victim's URL still works, and only with its own secret.
    assert client.post(victim["path"], json={"_model": "sale.order", "_id": 7}).status_code == 200


def test_caught_refusals_leak_nothing_and_change_nothing(
    app: Flask, client: FlaskClient, victim: dict[str, Any], attacker: dict[str, Any]
) -> None:
    """Code that catches each refusal and goes on learns only the refusal's message."""
    attempts = [code_for(template, victim) for _, template, _ in READS + SEARCHES + WRITES]
    code = "\n".join(
        [
            "said = []",
            *(
                f"try:\n    {line}\nexcept Exception as exc:\n    said.append(str(exc))"
                for attempt in attempts
                for line in [attempt.replace("\n", " ")]
            ),
            "record.write({'note': ' | '.join(said)})",
        ]
    )
    put_code(app, attacker["id"], code)
    before = engine_rows(app)
    response = call(app, client, attacker)
    assert response.status_code == 200, response.get_json()
    note = read_records(app, "sale.order", [("id", "=", 7)], ["note"])[0]["note"]
    assert note.count(" | ") == len(attempts) - 1
    for _, _, message in READS + SEARCHES + WRITES:
        assert message in note
    said = everything_said(app, response.get_data(as_text=True))
    for secret in victim["secrets"]:
        assert secret not in said
    assert engine_rows(app) == before


def test_rule_code_reads_the_rest_of_rules_actions_and_logs(
    app: Flask, client: FlaskClient, victim: dict[str, Any], attacker: dict[str, Any]
) -> None:
    """Read-only is still readable: names, models, states, the log's statuses; read() without
    names gives every field the code may read, and no secret."""
    code = code_for(
        "rule = env['base.automation'].browse({rule})\n"
        "row = rule.read()[0]\n"
        "action = env['ir.actions.server'].browse({action}).read()[0]\n"
        "message = env['webhook.delivery'].browse({delivery}).read()[0]\n"
        "calls = env['base.automation.call'].search([('rule_id', '=', {rule})])\n"
        "parts = [rule.name, rule.model, rule.trigger, str(len(calls)), calls[0].status,\n"
        "         message['state'], str(message['url']),\n"
        "         str(env['webhook.delivery.attempt'].search_count([])),\n"
        "         ','.join(sorted(row)), ','.join(sorted(action)), ','.join(sorted(message)),\n"
        "         ' '.join([str(v) for v in row.values()]),\n"
        "         ' '.join([str(v) for v in action.values()]),\n"
        "         ' '.join([str(v) for v in message.values()])]\n"
        "record.write({{'note': ' | '.join(parts)}})",
        victim,
    )
    put_code(app, attacker["id"], code)
    response = call(app, client, attacker)
    assert response.status_code == 200, response.get_json()
    note = read_records(app, "sale.order", [("id", "=", 7)], ["note"])[0]["note"]
    parts = note.split(" | ")
    assert parts[:8] == [
        "Victim",
        "sale.order",
        "on_webhook",
        "1",
        "ok",
        "pending",
        "https://receiver.example/hook",
        "1",
    ]
    rule_fields, action_fields, message_fields = (set(p.split(",")) for p in parts[8:11])
    assert {"name", "target_record", "trigger", "description"} <= rule_fields
    assert not rule_fields & {
        "webhook_secret",
        "webhook_secret_digest",
        "previous_secret_digest",
        "signing_secret",
    }
    assert {"name", "action_type", "rule_id"} <= action_fields
    assert not action_fields & {"settings", "signing_secret", "previous_signing_secret"}
    assert {"url", "body", "state"} <= message_fields and "headers" not in message_fields
    for secret in victim["secrets"]:
        assert secret not in note


def test_a_record_rules_code_is_held_to_the_same(
    app: Flask, client: FlaskClient, victim: dict[str, Any], make_rule: MakeRule
) -> None:
    """Record triggers run actions in an environment for automation code too: the rule fails,
    and the change that triggered it is rolled back with the rule's message."""
    make_rule(
        "sale.order",
        trigger="on_write",
        name="Spy",
        actions=[
            {
                "name": "Read",
                "action_type": "execute_code",
                "settings": {
                    "code": code_for(
                        "record.write({{'note': env['base.automation'].browse({rule})"
                        ".webhook_secret}})",
                        victim,
                    )
                },
            }
        ],
    )
    before = read_records(app, "sale.order", [("id", "=", 5)], ["state", "note"])
    response = api_client(client, ADMIN).put("/api/v1/sale_order/5", json={"note": "changed"})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "base.automation.webhook_secret cannot be read by automation code" in text
    assert victim["secret"] not in text
    assert read_records(app, "sale.order", [("id", "=", 5)], ["state", "note"]) == before


def test_a_domain_on_a_secret_is_refused_when_the_rule_is_saved(
    client: FlaskClient, victim: dict[str, Any]
) -> None:
    """A record rule's Apply On domain would be an oracle too (the rule runs, or not): a rule
    on the automation rules themselves cannot filter on their secrets."""
    api = api_client(client, ADMIN)
    for column in ("filter_domain", "filter_pre_domain"):
        response = api.post(
            "/api/v1/base_automation/",
            {
                "name": "Oracle",
                "model": "base.automation",
                "trigger": "on_write",
                column: "[('webhook_secret', 'like', 'a%')]",
            },
        )
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["message"][column] == [
            "base.automation.webhook_secret cannot be searched by automation code"
        ]


def test_a_deleted_records_values_kept_for_its_rules_leave_secrets_out(
    app: Flask, client: FlaskClient, victim: dict[str, Any], make_rule: MakeRule
) -> None:
    """On delete the row is gone and Send Webhook Notification sends the values the trigger
    kept: a secret field is not among them, even when an action asks for it."""
    make_rule(
        "ir.actions.server",
        trigger="on_unlink",
        name="Deleted actions",
        actions=[
            {
                "name": "Tell",
                "action_type": "send_webhook",
                "settings": {"url": "https://audit.example/hook", "fields": ["name", "settings"]},
            }
        ],
    )
    response = api_client(client, ADMIN).delete(f"/api/v1/ir_actions_server/{victim['action']}")
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        (sent,) = db.session.scalars(
            sa.select(WebhookDelivery).where(WebhookDelivery.url == "https://audit.example/hook")
        ).all()
        body = sent.body
    assert '"name":"Notify ERP"' in body and '"settings":null' in body
    for secret in victim["secrets"]:
        assert secret not in body
