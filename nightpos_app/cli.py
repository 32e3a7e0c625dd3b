"""``flask nightpos …`` commands."""

from __future__ import annotations

import click
from flask import current_app

from nightpos_app.bootstrap import describe_login, initialise


@click.group("nightpos")
def nightpos_cli() -> None:
    """NightPOS administration."""


@nightpos_cli.command("init")
@click.option("--demo/--no-demo", default=False, help="Load each addon's demo data (once).")
def init_command(demo: bool) -> None:
    """Migrate the database, sync permissions, optionally load demo data, create the admin."""
    login = initialise(current_app._get_current_object(), demo=demo)
    click.echo(describe_login(login))
