"""Mask secret-looking values in payloads before they are written to the call log.

Senders put credentials in payloads (``{"api_token": "..."}``, an ``Authorization`` header
copied into the body): the call log is read by more people, and kept longer, than the sender
meant. A value is masked when its key contains one of the masked words (case-insensitive, as a
substring: ``X-Api-Token`` matches ``token``), at any depth of dicts and lists. The rule itself
still gets the payload as sent; only the logged copy is masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: What a masked value is logged as.
MASK = "***"

#: Keys containing one of these (any case) are masked; ``WEBHOOK_LOG_MASKED_KEYS`` overrides.
DEFAULT_MASKED_KEYS: tuple[str, ...] = ("password", "token", "secret", "authorization")


def mask_payload(payload: Any, masked_keys: Iterable[str] | str = DEFAULT_MASKED_KEYS) -> Any:
    """A copy of ``payload`` with the value of every secret-looking key replaced by ``***``.

    ``masked_keys`` is a list of words, or one comma-separated string (as a setting read from
    the environment would be).

    Pure: ``payload`` is not changed. Values that are not dicts or lists are returned as they
    are; a masked value is masked whole, whatever it holds (a dict under ``credentials_token``
    is one secret).
    """
    if isinstance(masked_keys, str):
        masked_keys = masked_keys.split(",")
    words = tuple(word.strip().lower() for word in masked_keys if word.strip())
    if not words:
        return payload
    return _mask(payload, words)


def _is_secret(key: Any, words: tuple[str, ...]) -> bool:
    name = str(key).lower()
    return any(word in name for word in words)


def _mask(value: Any, words: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _is_secret(k, words) else _mask(v, words) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item, words) for item in value]
    return value
