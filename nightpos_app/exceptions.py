"""Errors that NightPOS shows to the person or system that caused them.

A ``UserError`` carries a message meant for the user (an admin on a screen, an
external system reading a webhook response). Anything else is unexpected and
is reported generically, with details only in the server log.
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


class MissingError(UserError, LookupError):
    """A record that was asked for does not exist (or no longer does)."""


class StartupError(RuntimeError):
    """The application cannot start: an addon is missing, broken or conflicting."""
