"""What the benchmarks share, in one import: ``from bench.common import ...``.

A benchmark gets a :class:`Context` (quick or full, rounds, a temporary folder) and returns a
:class:`Report`: its tables, its targets and its raw numbers (for bench/results/latest.json).
The pieces live by concern, and this module re-exports them all (bench/compare.py imports it in
the baseline's checkout too, so its names stay):

- ``base``: paths, the admin password, load settings, the specification's use cases, Context;
- ``results``: Table, Target, Report, and rendering tables;
- ``instances``: databases, prepared instances, an in-process app, the use cases' rules;
- ``servers``: gunicorn servers, load runs, memory, a logged-in browser session.
"""

from __future__ import annotations

from bench.base import (
    ADMIN_PASSWORD,
    BIN,
    CONNECTIONS,
    GUNICORN_WORKERS,
    ROOT,
    TARGET_RECORD,
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_CODE,
    USE_CASE_2_PAYLOAD,
    USE_CASE_2_TARGET,
    Context,
)
from bench.instances import (
    Instance,
    app_context,
    database_label,
    database_url,
    drop_databases,
    make_rule,
    other_currency_id,
    prepare_instance,
    toggle_code,
    usd_id,
    use_case_rules,
)
from bench.results import Report, Table, Target, fmt, median, render
from bench.servers import (
    Browser,
    Server,
    free_port,
    load,
    rss_kib,
    servers,
    start_gunicorn,
)

__all__ = [
    "ADMIN_PASSWORD",
    "BIN",
    "CONNECTIONS",
    "GUNICORN_WORKERS",
    "ROOT",
    "TARGET_RECORD",
    "USE_CASE_1_PAYLOAD",
    "USE_CASE_2_CODE",
    "USE_CASE_2_PAYLOAD",
    "USE_CASE_2_TARGET",
    "Browser",
    "Context",
    "Instance",
    "Report",
    "Server",
    "Table",
    "Target",
    "app_context",
    "database_label",
    "database_url",
    "drop_databases",
    "fmt",
    "free_port",
    "load",
    "make_rule",
    "median",
    "other_currency_id",
    "prepare_instance",
    "render",
    "rss_kib",
    "servers",
    "start_gunicorn",
    "toggle_code",
    "usd_id",
    "use_case_rules",
]
