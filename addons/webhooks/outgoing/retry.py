"""What an attempt's result means for the message: delivered, retried later, or given up.

* 2xx: delivered.
* A timeout, a connection error, 429 or 5xx: the receiver may be fine again later, so the
  message is retried after the next delay of the schedule (with jitter), or after the
  receiver's ``Retry-After`` when that is longer; after the last attempt it is ``dead``.
* 410 Gone: the receiver says the endpoint is gone for good: ``failed``, and the action is
  switched off so that it stops sending.
* Any other answer (3xx: redirects are not followed; 4xx) and a refused URL: ``failed`` at
  once: sending the same request again would get the same answer.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Sequence
from dataclasses import dataclass

from addons.webhooks.outgoing.sender import Result
from nightpos_app.digits import is_ascii_digits

#: The schedule when none is configured: 8 attempts over about 27 hours.
DEFAULT_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True)
class Policy:
    """How messages are retried: the delays (seconds) before each retry, the jitter (a
    fraction), and the longest ``Retry-After`` honoured (seconds)."""

    schedule: Sequence[float] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    retry_after_max: float = 24 * 3600.0

    @property
    def max_attempts(self) -> int:
        """The first attempt and one per delay."""
        return len(self.schedule) + 1


@dataclass(frozen=True)
class Decision:
    """The message's next state after an attempt."""

    state: str
    #: When to try again (``pending`` only).
    next_attempt_at: dt.datetime | None = None
    #: 410 Gone: the action must stop sending.
    deactivate_action: bool = False
    #: What ``last_error`` says (None when delivered).
    error: str | None = None


def is_retryable(result: Result) -> bool:
    """Whether the same request may well succeed later."""
    if result.kind in ("timeout", "connection"):
        return True
    code = result.status_code
    return result.kind == "http" and code is not None and (code == 429 or code >= 500)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds, or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if is_ascii_digits(value):  # not isdigit(): float("¹") raises; "١٢٣" is not HTTP's number
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is not None:  # HTTP dates are GMT; ``now`` is naive UTC
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return max(0.0, (when - now).total_seconds())


def retry_delay(
    policy: Policy, attempt: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds before the retry that follows attempt number ``attempt`` (1-based)."""
    base = float(policy.schedule[min(attempt, len(policy.schedule)) - 1])
    # Jitter is not for security: it spreads retries of messages that failed together.
    spread = (rng or random).uniform(-policy.jitter, policy.jitter)  # noqa: S311
    delay = max(0.0, base * (1 + spread))
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, policy.retry_after_max)
    return delay


def gave_up(attempt: int, total: int | None = None) -> str:
    """What a dead message's error adds: the round's attempts, and all of them when a manual
    retry or a replay made this round one of several."""
    if total is None or total == attempt:
        return f"gave up after {attempt} attempts"
    return f"gave up after {attempt} attempts in this round, {total} in all"


def decide(
    result: Result,
    attempt: int,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random | None = None,
    *,
    total: int | None = None,
) -> Decision:
    """The message's next state after attempt number ``attempt`` (1-based) of the current round
    of the schedule gave ``result``; ``total`` is the message's attempt count over all rounds
    (this one included), for the message when it gives up."""
    code = result.status_code
    if result.kind == "http" and code is not None and 200 <= code < 300:
        return Decision("delivered")
    if result.kind == "http" and code == 410:
        return Decision(
            "failed",
            deactivate_action=True,
            error="HTTP 410 Gone: the receiver is gone; the action was deactivated",
        )
    error = result.error or (f"HTTP {code}" if code is not None else "failed")
    if not is_retryable(result):
        return Decision("failed", error=error)
    if attempt >= policy.max_attempts:
        return Decision("dead", error=f"{error} ({gave_up(attempt, total)})")
    retry_after = parse_retry_after(result.retry_after, now)
    delay = retry_delay(policy, attempt, retry_after, rng)
    return Decision("pending", next_attempt_at=now + dt.timedelta(seconds=delay), error=error)
