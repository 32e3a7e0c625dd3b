"""Numbers that callers write: ASCII digits only (``str.isdigit()`` takes far more)."""

from __future__ import annotations

import pytest

from nightpos_app.digits import ascii_int, is_ascii_digits


@pytest.mark.parametrize("text", ["0", "7", "0123456789", "1715000000"])
def test_ascii_digits_are_numbers(text: str) -> None:
    assert is_ascii_digits(text)
    assert ascii_int(text) == int(text)


@pytest.mark.parametrize("text", ["¹¹¹", "١٢٣", "１２３", "۱۲۳", "१२३", "٣"])
def test_other_scripts_digits_are_not(text: str) -> None:
    assert text.isdigit()  # the trap: isdigit() says yes
    assert not is_ascii_digits(text)
    assert ascii_int(text) is None


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+1", "-1", "1_000", "1.0", "0x1", "x"])
def test_anything_else_is_not(text: str) -> None:
    assert not is_ascii_digits(text)
    assert ascii_int(text) is None


def test_max_digits_and_none() -> None:
    assert ascii_int("123456789", max_digits=9) == 123456789
    assert ascii_int("1234567890", max_digits=9) is None
    assert ascii_int(None) is None
