"""A rule edited in one server process takes effect on the next call in every other."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import ServerAction
from nightpos_app.extensions import db

STAMP = "env['res.partner'].browse([2]).write({'name': %r})"


def _partner_name(app: Flask) -> str:
    with app.app_context():
        return db.session.execute(sa.text("SELECT name FROM res_partner WHERE id = 2")).scalar_one()


def test_an_edit_through_one_app_runs_on_the_next_call_through_another(
    app: Flask, second_app: Flask, make_rule
) -> None:
    action = {"name": "stamp", "action_type": "execute_code", "settings": {"code": STAMP % "old"}}
    rule = make_rule("res.partner", target_record="model.browse([2])", actions=[action])
    caller = second_app.test_client()
    assert caller.post(rule["path"], json={}).status_code == 200
    assert _partner_name(app) == "old"
    with app.app_context():  # the admin edits the code through the first app
        stored = db.session.scalars(
            sa.select(ServerAction).where(ServerAction.rule_id == rule["id"])
        ).one()
        stored.settings = {"code": STAMP % "new"}
        db.session.commit()
    response = caller.post(rule["path"], json={})
    assert response.status_code == 200, response.get_json()
    assert _partner_name(app) == "new"
