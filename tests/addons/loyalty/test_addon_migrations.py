"""Addons' own migrations: a failing revision, SQLite's table rewrites, `make migration`.

A failing revision stops start-up naming the addon and the revision, and leaves the database
as it was (the whole run is one transaction, on PostgreSQL and on SQLite). Each test has an
empty database of its own (conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import run  # the project's run.py: `make run`
from nightpos_app.exceptions import StartupError
from nightpos_app.extensions import db
from nightpos_app.schema import MigrationError, current_heads, find_history
from tests.addons.loyalty.conftest import ADDON, DEFAULT_ADDONS, Apps, tables
from tests.fixtures import addons as fixture_addons

# ------------------------------------------------------------------ a failing migration


def test_a_failing_migration_stops_start_up_naming_addon_and_revision_and_changes_nothing(
    fresh_apps: Apps,
) -> None:
    base = fresh_apps.build(DEFAULT_ADDONS)
    fresh_apps.init(base)
    before = tables(base)
    with base.app_context():
        core_before = current_heads(base, find_history(base, None))

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
        assert current_heads(broken, find_history(broken, None)) == core_before

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


# ------------------------------------------------------ make migration addon=<name> m="..."

NOTES_INIT = """
from nightpos_app.addons import Manifest
from nightpos_app.hooks import hookimpl

manifest = Manifest(name="fx_notes", version="1.0.0", summary="Notes", depends=("contacts",))


@hookimpl
def nightpos_models():
    from fx_notes_pkg.models import Note

    return [Note]
"""
NOTES_MODELS = """
import sqlalchemy as sa
from flask_appbuilder import Model


class Note(Model):
    __tablename__ = "fx_note"
    __model_name__ = "fx.note"
    id = sa.Column(sa.Integer, primary_key=True)
    partner_id = sa.Column(sa.Integer, sa.ForeignKey("res_partner.id"), nullable=False)
    text = sa.Column(sa.String(200), nullable=False)
"""


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


def test_make_run_stops_with_the_addon_and_revision_and_serves_nothing(
    fresh_apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = fresh_apps.build([*DEFAULT_ADDONS, "fx_failing_migration"])
    monkeypatch.setattr(run, "create_app", lambda _config: broken)
    monkeypatch.setattr(broken, "run", lambda **_: pytest.fail("it must not serve"))
    with pytest.raises(SystemExit) as stopped:
        run.main()
    assert str(stopped.value.code).startswith(
        "NightPOS did not start: addon 'fx_failing_migration': migration revision 'fxf02' ("
    )
    assert tables(broken) == set()
