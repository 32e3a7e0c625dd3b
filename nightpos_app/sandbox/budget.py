"""CPU and memory budgets of one sandbox call.

RestrictedPython bounds nothing, so the host does. The policy inserts a call
to ``_tick_()`` at the top of every ``while`` body, function and lambda, and
``for`` loops and comprehensions iterate through ``_getiter_``, which charges
the loop's ticks for its items (:meth:`Budget.getiter`); guarded builtins tick
for every item they consume. No Python-level loop can run without ticking.

A tick only counts down. When the countdown ends the budget reads
``perf_counter()``; only when the next checkpoint, at most
:data:`CHECK_INTERVAL` of wall time away, has passed does it read this
thread's CPU clock and the process RSS. The countdown adapts: it follows the
pace of the last window (up to :data:`MAX_TICKS_PER_CHECK` ticks in about
half a millisecond) and drops to one as soon as
a window of ticks took long (code doing big C-level work between ticks, such
as copying large lists), so that neither CPU time nor memory can run far past
a checkpoint. Wall time never runs slower than this thread's CPU time, so an
overrun is seen within that interval plus one C-level operation. Guards also
check before working on large values.

The budget of the running call is per thread (the server is multi-threaded)
and is a stack: a sandbox call made while another runs on the same thread (a
record trigger fired by admin code) gets at most what the outer call has left.
Once a budget is exceeded it stays exceeded: every later tick raises again,
so admin code that catches the error cannot keep running.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from operator import length_hint
from typing import Any, NoReturn, TypeVar

from nightpos_app.sandbox.errors import Kind, SandboxError, Violation
from nightpos_app.sandbox.native import fastguards

#: A list's iterator whose first items are paid for (``chain(islice(it, n), _ticking(it,
#: tick))`` without its two Python-level layers), or None without the C fast paths.
ListTail: Any = fastguards.ListTail if fastguards is not None else None
#: The countdown of :func:`_make_tick` in C (one object instead of three closures), or None.
Ticker: Any = fastguards.Ticker if fastguards is not None else None

T = TypeVar("T")

#: Wall time between two checks of the CPU clock and the RSS, in seconds.
CHECK_INTERVAL = 0.01
#: Most ticks between two reads of the wall clock (a read costs about 2 ticks).
MAX_TICKS_PER_CHECK = 64
#: The countdown aims at windows of about this long between two reads of the wall clock...
_FAST_WINDOW = 0.0005
#: ...and a window longer than this resets it to a single tick.
_SLOW_WINDOW = 0.002
#: Ticks before the first read of the wall clock (then the countdown follows the code's pace):
#: one, so that code whose every tick is slow (a big copy per loop) is seen at once.
_FIRST_COUNTDOWN = 1
#: A guard about to work on more items than this checks the clock first.
LARGE = 4096
#: Memory budget used when a guard runs outside any call (it should not).
DEFAULT_MEMORY_BYTES = 128 * 2**20

_local = threading.local()


class BudgetExceeded(BaseException):
    """The running call went over its CPU time or memory budget.

    A ``BaseException``, so that ``except Exception`` in admin code does not
    catch it (and a time-out, once reached, is raised again at every tick).
    """

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.message = message


class _RssReader:
    """The resident set size of this process, read from ``/proc/self/statm``.

    The file stays open and is read with ``pread``; a forked child forgets the parent's
    descriptor (``/proc/self`` was the parent when it was opened) and opens its own. The
    parent's is left open there: a closed number could be reused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._available = os.path.exists("/proc/self/statm")
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._fd = None

    def _open(self) -> int | None:
        with self._lock:
            if self._fd is not None:
                return self._fd
            try:
                self._fd = os.open("/proc/self/statm", os.O_RDONLY)
            except OSError:
                self._available = False
            return self._fd

    def read(self) -> int | None:
        if not self._available:
            return None
        fd = self._fd
        if fd is None:
            fd = self._open()
            if fd is None:
                return None
        if fastguards is not None:  # the same read and parse, in C
            pages = fastguards.statm_pages(fd)
            return None if pages is None else pages * self._page
        try:
            return int(os.pread(fd, 128, 0).split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return None


rss = _RssReader()


def _megabytes(nbytes: float) -> str:
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:,.1f} GB"
    return f"{max(nbytes / 2**20, 0.1):,.1f} MB"


#: Iterables whose iteration is bounded by their length when the loop starts: immutable ones,
#: and dicts and their views (CPython raises RuntimeError when a dict's keys change during
#: iteration, even at the same size). Not sets: removing and adding keys while a set is
#: iterated can make its iterator visit more than the set's length.
_BOUNDED_ITERATION = frozenset(
    {tuple, str, bytes, frozenset, range, dict}
    | {type({}.keys()), type({}.values()), type({}.items())}
)


def _ticking(iterator: Iterator[T], tick: Callable[[], bool]) -> Iterator[T]:
    for item in iterator:
        tick()
        yield item


def _ticker_chunks(ticker: Any, iterator: Iterator[Any], n: int, grows: bool) -> Iterator[Any]:
    # _make_tick's chunks, on a C Ticker's countdown.
    while n > 0:
        if ticker.left <= 0:
            ticker.left = ticker.check()
        take = n if n < ticker.left else ticker.left
        ticker.left -= take
        n -= take
        yield islice(iterator, take)
        if grows and not length_hint(iterator):
            break
    if grows:
        yield _ticking(iterator, ticker)


def _ticker_slow(ticker: Any, iterable: Any, n: int) -> Iterator[Any]:
    """The loops a C Ticker's ``getiter`` hands back, as :func:`_make_tick`'s ``getiter``
    serves them: ``n == -1``, an iterable that ticks per item; else one of ``n`` items, more
    than the countdown, served in chunks (checked first by the Ticker)."""
    if n < 0:
        return _ticking(iter(iterable), ticker)
    return chain.from_iterable(_ticker_chunks(ticker, iter(iterable), n, type(iterable) is list))


Countdown = tuple[Callable[[], bool], Callable[[], None], Callable[[Any], Iterator[Any]]]


def _make_tick(check: Callable[[int], int]) -> Countdown:
    """A call's ``(tick, expire, getiter)`` on ``check`` (see :func:`_python_countdown`)."""
    if Ticker is not None:  # the same countdown, in C
        ticker = Ticker(check, _ticker_slow, _FIRST_COUNTDOWN)
        return ticker, ticker.expire, ticker.getiter
    return _python_countdown(check)


def _python_countdown(check: Callable[[int], int]) -> Countdown:
    # A countdown in a closure cell: the cheapest state Python can keep. The
    # tick returns True so that it can sit in front of a lambda's body.
    # ``check`` returns the next countdown; ``expire`` makes every later tick
    # call ``check`` (which then raises), since ``left`` is reset only when
    # check returns.
    left = _FIRST_COUNTDOWN

    def tick() -> bool:
        nonlocal left
        left -= 1
        if left <= 0:
            left = check()
        return True

    def expire() -> None:
        nonlocal left
        left = -(1 << 62)

    def chunks(iterator: Iterator[Any], n: int, grows: bool) -> Iterator[Iterator[Any]]:
        # The items of a long loop, a countdown's worth at a time: the budget is checked
        # between two chunks exactly when a tick per item would have checked it.
        nonlocal left
        while n > 0:
            if left <= 0:
                left = check()
            take = n if n < left else left
            left -= take
            n -= take
            yield islice(iterator, take)
            if grows and not length_hint(iterator):
                break  # a list that shrank: the tail below ends the loop
        if grows:
            yield _ticking(iterator, tick)

    def getiter(iterable: Any) -> Iterator[Any]:
        """``for x in iterable`` (``_getiter_``): the loop's ticks, charged for its items.

        An iterable of known length pays for its items when the loop starts, if the
        countdown has that many left (checking the budget first when it has not), or in
        chunks of a countdown's worth, so that its items then run in C without a tick each:
        the budget is checked as often as with a tick per item, only before the items.
        Items a list gains while it is iterated tick one by one; other iterables
        (generators, iterators, sets) tick for each item they give.
        """
        nonlocal left
        kind = type(iterable)
        if kind is list:
            n = len(iterable)
            if n >= left:
                # Where a tick per item would have checked: before the items instead.
                left = check(left)
            if n < left:
                left -= n
                if ListTail is not None:  # the same, in C
                    return ListTail(iterable, n, tick)
                iterator = iter(iterable)
                return chain(islice(iterator, n), _ticking(iterator, tick))
            return chain.from_iterable(chunks(iter(iterable), n, True))
        if kind in _BOUNDED_ITERATION:
            try:
                n = len(iterable)
            except OverflowError:  # range(10**30)
                return _ticking(iter(iterable), tick)
            if n >= left:
                left = check(left)
            if n < left:
                left -= n
                return iter(iterable)
            return chain.from_iterable(chunks(iter(iterable), n, False))
        return _ticking(iter(iterable), tick)

    return tick, expire, getiter


class Budget:
    """The CPU time and memory budget of one call; a context manager.

    ``tick`` is the function the compiled code calls (``_tick_``);
    ``violation`` is the first forbidden access the code attempted, if any.
    """

    __slots__ = (
        "cpu_seconds",
        "memory_bytes",
        "log",
        "violation",
        "tick",
        "getiter",
        "_expire",
        "_cpu_limit",
        "_cpu_start",
        "_rss_start",
        "_deadline",
        "_last_check",
        "_countdown",
        "_tripped",
        "_closed",
        "_parent",
    )

    def __init__(
        self,
        cpu_seconds: float,
        memory_bytes: int,
        log: Callable[[str], Any] | None = None,
        cpu_left: float | None = None,
    ) -> None:
        self.cpu_seconds = cpu_seconds
        self.memory_bytes = memory_bytes
        self.log = log
        self.violation: str | None = None
        # What is left of ``cpu_seconds`` when earlier runs of the same call used some.
        self._cpu_limit = cpu_seconds if cpu_left is None else min(cpu_seconds, cpu_left)
        self._cpu_start = 0.0
        self._rss_start: int | None = None
        self._deadline = math.inf
        self._last_check = 0.0
        self._countdown = _FIRST_COUNTDOWN
        self._tripped: tuple[Kind, str] | None = None
        self._closed = False
        self._parent: Budget | None = None
        if Ticker is not None:  # _make_tick, without its call
            ticker = Ticker(self.check, _ticker_slow, _FIRST_COUNTDOWN)
            self.tick, self._expire, self.getiter = ticker, ticker.expire, ticker.getiter
        else:
            self.tick, self._expire, self.getiter = _python_countdown(self.check)

    # ----------------------------------------------------------- lifecycle
    def __enter__(self) -> Budget:
        parent: Budget | None = getattr(_local, "budget", None)
        cpu_now = time.thread_time()
        rss_now = rss.read()
        if parent is not None:
            # A nested call may not outlive the call it runs in.
            self._cpu_limit = min(self._cpu_limit, parent._cpu_left(cpu_now))
            if rss_now is not None and parent._rss_start is not None:
                left = parent.memory_bytes - (rss_now - parent._rss_start)
                self.memory_bytes = max(min(self.memory_bytes, left), 0)
        self._parent = parent
        self._cpu_start = cpu_now
        self._rss_start = rss_now
        self._last_check = now = time.perf_counter()
        limit = self._cpu_limit
        self._deadline = now + (CHECK_INTERVAL if limit > CHECK_INTERVAL else limit)
        _local.budget = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        # Code of this call that runs later (a leaked function) fails at its first tick.
        self._expire()
        _local.budget = self._parent

    def _cpu_left(self, cpu_now: float) -> float:
        return max(self._cpu_limit - (cpu_now - self._cpu_start), 0.0)

    # -------------------------------------------------------------- checks
    @property
    def tripped(self) -> tuple[Kind, str] | None:
        """``(kind, message)`` once the budget has been exceeded, else None."""
        return self._tripped

    def trip(self, kind: Kind, message: str) -> NoReturn:
        """Mark the budget exceeded for good and raise."""
        self._tripped = (kind, message)
        self._expire()
        raise BudgetExceeded(kind, message)

    def check(self, unspent: int = 0) -> int:
        """Check the budget now; raise if it is exceeded, else return the next countdown.

        ``unspent``: ticks of the countdown not used yet (a loop checks before its items).
        """
        now = time.perf_counter()
        if now >= self._deadline or self._closed or self._tripped is not None:
            self._check_clocks()
        window = now - self._last_check
        self._last_check = now
        spent = max(self._countdown - max(unspent, 0), 1)
        if window > _SLOW_WINDOW:
            self._countdown = 1
        elif window * MAX_TICKS_PER_CHECK <= _FAST_WINDOW * spent:
            self._countdown = MAX_TICKS_PER_CHECK
        else:
            # As many ticks as the last window's pace fits in _FAST_WINDOW (at least one).
            self._countdown = max(int(spent * _FAST_WINDOW / window), 1)
        return self._countdown

    def _check_clocks(self) -> None:
        if self._closed:
            raise SandboxError("Sandboxed code cannot run after its call has ended", "forbidden")
        if self._tripped is not None:
            raise BudgetExceeded(*self._tripped)
        used = time.thread_time() - self._cpu_start
        if used >= self._cpu_limit:
            self.trip(
                "timeout", f"The code ran longer than its CPU time budget of {self.cpu_seconds:g} s"
            )
        if self._rss_start is not None:
            now = rss.read()
            if now is not None and now - self._rss_start > self.memory_bytes:
                self.trip(
                    "memory",
                    f"The code used more than its memory budget of {_megabytes(self.memory_bytes)}",
                )
        self._deadline = time.perf_counter() + min(CHECK_INTERVAL, self._cpu_limit - used)


# ------------------------------------------------------------------ helpers
def active() -> Budget | None:
    """The budget of the call running on this thread, or None outside any call."""
    return getattr(_local, "budget", None)


def current() -> Budget:
    """The budget of the call running on this thread."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is None:
        raise SandboxError("Sandboxed code can only run inside a sandbox call", "forbidden")
    return budget


def tick() -> None:
    """Tick the running call's budget (guarded builtins call this once per call)."""
    current().tick()


def before_large(size: int) -> None:
    """Check the clock before C code works on ``size`` items, if that is many."""
    if size > LARGE:
        current().check()


def forbid(message: str) -> NoReturn:
    """Record a forbidden access on the running call and raise :class:`Violation`."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is not None and budget.violation is None:
        budget.violation = message
    raise Violation(message)


def memory_limit() -> int:
    """The memory budget, in bytes, of the call running on this thread."""
    budget: Budget | None = getattr(_local, "budget", None)
    return budget.memory_bytes if budget is not None else DEFAULT_MEMORY_BYTES


def check_size(nbytes: int | float, what: str) -> None:
    """Refuse, before it is built, a value that would not fit the memory budget.

    A value that fits but is large (a megabyte or more) first has the budget
    checked, so that many of them cannot pile up between two checks.
    """
    budget = active()
    limit = budget.memory_bytes if budget is not None else DEFAULT_MEMORY_BYTES
    if budget is not None and nbytes >= 1 << 20:
        budget.check()
    if nbytes > limit:
        raise BudgetExceeded(
            "memory",
            f"{what} would take about {_megabytes(nbytes)}, more than the memory budget "
            f"of {_megabytes(limit)}",
        )


def ticking(iterable: Iterable[T]) -> Iterator[T]:
    """Iterate ``iterable`` with a tick per item (for loops that run in C)."""
    return _ticking(iter(iterable), current().tick)
