"""Prometheus metrics: the ``/metrics`` endpoint and the host's own metrics (rule code, runners).

Metrics are ``prometheus_client`` objects made at import time; code that counts something
increments one (a few hundred nanoseconds, no database work). Under gunicorn every worker is a
process of its own: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder (in the environment of
gunicorn and of the outbox workers on that host, *before* they start) and each process writes
its values to memory-mapped files there, which ``/metrics`` adds up. Without it, ``/metrics``
answers the values of the process that serves the request (the dev server, tests).

What is only known in the database (the outbox's depth, say) is measured when Prometheus
scrapes: an addon registers a *scrape collector* (:func:`register_scrape_collector`), a
function yielding metric families, run in the request's app context.

``/metrics`` is off (404) unless ``NIGHTPOS_METRICS_TOKEN`` is set; then it wants
``Authorization: Bearer <token>``. docs/deploy.md says how to scrape it and fence it off.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

#: The setting (config key or environment variable) holding the scrape token.
TOKEN_SETTING = "NIGHTPOS_METRICS_TOKEN"  # noqa: S105 (a setting's name)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# --- The host's metrics: rule code and its runner processes (nightpos_app/sandbox/process) ---
#: Outcomes of a call of rule code (one ``sandbox.call()`` that ran code: a webhook call's
#: Target Record and actions, or a record rule's actions).
CODE_OUTCOMES = ("ok", "error", "cpu_limit", "memory_limit", "crashed")
CODE_RUNS = Counter(
    "nightpos_rule_code_runs",
    "Calls of admin-written rule code, by outcome",
    ["outcome"],
)
RUNNERS_STARTED = Counter(
    "nightpos_runner_starts",
    "Runner processes started (a pool's first runners, and each replacement)",
)
RUNNERS_KILLED = Counter(
    "nightpos_runner_kills",
    "Runner processes killed during a run (over a limit, or crashed), by reason",
    ["reason"],
)
RUNNERS_IDLE = Gauge(
    "nightpos_runner_pool_idle",
    "Runner processes ready for a call (all processes of the host together)",
    multiprocess_mode="livesum",
)
RUNNERS_BUSY = Gauge(
    "nightpos_runner_pool_busy",
    "Runner processes running a call (all processes of the host together)",
    multiprocess_mode="livesum",
)

for _outcome in CODE_OUTCOMES:  # every outcome is scraped, 0 until it happens
    CODE_RUNS.labels(_outcome)

#: What a sandbox error's kind counts as (nightpos_app/sandbox/errors.py's kinds).
_KIND_OUTCOMES = {"timeout": "cpu_limit", "memory": "memory_limit", "crashed": "crashed"}


def code_outcome(kind: str | None) -> str:
    """The outcome label for a run that ended with a sandbox error of ``kind`` (None: ok)."""
    if kind is None:
        return "ok"
    return _KIND_OUTCOMES.get(kind, "error")


# --- Scrape-time collectors -------------------------------------------------------------------

ScrapeCollector = Callable[[], Iterable[Metric]]
_scrape_collectors: dict[str, ScrapeCollector] = {}


def register_scrape_collector(name: str, collector: ScrapeCollector) -> None:
    """Run ``collector`` on every scrape, in the app context (one per ``name``: registering
    again replaces it). It must be cheap: Prometheus calls every 15-60 s, on every host."""
    _scrape_collectors[name] = collector


class _Scrape:
    """The scrape collectors, as ``generate_latest`` wants a registry: one ``collect``."""

    def collect(self) -> Iterator[Metric]:
        for name, collector in list(_scrape_collectors.items()):
            try:
                yield from collector()
            except Exception:  # a scrape still answers the rest when one collector fails
                logger.warning("metrics: the %s collector failed", name, exc_info=True)


def multiprocess() -> bool:
    """Whether values are shared through ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn)."""
    return bool(os.environ.get(MULTIPROC_ENV))


def exposition() -> bytes:
    """Every metric, in Prometheus's text format."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        base = generate_latest(registry)
    else:
        base = generate_latest(REGISTRY)
    return base + generate_latest(_Scrape())  # type: ignore[arg-type]


def serve_metrics(port: int, address: str = "127.0.0.1") -> None:
    """Serve this process's metrics (all the host's, in multiprocess mode) on ``port`` from a
    background thread: for processes that serve no HTTP of their own (the outbox worker)."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    start_http_server(port, addr=address, registry=registry)


# --- /metrics -----------------------------------------------------------------------------

blueprint = Blueprint("nightpos_metrics", __name__)


def metrics_token(app: Flask) -> str:
    """The scrape token (config, else environment); empty: ``/metrics`` is off."""
    return str(app.config.get(TOKEN_SETTING) or os.environ.get(TOKEN_SETTING) or "")


@blueprint.route("/metrics", methods=["GET"])
def metrics() -> Response:
    token = metrics_token(current_app)
    if not token:
        return Response("Not Found\n", 404, mimetype="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes: compare_digest raises on non-ASCII text, and a header may hold any latin-1 text.
    given_bytes = given.strip().encode("utf-8", "replace")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, token.encode()):
        return Response(
            "Unauthorized\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain"
        )
    response = Response(exposition(), 200)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    """Serve ``/metrics`` (GET only, with a token rather than a session: CSRF protection does
    not apply, so the blueprint needs no exemption)."""
    app.register_blueprint(blueprint)
