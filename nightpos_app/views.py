"""Host-level views: the home page, and the favicon browsers ask for at ``/favicon.ico``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, redirect, send_from_directory, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user
from werkzeug.wrappers import Response

from nightpos_app.addons import call_phase
from nightpos_app.state import get_state

STATIC = Path(__file__).parent / "static"


@dataclass
class HomePanel:
    """One panel of the home page: a title, the template that renders its body, its values.

    ``level`` colours it (Bootstrap's ``default``, ``success``, ``warning``, ``danger``).
    """

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    level: str = "default"


def home_panels() -> list[HomePanel]:
    """Every addon's panels, in addon dependency order (``nightpos_home_panels``)."""
    state = get_state(current_app)
    panels: list[HomePanel] = []
    for _addon, found in call_phase(state.plugins, state.addons, "nightpos_home_panels"):
        panels.extend(found or ())
    return panels


class LoginRequiredIndexView(IndexView):
    """The home page: what needs attention, from each addon; anonymous visitors are sent to
    the login page."""

    index_template = "nightpos/index.html"

    @expose("/")
    def index(self) -> str | Response:
        if not current_user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.endpoint + ".login"))
        return self.render_template(self.index_template, panels=home_panels())

    @expose("/favicon.ico")
    def favicon(self) -> Response:
        """Browsers ask for /favicon.ico whatever the page says: the same icon, as PNG."""
        return send_from_directory(STATIC, "favicon.png", mimetype="image/png", max_age=86400)
