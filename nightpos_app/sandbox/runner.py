"""The :class:`Sandbox`: evaluate expressions and execute code written by admins."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal

from nightpos_app.exceptions import UserError
from nightpos_app.sandbox.budget import Budget, BudgetExceeded
from nightpos_app.sandbox.compiler import Compiled, compile_source
from nightpos_app.sandbox.errors import Kind, SandboxError, Violation
from nightpos_app.sandbox.limits import text_size

#: Modules whose exceptions carry messages safe to show outside (others may
#: carry SQL, parameters or paths: they are named, and logged by the caller).
_SAFE_EXCEPTION_MODULES = frozenset({"builtins", "json.decoder", "decimal", "datetime"})
_DEFAULT_FILENAMES = {"eval": "<expression>", "exec": "<code>"}


def _text(value: Any, convert: Callable[[Any], str] = str) -> str:
    """``convert(value)``, unless the text would be huge (a message is short)."""
    if type(value) is str and convert is str:
        return value
    try:
        if text_size(value, limit=1 << 20) <= 1 << 20:
            return convert(value)
    except Exception:  # noqa: S110 - too deep, an int too long to print...: not shown
        pass
    return f"<{type(value).__name__} too large to show>"


def error_message(exc: BaseException) -> str:
    """The message of an exception raised while admin code ran, as admins should read it."""
    if isinstance(exc, UserError):
        text = _text(exc.message)
    elif type(exc).__module__ not in _SAFE_EXCEPTION_MODULES:
        return f"{type(exc).__name__} (details are in the server log)"
    elif isinstance(exc, KeyError) and len(exc.args) == 1:
        key = exc.args[0]
        # KeyError('unknown model ...') is a message; KeyError('name') is a missing key.
        text = key if isinstance(key, str) and " " in key else f"KeyError: {_text(key, repr)}"
    elif len(exc.args) == 1:
        text = _text(exc.args[0])
    else:  # no arguments, or several (UnicodeDecodeError formats its own)
        text = _text(exc) if exc.args else ""
    return text or type(exc).__name__


def _line_of(tb: TracebackType | None, filename: str) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _translate(exc: BaseException, budget: Budget, filename: str) -> SandboxError | None:
    lineno = _line_of(exc.__traceback__, filename)
    kind: Kind
    if budget.tripped is not None:
        kind, message = budget.tripped
    elif isinstance(exc, BudgetExceeded):
        kind, message = exc.kind, exc.message
    elif isinstance(exc, Violation) or budget.violation is not None:
        kind = "forbidden"
        message = exc.message if isinstance(exc, Violation) else str(budget.violation)
    elif isinstance(exc, SandboxError):
        return SandboxError(exc.message, exc.kind, lineno=exc.lineno or lineno)
    elif isinstance(exc, RecursionError):
        kind, message = "memory", "The code went too deep (maximum recursion depth exceeded)"
    elif isinstance(exc, MemoryError):
        kind, message = "memory", "The code ran out of memory"
    elif isinstance(exc, Exception):
        return SandboxError(error_message(exc), "error", lineno=lineno)
    else:  # KeyboardInterrupt, SystemExit...: not ours to turn into an error
        return None
    if lineno is not None:
        message = f"{message} (line {lineno})"
    return SandboxError(message, kind, lineno=lineno)


def _compiled(mode: Literal["eval", "exec"], source: Any, filename: str) -> Compiled:
    if not isinstance(source, str):
        return Compiled(None, "syntax", "The code must be text")
    return compile_source(mode, source, filename)


def _clear_frames(exc: BaseException) -> None:
    """Keep tracebacks for the log, but not their frames' locals (maybe big values)."""
    seen: set[int] = set()
    chain: BaseException | None = exc
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        traceback.clear_frames(chain.__traceback__)
        if chain.__cause__ is not None and id(chain.__cause__) not in seen:
            traceback.clear_frames(chain.__cause__.__traceback__)
        chain = chain.__context__


#: Names found valid before (a webhook's names are the same at every call), at most
#: :data:`_CHECKED_MAX` of them.
_checked_names: set[str] = set()
_CHECKED_MAX = 1024


def _check_names(names: Mapping[str, Any]) -> None:
    """Refuse a name that is not text or starts with ``_`` (the hooks' and the builtins')."""
    if _checked_names.issuperset(names):
        return
    for key in names:
        if type(key) is not str or key.startswith("_"):
            raise ValueError(f"invalid name for sandboxed code: {key!r}")
        if len(_checked_names) < _CHECKED_MAX:
            _checked_names.add(key)


class _Unfinished(Exception):
    """The code ended normally after exceeding its budget or a forbidden access."""


class Sandbox:
    """Runs admin-written Python (webhook Target Records, Execute Code) safely.

    Code is compiled with the sandbox policy (cached per source) and runs with
    only the names it is handed, guarded builtins, a CPU time budget
    (``cpu_seconds``, overridable per call) and a memory budget
    (``memory_mb``). Every failure is a :class:`SandboxError` whose message can
    be shown to the admin or returned to the system that called the webhook.
    """

    def __init__(self, cpu_seconds: float = 2.0, memory_mb: float = 128) -> None:
        if cpu_seconds <= 0 or memory_mb <= 0:
            raise ValueError("cpu_seconds and memory_mb must be positive")
        self.cpu_seconds = float(cpu_seconds)
        self.memory_mb = memory_mb
        self.memory_bytes = int(memory_mb * 2**20)

    def __repr__(self) -> str:
        return f"Sandbox(cpu_seconds={self.cpu_seconds:g}, memory_mb={self.memory_mb:g})"

    def check(self, source: str, mode: Literal["eval", "exec"]) -> str | None:
        """Compile ``source`` without running it: a message saying what is wrong, or None."""
        if mode not in _DEFAULT_FILENAMES:
            raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
        return _compiled(mode, source, _DEFAULT_FILENAMES[mode]).message

    def catches(self, code: str) -> bool:
        """Whether ``code`` (``exec`` mode) can catch an error and go on: it has a ``try``."""
        return _compiled("exec", code, _DEFAULT_FILENAMES["exec"]).catches

    def evaluate(
        self,
        expression: str,
        names: Mapping[str, Any],
        *,
        cpu_seconds: float | None = None,
        cpu_left: float | None = None,
        filename: str = "<expression>",
    ) -> Any:
        """The value of ``expression`` with ``names`` in scope.

        ``cpu_left``: what is left of the budget (earlier runs of the same call used the rest).
        """
        compiled = _compiled("eval", expression, filename)
        scope = self._run(compiled, names, cpu_seconds, filename, eval, cpu_left)
        return scope.pop("_result_")

    def execute(
        self,
        code: str,
        names: Mapping[str, Any],
        *,
        cpu_seconds: float | None = None,
        cpu_left: float | None = None,
        filename: str = "<code>",
        namespace: bool = True,
    ) -> dict[str, Any]:
        """Run ``code`` with ``names`` in scope; its namespace afterwards.

        The namespace holds the names given and those the code defined, without
        the sandbox's internal names (none with ``namespace=False``).
        """
        compiled = _compiled("exec", code, filename)
        scope = self._run(compiled, names, cpu_seconds, filename, exec, cpu_left)
        if not namespace:  # the caller has no use for it (a runner process)
            return {}
        # Admin code cannot bind names starting with "_" (but "_" itself).
        return {k: v for k, v in scope.items() if k == "_" or not k.startswith("_")}

    def _run(
        self,
        compiled: Compiled,
        names: Mapping[str, Any],
        cpu_seconds: float | None,
        filename: str,
        run: Callable[[Any, dict[str, Any]], Any],
        cpu_left: float | None = None,
    ) -> dict[str, Any]:
        if compiled.code is None:
            raise SandboxError(
                compiled.message or "", compiled.kind or "syntax", lineno=compiled.lineno
            )
        _check_names(names)
        # The builtins and the hooks are written after the names given, so that no name
        # can replace them, whatever its key.
        scope = dict(names)
        scope.update(compiled.scope)
        log = names.get("log")
        budget = Budget(
            self.cpu_seconds if cpu_seconds is None else cpu_seconds,
            self.memory_bytes,
            log if callable(log) else None,
            cpu_left,
        )
        try:
            with budget:
                scope["_tick_"] = budget.tick
                scope["_getiter_"] = budget.getiter
                # The code object was compiled under the sandbox policy and runs
                # with the guarded builtins only.
                scope["_result_"] = run(compiled.code, scope)
                if budget.tripped is not None or budget.violation is not None:
                    raise _Unfinished
        except BaseException as exc:
            error = _translate(exc, budget, filename)
            if error is None:
                raise
            _clear_frames(exc)
            raise error from (None if isinstance(exc, _Unfinished) else exc)
        return scope
