"""gunicorn settings for NightPOS: ``gunicorn --config python:nightpos_app.gunicorn_conf ...``.

Only what Prometheus's multiprocess mode needs (nightpos_app/metrics.py): when a worker exits,
its live gauges (runners idle and busy) are dropped, so that ``/metrics`` adds up the workers
that run, not every worker there ever was. Its counters stay: they are the host's totals.
Command-line options (``--workers``, ``--bind``...) still apply.
"""

from __future__ import annotations

import os
from typing import Any

worker_class = "sync"


def child_exit(_server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
