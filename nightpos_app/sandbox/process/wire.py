"""What crosses a runner's channel: framed msgpack messages, with records as handles.

Neither side unpickles anything: a runner runs code written by admins, so what it sends is
data to check, never objects to rebuild. Messages are msgpack (a small, well-kept format with
a C codec) with extension types for the values the record API uses beyond JSON (decimals,
dates, times) and for records, which travel as handles: a model name, ids and the ids to
prefetch with them. Tuples travel as lists. Each side turns handles into its own record
objects through the hooks it gives :class:`Codec`.

Frames are a 4-byte length and the message; a frame over its side's limit ends the channel.
"""

from __future__ import annotations

import datetime as dt
import select
import socket
import struct
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import msgpack

_DECIMAL, _DATE, _DATETIME, _TIME, _TIMEDELTA, _RECORDS, _ENV = range(1, 8)
_HEADER = struct.Struct("!I")
#: The biggest message a runner may send (results and record API requests): what a runner
#: sends costs the parent memory.
MAX_RUNNER_MESSAGE = 4 * 2**20
#: The most records one record API request may name (see ``service.MAX_IDS``).
MAX_HANDLE_IDS = 10_000


class RecordsRef(NamedTuple):
    """A recordset as it travels: its model, ids, and the ids to prefetch with it."""

    model: str
    ids: list[int]
    prefetch: list[int] | None


class ChannelClosed(Exception):
    """The other side is gone (or sent a frame over the limit)."""


class WireError(Exception):
    """A value that cannot cross the channel, or a message that is not well formed."""


class FrameTooLarge(ChannelClosed):
    """The other side sent a message over this side's limit (the channel is no longer usable:
    the rest of it is not read)."""


class TooLarge(WireError):
    """A message that would build too much on the side that reads it."""


def _int_list(value: Any) -> list[int]:
    if type(value) is not list or not all(type(i) is int for i in value):
        raise WireError("record ids must be a list of integers")
    return value


class Codec:
    """Encodes and decodes messages; records go through the given hooks.

    ``records_out(value)`` gives a :class:`RecordsRef` for a recordset of this side (None for
    anything else); ``is_env(value)`` tells this side's environment; ``records_in`` and
    ``env_in`` rebuild them on the way in.
    """

    def __init__(
        self,
        records_out: Callable[[Any], RecordsRef | None],
        is_env: Callable[[Any], bool],
        records_in: Callable[[RecordsRef], Any],
        env_in: Callable[[], Any],
    ) -> None:
        self._records_out = records_out
        self._is_env = is_env
        self._records_in = records_in
        self._env_in = env_in

    # ------------------------------------------------------------------ out
    def _default(self, value: Any) -> Any:
        t = type(value)
        if t is Decimal:
            return msgpack.ExtType(_DECIMAL, str(value).encode())
        if t is dt.datetime:
            return msgpack.ExtType(_DATETIME, value.isoformat().encode())
        if t is dt.date:
            return msgpack.ExtType(_DATE, value.isoformat().encode())
        if t is dt.time:
            return msgpack.ExtType(_TIME, value.isoformat().encode())
        if t is dt.timedelta:
            return msgpack.ExtType(
                _TIMEDELTA, msgpack.packb([value.days, value.seconds, value.microseconds])
            )
        ref = self._records_out(value)
        if ref is not None:
            return msgpack.ExtType(_RECORDS, msgpack.packb(tuple(ref)))
        if self._is_env(value):
            return msgpack.ExtType(_ENV, b"")
        raise WireError(f"a {t.__name__} value cannot leave the process it was made in")

    def pack(self, message: Any) -> bytes:
        try:
            return msgpack.packb(message, default=self._default, use_bin_type=True)
        except WireError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:  # too deep, an int too big...
            raise WireError(str(exc) or type(exc).__name__) from None

    # ------------------------------------------------------------------- in
    def _ext(self, code: int, data: bytes) -> Any:
        try:
            if code == _DECIMAL:
                return Decimal(data.decode())
            if code == _DATETIME:
                return dt.datetime.fromisoformat(data.decode())
            if code == _DATE:
                return dt.date.fromisoformat(data.decode())
            if code == _TIME:
                return dt.time.fromisoformat(data.decode())
            if code == _TIMEDELTA:
                days, seconds, micro = msgpack.unpackb(data)
                return dt.timedelta(days=days, seconds=seconds, microseconds=micro)
            if code == _RECORDS:
                model, ids, prefetch = msgpack.unpackb(data)
                if type(model) is not str:
                    raise WireError("a record handle names its model")
                return self._records_in(
                    RecordsRef(
                        model, _int_list(ids), None if prefetch is None else _int_list(prefetch)
                    )
                )
            if code == _ENV:
                return self._env_in()
        except (WireError, ValueError, TypeError, OverflowError) as exc:
            raise WireError(f"a malformed value of type {code}: {exc}") from None
        raise WireError(f"an unknown value type {code}")

    def unpack(self, data: bytes, max_containers: int | None = None) -> Any:
        """The message in ``data``; with ``max_containers``, a message building more lists
        and dicts than that is refused as it is read (a megabyte of ``[{}, {}, ...]`` would
        be a million objects)."""
        hooks: dict[str, Any] = {}
        if max_containers is not None:
            left = max_containers

            def count(container: Any) -> Any:
                nonlocal left
                left -= 1
                if left < 0:
                    raise TooLarge(f"more than {max_containers:,} lists and dicts")
                return container

            hooks = {"list_hook": count, "object_hook": count}
        try:
            return msgpack.unpackb(
                data, raw=False, strict_map_key=False, ext_hook=self._ext, **hooks
            )
        except WireError:
            raise
        except Exception as exc:  # msgpack's own errors: malformed, too deep, bad UTF-8
            raise WireError(f"a malformed message: {type(exc).__name__}") from None


class Channel:
    """Length-prefixed frames over a connected stream socket."""

    def __init__(self, sock: socket.socket, max_frame: int) -> None:
        self.sock = sock
        self.max_frame = max_frame
        self._buffer = bytearray()

    def send(self, data: bytes) -> None:
        try:
            if len(data) < 1 << 16:
                self.sock.sendall(_HEADER.pack(len(data)) + data)
            else:  # no copy of a big message just to put its length in front
                self.sock.sendall(_HEADER.pack(len(data)))
                self.sock.sendall(data)
        except OSError as exc:
            raise ChannelClosed(str(exc)) from None

    def _frame(self) -> bytes | None:
        if len(self._buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._buffer)
        if size > self.max_frame:
            raise FrameTooLarge(f"a message of {size:,} bytes, over the {self.max_frame:,} limit")
        end = _HEADER.size + size
        if len(self._buffer) < end:
            return None
        frame = bytes(self._buffer[_HEADER.size : end])
        del self._buffer[:end]
        return frame

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next frame; None if none came within ``timeout`` seconds (None: wait)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = self._frame()
            if frame is not None:
                return frame
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    return None
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from None
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            self._buffer += chunk
