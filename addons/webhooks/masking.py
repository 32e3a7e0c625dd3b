"""Mask secret-looking values in payloads before they are written to the call log.

Senders put credentials in payloads (``{"api_token": "..."}``, an ``Authorization`` header
copied into the body): the call log is read by more people, and kept longer, than the sender
meant. A value is masked when its key contains one of the masked words (case-insensitive, as a
substring: ``X-Api-Token`` matches ``token``), at any depth of dicts and lists. The rule itself
still gets the payload as sent; only the logged copy is masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
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
    words = masked_words(masked_keys)
    if not words:
        return payload
    return _mask(payload, words)


def masked_words(masked_keys: Iterable[str] | str) -> tuple[str, ...]:
    """The words of a list, or of one comma-separated string, lower-cased; blanks dropped."""
    if isinstance(masked_keys, str):
        masked_keys = masked_keys.split(",")
    return tuple(word.strip().lower() for word in masked_keys if word.strip())


def _is_secret(key: Any, words: tuple[str, ...]) -> bool:
    name = str(key).lower()
    return any(word in name for word in words)


def _mask(value: Any, words: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _is_secret(k, words) else _mask(v, words) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(item, words) for item in value]
    return value


# --- The logged text, piece by piece --------------------------------------------------------

_INDENT = "  "
_MASKED = encode_basestring(MASK)
_END = object()


def masked_json(
    payload: Any, masked_keys: Iterable[str] | str = DEFAULT_MASKED_KEYS, max_chars: int = 0
) -> Iterator[str]:
    """The text of ``json.dumps(mask_payload(payload), ensure_ascii=False, indent=2,
    default=str)``, in small pieces, made as they are asked for.

    Nothing is copied and nothing is made ahead: whoever keeps only the first N bytes of the
    text stops asking once past them, and the work and memory are bounded by N, whatever the
    payload's size and depth (indented, a 1 MiB payload 100 levels deep is hundreds of MB of
    text). ``max_chars`` (if not 0) cuts longer strings and keys before they are escaped: the
    text is then longer than ``max_chars`` anyway, so a reader that stops within it never sees
    where. Walked without recursion, so any depth is fine.
    """
    words = masked_words(masked_keys)
    # The open arrays and objects: [their items, whether an object, whether one was written].
    open_: list[list[Any]] = []
    value = payload
    while True:
        # Write ``value``: a scalar whole; an array or object opened, its items to come.
        if isinstance(value, dict) and value:
            yield "{"
            open_.append([iter(value.items()), True, False])
        elif isinstance(value, list | tuple) and value:
            yield "["
            open_.append([iter(value), False, False])
        else:
            yield _scalar(value, max_chars)
        # Find the next value to write, closing what has run out of items.
        while open_:
            frame = open_[-1]
            entry = next(frame[0], _END)
            if entry is _END:
                open_.pop()
                yield "\n" + _INDENT * len(open_) + ("}" if frame[1] else "]")
                continue
            prefix = (",\n" if frame[2] else "\n") + _INDENT * len(open_)
            frame[2] = True
            if not frame[1]:
                yield prefix
                value = entry
                break
            key, value = entry
            name = _key(key, max_chars)
            if words and _is_secret(key, words):
                yield f"{prefix}{name}: {_MASKED}"
                continue
            yield f"{prefix}{name}: "
            break
        else:
            return


def _string(text: str, max_chars: int) -> str:
    return encode_basestring(text[:max_chars] if max_chars and len(text) > max_chars else text)


def _key(key: Any, max_chars: int) -> str:
    """An object key as ``json`` writes it: a string, or a scalar turned into one."""
    if isinstance(key, str):
        return _string(key, max_chars)
    if key is None or isinstance(key, int | float):  # bool is an int
        return _string(_scalar(key, max_chars), max_chars)
    return _string(str(key), max_chars)  # json would refuse it; a log should not


def _scalar(value: Any, max_chars: int) -> str:
    """A value that is not a non-empty array or object, as ``json.dumps(default=str)``."""
    if isinstance(value, str):
        return _string(value, max_chars)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:  # noqa: PLR0124 (NaN)
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if isinstance(value, list | tuple):
        return "[]"
    if isinstance(value, dict):
        return "{}"
    return _string(str(value), max_chars)
