"""The webhooks addon's settings: defaults, overridable in the app config or the environment."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app

from addons.webhooks.masking import DEFAULT_MASKED_KEYS

DEFAULTS: dict[str, Any] = {
    # Requests above this size get 413 without the body being read.
    "WEBHOOK_MAX_BODY_BYTES": 1024 * 1024,
    # CPU seconds a rule's code may use per call (its Target Record, every action on every
    # record, the record rules they trigger), unless the rule sets its own CPU Time Limit; no
    # rule may set (or run with) more than the ceiling.
    "WEBHOOK_CPU_SECONDS": 2.0,
    "WEBHOOK_CPU_SECONDS_MAX": 10.0,
    # Memory a rule's code may allocate per call.
    "WEBHOOK_MEMORY_MB": 128,
    # Wall-clock seconds a call's code may take in all (waiting for the database included);
    # never less than the call's CPU time.
    "WEBHOOK_WALL_SECONDS": float(os.environ.get("WEBHOOK_WALL_SECONDS", "10")),
    # Runner processes (which run admin code) each app process keeps ready.
    "WEBHOOK_RUNNERS": int(os.environ.get("WEBHOOK_RUNNERS", "2")),
    # Call log: payloads are kept up to this size; rows older than this many days, or beyond
    # this many per rule, are pruned.
    "WEBHOOK_LOG_PAYLOAD_BYTES": 16 * 1024,
    "WEBHOOK_LOG_MAX_AGE_DAYS": 30,
    "WEBHOOK_LOG_MAX_ROWS_PER_RULE": 10_000,
    # Payload keys containing one of these words (any case) are logged as "***".
    "WEBHOOK_LOG_MASKED_KEYS": DEFAULT_MASKED_KEYS,
    # Request guards: how many reverse proxies in front of the app append X-Forwarded-For
    # (0: the socket's peer is the caller; a spoofed header is ignored), and where the rate
    # limits count (memory:// counts per process; redis://… counts across processes).
    "WEBHOOK_TRUSTED_PROXIES": int(os.environ.get("WEBHOOK_TRUSTED_PROXIES", "0")),
    "WEBHOOK_RATELIMIT_STORAGE_URI": os.environ.get("WEBHOOK_RATELIMIT_STORAGE_URI"),
    # Idempotency keys (and Standard Webhooks ids) are remembered this long.
    "WEBHOOK_IDEMPOTENCY_HOURS": 24,
    # A key claimed by a call that left no answer this long ago (its process was killed) is
    # taken over by the next duplicate. Keep it above the longest call (WEBHOOK_WALL_SECONDS
    # and the database's waits); a takeover too early only costs a run that is rolled back.
    "WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS": float(
        os.environ.get("WEBHOOK_IDEMPOTENCY_TAKEOVER_SECONDS", "60")
    ),
    # The public base URL webhook URLs are built from (e.g. https://erp.example.com); when
    # unset, the URL the admin's browser used.
    "NIGHTPOS_BASE_URL": os.environ.get("NIGHTPOS_BASE_URL"),
    # --- Outgoing webhooks (addons/webhooks/outgoing). Each can also come from the environment.
    # Internal networks webhooks may be sent to after all (CIDRs; a comma-separated list in the
    # environment). Empty: loopback, private, link-local, shared and metadata addresses are
    # refused.
    "WEBHOOK_OUTGOING_ALLOWED_CIDRS": os.environ.get("WEBHOOK_OUTGOING_ALLOWED_CIDRS", ""),
    # Seconds to wait before each retry (timeouts, connection errors, 429, 5xx): one attempt
    # more than delays, 8 in all by default, the last about 27 hours after the first.
    "WEBHOOK_RETRY_SCHEDULE": os.environ.get(
        "WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000"
    ),
    # Each delay is moved by up to this fraction either way, so that the retries of messages
    # that failed together (a receiver's outage) do not all come back at the same second.
    "WEBHOOK_RETRY_JITTER": float(os.environ.get("WEBHOOK_RETRY_JITTER", "0.2")),
    # A receiver's Retry-After is honoured when longer than the scheduled delay, up to this.
    "WEBHOOK_RETRY_AFTER_MAX_SECONDS": float(
        os.environ.get("WEBHOOK_RETRY_AFTER_MAX_SECONDS", str(24 * 3600))
    ),
    # How long a worker's claim on a message lasts before another worker may take it over (the
    # first one died). Must exceed the longest send: messages are claimed for at least their
    # timeout and a margin whatever this says.
    "WEBHOOK_OUTBOX_CLAIM_SECONDS": float(os.environ.get("WEBHOOK_OUTBOX_CLAIM_SECONDS", "60")),
    # How often an idle worker looks for due messages (a commit in its own process that added
    # messages wakes it at once).
    "WEBHOOK_OUTBOX_POLL_SECONDS": float(os.environ.get("WEBHOOK_OUTBOX_POLL_SECONDS", "1")),
    # How many messages a worker claims at a time: small, so that other workers share the work.
    "WEBHOOK_OUTBOX_BATCH": int(os.environ.get("WEBHOOK_OUTBOX_BATCH", "10")),
    # How much of a receiver's answer is kept with each attempt.
    "WEBHOOK_RESPONSE_EXCERPT_BYTES": 2048,
    # --- The inbox of incoming calls (Respond at once; addons/webhooks/incoming/inbox.py).
    # How long a worker's claim on a call lasts before another worker may run it (the first
    # one died); never less than the call's wall-clock budget and a margin.
    "WEBHOOK_INBOX_CLAIM_SECONDS": float(os.environ.get("WEBHOOK_INBOX_CLAIM_SECONDS", "60")),
    # Calls of one rule that may wait to run; beyond, a call is answered 503 with Retry-After
    # and not stored (a flood cannot fill the database: each holds its payload until it runs).
    "WEBHOOK_INBOX_MAX_BACKLOG": int(os.environ.get("WEBHOOK_INBOX_MAX_BACKLOG", "100000")),
    # How often (seconds) each process counts a rule's backlog again; in between it adds the
    # calls it accepted itself. The cap may be passed by what other processes accept meanwhile.
    "WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS": float(
        os.environ.get("WEBHOOK_INBOX_BACKLOG_CHECK_SECONDS", "1")
    ),
    # How many accepted calls a worker claims at a time.
    "WEBHOOK_INBOX_BATCH": int(os.environ.get("WEBHOOK_INBOX_BATCH", "10")),
    # Seconds before each new attempt after a transient failure (the database busy or gone, a
    # runner lost): one attempt more than delays; then the call is an error.
    "WEBHOOK_INBOX_RETRY_SCHEDULE": os.environ.get(
        "WEBHOOK_INBOX_RETRY_SCHEDULE", "1,5,30,120,600,1800,3600"
    ),
    # Payloads kept whole for replay (Keep Payloads for Replay) up to this size, as compact
    # JSON; a larger one is not kept (its call cannot be replayed).
    "WEBHOOK_REPLAY_PAYLOAD_BYTES": int(
        os.environ.get("WEBHOOK_REPLAY_PAYLOAD_BYTES", str(1024 * 1024))
    ),
    # At most this many calls are replayed by one request (a filtered selection).
    "WEBHOOK_REPLAY_MAX_CALLS": int(os.environ.get("WEBHOOK_REPLAY_MAX_CALLS", "500")),
    # --- Timing rules and scheduled actions (addons/webhooks/timing), run by the same worker.
    # How often the worker looks for due work: a rule runs at most this late.
    "WEBHOOK_TIMING_TICK_SECONDS": float(os.environ.get("WEBHOOK_TIMING_TICK_SECONDS", "15")),
    # Due rows a scheduler claims at a time.
    "WEBHOOK_TIMING_BATCH": int(os.environ.get("WEBHOOK_TIMING_BATCH", "20")),
    # How long a claim lasts before another scheduler may run the row (its claimant died).
    # Each row of a batch is claimed for at least the runs ahead of it (WEBHOOK_WALL_SECONDS).
    "WEBHOOK_TIMING_LEASE_SECONDS": float(os.environ.get("WEBHOOK_TIMING_LEASE_SECONDS", "300")),
    # "on": the worker (`flask nightpos worker`, the dev server's thread) runs timing rules too.
    "WEBHOOK_TIMING_SCHEDULER": os.environ.get("WEBHOOK_TIMING_SCHEDULER", "on"),
    # "thread": the app sends the outbox from a background thread (run.py's default); "off":
    # it does not, and `flask nightpos worker` processes do (production, tests).
    "NIGHTPOS_OUTBOX_WORKER": os.environ.get("NIGHTPOS_OUTBOX_WORKER", "off"),
}


def setting(name: str) -> Any:
    """The app's value for ``name``, else the default."""
    return current_app.config.get(name, DEFAULTS[name])


def number_list(value: Any) -> list[float]:
    """A list of numbers from a list or a comma-separated string (a setting from the
    environment); ValueError if one is not a number."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    return [float(item) for item in value or ()]


def cpu_limit_problem(value: float | None) -> str | None:
    """Why a rule's CPU Time Limit cannot be saved, or None (empty means the default)."""
    if value is None:
        return None
    ceiling = float(setting("WEBHOOK_CPU_SECONDS_MAX"))
    # NaN compares false with everything: refuse it explicitly.
    if not value > 0:
        return "The CPU time limit must be more than 0 seconds."
    if value > ceiling:
        return f"The CPU time limit cannot be more than {ceiling:g} seconds."
    return None


def rule_cpu_seconds(value: float | None) -> float:
    """The CPU seconds a rule's code gets per call: its own limit, else the default.

    Clamped to the ceiling at run time too, so that lowering ``WEBHOOK_CPU_SECONDS_MAX`` binds
    rules saved before it was lowered.
    """
    ceiling = float(setting("WEBHOOK_CPU_SECONDS_MAX"))
    chosen = float(setting("WEBHOOK_CPU_SECONDS")) if value is None else float(value)
    return min(chosen, ceiling)
