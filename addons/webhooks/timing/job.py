"""The scheduler as a job of the outbox worker's loop (`flask nightpos worker`, `make run`'s
thread): one scheduler per worker, ticking at ``WEBHOOK_TIMING_TICK_SECONDS``."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from addons.webhooks.rules.state import WORKER_JOBS_KEY
from addons.webhooks.timing.scheduler import Scheduler


def scheduler_job(app: Flask) -> Callable[[], int]:
    """A new scheduler's :meth:`~Scheduler.tick`, for one worker."""
    return Scheduler(app).tick


def register_scheduler(app: Flask) -> None:
    """Make every worker of ``app`` run timing rules."""
    jobs = app.extensions.setdefault(WORKER_JOBS_KEY, [])
    if scheduler_job not in jobs:
        jobs.append(scheduler_job)
