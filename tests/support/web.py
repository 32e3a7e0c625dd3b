"""A small browser stand-in over Flask's test client: log in, follow forms, keep CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


ADMIN = Credentials("test-admin", "Adm1n-test-password")
USER = Credentials("test-user", "Us3r-test-password")

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token_from(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise AssertionError("the page has no CSRF token")
    return match.group(1) or match.group(2)


class WebClient:
    """Drives the screens as a browser would: GET a form, POST it with its CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def submit(
        self,
        form_url: str,
        data: dict[str, Any],
        *,
        post_url: str | None = None,
        follow_redirects: bool = False,
    ) -> TestResponse:
        """Open ``form_url``, then post ``data`` with the page's CSRF token."""
        page = self.client.get(form_url)
        assert page.status_code == 200, f"GET {form_url}: {page.status_code}"
        token = csrf_token_from(page.get_data(as_text=True))
        return self.client.post(
            post_url or form_url,
            data={**data, "csrf_token": token},
            follow_redirects=follow_redirects,
        )

    def login(self, who: Credentials) -> TestResponse:
        response = self.submit("/login/", {"username": who.username, "password": who.password})
        assert response.status_code == 302, "login failed"
        return response

    def api_token(self, who: Credentials) -> str:
        response = self.client.post(
            "/api/v1/security/login",
            json={"username": who.username, "password": who.password, "provider": "db"},
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["access_token"]
