"""Health checks for load balancers and supervisors: ``/healthz`` and ``/readyz``.

``/healthz`` says the process serves requests (liveness: restart it if this fails).
``/readyz`` says it can serve *calls*: the database answers, its schema is at the migrations'
head (a host started before ``flask nightpos init`` ran, or one of an older release, is not
ready), and the runner processes that run rule code can start. A load balancer sends traffic
only to ready hosts (docs/deploy.md's HAProxy configuration checks ``/readyz``).

Both answer JSON, need no login, and say no more than ``ok`` or what failed: no error text,
which could name the database's host or user (the server log has the details).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, jsonify

from nightpos_app.extensions import db
from nightpos_app.sandbox.process.runner import pools_ready

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

blueprint = Blueprint("nightpos_health", __name__)

#: A check returns None when all is well, else a short reason (no secrets: it is shown).
ReadinessCheck = Callable[[], "str | None"]


@functools.cache
def migration_heads(directory: str = str(MIGRATIONS_DIR)) -> frozenset[str]:
    """The head revisions of the migrations this code ships (read once per process)."""
    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _database() -> tuple[str | None, str | None]:
    """(database problem, migrations problem); each None when fine."""
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            try:
                current = frozenset(
                    connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                    .scalars()
                    .all()
                )
            except sa.exc.DBAPIError:
                current = frozenset()
    except sa.exc.SQLAlchemyError:
        logger.warning("readiness: the database does not answer", exc_info=True)
        return "unreachable", "unknown"
    if current != migration_heads():
        logger.warning(
            "readiness: the database is at %s, this code at %s",
            sorted(current) or "no migration",
            sorted(migration_heads()),
        )
        return None, "not at the migrations' head (run flask nightpos init)"
    return None, None


def _runners() -> str | None:
    ready = pools_ready()
    return None if ready is None or ready else "the runner processes cannot start"


def readiness() -> tuple[bool, dict[str, str]]:
    """Whether this process is ready, and each check's result (``ok`` or the reason)."""
    database, migrations = _database()
    results = {"database": database, "migrations": migrations, "runners": _runners()}
    checks = {name: problem or "ok" for name, problem in results.items()}
    return all(problem is None for problem in results.values()), checks


def _answer(status: int, body: dict[str, object]) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/healthz", methods=["GET"])
def healthz() -> Response:
    return _answer(200, {"status": "ok"})


@blueprint.route("/readyz", methods=["GET"])
def readyz() -> Response:
    ready, checks = readiness()
    status = "ok" if ready else "unavailable"
    return _answer(200 if ready else 503, {"status": status, "checks": checks})


def install(app: Flask) -> None:
    """Serve ``/healthz`` and ``/readyz`` (GET only: CSRF protection does not apply, so the
    blueprint needs no exemption)."""
    app.register_blueprint(blueprint)
