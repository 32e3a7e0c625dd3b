"""``flask nightpos …`` commands."""

from __future__ import annotations

import click
from flask import current_app

from nightpos_app.bootstrap import describe_login, initialise
from nightpos_app.exceptions import StartupError


@click.group("nightpos")
def nightpos_cli() -> None:
    """NightPOS administration."""


@nightpos_cli.command("init")
@click.option("--demo/--no-demo", default=False, help="Load each addon's demo data (once).")
def init_command(demo: bool) -> None:
    """Migrate the database, sync permissions, optionally load demo data, create the admin."""
    try:
        login = initialise(current_app._get_current_object(), demo=demo)
    except StartupError as exc:  # a failed migration names the addon and the revision
        raise click.ClickException(str(exc)) from exc
    click.echo(describe_login(login))


@nightpos_cli.command("migration")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option(
    "--addon",
    default=None,
    help="Write into this addon's own migrations/ folder, for its tables only "
    "(default: NightPOS's migrations/versions).",
)
def migration_command(message: str, addon: str | None) -> None:
    """Autogenerate a revision from the models (``make migration [addon=<name>] m="..."``).

    Migrates the database to every head first: a revision is the difference between the
    models and an up-to-date database.
    """
    from nightpos_app.schema import autogenerate

    try:
        paths = autogenerate(current_app._get_current_object(), addon, message)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc
    if not paths:
        click.echo("No changes in schema detected: no revision written.")
    for path in paths:
        click.echo(f"Wrote {path}: review it, then commit it with the models.")
