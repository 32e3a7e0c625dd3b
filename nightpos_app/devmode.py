"""Developer mode: a per-user switch that shows technical names (Odoo's debug mode).

Screens call :func:`developer_mode` to decide whether to show a model as "Sales Order" or
"Sales Order (sale.order)", and whether to offer choices that only make sense with technical
names (an automation rule's Model). The switch is kept per user in ``nightpos_user_settings``
and flipped by a POST (with its CSRF token) from the user menu in the navbar
(``templates/appbuilder/navbar_right.html`` overrides FAB's).

It is a display preference, not a permission: it shows names, never data the user could not
see anyway, so every logged-in user may switch it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, request, url_for
from flask_appbuilder import AppBuilder, BaseView, expose
from flask_login import current_user
from werkzeug.wrappers import Response

from nightpos_app.extensions import db
from nightpos_app.i18n import translate
from nightpos_app.models import UserSettings

_CACHE = "_nightpos_developer_mode"


def _user_id() -> int | None:
    if not current_user or not current_user.is_authenticated:
        return None
    return int(current_user.get_id())


def developer_mode() -> bool:
    """Whether the current user has developer mode on (False for anonymous visitors).

    Read once per request: a page asks many times (every label of a form).
    """
    cached = g.get(_CACHE)
    if cached is not None:
        return bool(cached)
    user_id = _user_id()
    row = db.session.get(UserSettings, user_id) if user_id is not None else None
    value = bool(row and row.developer_mode)
    setattr(g, _CACHE, value)
    return value


@contextmanager
def without_technical_names() -> Iterator[None]:
    """Within the block, the current request reads as developer mode off: for texts that are
    stored (an action's generated name), which must not depend on who wrote them."""
    before = g.get(_CACHE)
    setattr(g, _CACHE, False)
    try:
        yield
    finally:
        if before is None:
            g.pop(_CACHE, None)
        else:
            setattr(g, _CACHE, before)


def set_developer_mode(on: bool) -> None:
    """Switch developer mode for the current user (the caller commits)."""
    user_id = _user_id()
    if user_id is None:
        raise PermissionError("developer mode belongs to a logged-in user")
    row = db.session.get(UserSettings, user_id)
    if row is None:
        row = UserSettings(user_id=user_id)
        db.session.add(row)
    row.developer_mode = on
    setattr(g, _CACHE, on)


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:  # some browsers read "/\evil.com" as another host
        return default
    return target


class DeveloperModeView(BaseView):
    """``POST /devmode/toggle``: switch the current user's developer mode."""

    route_base = "/devmode"
    default_view = "toggle"

    @expose("/toggle", methods=["POST"])
    def toggle(self) -> Response:
        # Login only, no FAB permission: it is the user's own display preference.
        if _user_id() is None:
            return redirect(url_for(f"{self.appbuilder.sm.auth_view.endpoint}.login"))
        on = not developer_mode()
        set_developer_mode(on)
        db.session.commit()
        flash(
            translate("Developer mode is on.") if on else translate("Developer mode is off."),
            "info",
        )
        index = self.appbuilder.get_url_for_index
        return redirect(safe_next(request.form.get("next"), index))


def init_developer_mode(app: Flask, appbuilder: AppBuilder) -> None:
    """Register the switch and make ``developer_mode()`` available to every template."""
    appbuilder.add_view_no_menu(DeveloperModeView)
    app.context_processor(lambda: {"developer_mode": developer_mode})
