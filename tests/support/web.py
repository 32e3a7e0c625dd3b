"""A small browser stand-in over Flask's test client: log in, follow forms, keep CSRF tokens."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
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


class ApiClient:
    """Calls the REST resources as an API client does: JSON bodies, a JWT, no cookies needed."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, headers=self.headers, **kwargs)

    def post(self, url: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.client.post(url, headers=self.headers, json=json, **kwargs)

    def put(self, url: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.client.put(url, headers=self.headers, json=json, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.delete(url, headers=self.headers, **kwargs)


def api_client(client: FlaskClient, who: Credentials) -> ApiClient:
    """Log in at FAB's JWT endpoint and return a client that sends the token."""
    return ApiClient(client, WebClient(client).api_token(who))


def page_text(response: TestResponse) -> str:
    """The response body as text, with HTML's escaping of ``&``, quotes and ``<>`` undone."""
    return html.unescape(response.get_data(as_text=True))


def read_records(
    app: Flask, model: str, domain: Sequence[Any] = (), fields: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """What the database holds now, read through the record API in a fresh app context.

    A fresh context means a fresh session, so the result is what the request
    committed, not what some session still caches.
    """
    from nightpos_app.state import get_env

    with app.app_context():
        return get_env(trusted=True)[model].search(list(domain), order="id").read(fields)


def create_record(app: Flask, model: str, vals: dict[str, Any]) -> int:
    """Create one record through the record API and commit it; return its id."""
    from nightpos_app.extensions import db
    from nightpos_app.state import get_env

    with app.app_context():
        record_id = get_env(trusted=True)[model].create(vals).id
        db.session.commit()
        return int(record_id)


class _FormReader(HTMLParser):
    """Collects what a browser would post from one form: inputs, selects, textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.values: dict[str, Any] = {}  # a multiple drop-down's: a list
        self._select: str | None = None
        self._first_option: str | None = None
        self._multiple = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.in_form = a.get("id") == self.form_id
        if not self.in_form or (tag != "option" and not a.get("name")):
            return
        if "disabled" in a and tag != "option":
            # A browser posts nothing of a disabled input, drop-down or text area.
            if tag == "select":
                self._select, self._first_option = None, None
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[a["name"]] = a.get("value") or "y"
            elif kind not in ("submit", "button", "file"):
                self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select, self._first_option = a["name"], None
            self._multiple = "multiple" in a
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a and self._multiple:
                # A multiple drop-down posts each selected option (and nothing for none).
                chosen = self.values.setdefault(self._select, [])
                chosen.append(value)
            elif "selected" in a:
                self.values[self._select] = value
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self._select:
            # A browser posts the first option when none is marked selected (not a multiple one).
            if (
                not self._multiple
                and self._select not in self.values
                and self._first_option is not None
            ):
                self.values[self._select] = self._first_option
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers drop the one line break right after <textarea> (WTForms writes one).
            text = self.values[self._textarea]
            for newline in ("\r\n", "\n"):
                if text.startswith(newline):
                    text = text[len(newline) :]
                    break
            self.values[self._textarea] = text
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def navbar_menu(page: str, label: str) -> list[tuple[str, str]]:
    """(href, label) of each entry of the navbar category shown as ``label``."""
    found = re.search(
        rf'>\s*{re.escape(label)}<b class="caret"></b></a>\s*<ul class="dropdown-menu">(.*?)</ul>',
        page,
        re.S,
    )
    assert found, f"no {label} menu"
    return [
        (href.replace("&amp;", "&"), text)
        for href, text in re.findall(
            r'href="([^"]+)">.*?</i>\s*([^<]+?)\s*</a>', found.group(1), re.S
        )
    ]


def form_values(page: str, form_id: str = "model_form") -> dict[str, Any]:
    """The fields a browser would post from the form ``form_id`` of ``page``, as filled in."""
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.values


def edit_through_form(web: WebClient, form_url: str, changes: dict[str, Any]) -> TestResponse:
    """Open a form, keep what it shows, change ``changes``, and post it (with its CSRF token)."""
    page = web.get(form_url)
    assert page.status_code == 200, f"GET {form_url}: {page.status_code}"
    data: dict[str, Any] = {**form_values(page.get_data(as_text=True)), **changes}
    # An unchecked checkbox is simply absent from what a browser posts.
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    return web.client.post(form_url, data=data)


@pytest.fixture(autouse=True, name="_push_request_context")
def one_context_per_request() -> Iterator[None]:
    """Let every test request run in its own app context, as on a real server.

    pytest-flask's autouse fixture of this name pushes one request context
    around the whole test. Flask then runs every test-client request inside
    that one app context: they share ``g`` (so Flask-Login's cached user
    leaks from a logged-in client to an anonymous one) and one database
    session (so a request does not see what another committed, and the
    session is never removed). Import this into a test module to override it.
    """
    yield
