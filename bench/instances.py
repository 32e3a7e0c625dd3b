"""Preparing what a benchmark measures: fresh databases, NightPOS instances (migrated, with the
demo data and the admin), an in-process app on one, and the rules of the use cases."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.base import ADMIN_PASSWORD, BIN, ROOT, USE_CASE_2_CODE, USE_CASE_2_TARGET, Context


def database_label(ctx: Context) -> str:
    """Which database the run measures, and on PostgreSQL whether the server is durable: a
    throwaway one skips fsync and synchronous commit, a production one does not, and that
    moves every writing case (``make bench-pg`` and ``make bench-pg PG_DURABLE=1``)."""
    if ctx.database_url is None:
        return "sqlite"
    engine = sa.create_engine(ctx.database_url)
    try:
        with engine.connect() as connection:
            fsync = connection.exec_driver_sql("SHOW fsync").scalar()
            commit = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
    finally:
        engine.dispose()
    return f"postgresql (fsync {fsync}, synchronous_commit {commit})"


def database_url(ctx: Context, name: str) -> str:
    """A fresh, empty database for one benchmark: a SQLite file, or a PostgreSQL database
    named after BENCH_DATABASE_URL's with ``_<name>`` appended (dropped and created)."""
    if ctx.database_url is None:
        return f"sqlite:///{ctx.tmp / name / 'nightpos.db'}"
    url = sa.engine.make_url(ctx.database_url)
    dbname = f"{url.database}_{name}"
    if not re.fullmatch(r"[A-Za-z0-9_]+", dbname):
        raise ValueError(f"unusable database name {dbname!r}")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{dbname}"')
    admin.dispose()
    made = url.set(database=dbname).render_as_string(hide_password=False)
    ctx.databases.append(made)
    return made


def drop_databases(ctx: Context) -> None:
    """Drop the PostgreSQL databases :func:`database_url` made for this run."""
    if ctx.database_url is None or not ctx.databases:
        return
    admin = sa.create_engine(ctx.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for url in ctx.databases:
            dbname = sa.engine.make_url(url).database
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    admin.dispose()
    ctx.databases.clear()


@dataclass
class Instance:
    """A prepared NightPOS instance: its folder, database and the environment to run it."""

    directory: Path
    url: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("NIGHTPOS_", "WEBHOOK_", "FLASK_"))
        }
        env.update(
            NIGHTPOS_INSTANCE_DIR=str(self.directory),
            NIGHTPOS_DATABASE_URL=self.url,
            NIGHTPOS_ADMIN_PASSWORD=ADMIN_PASSWORD,
            NIGHTPOS_OUTBOX_WORKER="off",
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(extra)
        return env

    def config(self) -> dict[str, Any]:
        return {"SQLALCHEMY_DATABASE_URI": self.url, "INSTANCE_DIR": str(self.directory)}


def prepare_instance(ctx: Context, name: str) -> Instance:
    """A new instance with the demo data and the admin (``flask nightpos init --demo``)."""
    directory = ctx.tmp / name
    directory.mkdir(parents=True, exist_ok=True)
    instance = Instance(directory, database_url(ctx, name))
    subprocess.run(
        [str(BIN / "flask"), "--app", "nightpos_app:create_app()", "nightpos", "init", "--demo"],
        cwd=ROOT,
        env=instance.env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return instance


@contextmanager
def app_context(instance: Instance) -> Iterator[Any]:
    """An in-process NightPOS app on the instance's database (set-up and in-process timings);
    its connections are closed on exit, so the servers have the database to themselves."""
    from nightpos_app import create_app
    from nightpos_app.extensions import db

    app = create_app(instance.config())
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def make_rule(model: str, actions: Sequence[dict[str, Any]] = (), **values: Any) -> dict[str, Any]:
    """Create a rule and its actions with the record API and commit (in an app context)."""
    from nightpos_app.extensions import db
    from nightpos_app.state import get_env

    env = get_env(trusted=True)  # the bench's own set-up, as the screens would
    rule = env["base.automation"].create({"name": "Bench rule", "model": model, **values})
    action_ids = []
    for sequence, action in enumerate(actions, start=1):
        made = env["ir.actions.server"].create({"rule_id": rule.id, "sequence": sequence, **action})
        action_ids.append(made.id)
    secret = rule.webhook_secret
    db.session.commit()
    return {"id": rule.id, "secret": secret, "path": f"/web/hook/{secret}", "actions": action_ids}


def usd_id() -> int:
    from nightpos_app.state import get_env

    return get_env()["res.currency"].search([("name", "=", "USD")]).id


def other_currency_id() -> int:
    """A currency other than USD (the one the "toggle" case switches orders to and from)."""
    from nightpos_app.state import get_env

    return get_env()["res.currency"].search([("name", "!=", "USD")], limit=1, order="id").id


def toggle_code(usd: int, other: int) -> str:
    """Execute Code that reads the order's currency and writes the other one: every call
    reads and writes, whatever came before."""
    return f"record.write({{'currency_id': {other} if record.currency_id.id == {usd} else {usd}}})"


def use_case_rules() -> dict[str, dict[str, Any]]:
    """The specification's rules (use case 1 with Log Calls off and on, and responding at once;
    use case 2), and an Execute Code rule that reads a field and writes the other value
    ("toggle")."""
    update = {
        "name": "Set USD",
        "action_type": "update_record",
        "settings": {"field": "currency_id", "value": usd_id()},
    }
    code = {"name": "Create contact", "action_type": "execute_code"}
    code["settings"] = {"code": USE_CASE_2_CODE}
    return {
        "uc1": make_rule("sale.order", [update], name="Orders to USD", log_calls=False),
        "uc1_log": make_rule("sale.order", [update], name="Orders to USD (logged)", log_calls=True),
        "uc2": make_rule(
            "res.partner", [code], name="New contact", target_record=USE_CASE_2_TARGET
        ),
        # Respond at once: the call is only accepted (checked, stored, 202); nothing drains the
        # inbox during the bench, so the accept path is what is measured.
        "accept": make_rule(
            "sale.order", [update], name="Orders to USD (at once)", respond="at_once"
        ),
        "toggle": make_rule(
            "sale.order",
            [
                {
                    "name": "Switch currency",
                    "action_type": "execute_code",
                    "settings": {"code": toggle_code(usd_id(), other_currency_id())},
                }
            ],
            name="Switch the order's currency",
        ),
    }
