"""What every benchmark module builds on: the checkout and venv paths, the throwaway
instances' admin password, the load settings, the specification's use cases, and a run's
:class:`Context`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105  (a throwaway instance's)
#: Gunicorn settings shared by NightPOS and the baseline: 2 sync workers, as the README's.
GUNICORN_WORKERS = 2
CONNECTIONS = 8

#: The specification's use cases (tests/support/spec.py is the verbatim copy).
sys.path.insert(0, str(ROOT))
from tests.support.spec import (  # noqa: E402
    TARGET_RECORD,
    USE_CASE_1_PAYLOAD,
    USE_CASE_2_CODE,
    USE_CASE_2_PAYLOAD,
    USE_CASE_2_TARGET,
)

# Imported here for the benchmarks, which take them from bench.common.
__all__ = [
    "TARGET_RECORD",
    "USE_CASE_1_PAYLOAD",
    "USE_CASE_2_CODE",
    "USE_CASE_2_PAYLOAD",
    "USE_CASE_2_TARGET",
]


@dataclass
class Context:
    """One benchmark's run: quick or full, its rounds and duration, a temporary folder, the
    database to measure on, and where progress lines go."""

    quick: bool
    rounds: int
    duration: float
    tmp: Path
    database_url: str | None  # BENCH_DATABASE_URL (PostgreSQL), or None for SQLite files
    log: Callable[[str], None] = print
    #: The PostgreSQL databases made for the run (dropped at its end by ``drop_databases``).
    databases: list[str] = field(default_factory=list)
