"""Host-level views."""

from __future__ import annotations

from flask import redirect, url_for
from flask_appbuilder import IndexView, expose
from flask_login import current_user
from werkzeug.wrappers import Response


class LoginRequiredIndexView(IndexView):
    """The home page; anonymous visitors are sent to the login page."""

    @expose("/")
    def index(self) -> str | Response:
        if not current_user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.endpoint + ".login"))
        return super().index()
