"""A code call's watch over its runner: the deadline, the CPU time, and stopping the runner.

:class:`CallWatch` is the part of :class:`~nightpos_app.sandbox.process.client.CodeCall` that
holds the call's runner and budget: it takes a runner from the pool, tells when the call's
wall-clock time is up (leaving out SQLite's write-lock waits) or its CPU time is spent (read
from ``/proc`` only while a run is slow), and kills the runner when either is, or when it
died; a call whose runner was stopped stays broken.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from nightpos_app.metrics import RUNNERS_KILLED, code_outcome
from nightpos_app.sandbox.errors import SandboxError
from nightpos_app.sandbox.process.runner import RunnerProcess, RunnersBusy
from nightpos_app.sqlite import lock_wait_seconds

if TYPE_CHECKING:
    from nightpos_app.sandbox.process.client import IsolatedSandbox

logger = logging.getLogger("nightpos_app.sandbox.process.client")

#: How often the parent looks at a running runner's CPU time, in seconds.
WATCH_INTERVAL = 0.05
#: CPU time past the budget before the parent kills a runner: the runner's own budget stops
#: Python-level code first, with the line it was on; this is for code stuck inside C.
CPU_GRACE = 0.25


class CallWatch:
    """A code call's runner, wall-clock deadline and CPU time, and how the runner is stopped."""

    def __init__(self, sandbox: IsolatedSandbox, cpu_seconds: float, wall_seconds: float) -> None:
        self.sandbox = sandbox
        self.cpu_seconds = cpu_seconds
        self.wall_seconds = wall_seconds
        self._deadline = time.monotonic() + wall_seconds
        self._lock_waits = lock_wait_seconds()
        self.runner: RunnerProcess | None = None
        #: CPU seconds this call's finished runs used (as the runner measured them).
        self._cpu_spent = 0.0
        #: The runner's CPU clock when the outermost run in progress started.
        self._run_mark: float | None = None
        #: The error that ended this call's runner: every later run ends with it too.
        self.broken: SandboxError | None = None
        #: Runs in progress (nested ones inside the outermost): a runner left mid-run is ended.
        self._depth = 0

    @property
    def deadline(self) -> float:
        """When the call's time is up (a ``time.monotonic()`` value): its wall seconds from
        its start, leaving out the time its transaction waited for SQLite's write lock (taken
        at the transaction's first statement, maybe in the middle of a run: other writers'
        time, not the code's)."""
        return self._deadline + lock_wait_seconds() - self._lock_waits

    # ------------------------------------------------------------ runner
    def _runner(self) -> RunnerProcess:
        if self.broken is not None:
            raise self.broken
        if self.runner is None:
            try:
                self.runner = self.sandbox.pool.acquire(max(self.deadline - time.monotonic(), 0))
            except RunnersBusy:
                self.broken = SandboxError(
                    "Every process that runs rule code is busy: try again shortly", "timeout"
                )
                raise self.broken from None
        return self.runner

    def _over_cpu(self, runner: RunnerProcess) -> bool:
        """Whether the run in progress took the call past its CPU time (read from /proc:
        only while a run is slow, so a fast call reads no file)."""
        now = runner.cpu_seconds()
        if now is None:
            return False  # the runner's own CPU limit (RLIMIT_CPU) is the backstop
        if self._run_mark is None:
            # A runner that has not reported its clock yet: count from one interval ago.
            self._run_mark = (
                runner.cpu_mark if runner.cpu_mark is not None else now - WATCH_INTERVAL
            )
        return self._cpu_spent + (now - self._run_mark) > self.cpu_seconds + CPU_GRACE

    def close(self) -> None:
        """Give the runner back (or end it, if this call left it in an unknown state)."""
        runner, self.runner = self.runner, None
        if runner is not None:
            self.sandbox.pool.release(runner, reusable=self.broken is None and self._depth == 0)

    def _stop(self, runner: RunnerProcess, message: str, kind: Any) -> SandboxError:
        RUNNERS_KILLED.labels(code_outcome(kind)).inc()
        runner.kill()
        self.runner = None
        self.sandbox.pool.release(runner, reusable=False)
        self.broken = SandboxError(message, kind)
        return self.broken

    def _died(self, runner: RunnerProcess) -> SandboxError:
        signal_name = runner.exit_signal()
        if signal_name == "SIGXCPU":
            return self._stop(runner, self._cpu_message(), "timeout")
        how = f" ({signal_name})" if signal_name else ""
        logger.warning("runner process %s ended during a run%s", runner.pid, how)
        return self._stop(runner, f"The code crashed the process that ran it{how}", "crashed")

    def _cpu_message(self) -> str:
        return f"The code used more than its {self.cpu_seconds:g} s of CPU time and was stopped"

    def _check_deadline(self, runner: RunnerProcess) -> float:
        """The seconds left before the deadline; past it, the runner is stopped."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._stop(
                runner,
                f"The code ran longer than the {self.wall_seconds:g} s a call may take "
                "and was stopped",
                "timeout",
            )
        return left

    def _account(self, runner: RunnerProcess, used: Any, clock: Any, outermost: bool) -> None:
        """Count the CPU time a run used (nested runs are inside the outermost one's)."""
        if type(clock) is float:
            runner.cpu_mark = clock
        if outermost and type(used) is float and used >= 0:
            self._cpu_spent += used
