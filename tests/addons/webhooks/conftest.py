"""Fixtures for webhook tests: rules made through the record API, committed like a screen would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from addons.webhooks.models import ServerAction
from nightpos_app import create_app
from nightpos_app.extensions import db
from nightpos_app.state import get_env
from tests.addons.webhooks.receiver import (
    LOOPBACK_SETTINGS,
    NOTIFY_ACTION,
    Receiver,
    action_ids,
    app_config,
    receiving,
)
from tests.support.web import ADMIN, ApiClient, api_client

BUMP_REVISION = "UPDATE base_automation_revision SET revision = revision + 1"
RULE_TABLES = (
    "webhook_delivery_attempt",
    "webhook_delivery",
    "base_automation_call",
    "base_automation_request",
    "ir_actions_server",
    "base_automation_due",
    "base_automation",
)


@pytest.fixture
def clean_rules(app: Flask, request: pytest.FixtureRequest) -> Iterator[None]:
    """No rules, then the demo data; no rules after the test either: a record rule left
    behind would react to the next test's changes (its demo data being loaded, for one)."""
    delete_rules(app)
    request.getfixturevalue("demo")
    yield
    delete_rules(app)


def delete_rules(app: Flask) -> None:
    with app.app_context():
        for table in RULE_TABLES:
            db.session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed names)
        # SQL written by hand tells the processes' rule caches itself (rules/revision.py).
        db.session.execute(sa.text(BUMP_REVISION))
        db.session.commit()


@pytest.fixture
def api(app: Flask, clean_rules: None) -> ApiClient:
    """The REST API as the admin, on a database with no rules but the demo data."""
    return api_client(app.test_client(), ADMIN)


@pytest.fixture
def second_app(app: Flask) -> Iterator[Flask]:
    """Another app on the same database, as a second server process would be (its own rule
    caches included)."""
    other = create_app({key: app.config[key] for key in app.config if key != "SERVER_NAME"})
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_rule(app: Flask, clean_rules: None) -> Callable[..., dict[str, Any]]:
    """Create a rule with actions; returns its id, secret and URL path."""

    def make(
        model: str = "sale.order", actions: list[dict[str, Any]] | None = None, **values: Any
    ) -> dict[str, Any]:
        with app.app_context():
            env = get_env(trusted=True)  # the test's own set-up, as the screens would
            rule = env["base.automation"].create({"name": "Test rule", "model": model, **values})
            for sequence, action in enumerate(actions or [], start=1):
                env["ir.actions.server"].create(
                    {"rule_id": rule.id, "sequence": sequence, **action}
                )
            secret = rule.webhook_secret
            db.session.commit()
            return {"id": rule.id, "secret": secret, "path": f"/web/hook/{secret}"}

    return make


def read(app: Flask, model: str, domain: list[Any], fields: list[str]) -> list[dict[str, Any]]:
    with app.app_context():
        return get_env(trusted=True)[model].search(domain, order="id").read(fields)


@pytest.fixture
def receiver(app: Flask) -> Iterator[Receiver]:
    """A real HTTP receiver on the loopback, which outgoing webhooks may reach meanwhile."""
    with app_config(app, **LOOPBACK_SETTINGS), receiving() as receiver:
        yield receiver


@pytest.fixture
def action(app: Flask, make_rule: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A rule with one action, for messages enqueued by the test: their ids and the action's
    signing secret."""
    rule = make_rule(actions=[NOTIFY_ACTION])
    action_id = action_ids(app, rule["id"])[0]
    with app.app_context():
        secret = db.session.get(ServerAction, action_id).signing_secret
    return {"rule_id": rule["id"], "action_id": action_id, "secret": secret}
