"""The runner process: runs admin code with the sandbox, and nothing else.

Started by :mod:`nightpos_app.sandbox.process.runner` through ``boot.py``, with a clean
environment, no file descriptor but its channel, and the app not imported (no Flask, no
SQLAlchemy, no config, no database connection in this process). Before its first request it
puts itself under OS limits: address space (the memory budget and a margin), no file writes,
no child processes (for users other than root; the sandbox gives code no way to ask for one
anyway), no core dumps, and death with its parent. Each run gets a CPU-time limit as a
backstop behind the sandbox's own budget and the parent's watch.

It then serves runs: a run request carries the code, its names (records arrive as handles,
see :mod:`nightpos_app.sandbox.process.remote`) and the CPU seconds the call has left. While
code waits for a record API answer, the parent may ask for another run first (a record rule
that the write triggered): runs nest like calls.

A run may *post* its writes: code that cannot catch an error (the parent says so) does not
wait for the answer to ``create``, ``write`` or ``unlink`` (a write and an unlink answer
``True``; a create's ids are asked for when the code first uses them). The parent carries
posts out in order, before anything the code asks next, and ends the run with the first one
that fails, as if the code had raised it there: the same outcome with one hand-over less per
write.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from nightpos_app import exceptions
from nightpos_app.sandbox.budget import rss
from nightpos_app.sandbox.errors import SandboxError
from nightpos_app.sandbox.helpers import standard_helpers
from nightpos_app.sandbox.process.confine import (
    apply_limits,
    apply_seccomp,
    cpu_backstop,
    drop_privileges,
    seccomp_available,
)
from nightpos_app.sandbox.process.remote import (
    READ_BATCH,
    RemoteEnvironment,
    RemoteRecordSet,
    missing,
)
from nightpos_app.sandbox.process.wire import (
    MAX_HANDLE_IDS,
    MAX_RUNNER_MESSAGE,
    Channel,
    ChannelClosed,
    Codec,
    RecordsRef,
    WireError,
)
from nightpos_app.sandbox.records import register_record_types
from nightpos_app.sandbox.runner import Sandbox

#: The biggest message the parent may send (a payload is at most a few MiB).
MAX_FRAME_IN = 64 * 2**20
#: Errors the record API may raise, by name, rebuilt here so that admin code catches them.
_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in vars(exceptions).values()
    if isinstance(cls, type) and issubclass(cls, exceptions.UserError)
}
_PR_SET_PDEATHSIG = 1


def _sendable(text: str) -> str:
    """``text`` as UTF-8 can carry it (a lone surrogate, ``chr(0xd800)``, cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text


class HostAbort(BaseException):
    """The parent could not carry out a record API request (its database failed): the run
    ends. A ``BaseException``, so that ``except Exception`` in admin code does not go on."""


class Host:
    """This runner's side of the channel: the record API's requests and the runs."""

    def __init__(self, channel: Channel, memory_bytes: int) -> None:
        self.channel = channel
        self.memory_bytes = memory_bytes
        #: model -> (field name -> comodel or None, computed field names, field name -> why
        #: the code may not read it), and the models closed to the code, with why.
        self.schema: dict[str, tuple[dict[str, str | None], frozenset[str], dict[str, str]]] = {}
        self.closed: dict[str, str] = {}
        #: (model, id) -> field values, for the run going on.
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}
        self.env = RemoteEnvironment(self)
        self.codec = Codec(self._records_out, self._is_env, self._records_in, lambda: self.env)
        self.retire = False
        #: The run in progress: whether it posts its writes, how many it posted, its filename.
        self.posting = False
        self.posted = 0
        self.filename = "<code>"

    # ------------------------------------------------------------- channel
    def _records_out(self, value: Any) -> RecordsRef | None:
        if type(value) is not RemoteRecordSet:
            return None
        ids = value._ids  # a posted create's: asked for now
        if len(ids) > MAX_HANDLE_IDS:  # the parent refuses more: say so clearly here
            raise WireError(
                f"automation code works on at most {MAX_HANDLE_IDS:,} records at a time "
                f"({value._model} records: {len(ids):,}); go through them in batches"
            )
        prefetch = value._prefetch if type(value._prefetch) is tuple else None
        return RecordsRef(value._model, list(ids), None if prefetch is None else list(prefetch))

    def _is_env(self, value: Any) -> bool:
        return type(value) is RemoteEnvironment

    def _records_in(self, ref: RecordsRef) -> RemoteRecordSet:
        prefetch = None if ref.prefetch is None else tuple(ref.prefetch)
        return RemoteRecordSet(self, ref.model, tuple(ref.ids), prefetch)

    def send(self, message: list[Any]) -> None:
        self.channel.send(self.codec.pack(message))

    def receive(self) -> list[Any]:
        frame = self.channel.recv()
        assert frame is not None  # no timeout: a frame or ChannelClosed
        message = self.codec.unpack(frame)
        if type(message) is not list or not message:
            raise WireError("a message is a non-empty list")
        return message

    # ---------------------------------------------------------- record API
    def _request(self, message: list[Any]) -> bytes:
        op = message[1]
        try:
            request = self.codec.pack(message)
        except WireError as exc:
            raise exceptions.ValidationError(f"{op}(): {exc}") from None
        if len(request) > MAX_RUNNER_MESSAGE:
            raise exceptions.ValidationError(
                f"{op}(): the request takes {len(request) / 2**20:,.1f} MiB, more than the "
                f"{MAX_RUNNER_MESSAGE // 2**20} MiB the record API takes at once"
            )
        return request

    def post(self, op: str, *args: Any) -> int:
        """Send a write the code does not wait for (see the module's doc); its number in the
        run, by which a create's ids are asked for."""
        self.channel.send(self._request(["post", op, self._line(), *args]))
        self.rows.clear()
        self.posted += 1
        return self.posted - 1

    def created_ids(self, number: int) -> tuple[int, ...]:
        """The ids of the records the run's post ``number`` (a create) made."""
        return tuple(self.call("created", number))

    def _line(self) -> int | None:
        """The line of the run's code that is running (for an error a post ends in)."""
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back
        return None if frame is None else frame.f_lineno

    def call(self, op: str, *args: Any) -> Any:
        """Ask the parent to carry out ``op``; runs it asks for meanwhile are served."""
        self.channel.send(self._request(["op", op, *args]))
        if op != "read":
            self.rows.clear()  # anything but a read may change records
        while True:
            message = self.receive()
            if message[0] == "run":
                self.serve_run(message)
                self.rows.clear()
                continue
            if message[0] != "reply":
                raise WireError(f"unexpected {message[0]!r} while waiting for a reply")
            status = message[1]
            if status == "ok":
                return message[2]
            if status == "raise":
                raise _ERRORS.get(message[2], exceptions.UserError)(message[3])
            raise HostAbort(message[2] if len(message) > 2 else "")

    def row(
        self, model: str, record_id: int, prefetch: Callable[[], Iterable[int]]
    ) -> dict[str, Any]:
        """The field values of one record, reading its prefetch group's if not known yet."""
        row = self.rows.get((model, record_id))
        if row is not None:
            return row
        wanted = [record_id]
        for other in prefetch():
            if len(wanted) >= READ_BATCH:
                break
            if other != record_id and (model, other) not in self.rows:
                wanted.append(other)
        found = self.call("read", model, wanted)
        for found_id, values in found.items():
            self.rows[(model, found_id)] = values
        row = self.rows.get((model, record_id))
        if row is None:
            raise missing(model, record_id)
        return row

    def log(self, text: str) -> None:
        self.send(["log", _sendable(text)])

    # ----------------------------------------------------------------- runs
    def serve_run(self, message: list[Any]) -> None:
        """Run the code a ``run`` message carries; answer ``done`` or ``failed``."""
        _, mode, source, filename, names, cpu_seconds, cpu_left, helper_names, posting = message
        outer = self.posting, self.posted, self.filename
        self.posting, self.posted, self.filename = posting is True, 0, filename
        self.rows.clear()
        helpers = standard_helpers(log=self.log)
        scope = {name: helpers[name] for name in helper_names if name in helpers}
        scope.update(names)
        sandbox = Sandbox(cpu_seconds=cpu_seconds, memory_mb=self.memory_bytes / 2**20)
        started = time.process_time()
        cpu_backstop(cpu_left)
        try:
            if mode == "eval":
                value = sandbox.evaluate(source, scope, cpu_left=cpu_left, filename=filename)
            else:
                sandbox.execute(
                    source, scope, cpu_left=cpu_left, filename=filename, namespace=False
                )
                value = None
        except SandboxError as error:
            if error.kind == "memory" and isinstance(error.__cause__, MemoryError):
                self.retire = True  # the heap may be in pieces: a fresh runner takes over
            self._failed(error.kind, error.message, error.lineno, started)
            return
        except HostAbort as abort:
            self._failed("aborted", str(abort), None, started)
            return
        finally:
            self.rows.clear()
            self.posting, self.posted, self.filename = outer
        clock = time.process_time()
        try:
            answer = self.codec.pack(["done", value, clock - started, clock])
        except WireError as exc:
            self._failed("error", f"The code's result cannot be used: {exc}", None, started)
            return
        if len(answer) > MAX_RUNNER_MESSAGE:
            self._failed("error", "The code's result is too large to use", None, started)
            return
        self.channel.send(answer)

    def _failed(self, kind: str, message: str, lineno: int | None, started: float) -> None:
        clock = time.process_time()
        failed = ["failed", kind, _sendable(message), lineno, self.retire, clock - started, clock]
        self.send(failed)

    def serve(self) -> None:
        while True:
            message = self.receive()
            kind = message[0]
            if kind == "schema":
                self.schema = {
                    model: (dict(fields), frozenset(computed), dict(refused))
                    for model, (fields, computed, refused) in message[1]["models"].items()
                }
                self.closed = dict(message[1]["closed"])
            elif kind == "run":
                self.serve_run(message)
                if self.retire:
                    return
            elif kind == "exit":
                return
            else:
                raise WireError(f"unexpected {kind!r}")


def _die_with_parent(parent: int) -> None:
    # Not Linux: the channel's end stops the runner instead.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def _warm_up() -> None:
    """Import now what code may need later: once limited, nothing more can be opened."""
    import _strptime  # noqa: F401  (datetime.strptime imports it on first use)
    import datetime
    import json  # noqa: F401

    datetime.datetime.strptime("2000", "%Y")
    rss.read()  # opens /proc/self/statm for the memory budget
    seccomp_available()  # loads libseccomp, which needs a child process to be found


def main(argv: list[str]) -> NoReturn:
    fd, memory_bytes, parent = int(argv[0]), int(argv[1]), int(argv[2])
    sock = socket.socket(fileno=fd)
    register_record_types(RemoteRecordSet, RemoteEnvironment)
    _warm_up()
    drop_privileges()
    _die_with_parent(parent)  # after the change of user, which clears the death signal
    apply_limits(memory_bytes)
    confined = apply_seccomp()
    host = Host(Channel(sock, MAX_FRAME_IN), memory_bytes)
    host.send(["ready", confined])
    try:
        host.serve()
    except ChannelClosed:  # the parent is gone, or asked this runner to go
        pass
    except WireError as exc:  # a parent that speaks otherwise: nothing sensible to do
        print(f"runner: {exc}", file=sys.stderr)
    os._exit(0)
