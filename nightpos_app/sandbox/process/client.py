"""Admin code, run in a runner process: :class:`IsolatedSandbox` and :class:`CodeCall`.

:class:`IsolatedSandbox` has the in-process :class:`~nightpos_app.sandbox.Sandbox`'s methods
(``evaluate``, ``execute``, ``check``, ``catches``), so action types call it the same way,
but every run happens in a runner. A :class:`CodeCall` is one budget: a webhook call opens one
(``with sandbox.call(): ...``) and every run inside it — the Target Record, each action on
each record, the record rules they trigger — goes to the same runner and draws on the same CPU
time and wall-clock deadline. Outside a call, each run is a call of its own.

While a run goes on, the parent serves the runner's record API requests and watches it: a
runner that goes past the call's CPU time (spinning inside one C call, where the sandbox's own
ticks cannot see it), past the deadline, or dies (a crash, the address-space limit), is killed
and replaced, and the run ends with a :class:`~nightpos_app.sandbox.SandboxError` that says so.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from nightpos_app.exceptions import UserError
from nightpos_app.metrics import CODE_RUNS, code_outcome
from nightpos_app.orm import Environment, RecordSet
from nightpos_app.orm.registry import ModelRegistry
from nightpos_app.sandbox.compiler import compile_source
from nightpos_app.sandbox.errors import SandboxError
from nightpos_app.sandbox.helpers import (
    DATETIME,
    JSON,
    MAX_LOG_CHARS,
    MAX_LOG_MESSAGES,
    TIME,
)
from nightpos_app.sandbox.process.requests import RunRequests
from nightpos_app.sandbox.process.runner import (
    MAX_CONTAINERS,
    RunnerPool,
    RunnerProcess,
    close_pools,
    pool_for,
)
from nightpos_app.sandbox.process.service import RecordService, records_ref, schema_of
from nightpos_app.sandbox.process.watch import WATCH_INTERVAL, CallWatch
from nightpos_app.sandbox.process.wire import (
    ChannelClosed,
    Codec,
    FrameTooLarge,
    TooLarge,
    WireError,
)

logger = logging.getLogger(__name__)

#: Helpers a runner makes itself, by the objects the parent's names hold.
_HELPERS: dict[int, str] = {id(DATETIME): "datetime", id(TIME): "time", id(JSON): "json"}
_FILENAMES = {"eval": "<expression>", "exec": "<code>"}
_TRY = re.compile(r"\btry\b")
_TOO_MUCH = "The code sent more than the record API takes at once ({})"

_local = threading.local()
_schemas: weakref.WeakKeyDictionary[ModelRegistry, tuple[object, Any]] = weakref.WeakKeyDictionary()
atexit.register(close_pools)


def _megabytes(nbytes: int) -> str:
    return f"{nbytes / 2**20:g} MiB"


class CodeCall(CallWatch):
    """One call's runner and budget: CPU seconds for all its runs, and a wall-clock deadline.

    Its runner, deadline and CPU watch are :class:`~.watch.CallWatch`'s; this class runs code
    in the runner and serves what the code asks of the record API meanwhile.
    """

    def __init__(self, sandbox: IsolatedSandbox, cpu_seconds: float, wall_seconds: float) -> None:
        super().__init__(sandbox, cpu_seconds, wall_seconds)
        #: Whether a posted write is being carried out (the runner goes on meanwhile).
        self._posting = False
        #: Whether any code ran in this call (a call whose Target Record needed none did not).
        self.ran = False

    # --------------------------------------------------------------- runs
    def run(
        self, mode: Literal["eval", "exec"], source: Any, filename: str, names: Mapping[str, Any]
    ) -> Any:
        """Run ``source`` in this call's runner; its value (``eval``) or None."""
        self.ran = True
        runner = self._runner()
        env = _environment_of(names)
        service = RecordService(env)
        codec = Codec(
            records_ref, lambda v: type(v) is Environment, service.records_in, service.env_in
        )
        helper_names, log, sent = _split_names(names)
        # Code that cannot catch an error (see store.final_writes) need not wait for its
        # writes' answers: the runner posts them (nightpos_app/sandbox/process/child.py).
        posting = mode == "exec" and env is not None and env._final_writes
        if env is not None:
            self._send_schema(runner, env, codec)
        left = self.cpu_seconds - self._cpu_spent
        if left <= 0:
            raise self._stop(runner, self._cpu_message(), "timeout")
        try:
            request = codec.pack(
                ["run", mode, source, filename, sent, self.cpu_seconds, left, helper_names, posting]
            )
        except WireError as exc:
            raise TypeError(f"these names cannot be given to admin code: {exc}") from None
        if self._posting:  # the runner is not waiting: it cannot take another run now
            raise SandboxError(
                "A write that automation code did not wait for started more code", "error"
            )
        outermost = self._depth == 0
        if outermost:
            self._run_mark = runner.cpu_mark
        self._depth += 1
        try:
            self._send(runner, request)
            return self._serve(runner, codec, service, log, outermost, posting)
        finally:
            self._depth -= 1

    def _send_schema(self, runner: RunnerProcess, env: Environment, codec: Codec) -> None:
        """Tell the runner what the models look like to ``env``, unless it knows already."""
        schemas = _schemas.setdefault(env._registry, {})
        known = schemas.get(env._trusted)
        if known is None:
            known = schemas[env._trusted] = (object(), schema_of(env))
        if runner.schema_token is not known[0]:
            self._send(runner, codec.pack(["schema", known[1]]))
            runner.schema_token = known[0]

    def _send(self, runner: RunnerProcess, data: bytes) -> None:
        try:
            runner.channel.send(data)
        except ChannelClosed:
            raise self._died(runner) from None

    def _receive(self, runner: RunnerProcess, codec: Codec) -> list[Any]:
        while True:
            left = self._check_deadline(runner)
            try:
                frame = runner.channel.recv(min(left, WATCH_INTERVAL))
            except FrameTooLarge as exc:
                raise self._stop(runner, _TOO_MUCH.format(exc), "error") from None
            except ChannelClosed:
                raise self._died(runner) from None
            if frame is None:
                if self._over_cpu(runner):
                    raise self._stop(runner, self._cpu_message(), "timeout")
                continue
            try:
                message = codec.unpack(frame, MAX_CONTAINERS)
            except TooLarge as exc:
                raise self._stop(runner, _TOO_MUCH.format(exc), "error") from None
            except WireError as exc:
                logger.warning("runner process %s sent %s", runner.pid, exc)
                raise self._stop(
                    runner, "The code's process sent a malformed message", "crashed"
                ) from None
            if type(message) is list and message and type(message[0]) is str:
                return message
            raise self._stop(runner, "The code's process sent a malformed message", "crashed")

    def _serve(
        self,
        runner: RunnerProcess,
        codec: Codec,
        service: RecordService,
        log: Callable[[str], Any] | None,
        outermost: bool,
        posting: bool,
    ) -> Any:
        """Answer the runner's requests until its run ends (``posting``: the run may post)."""
        run = RunRequests(service, lambda: self.deadline, posting)
        logged = 0
        while True:
            try:
                message = self._receive(runner, codec)
            except SandboxError as stopped:  # past a limit, or gone: a refused post came first
                raise run.ending(stopped) or stopped from None
            kind = message[0]
            if kind == "op" and len(message) >= 2:
                reply = self._carry_out(runner, run, message[1], message[2:])
                self._send(runner, self._pack_reply(codec, reply))
            elif kind == "post" and len(message) >= 3:
                self._posting = True
                try:
                    self._carry_out(runner, run, message[1], message[3:], message[2], posted=True)
                finally:
                    self._posting = False
            elif kind == "log" and len(message) == 2:
                # The runner's helpers cut the messages already; this holds if it did not.
                logged += 1
                if log is not None and type(message[1]) is str and logged <= MAX_LOG_MESSAGES:
                    log(message[1][:MAX_LOG_CHARS])
            elif kind == "done" and len(message) == 4:
                self._account(runner, message[2], message[3], outermost)
                ending = run.ending(None)
                if ending is not None:
                    raise ending
                return message[1]
            elif kind == "failed" and len(message) == 7:
                _, error_kind, text, lineno, retire, used, clock = message
                self._account(runner, used, clock, outermost)
                error = self._failure(error_kind, text, lineno)
                ending = run.ending(error) or error
                if retire:  # the runner ends now (its heap may be in pieces), even if nested
                    if isinstance(ending, SandboxError):
                        error = ending
                    stopped = self._stop(runner, error.message, error.kind)
                    if ending is error:
                        raise stopped from ending.__cause__
                raise ending
            else:
                raise self._stop(runner, "The code's process sent a malformed message", "crashed")

    def _carry_out(
        self,
        runner: RunnerProcess,
        run: RunRequests,
        op: Any,
        args: list[Any],
        line: Any = None,
        *,
        posted: bool = False,
    ) -> list[Any]:
        """One record API request of the run; the reply (none for a posted one)."""
        self._check_deadline(runner)
        try:
            reply = run.carry_out(op, args, posted, line)
        except WireError as exc:
            raise self._stop(runner, f"The code's process sent {exc}", "crashed") from None
        except Exception:  # the database failed: the run cannot go on
            if time.monotonic() >= self.deadline:  # it was stopped at the deadline
                self._check_deadline(runner)
            reply = ["reply", "abort", "the record API failed"]
        if self.broken is not None:  # a nested run ended the runner
            raise self.broken
        return reply

    def _pack_reply(self, codec: Codec, reply: list[Any]) -> bytes:
        try:
            return codec.pack(reply)
        except WireError as exc:
            return codec.pack(["reply", "raise", "UserError", f"The result cannot be used: {exc}"])

    def _failure(self, kind: Any, text: Any, lineno: Any) -> SandboxError:
        if (
            kind not in ("syntax", "forbidden", "timeout", "memory", "error")
            or type(text) is not str
        ):
            kind, text = "error", str(text)
        if kind == "memory" and text == "The code ran out of memory":
            text = f"The code used more than its {_megabytes(self.sandbox.memory_bytes)} of memory"
        return SandboxError(text, kind, lineno=lineno if type(lineno) is int else None)


def _outcome_of(error: BaseException, call: CodeCall) -> str:
    """The metrics outcome of a call that ended with ``error``: the runner's end if it was
    stopped, else the sandbox error the raised one came from (action types and the engine
    wrap it in errors of their own, with it as the cause), else ``error``."""
    if call.broken is not None:
        return code_outcome(call.broken.kind)
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, SandboxError):
            return code_outcome(seen.kind)
        seen = seen.__cause__ or seen.__context__
    return "error"


def _environment_of(names: Mapping[str, Any]) -> Environment | None:
    """The environment the code's records belong to (its record API requests run there)."""
    for value in names.values():
        if type(value) is Environment:
            return value
    for value in names.values():
        if type(value) is RecordSet:
            return value.env
    return None


def _split_names(
    names: Mapping[str, Any],
) -> tuple[list[str], Callable[[str], Any] | None, dict[str, Any]]:
    """The helper names a runner makes itself, where ``log`` writes, and the names sent."""
    helpers: list[str] = []
    log: Callable[[str], Any] | None = None
    sent: dict[str, Any] = {}
    for name, value in names.items():
        if type(name) is not str or name.startswith("_"):
            raise ValueError(f"invalid name for sandboxed code: {name!r}")
        helper = _HELPERS.get(id(value))
        if helper == name or name == "UserError" and value is UserError:
            helpers.append(name)
        elif name == "log" and callable(value):
            helpers.append(name)
            log = value
        else:
            sent[name] = value
    return helpers, log, sent


class IsolatedSandbox:
    """Runs admin code in runner processes; the same methods as the in-process Sandbox.

    ``cpu_seconds`` is the default CPU budget of a call (a rule's copy sets its own),
    ``memory_mb`` the memory budget, ``wall_seconds`` how long a call may take in all, and
    ``runners`` how many runners this process keeps ready.
    """

    def __init__(
        self,
        cpu_seconds: float = 2.0,
        memory_mb: float = 128,
        *,
        wall_seconds: float = 10.0,
        runners: int = 2,
    ) -> None:
        if cpu_seconds <= 0 or memory_mb <= 0 or wall_seconds <= 0:
            raise ValueError("cpu_seconds, memory_mb and wall_seconds must be positive")
        self.cpu_seconds = float(cpu_seconds)
        self.memory_mb = memory_mb
        self.memory_bytes = int(memory_mb * 2**20)
        self.wall_seconds = float(wall_seconds)
        self.runners = runners
        pool_for(self.memory_bytes, runners)

    @property
    def pool(self) -> RunnerPool:
        """This process's pool (looked up each time: after a fork, the child has its own)."""
        return pool_for(self.memory_bytes)

    def __repr__(self) -> str:
        return (
            f"IsolatedSandbox(cpu_seconds={self.cpu_seconds:g}, memory_mb={self.memory_mb:g}, "
            f"wall_seconds={self.wall_seconds:g})"
        )

    def warm(self) -> None:
        """Start the runners this process keeps ready, in the background."""
        self.pool.warm()

    # ----------------------------------------------------- compile only
    def check(self, source: str, mode: Literal["eval", "exec"]) -> str | None:
        """Compile ``source`` without running it: a message saying what is wrong, or None."""
        if mode not in _FILENAMES:
            raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
        if not isinstance(source, str):
            return "The code must be text"
        return compile_source(mode, source, _FILENAMES[mode]).message

    def catches(self, code: str) -> bool:
        """Whether ``code`` may catch an error and go on: the word ``try`` is in it.

        A scan, not a compile: this runs in the web process on every call, where compiling admin
        code (up to 64 KiB, costly to compile by design if need be) would be work outside any
        budget. A ``try`` in a comment or a string only costs the writes their savepoints.
        """
        return not isinstance(code, str) or _TRY.search(code) is not None

    # --------------------------------------------------------------- runs
    @contextmanager
    def call(self, cpu_seconds: float | None = None) -> Iterator[CodeCall]:
        """One budget for every run inside the block (joins the call already open on this
        thread, if any: a nested call may not outlive the call it runs in)."""
        current: CodeCall | None = getattr(_local, "call", None)
        if current is not None:
            yield current
            return
        call = CodeCall(
            self,
            self.cpu_seconds if cpu_seconds is None else cpu_seconds,
            max(self.wall_seconds, self.cpu_seconds if cpu_seconds is None else cpu_seconds),
        )
        _local.call = call
        outcome = "ok"
        try:
            yield call
        except BaseException as error:
            outcome = _outcome_of(error, call)
            raise
        finally:
            _local.call = None
            call.close()
            if call.ran:  # one count per call of rule code, by how it ended
                CODE_RUNS.labels(outcome).inc()

    def evaluate(
        self,
        expression: str,
        names: Mapping[str, Any],
        *,
        cpu_seconds: float | None = None,
        filename: str = "<expression>",
    ) -> Any:
        """The value of ``expression`` with ``names`` in scope (records come back as
        recordsets of the names' environment)."""
        with self.call(cpu_seconds) as call:
            return call.run("eval", expression, filename, names)

    def execute(
        self,
        code: str,
        names: Mapping[str, Any],
        *,
        cpu_seconds: float | None = None,
        filename: str = "<code>",
    ) -> None:
        """Run ``code`` with ``names`` in scope. Unlike the in-process sandbox, the code's
        namespace stays in the runner: code acts through the record API and ``log``."""
        with self.call(cpu_seconds) as call:
            call.run("exec", code, filename, names)
