"""A model from a third-party distribution, with its own migrations, installed as its author would.

``tests/fixtures/nightpos-example-model`` is a distribution of its own (its ``pyproject.toml``
declares the ``loyalty`` addon in the ``nightpos.addons`` entry-point group); ``make test``
installs it. Each test module here starts from a database of its own (a SQLite file, or a
PostgreSQL schema of its own when ``NIGHTPOS_TEST_DATABASE_URL`` names one), set up by the real
``flask nightpos init`` steps without the addon; the addon is then enabled over that existing
database, as an operator would: its migrations run, its screens, REST resource, record API and
automation rules work, and disabling it keeps its data.

The example is the one docs/addons.md walks through: the last test checks that the docs show
the fixture's files as they are.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from nightpos_app import create_app
from nightpos_app.addons import ENTRY_POINT_GROUP, discover
from nightpos_app.bootstrap import initialise
from nightpos_app.exceptions import StartupError
from nightpos_app.extensions import db
from nightpos_app.schema import MigrationError, addon_history, current_heads
from nightpos_app.state import get_env, get_state
from tests.fixtures import addons as fixture_addons
from tests.support.web import ADMIN, WebClient, api_client, one_context_per_request, page_text

_ = one_context_per_request

PROJECT_DIR = Path(__file__).resolve().parents[3]
DISTRIBUTION_DIR = PROJECT_DIR / "tests" / "fixtures" / "nightpos-example-model"
PACKAGE_DIR = DISTRIBUTION_DIR / "nightpos_example_model"
DOCS = PROJECT_DIR / "docs" / "addons.md"
TEST_DATABASE_URL = os.environ.get("NIGHTPOS_TEST_DATABASE_URL", "")

DEFAULT_ADDONS = ["contacts", "sales", "webhooks"]
ADDON = "loyalty"
LIST = "/loyaltycardview/list/"
API = "/api/v1/loyalty_card/"
NOT_PROVIDED = (
    "The rule 'Gold at 1000 points' is on the model 'loyalty.card', which no enabled addon "
    "provides: enable the addon that provides it, or archive the rule."
)


# ----------------------------------------------------------------- databases of their own


def database_config(tmp_path: Path, name: str) -> Iterator[dict[str, Any]]:
    """Config for an empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'{name}.db'}"}
        return
    schema = f"{name}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(TEST_DATABASE_URL)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield {
            "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_pre_ping": True,
                "connect_args": {"options": f"-csearch_path={schema}"},
            },
        }
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


class Apps:
    """Apps over one database, each with its own ``NIGHTPOS_ADDONS`` (one server each)."""

    def __init__(self, tmp_path: Path, database: dict[str, Any]) -> None:
        self.tmp_path = tmp_path
        self.database = database
        self.built: list[Flask] = []

    def build(self, addons: list[str]) -> Flask:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "loyalty-tests-secret-key-of-32-bytes-or-more",
                "INSTANCE_DIR": str(self.tmp_path / "instance"),
                "NIGHTPOS_ADDONS": addons,
                "NIGHTPOS_ADDON_MODULES": fixture_addons.MODULES,
                "NIGHTPOS_ADMIN_USERNAME": ADMIN.username,
                **self.database,
            }
        )
        self.built.append(app)
        return app

    @staticmethod
    def init(app: Flask) -> None:
        """``flask nightpos init --demo``, the admin being the tests' admin."""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NIGHTPOS_ADMIN_PASSWORD", ADMIN.password)
            initialise(app, demo=True)

    def close(self) -> None:
        for app in self.built:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Flask]]:
    """An existing database (set up without the addon), then the addon enabled over it."""
    tmp_path = tmp_path_factory.mktemp("loyalty")
    for database in database_config(tmp_path, "loyalty"):
        built = Apps(tmp_path, database)
        try:
            without = built.build(DEFAULT_ADDONS)
            built.init(without)
            with without.app_context():
                assert "loyalty_card" not in sa.inspect(db.engine).get_table_names()
            with_loyalty = built.build([*DEFAULT_ADDONS, ADDON])
            built.init(with_loyalty)  # enabling the addon: its migrations and demo data
            yield {"without": without, "with": with_loyalty}
        finally:
            built.close()


@pytest.fixture
def fresh_apps(tmp_path: Path) -> Iterator[Apps]:
    """Apps over an empty database of this test's own."""
    for database in database_config(tmp_path, "fresh"):
        built = Apps(tmp_path, database)
        try:
            yield built
        finally:
            built.close()


def web_for(app: Flask) -> WebClient:
    web = WebClient(app.test_client())
    web.login(ADMIN)
    return web


def cards(app: Flask) -> list[tuple[str, int, str]]:
    """The loyalty cards, read with SQL: works whether the addon is enabled or not."""
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT number, points, tier FROM loyalty_card ORDER BY number")
        )
        return [tuple(row) for row in rows]


def tables(app: Flask) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names())


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
    from tests.core.test_migrations import autogenerate_diffs

    app = apps["with"]
    with app.app_context():
        # The core history, as `make migration m=...` sees it: nothing to do, and in
        # particular no loyalty_card (it is the addon's).
        assert autogenerate_diffs() == []
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    from nightpos_app.schema import alembic_config

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
        db.session.execute(
            sa.text("UPDATE base_automation_revision SET revision = revision + 1")
        )
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


# ------------------------------------------------------------------ a failing migration


def test_a_failing_migration_stops_start_up_naming_addon_and_revision_and_changes_nothing(
    fresh_apps: Apps,
) -> None:
    base = fresh_apps.build(DEFAULT_ADDONS)
    fresh_apps.init(base)
    before = tables(base)
    with base.app_context():
        core_before = current_heads(base, get_history(base, None))

    broken = fresh_apps.build([*DEFAULT_ADDONS, ADDON, "fx_failing_migration"])
    with pytest.raises(MigrationError) as failed:
        fresh_apps.init(broken)
    message = str(failed.value)
    assert failed.value.addon == "fx_failing_migration"
    assert failed.value.revision == "fxf02"
    assert message.startswith("addon 'fx_failing_migration': migration revision 'fxf02' (")
    assert "fx_no_such_table" in message
    assert "The database was left as it was" in message
    # Nothing of the run stayed: not the loyalty addon's migration (it ran before, in the same
    # transaction), not fxf01, not fxf02's new column.
    assert tables(broken) == before
    with broken.app_context():
        assert current_heads(broken, get_history(broken, None)) == core_before

    # `flask nightpos init` says the same and exits with an error, without a traceback.
    with broken.app_context():  # as `flask` pushes one
        result = broken.test_cli_runner().invoke(args=["nightpos", "init"])
    assert result.exit_code == 1
    assert "Error: addon 'fx_failing_migration': migration revision 'fxf02'" in result.output
    assert "Traceback" not in result.output
    assert tables(broken) == before


def test_from_an_empty_database_a_failing_migration_leaves_it_empty(fresh_apps: Apps) -> None:
    broken = fresh_apps.build([*DEFAULT_ADDONS, "fx_failing_migration"])
    with pytest.raises(StartupError, match="revision 'fxf02'"):
        fresh_apps.init(broken)
    assert tables(broken) == set()


def test_a_migration_may_rewrite_a_table_that_other_rows_refer_to(fresh_apps: Apps) -> None:
    """On SQLite batch mode copies, drops and renames the table: with foreign keys on, the
    drop would refuse (or cascade to) the sales orders that refer to the currencies."""
    base = fresh_apps.build(DEFAULT_ADDONS)
    fresh_apps.init(base)
    orders = order_currencies(base)
    assert orders

    rewriting = fresh_apps.build([*DEFAULT_ADDONS, "fx_rewrites_table"])
    fresh_apps.init(rewriting)

    assert order_currencies(rewriting) == orders
    with rewriting.app_context():
        columns = {c["name"]: c for c in sa.inspect(db.engine).get_columns("res_currency")}
        assert columns["symbol"]["type"].length == 16
        # Foreign keys are on again for the connections that follow.
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_a_migration_leaving_a_reference_dangling_is_refused(fresh_apps: Apps) -> None:
    base = fresh_apps.build(DEFAULT_ADDONS)
    fresh_apps.init(base)
    before = tables(base)

    dangling = fresh_apps.build([*DEFAULT_ADDONS, "fx_dangling_reference"])
    with pytest.raises(MigrationError) as failed:
        fresh_apps.init(dangling)
    assert (failed.value.addon, failed.value.revision) == ("fx_dangling_reference", "fxd01")
    assert tables(dangling) == before


def order_currencies(app: Flask) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT sale_order.id, res_currency.name FROM sale_order "
                "JOIN res_currency ON res_currency.id = sale_order.currency_id ORDER BY 1"
            )
        )
        return [tuple(row) for row in rows]


def get_history(app: Flask, addon: str | None):
    from nightpos_app.schema import find_history

    return find_history(app, addon)


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


# ------------------------------------------------------ make migration addon=<name> m="..."

NOTES_INIT = '''
from nightpos_app.addons import Manifest
from nightpos_app.hooks import hookimpl

manifest = Manifest(name="fx_notes", version="1.0.0", summary="Notes", depends=("contacts",))


@hookimpl
def nightpos_models():
    from fx_notes_pkg.models import Note

    return [Note]
'''
NOTES_MODELS = '''
import sqlalchemy as sa
from flask_appbuilder import Model


class Note(Model):
    __tablename__ = "fx_note"
    __model_name__ = "fx.note"
    id = sa.Column(sa.Integer, primary_key=True)
    partner_id = sa.Column(sa.Integer, sa.ForeignKey("res_partner.id"), nullable=False)
    text = sa.Column(sa.String(200), nullable=False)
'''


def test_make_migration_writes_an_addons_first_revision_into_its_folder(
    fresh_apps: Apps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "src" / "fx_notes_pkg"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text(NOTES_INIT)
    (package / "models.py").write_text(NOTES_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    base = fresh_apps.build(DEFAULT_ADDONS)
    fresh_apps.init(base)
    fresh_apps.database = {
        **fresh_apps.database,
        "NIGHTPOS_ADDON_MODULES": {**fixture_addons.MODULES, "fx_notes": "fx_notes_pkg"},
    }
    notes = fresh_apps.build([*DEFAULT_ADDONS, ADDON, "fx_notes"])

    def make_migration(*args: str) -> Any:
        with notes.app_context():
            return notes.test_cli_runner().invoke(args=["nightpos", "migration", *args])

    result = make_migration("--addon", "fx_notes", "-m", "notes")
    assert result.exit_code == 0, result.output
    (written,) = (package / "migrations").glob("*.py")
    assert f"Wrote {written}" in result.output
    source = written.read_text()
    assert "branch_labels = ('fx_notes',)" in source
    assert "op.create_table('fx_note'" in source
    # Only its table: the loyalty addon's (enabled, migrated first) and NightPOS's are not in it.
    assert source.count("op.create_table(") == 1
    assert "loyalty_card" not in source and "drop_table" in source  # (its downgrade)
    # The database was migrated first (the loyalty addon's history too), and the new revision
    # is the addon's to run: start-up applies it.
    assert "loyalty_card" in tables(notes) and "fx_note" not in tables(notes)
    fresh_apps.init(notes)
    assert {"fx_note", "alembic_version_fx_notes"} <= tables(notes)

    again = make_migration("--addon", "fx_notes", "-m", "nothing")
    assert again.exit_code == 0, again.output
    assert "No changes in schema detected" in again.output
    assert len(list((package / "migrations").glob("*.py"))) == 1

    # NightPOS's own history sees neither addon's table.
    core = make_migration("-m", "nothing either")
    assert "No changes in schema detected" in core.output

    refused = make_migration("--addon", "sales", "-m", "x")
    assert refused.exit_code == 1
    assert "addon 'sales' has no migrations of its own" in refused.output
    refused = make_migration("--addon", "fx_widgets", "-m", "x")
    assert "addon 'fx_widgets' is not enabled" in refused.output
