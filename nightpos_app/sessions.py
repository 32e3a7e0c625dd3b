"""Paths served without a session: no cookie read, none set.

Flask opens the session of every request before its view runs (for the signed cookie: a
serializer built and the cookie, if any, verified) and saves it afterwards. Endpoints called
by other systems with a credential of their own (the webhook's secret URL) have no use for
it: :func:`without_session` gives their requests Flask's null session instead, which reads as
empty and refuses writes, so no code on those paths can set a cookie by accident (Flask-Login
finds no user in it, and its remember-me hook has nothing to do).
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface, SessionMixin


class SessionlessPaths(SecureCookieSessionInterface):
    """Flask's cookie sessions, except for requests under the given path prefixes."""

    def __init__(self, prefixes: tuple[str, ...] = ()) -> None:
        self.prefixes = prefixes

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if self.prefixes and request.path.startswith(self.prefixes):
            # The null session: never saved (Flask skips it), and writing to it raises.
            return self.make_null_session(app)
        return super().open_session(app, request)


def without_session(app: Flask, prefix: str) -> None:
    """Serve requests whose path starts with ``prefix`` without a session."""
    interface = app.session_interface
    if not isinstance(interface, SessionlessPaths):
        interface = SessionlessPaths()
        app.session_interface = interface
    if prefix not in interface.prefixes:
        interface.prefixes = (*interface.prefixes, prefix)
