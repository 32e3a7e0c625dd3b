"""Errors that NightPOS shows to the person or system that caused them.

A ``UserError`` carries a message meant for the user (an admin on a screen, an
external system reading a webhook response). Anything else is unexpected and
is reported generically, with details only in the server log.

The record API's errors also derive from the built-in exception that Odoo-style
code expects (``ValueError``, ``KeyError``, ``LookupError``), so admin code
written against those keeps working.
"""

from __future__ import annotations


class UserError(Exception):
    """An error whose message is safe and useful to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(UserError, ValueError):
    """A value given for a field is not acceptable; the message names the field."""


class DomainError(UserError, ValueError):
    """A search domain or order is malformed, or names an unknown field or operator."""


class SingletonError(UserError, ValueError):
    """One record was expected (``ensure_one``, reading a field) but there were not one."""


class UnknownFieldError(UserError, AttributeError):
    """A record has no field of that name (an ``AttributeError``, so ``hasattr`` works)."""


class MissingError(UserError, LookupError):
    """A record that was asked for does not exist (or no longer does)."""


class UnknownModelError(UserError, KeyError):
    """No model has the technical name asked for (``env['no.such.model']``).

    A ``KeyError``, as for any mapping; ``UserError.__str__`` comes first in the
    MRO so the message reads plainly instead of as ``KeyError``'s quoted repr.
    """


class StartupError(RuntimeError):
    """The application cannot start: an addon is missing, broken or conflicting."""
