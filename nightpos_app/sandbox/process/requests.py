"""The record API requests of one run, as the parent carries them out.

A run's requests arrive in order; some the code waits for, some it posts (writes from code
that cannot catch their errors, see :mod:`nightpos_app.sandbox.process.client`). This module
answers each and remembers what ends the run: the database's failure, a post's, or the code's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nightpos_app.exceptions import UserError
from nightpos_app.sandbox.errors import SandboxError
from nightpos_app.sandbox.process.service import RecordService
from nightpos_app.sandbox.process.wire import WireError
from nightpos_app.sandbox.runner import error_message


class RunRequests:
    """The record API requests of one run, and the first failure that ends it.

    A request the code waits for is answered ``ok`` or ``raise`` (the code may catch the
    error). A posted one is answered nothing: its failure ends the run as if raised at its
    line; the run's later requests are then answered ``abort`` and its later posts dropped.
    """

    def __init__(
        self, service: RecordService, deadline: Callable[[], float], posting: bool
    ) -> None:
        self.service = service
        self.deadline = deadline
        self.posting = posting
        #: The last error a request the code waited for raised (the cause of its failure).
        self.op_error: UserError | None = None
        #: The database failure that ended the run.
        self.host_failure: BaseException | None = None
        #: The first posted request that failed, and the line of the code that posted it.
        self.posted_error: tuple[UserError, int | None] | None = None
        #: How many requests the run posted, and the ids of its posted creates by number.
        self.posts = 0
        self.created: dict[int, list[int]] = {}

    def carry_out(self, op: Any, args: list[Any], posted: bool, line: Any) -> list[Any]:
        """Carry out one request: the reply (for a request the code waits for)."""
        number = self.posts
        if posted:
            if not self.posting:
                raise WireError("a posted request in a run that waits for its answers")
            self.posts += 1
        if self.host_failure is not None or self.posted_error is not None:
            return ["reply", "abort", "the run was stopped"]
        if op == "created" and not posted:
            if len(args) != 1 or type(args[0]) is not int or args[0] not in self.created:
                raise WireError("a request for ids no create of the run made")
            return ["reply", "ok", self.created[args[0]]]
        try:
            answer = self.service.handle(op, args, self.deadline)
        except UserError as exc:
            if posted:
                self.posted_error = (exc, line if type(line) is int else None)
                return []
            self.op_error = exc
            return ["reply", "raise", type(exc).__name__, exc.message]
        except WireError:
            raise
        except Exception as exc:
            self.host_failure = exc
            raise
        if posted and op == "create":
            self.created[number] = answer
        return ["reply", "ok", answer]

    def ending(self, error: SandboxError | None) -> BaseException | None:
        """What the run ends with: the database's failure, then a post's, then ``error``
        (the code's own); the cause of a code error is the request error it came from."""
        if self.host_failure is not None:
            return self.host_failure
        if self.posted_error is not None:
            cause, line = self.posted_error
            error = SandboxError(error_message(cause), "error", lineno=line)
        else:
            cause = self.op_error
        if error is not None:
            error.__cause__ = cause
        return error
