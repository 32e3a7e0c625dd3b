"""A model from a third-party distribution, with its own migrations, installed as its author would.

``tests/fixtures/nightpos-example-model`` is a distribution of its own (its ``pyproject.toml``
declares the ``loyalty`` addon in the ``nightpos.addons`` entry-point group); ``make test``
installs it. The module's database is set up by the real ``flask nightpos init`` steps
without the addon (conftest.py); the addon is then enabled over that existing database, as an
operator would: its migrations run, its screens, REST resource, record API, translations and
automation rules work, and disabling it keeps its data.

The example is the one docs/addons.md walks through: the last test checks that the docs show
the fixture's files as they are.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from flask import Flask

from nightpos_app.addons import ENTRY_POINT_GROUP, discover
from nightpos_app.extensions import db
from nightpos_app.schema import addon_history, alembic_config, current_heads
from nightpos_app.state import get_env, get_state
from tests.addons.loyalty.conftest import ADDON, Apps, cards, tables, web_for
from tests.core.test_migrations import autogenerate_diffs
from tests.support.web import ADMIN, api_client, one_context_per_request, page_text

_ = one_context_per_request

PROJECT_DIR = Path(__file__).resolve().parents[3]
DISTRIBUTION_DIR = PROJECT_DIR / "tests" / "fixtures" / "nightpos-example-model"
PACKAGE_DIR = DISTRIBUTION_DIR / "nightpos_example_model"
DOCS = PROJECT_DIR / "docs" / "addons.md"

LIST = "/loyaltycardview/list/"
API = "/api/v1/loyalty_card/"
NOT_PROVIDED = (
    "The rule 'Gold at 1000 points' is on the model 'loyalty.card', which no enabled addon "
    "provides: enable the addon that provides it, or archive the rule."
)


# ------------------------------------------------------------------ installed, migrated


def test_the_addon_comes_from_the_installed_distribution_with_its_migrations(
    apps: dict[str, Flask],
) -> None:
    try:
        distribution = importlib.metadata.distribution("nightpos-example-model")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("run `make test-venv`: it installs tests/fixtures/nightpos-example-model")
    (entry_point,) = [e for e in distribution.entry_points if e.group == ENTRY_POINT_GROUP]
    assert (entry_point.name, entry_point.value) == (ADDON, "nightpos_example_model")
    assert discover()[ADDON] == "nightpos_example_model"

    app = apps["with"]
    addons = [addon.name for addon in get_state(app).addons]
    assert addons.index("contacts") < addons.index(ADDON)
    assert addons.index("webhooks") < addons.index(ADDON)
    (addon,) = [a for a in get_state(app).addons if a.name == ADDON]
    history = addon_history(addon)
    assert history is not None
    assert history.directory == PACKAGE_DIR / "migrations"
    assert history.version_table == "alembic_version_loyalty"

    # Enabling it on the existing database ran its migration, in its own version table, and
    # left the core history where it was.
    assert current_heads(app, history) == ("lc0001",)
    assert {"loyalty_card", "alembic_version_loyalty"} <= tables(app)
    # Its demo data, the rule included: the first card was created at 1200 points, and the
    # rule made it gold.
    assert cards(app)[0] == ("LC00001", 1200, "gold")
    assert {tier for _, points, tier in cards(app)[1:]} == {"bronze"}


def test_its_migrations_manage_only_its_tables_and_the_core_ones_leave_them_out(
    apps: dict[str, Flask],
) -> None:
    app = apps["with"]
    with app.app_context():
        # The core history, as `make migration m=...` sees it: nothing to do, and in
        # particular no loyalty_card (it is the addon's).
        assert autogenerate_diffs() == []
    (addon,) = [a for a in get_state(app).addons if a.name == ADDON]
    config = alembic_config(addon_history(addon))
    script = ScriptDirectory.from_config(config)
    seen: list[Any] = []

    def compare(_revision: Any, context: Any) -> list[Any]:
        seen.append(context.opts["include_object"])
        seen.extend(compare_metadata(context, context.opts["target_metadata"]))
        return []

    with app.app_context(), EnvironmentContext(config, script, fn=compare):
        script.run_env()
    include_object, *diffs = seen
    assert diffs == [], "the loyalty models and their migration agree"
    # `make migration addon=loyalty` sees its table and no other.
    assert include_object(None, "loyalty_card", "table", False, None)
    for other in ("res_partner", "ab_user", "nightpos_addon", "base_automation"):
        assert not include_object(None, other, "table", False, None), other


# ------------------------------------------------------------- what the addon's model gets


def test_its_screens_list_show_and_create_cards(apps: dict[str, Flask]) -> None:
    web = web_for(apps["with"])
    page = web.get(LIST)
    assert page.status_code == 200
    text = page_text(page)
    assert "LC00001" in text and "Card Number" in text and "Gold" in text
    assert 'href="/loyaltycardview/list/"' in web.get("/").get_data(as_text=True), "its menu"

    form = web.get("/loyaltycardview/add").get_data(as_text=True)
    assert 'name="number"' in form and 'name="points"' in form
    with apps["with"].app_context():
        partner_id = get_env(trusted=True)["res.partner"].search([], limit=1).id
    response = web.submit(
        "/loyaltycardview/add",
        {"number": "LC70001", "partner": str(partner_id), "points": "1500", "tier": "bronze"},
    )
    assert response.status_code == 302, page_text(response)
    # Saved through the screen, and the rule on the addon's model made it gold.
    assert ("LC70001", 1500, "gold") in cards(apps["with"])


def test_its_screens_are_translated_from_its_own_catalog(apps: dict[str, Flask]) -> None:
    web = web_for(apps["with"])
    web.get("/lang/th")
    text = page_text(web.get(LIST))
    assert "บัตรสะสมแต้ม" in text  # Loyalty Cards, from the addon's catalog
    assert "หมายเลขบัตร" in text  # Card Number
    assert "ทอง" in text  # Gold, a selection label


def test_its_rest_resource_serves_and_the_rule_triggers_on_an_api_write(
    apps: dict[str, Flask],
) -> None:
    api = api_client(apps["with"].test_client(), ADMIN)
    listed = api.get(f"{API}?q=(order_column:number,order_direction:asc)")
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.get_json()["result"][0]["number"] == "LC00001"
    assert api.get("/api/v1/_openapi").get_json()["paths"].get(API) is not None

    with apps["with"].app_context():
        partner_id = get_env(trusted=True)["res.partner"].search([], limit=1).id
    created = api.post(API, {"number": "LC80001", "partner_id": partner_id, "points": 10})
    assert created.status_code == 201, created.get_data(as_text=True)
    card_id = created.get_json()["id"]
    assert ("LC80001", 10, "bronze") in cards(apps["with"]), "under 1000: the rule does not act"

    updated = api.put(f"{API}{card_id}", {"points": 1000})
    assert updated.status_code == 200, updated.get_data(as_text=True)
    assert ("LC80001", 1000, "gold") in cards(apps["with"])
    assert api.get(f"{API}{card_id}").get_json()["result"]["tier"] == "gold"


def test_rule_code_uses_its_model_through_the_record_api(apps: dict[str, Flask]) -> None:
    """A webhook rule's Execute Code creates a card (in the runner process); the card's own
    rule then turns it gold, in the same transaction."""
    app = apps["with"]
    code = (
        "env['loyalty.card'].create({'number': payload['number'], 'partner_id': record.id, "
        "'points': 2000})"
    )
    with app.app_context():
        env = get_env(trusted=True)
        rule = env["base.automation"].create(
            {"name": "New card", "model": "res.partner", "target_record": "model.browse(1)"}
        )
        env["ir.actions.server"].create(
            {
                "rule_id": rule.id,
                "sequence": 1,
                "name": "Create a card",
                "action_type": "execute_code",
                "settings": {"code": code},
            }
        )
        path = f"/web/hook/{rule.webhook_secret}"
        db.session.commit()
    response = app.test_client().post(path, json={"number": "LC90001"})
    assert response.status_code == 200, response.get_json()
    assert ("LC90001", 2000, "gold") in cards(app)


# ------------------------------------------------------------- disabled, then enabled again


def test_disabled_its_data_stays_its_screens_and_api_go_and_its_rule_fails_clearly(
    apps: dict[str, Flask],
) -> None:
    without, with_loyalty = apps["without"], apps["with"]
    before = cards(with_loyalty)
    assert before

    # Another start-up without the addon (`flask nightpos init` included): nothing of it is
    # migrated, dropped or changed.
    assert ADDON not in [a.name for a in get_state(without).addons]
    assert "loyalty.card" not in get_state(without).registry
    Apps.init(without)
    assert cards(without) == before
    assert {"loyalty_card", "alembic_version_loyalty"} <= tables(without)

    web = web_for(without)
    assert web.get(LIST).status_code == 404
    assert 'href="/loyaltycardview/list/"' not in web.get("/").get_data(as_text=True)
    api = api_client(without.test_client(), ADMIN)
    assert api.get(API).status_code == 404
    assert API not in api.get("/api/v1/_openapi").get_json()["paths"]
    with without.app_context(), pytest.raises(KeyError, match="unknown model 'loyalty.card'"):
        get_env()["loyalty.card"]

    # The demo rule on the model is still there and its page opens; a webhook call to it
    # says why it cannot run.
    with without.app_context():
        rule = db.session.execute(
            sa.text("SELECT id, webhook_secret FROM base_automation WHERE model = 'loyalty.card'")
        ).one()
        db.session.execute(
            sa.text("UPDATE base_automation SET trigger = 'on_webhook' WHERE id = :id"),
            {"id": rule.id},
        )
        db.session.execute(sa.text("UPDATE base_automation_revision SET revision = revision + 1"))
        db.session.commit()
    try:
        assert web.get(f"/automationruleview/show/{rule.id}").status_code == 200
        response = without.test_client().post(f"/web/hook/{rule.webhook_secret}", json={})
        assert (response.status_code, response.get_json()) == (
            500,
            {"status": "error", "message": NOT_PROVIDED},
        )
    finally:
        with without.app_context():
            db.session.execute(
                sa.text("UPDATE base_automation SET trigger = 'on_create_or_write' WHERE id = :id"),
                {"id": rule.id},
            )
            db.session.execute(
                sa.text("UPDATE base_automation_revision SET revision = revision + 1")
            )
            db.session.commit()

    # Enabled again: the same cards, and the rule acts again.
    assert "LC00001" in page_text(web_for(with_loyalty).get(LIST))
    api = api_client(with_loyalty.test_client(), ADMIN)
    first = api.get(f"{API}?q=(filters:!((col:number,opr:eq,value:LC00002)))").get_json()
    card_id = first["ids"][0]
    assert api.put(f"{API}{card_id}", {"points": 5000}).status_code == 200
    assert ("LC00002", 5000, "gold") in cards(with_loyalty)


# ---------------------------------------------------------------------------- the docs


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", markdown, re.M | re.S)


@pytest.mark.parametrize(
    "path",
    [
        DISTRIBUTION_DIR / "pyproject.toml",
        PACKAGE_DIR / "__init__.py",
        PACKAGE_DIR / "models.py",
        PACKAGE_DIR / "data.py",
        PACKAGE_DIR / "migrations" / "lc0001_loyalty_cards.py",
        PACKAGE_DIR / "translations" / "th" / "LC_MESSAGES" / "messages.po",
    ],
    ids=lambda path: path.name,
)
def test_the_docs_example_is_the_one_these_tests_run(path: Path) -> None:
    assert path.read_text() in code_blocks(DOCS.read_text()), (
        f"docs/addons.md must show {path.relative_to(PROJECT_DIR)} as it is"
    )
