"""Numbers in text that callers wrote (headers, URLs, query parameters): ASCII digits only.

``str.isdigit()`` is true for much more than ``0-9``: superscripts (``¹²³``), which ``int()``
then refuses with a ``ValueError`` (an unexpected error where a clear refusal was meant), and
the decimal digits of every script (Arabic-Indic ``١٢٣``, fullwidth ``１２３``…), which
``int()`` quietly reads as ``123``, so two parsers of the same text disagree. A number a
protocol writes in ASCII is checked with :func:`is_ascii_digits`, or read with
:func:`ascii_int`, never with ``isdigit()`` before ``int()``.
"""

from __future__ import annotations


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of the characters ``0123456789`` and nothing else."""
    return text.isascii() and text.isdigit()


def ascii_int(text: str | None, max_digits: int | None = None) -> int | None:
    """``text`` as an integer when it is ASCII digits (at most ``max_digits``), else None."""
    if text is None or not is_ascii_digits(text):
        return None
    if max_digits is not None and len(text) > max_digits:
        return None
    return int(text)
