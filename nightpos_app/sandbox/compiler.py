"""Compiling admin code with the sandbox policy, once per source (an LRU cache).

A webhook's Target Record is evaluated on every call: compiling it each time
would cost far more than running it. Compiled code objects (or the reason a
source does not compile) are cached by ``(mode, source, filename)``.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import CodeType
from typing import Any, Literal

from nightpos_app.sandbox.errors import Kind
from nightpos_app.sandbox.policy import SandboxPolicy
from nightpos_app.sandbox.safe_builtins import HOOKS, SAFE_BUILTINS

Mode = Literal["eval", "exec"]

#: Sources longer than this are refused (a form field, not a program).
MAX_SOURCE_CHARS = 100_000
#: How many compiled sources are kept: many short ones (expressions, typical
#: actions), few long ones (so that the cache cannot grow large).
CACHE_SIZE = 1024
LARGE_CACHE_SIZE = 32
SMALL_SOURCE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Compiled:
    """The result of compiling one source: a code object, or why there is none."""

    code: CodeType | None
    kind: Kind | None = None
    message: str | None = None
    lineno: int | None = None
    #: Whether the code has a ``try`` statement: only then can it catch an error and go on.
    catches: bool = False
    #: What each call writes into the code's scope after the names it is given: the builtins
    #: and the hooks the code uses (the budget's ``_tick_`` and ``_getiter_`` are the call's).
    #: (A dict, for the fastest ``dict.update``; never changed after the compile.)
    scope: Mapping[str, Any] = field(default_factory=dict)


def _syntax_message(exc: SyntaxError) -> str:
    where = f"Line {exc.lineno}: " if exc.lineno else ""
    text = (exc.text or "").strip()
    return f"{where}{exc.msg}" + (f": {text!r}" if text and len(text) <= 200 else "")


def _parse(source: str, filename: str, mode: Mode) -> ast.AST:
    try:
        return ast.parse(source, filename, mode)
    except IndentationError:
        # Code pasted with a uniform indentation is fine once dedented.
        dedented = textwrap.dedent(source)
        if dedented == source:
            raise
        return ast.parse(dedented, filename, mode)


def _first_line(errors: list[str]) -> int | None:
    head = errors[0].split(":", 1)[0]
    number = head.removeprefix("Line ").strip()
    return int(number) if number.isascii() and number.isdigit() else None


def _compile(mode: Mode, source: str, filename: str) -> Compiled:
    if len(source) > MAX_SOURCE_CHARS:
        return Compiled(
            None,
            "syntax",
            f"The code is too long ({len(source):,} characters; at most {MAX_SOURCE_CHARS:,})",
        )
    text = source.strip() if mode == "eval" else source
    if mode == "eval" and not text:
        return Compiled(None, "syntax", "The expression is empty")
    try:
        tree = _parse(text, filename, mode)
    except SyntaxError as exc:
        return Compiled(None, "syntax", _syntax_message(exc), exc.lineno)
    except (RecursionError, MemoryError):
        return Compiled(None, "syntax", "The code is too deeply nested")
    except ValueError as exc:  # e.g. a NUL character in the source
        return Compiled(None, "syntax", str(exc))
    catches = any(isinstance(node, (ast.Try, ast.TryStar)) for node in ast.walk(tree))
    errors: list[str] = []
    try:
        tree = SandboxPolicy(errors, [], {}).visit(tree)
    except RecursionError:
        return Compiled(None, "syntax", "The code is too deeply nested")
    if errors:
        return Compiled(None, "forbidden", "; ".join(errors), _first_line(errors))
    ast.fix_missing_locations(tree)
    try:
        # dont_inherit: this module's `from __future__` flags must not leak in.
        code = compile(tree, filename, mode, dont_inherit=True)
    except SyntaxError as exc:  # e.g. 'return' outside a function
        return Compiled(None, "syntax", _syntax_message(exc), exc.lineno)
    except (RecursionError, MemoryError):
        return Compiled(None, "syntax", "The code is too deeply nested")
    return Compiled(code, catches=catches, scope=_scope_of(code))


def _names_of(code: CodeType) -> set[str]:
    """The global names ``code`` and the functions, lambdas and comprehensions in it use."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            names |= _names_of(constant)
    return names


def _scope_of(code: CodeType) -> dict[str, Any]:
    scope: dict[str, Any] = {"__builtins__": SAFE_BUILTINS, "__name__": "<sandbox>"}
    for name in sorted(_names_of(code)):
        if name in HOOKS and name not in ("_tick_", "_getiter_"):
            scope[name] = HOOKS[name]
    return scope


@lru_cache(maxsize=CACHE_SIZE)
def _compile_small(mode: Mode, source: str, filename: str) -> Compiled:
    return _compile(mode, source, filename)


@lru_cache(maxsize=LARGE_CACHE_SIZE)
def _compile_large(mode: Mode, source: str, filename: str) -> Compiled:
    return _compile(mode, source, filename)


def compile_source(mode: Mode, source: str, filename: str) -> Compiled:
    """Compile ``source`` for ``mode`` under the sandbox policy (cached)."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if len(source) <= SMALL_SOURCE_CHARS:
        return _compile_small(mode, source, filename)
    return _compile_large(mode, source, filename)


def cache_info() -> tuple[int, int]:
    """``(hits, misses)`` of the compile cache since the process started."""
    small, large = _compile_small.cache_info(), _compile_large.cache_info()
    return small.hits + large.hits, small.misses + large.misses
