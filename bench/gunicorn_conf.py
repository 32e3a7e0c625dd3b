"""Gunicorn settings of the benchmarks, the same for NightPOS and the baseline.

Only bookkeeping: each worker, once its app is loaded, leaves a ``ready-<pid>`` file in
``BENCH_READY_DIR`` so the benchmark knows both workers serve (and their pids, for RSS).
"""

import os
from pathlib import Path

worker_class = "sync"
timeout = 120
loglevel = "warning"
accesslog = None


def post_worker_init(worker):  # noqa: ANN001, ANN201 (gunicorn's hook signature)
    ready = os.environ.get("BENCH_READY_DIR")
    if ready:
        Path(ready, f"ready-{os.getpid()}").touch()
