"""Runner processes and the pool that keeps some ready.

A runner is started with ``subprocess`` rather than ``multiprocessing``: ``multiprocessing``
would hand the child the parent's environment (database URL, tokens) and talk pickle, which
the parent must never read from a process that runs admin code. Here the child gets a clean
environment, the working directory ``/``, no descriptor but one end of a socket pair, and
speaks msgpack (:mod:`nightpos_app.sandbox.process.wire`).

Starting a runner costs an interpreter's start (~0.1 s of CPU), so each process keeps a pool
of idle runners, refilled by a background thread; a call takes one and gives it back, unless
it was killed or asked to retire. Runners are per process: after a fork (gunicorn's
pre-loading) the child process starts a pool of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgpack

from nightpos_app.metrics import RUNNERS_BUSY, RUNNERS_IDLE, RUNNERS_STARTED
from nightpos_app.sandbox.native import ENV_SWITCH
from nightpos_app.sandbox.process.wire import MAX_RUNNER_MESSAGE, Channel

logger = logging.getLogger(__name__)

BOOT = Path(__file__).with_name("boot.py")
#: The most lists and dicts a runner's message may build here (a megabyte of ``[{}, {}...]``
#: would be a million objects).
MAX_CONTAINERS = 50_000
#: Runs after which a runner is replaced anyway (whatever slowly grows in it goes with it).
MAX_RUNS = 5000
#: The only environment a runner gets.
RUNNER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "random"}


def runner_env() -> dict[str, str]:
    """RUNNER_ENV, and the switch that turns the sandbox's C fast paths off (native.py) when
    it is set here: runners are where rule code runs."""
    if os.environ.get(ENV_SWITCH) == "0":
        return {**RUNNER_ENV, ENV_SWITCH: "0"}
    return dict(RUNNER_ENV)


#: How long a new runner may take to start.
READY_SECONDS = 30.0
_warned_unconfined = False
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class RunnerProcess:
    """One runner: the process and the parent's end of its channel."""

    def __init__(self, memory_bytes: int) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [
                    sys.executable,
                    "-I",
                    str(BOOT),
                    str(child_end.fileno()),
                    str(memory_bytes),
                    str(os.getpid()),
                ],
                pass_fds=(child_end.fileno(),),
                close_fds=True,
                env=runner_env(),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if os.environ.get("NIGHTPOS_RUNNER_STDERR") else subprocess.DEVNULL,
            )
        finally:
            child_end.close()
        self.channel = Channel(parent_end, MAX_RUNNER_MESSAGE)
        self.memory_bytes = memory_bytes
        self._wait_ready()
        #: The schema of models this runner was last sent (see client.py).
        self.schema_token: object = None
        self.runs = 0
        #: The runner's CPU clock as it last reported it (at the end of a run).
        self.cpu_mark: float | None = None

    def _wait_ready(self) -> None:
        """Wait for the runner's first word: it is up, limited, and whether it is confined."""
        try:
            frame = self.channel.recv(READY_SECONDS)
            message = msgpack.unpackb(frame) if frame is not None else None
        except Exception:  # noqa: BLE001 - whatever it was, this runner is no good
            message = None
        if type(message) is not list or message[:1] != ["ready"] or len(message) != 2:
            self.kill()
            raise OSError(f"runner process {self.pid} did not start")
        global _warned_unconfined
        if message[1] is not True and not _warned_unconfined:
            _warned_unconfined = True
            logger.warning(
                "runner processes run without their seccomp filter (libseccomp is not "
                "available): resource limits and the sandbox still apply"
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float | None:
        """CPU time the runner has used (user and system), or None where it cannot be read."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def kill(self) -> None:
        """End the runner at once (it may be spinning inside C) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.channel.sock.close()

    def exit_signal(self) -> str | None:
        """The signal the runner died of (``SIGSEGV``...), once it is gone; None otherwise."""
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.kill()
            return "SIGKILL"
        if code is not None and code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return None


#: Idle runners a pool keeps at most: as many as calls ran at once, up to this.
MAX_IDLE = 16
#: Runners of one pool running calls at once; more calls wait for one (a burst on a threaded
#: server would otherwise start an interpreter per request).
MAX_BUSY = 32


class RunnersBusy(Exception):
    """Every runner a pool may have is running a call, and none came free in time."""


class RunnerPool:
    """Idle runners of one memory budget, ready for calls; refilled in the background.

    At least ``size`` runners are kept idle; runners given back are kept too, up to
    :data:`MAX_IDLE`, so that as many calls as ran at once find one ready next time.

    Every runner is started by one long-lived thread (the pool's spawner), never by the thread
    of a request: a runner dies with the thread that started it (``PR_SET_PDEATHSIG`` follows
    the parent thread), and a threaded server's request threads come and go.
    """

    def __init__(self, memory_bytes: int, size: int) -> None:
        self.memory_bytes = memory_bytes
        self.size = max(size, 0)
        self._idle: list[RunnerProcess] = []
        self._lock = threading.Lock()
        self._closed = False
        self._filling = False
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nightpos-runners")
        self._busy = threading.BoundedSemaphore(MAX_BUSY)
        self.started = 0
        #: Whether the last attempt to start a runner failed (readiness: /readyz).
        self.start_failed = False

    def _start(self) -> RunnerProcess:
        """A new runner (on the spawner thread only)."""
        try:
            runner = RunnerProcess(self.memory_bytes)
        except OSError:
            self.start_failed = True
            raise
        with self._lock:
            self.started += 1
            self.start_failed = False
        RUNNERS_STARTED.inc()
        return runner

    def ready(self) -> bool:
        """Whether calls can get a runner: open, and starting runners works (the first ones
        have started, unless the pool keeps none ready)."""
        return not self._closed and not self.start_failed and (self.started > 0 or self.size == 0)

    def acquire(self, timeout: float | None = None) -> RunnerProcess:
        """An idle runner, or a new one when none is idle; :class:`RunnersBusy` when
        :data:`MAX_BUSY` run calls and none comes free within ``timeout`` seconds."""
        if not self._busy.acquire(timeout=timeout):
            raise RunnersBusy(f"all {MAX_BUSY} runner processes are busy")
        try:
            runner = self._take()
        except BaseException:
            self._busy.release()
            raise
        RUNNERS_BUSY.inc()
        return runner

    def _take(self) -> RunnerProcess:
        with self._lock:
            runner = None
            while self._idle:
                runner = self._idle.pop()
                if runner.alive():
                    break
                runner.kill()
                runner = None
            RUNNERS_IDLE.set(len(self._idle))
        self._want_more()
        if runner is not None:
            return runner
        return self._spawner.submit(self._start).result()

    def release(self, runner: RunnerProcess, reusable: bool) -> None:
        """Give ``runner`` back after a call; it is ended if not ``reusable`` or not wanted."""
        self._busy.release()
        RUNNERS_BUSY.dec()
        runner.runs += 1
        if reusable and runner.runs < MAX_RUNS and runner.alive():
            with self._lock:
                if not self._closed and len(self._idle) < max(self.size, MAX_IDLE):
                    self._idle.append(runner)
                    RUNNERS_IDLE.set(len(self._idle))
                    return
        self._retire(runner)
        self._want_more()

    def _retire(self, runner: RunnerProcess) -> None:
        with contextlib.suppress(Exception):  # gone already: kill() reaps it either way
            runner.channel.send(b"\x91\xa4exit")  # msgpack ["exit"]
        runner.kill()

    def resize(self, size: int) -> None:
        """Keep ``size`` runners ready from now on; idle ones beyond it are ended."""
        with self._lock:
            self.size = max(size, 0)
            extra, self._idle = self._idle[self.size :], self._idle[: self.size]
            RUNNERS_IDLE.set(len(self._idle))
        for runner in extra:
            self._retire(runner)

    def warm(self) -> None:
        """Have the spawner start runners until ``size`` are idle, in the background."""
        self._want_more()

    def _want_more(self) -> None:
        """Ask the spawner to fill the pool if fewer than ``size`` runners are idle (only then:
        waking a thread on every call would cost each call a switch of threads)."""
        with self._lock:
            if self._closed or self._filling or len(self._idle) >= self.size:
                return
            self._filling = True
        try:
            self._spawner.submit(self._fill)
        except RuntimeError:  # shut down at exit
            self._filling = False

    def _fill(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed or len(self._idle) >= self.size:
                        return
                try:
                    runner = self._start()
                except OSError:
                    logger.exception("could not start a runner process")
                    return
                with self._lock:
                    if not self._closed:
                        self._idle.append(runner)
                        RUNNERS_IDLE.set(len(self._idle))
                        continue
                self._retire(runner)
                return
        finally:
            with self._lock:
                self._filling = False

    def close(self) -> None:
        """End every idle runner (at exit)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            RUNNERS_IDLE.set(0)
        for runner in idle:
            self._retire(runner)
        self._spawner.shutdown(wait=False)


_pools: dict[int, RunnerPool] = {}
_pools_lock = threading.Lock()
_pools_pid = os.getpid()


def pool_for(memory_bytes: int, size: int | None = None) -> RunnerPool:
    """This process's pool of runners for ``memory_bytes`` (one per budget). ``size``: keep at
    least that many ready (the largest size asked for wins)."""
    global _pools_pid
    pool = _pools.get(memory_bytes)
    if pool is not None and size is None and _pools_pid == os.getpid():
        return pool  # the common case, without the lock
    with _pools_lock:
        if _pools_pid != os.getpid():
            # Forked: the parent's runners and threads are not ours; leave them to it.
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(memory_bytes)
        if pool is None:
            pool = _pools[memory_bytes] = RunnerPool(memory_bytes, size or 0)
        elif size is not None:
            pool.size = max(pool.size, size)
        return pool


def pools_ready() -> bool | None:
    """Whether this process's runner pools can serve calls (None: it has none)."""
    with _pools_lock:
        pools = list(_pools.values()) if _pools_pid == os.getpid() else []
    if not pools:
        return None
    return all(pool.ready() for pool in pools)


def close_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values()) if _pools_pid == os.getpid() else []
        _pools.clear()
    for pool in pools:
        pool.close()
