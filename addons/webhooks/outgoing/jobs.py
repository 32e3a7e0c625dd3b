"""The other periodic jobs an outbox worker's loop runs besides sending: the timing scheduler
and the inbox of calls answered at once.

Jobs are registered on the app, not here (``WORKER_JOBS_KEY`` in rules/state.py: a factory that
gets the app and returns a callable), so the outbox knows no job by name; each worker makes its
own jobs from those factories and runs each once per round of its loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from flask import Flask

from addons.webhooks.database import database_problem
from addons.webhooks.rules.state import WORKER_JOBS_KEY

log = logging.getLogger("nightpos.webhooks.outbox")

#: One job: does its work if due, returns how much it did (0: nothing due).
Job = Callable[[], int]


class WorkerJobs:
    """One worker's jobs, made from the factories registered on ``app`` when it starts.

    Iterating gives the jobs themselves (callables), in registration order.
    """

    def __init__(self, app: Flask, worker_id: str) -> None:
        self.worker_id = worker_id
        self._jobs: list[Job] = [make(app) for make in app.extensions.get(WORKER_JOBS_KEY, ())]

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)

    def run(self) -> int:
        """Run each job once (each decides whether it is due); the work done.

        A job's failure is logged and does not keep the outbox, nor the other jobs, from
        running.
        """
        done = 0
        for job in self._jobs:
            try:
                done += job()
            except Exception as error:  # noqa: BLE001 (one job must not stop the loop)
                problem = database_problem(error)
                if problem is None:
                    log.exception("worker %s: a periodic job failed", self.worker_id)
                else:
                    log.warning("worker %s: periodic job: %s", self.worker_id, problem.detail)
        return done

    def stop(self) -> None:
        """Stop the jobs that can stop mid-round (the inbox's, a bound ``run_once`` whose
        worker has ``stop``): the worker is stopping."""
        for job in self._jobs:
            stop = getattr(getattr(job, "__self__", None), "stop", None)
            if stop is not None:
                stop()
