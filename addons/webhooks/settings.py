"""The webhooks addon's settings: defaults, overridable in the app config or the environment."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app

from addons.webhooks.masking import DEFAULT_MASKED_KEYS

DEFAULTS: dict[str, Any] = {
    # Requests above this size get 413 without the body being read.
    "WEBHOOK_MAX_BODY_BYTES": 1024 * 1024,
    # CPU seconds a rule's code may use per sandbox call, unless the rule sets its own
    # CPU Time Limit; no rule may set (or run with) more than the ceiling.
    "WEBHOOK_CPU_SECONDS": 2.0,
    "WEBHOOK_CPU_SECONDS_MAX": 10.0,
    # Memory a rule's code may allocate per call.
    "WEBHOOK_MEMORY_MB": 128,
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
    # The public base URL webhook URLs are built from (e.g. https://erp.example.com); when
    # unset, the URL the admin's browser used.
    "NIGHTPOS_BASE_URL": os.environ.get("NIGHTPOS_BASE_URL"),
}


def setting(name: str) -> Any:
    """The app's value for ``name``, else the default."""
    return current_app.config.get(name, DEFAULTS[name])


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
    """The CPU seconds a rule's code gets per sandbox call: its own limit, else the default.

    Clamped to the ceiling at run time too, so that lowering ``WEBHOOK_CPU_SECONDS_MAX`` binds
    rules saved before it was lowered.
    """
    ceiling = float(setting("WEBHOOK_CPU_SECONDS_MAX"))
    chosen = float(setting("WEBHOOK_CPU_SECONDS")) if value is None else float(value)
    return min(chosen, ceiling)
