"""Writes that rule code does not wait for: the same outcome as waiting, one hand-over less.

Code without ``try`` cannot catch a refused write, so its runner posts ``create``, ``write``
and ``unlink`` and goes on (nightpos_app/sandbox/process/child.py). Each snippet here runs
twice over HTTP, as written and with a ``try`` in a comment (which makes the runner wait for
every answer, as any code that may catch an error does): the answers and what the database
holds afterwards must be the same, for code that succeeds and for code whose write fails.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from nightpos_app.extensions import db
from nightpos_app.sandbox.errors import SandboxError
from nightpos_app.sandbox.process.client import CodeCall
from tests.addons.webhooks.conftest import read
from tests.conftest import TEST_DATABASE_URL

ORDER = "env['sale.order'].browse(3)"

SNIPPETS = {
    # use case 2's shape: a create whose result is never used
    "create-unused": "env['res.partner'].create({'name': 'Posted', 'email': 'p@example.com'})",
    "create-then-use-its-id": (
        "p = env['res.partner'].create({'name': 'Posted'})\n"
        f"{ORDER}.write({{'partner_id': p.id}})"
    ),
    "create-then-give-the-recordset": (
        f"p = env['res.partner'].create({{'name': 'Posted'}})\n{ORDER}.write({{'partner_id': p}})"
    ),
    "create-then-read-it": (
        "p = env['res.partner'].create({'name': 'Posted', 'email': 'p@example.com'})\n"
        f"{ORDER}.write({{'note': p.name + ' ' + p.email + ' ' + str(len(p))}})"
    ),
    "create-several-then-loop": (
        "ps = env['res.partner'].create([{'name': 'One'}, {'name': 'Two'}])\n"
        "for p in ps:\n"
        "    p.write({'email': p.name.lower() + '@example.com'})\n"
        f"{ORDER}.write({{'note': ','.join(ps.mapped('email'))}})"
    ),
    "write-then-read-back": (
        f"{ORDER}.write({{'note': 'first'}})\n"
        f"{ORDER}.write({{'note': {ORDER}.note + ' then second'}})"
    ),
    "attribute-write-then-search": (
        f"o = {ORDER}\n"
        "o.note = 'by attribute'\n"
        "n = env['sale.order'].search_count([('note', '=', 'by attribute')])\n"
        "env['res.partner'].create({'name': 'found ' + str(n)})"
    ),
    "create-then-unlink": (
        "p = env['res.partner'].create({'name': 'Gone'})\n"
        "p.unlink()\n"
        "env['res.partner'].create({'name': 'Stays'})"
    ),
    # failures: the first refused write is the call's error, nothing is kept
    "write-refused": (
        "env['res.partner'].create({'name': 'Before'})\n"
        f"{ORDER}.write({{'no_such_field': 1}})\n"
        "env['res.partner'].create({'name': 'After'})"
    ),
    "create-refused-then-id-used": (
        "p = env['res.partner'].create({'email': 'no name'})\n"
        f"{ORDER}.write({{'partner_id': p.id}})"
    ),
    "write-refused-then-read": (
        f"{ORDER}.write({{'amount_total': 'many'}})\n"
        "n = env['res.partner'].search_count([])\n"
        "env['res.partner'].create({'name': 'After ' + str(n)})"
    ),
    "write-refused-then-code-raises": (
        f"{ORDER}.write({{'no_such_field': 1}})\n"
        "raise UserError('the code ran on after the refused write')"
    ),
    "unlink-of-a-missing-record": (
        "env['res.partner'].browse(999999).unlink()\nenv['res.partner'].create({'name': 'After'})"
    ),
    "second-write-refused": (
        f"{ORDER}.write({{'note': 'kept?'}})\n"
        "env['res.partner'].create({'name': 'Before'})\n"
        "env['res.partner'].browse(999999).write({'name': 'x'})"
    ),
}
FAILING = {
    "write-refused",
    "create-refused-then-id-used",
    "write-refused-then-read",
    "write-refused-then-code-raises",
    "unlink-of-a-missing-record",
    "second-write-refused",
}


def _rule(make_rule: Any, code: str) -> dict[str, Any]:
    action = {"name": "code", "action_type": "execute_code", "settings": {"code": code}}
    return make_rule("sale.order", target_record="model.browse([3])", actions=[action])


def _state(app: Flask) -> Any:
    """Contacts and order 3, by value (ids differ from run to run on PostgreSQL)."""
    partners = read(app, "res.partner", [], ["name", "email"])
    order = read(app, "sale.order", [("id", "=", 3)], ["note", "partner_id"])[0]
    partner = order["partner_id"][1] if order["partner_id"] else None
    return [(p["name"], p["email"]) for p in partners], (order["note"], partner)


@pytest.mark.parametrize("name", SNIPPETS)
def test_posted_writes_end_as_waited_writes(app: Flask, client, make_rule, name: str) -> None:
    code = SNIPPETS[name]
    before = _state(app)
    known = {p["id"] for p in read(app, "res.partner", [], ["name"])}
    outcomes = []
    for variant in (code, code + "\n# try: waits for every answer"):
        response = client.post(_rule(make_rule, variant)["path"], json={})
        outcomes.append((response.status_code, response.get_json(), _state(app)))
        # Back to the state before, so that the second variant starts where the first did.
        if response.status_code == 200:
            _restore(app, before, known)
    posted, waited = outcomes
    assert posted == waited
    if name in FAILING:
        assert posted[0] == 500 and posted[2] == before, posted
    else:
        assert posted[0] == 200 and posted[2] != before, posted


def _restore(app: Flask, before: Any, known: set[int]) -> None:
    """Delete the contacts made since, and give order 3 back its note and customer."""
    from nightpos_app.state import get_env

    with app.app_context():
        env = get_env(trusted=True)
        order = env["sale.order"].browse(3)
        note, partner = before[1]
        customer = env["res.partner"].search([("name", "=", partner)], limit=1) if partner else 0
        order.write({"note": note, "partner_id": customer.id if customer else False})
        env["res.partner"].search([("id", "not in", sorted(known))]).unlink()
        db.session.commit()
    assert _state(app) == before


def test_a_refused_post_is_the_error_even_if_the_code_then_spins(app: Flask, client, make_rule):
    """Waiting, the code would have stopped at the refused create; posting, it goes on into
    work inside one C call (exponential hashing) until the parent stops its runner at the CPU
    limit: the call still ends with the create's error, not the CPU limit's."""
    spin = "a = (1,)\nfor i in range(40):\n    a = (a, a)\nh = hash(a)"
    code = "env['res.partner'].create({'email': 'no name'})\n" + spin
    answers = []
    for variant in (code, code + "\n# try"):
        action = {"name": "code", "action_type": "execute_code", "settings": {"code": variant}}
        rule = make_rule(
            "sale.order", target_record="model.browse([3])", actions=[action], cpu_seconds=0.3
        )
        response = client.post(rule["path"], json={})
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500 and "CPU" not in answers[0][1]["message"], answers[0]


def test_code_without_try_hands_over_once_per_run(app: Flask, client, make_rule, monkeypatch):
    """Use case 2's code posts its create: the parent sends the runner the run and nothing
    more, where waiting for the create's answer costs a reply as well."""
    sent: list[bytes] = []
    original = CodeCall._send

    def counting(self: CodeCall, runner: Any, data: bytes) -> None:
        sent.append(data)
        original(self, runner, data)

    monkeypatch.setattr(CodeCall, "_send", counting)
    code = SNIPPETS["create-unused"]
    counts = []
    for variant in (code, code + "  # try"):
        rule = _rule(make_rule, variant)
        client.post(rule["path"], json={})  # the runner learns the schema on its first run
        sent.clear()
        assert client.post(rule["path"], json={}).status_code == 200
        counts.append(len(sent))
    assert counts == [1, 2]


def test_a_refused_posted_write_names_the_line_that_posted_it(app: Flask) -> None:
    from addons.webhooks.rules.state import get_webhooks
    from nightpos_app.orm.store import final_writes
    from nightpos_app.state import get_env

    code = "x = 1\n\nenv['sale.order'].browse(3).write({'no_such_field': 1})\ny = 2\n"
    with app.app_context():
        env = get_env()
        sandbox = get_webhooks().sandbox
        errors = []
        for writes in (final_writes(env), nullcontext()):
            with writes, pytest.raises(SandboxError) as caught:
                sandbox.execute(code, {"env": env})
            errors.append((caught.value.message, caught.value.kind, caught.value.lineno))
    assert errors[0] == errors[1]
    assert errors[0][1:] == ("error", 3)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL's statement_timeout")
def test_a_quick_call_sets_the_statement_timeout_once(app: Flask, client, make_rule) -> None:
    """Each record API request must not outlast the call's deadline, but a call of a few
    requests pays for ``SET LOCAL statement_timeout`` once, not once per request."""
    code = (
        "p = env['res.partner'].create({'name': 'One'})\n"
        "n = env['res.partner'].search_count([('name', '=', 'One')])\n"
        f"{ORDER}.write({{'note': str(n) + ' ' + p.name}})"
    )
    rule = _rule(make_rule, code)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        response = client.post(rule["path"], json={})
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200, response.get_json()
    assert read(app, "sale.order", [("id", "=", 3)], ["note"])[0]["note"] == "1 One"
    timeouts = [s for s in statements if s.startswith("SET LOCAL statement_timeout")]
    assert len(timeouts) == 1, statements
