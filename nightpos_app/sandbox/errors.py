"""Errors of the sandbox: the one callers see, and the internal ones guards raise.

:class:`SandboxError` is what :class:`~nightpos_app.sandbox.Sandbox` raises, always
with a message meant for the admin or the external system that sent the
webhook, never a traceback. Inside a run, guards raise :class:`Violation`
(forbidden access) and :class:`~nightpos_app.sandbox.budget.BudgetExceeded`
(time or memory); both derive from ``BaseException`` so that the common
``except Exception:`` in admin code does not swallow them.
"""

from __future__ import annotations

from typing import Literal

from nightpos_app.exceptions import UserError

Kind = Literal["syntax", "forbidden", "timeout", "memory", "crashed", "error"]

#: Messages longer than this are cut (a message is shown in a form or a webhook answer).
MAX_MESSAGE_CHARS = 4000


class SandboxError(UserError):
    """Admin-written code could not be compiled or did not run to the end.

    ``kind`` says why: ``"syntax"`` (it does not compile), ``"forbidden"`` (it
    uses something the sandbox does not allow), ``"timeout"`` (CPU time budget),
    ``"memory"`` (memory budget, or a value that would be too large) or
    ``"error"`` (the code raised an exception; the message is the exception's
    own). ``lineno`` is the line of the code where it happened, when known.
    The original exception, if any, is kept as ``__cause__`` for the server log.
    """

    def __init__(self, message: str, kind: Kind = "error", *, lineno: int | None = None) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        super().__init__(message)
        self.kind: Kind = kind
        self.lineno = lineno

    def __repr__(self) -> str:
        return f"SandboxError({self.message!r}, kind={self.kind!r}, lineno={self.lineno!r})"


class Violation(BaseException):
    """Sandboxed code tried to use something it may not (an attribute, a type...).

    A ``BaseException`` so that ``except Exception`` in admin code does not
    hide it; the run also records it, so even a bare ``except:`` cannot turn
    a forbidden access into a successful run.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
