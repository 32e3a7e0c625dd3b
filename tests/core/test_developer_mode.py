"""Developer mode, the host's per-user switch, over HTTP: a CSRF-protected POST from the user
menu, kept per user in ``nightpos_user_settings``, never an open redirect."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from nightpos_app.extensions import db
from nightpos_app.models import UserSettings
from tests.support.web import (
    ADMIN,
    USER,
    WebClient,
    csrf_token_from,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

TOGGLE = "/devmode/toggle"


def stored(app: Flask, username: str) -> bool | None:
    with app.app_context():
        user = app.appbuilder.sm.find_user(username=username)
        row = db.session.get(UserSettings, user.id)
        return None if row is None else row.developer_mode


def switch_label(web: WebClient) -> str:
    page = page_text(web.get("/"))
    found = re.search(
        r'id="developer-mode-toggle"[^>]*>\s*<span[^>]*></span>([^<]+)</button>', page
    )
    assert found, "no developer mode switch in the user menu"
    return found.group(1).strip()


@pytest.fixture
def reset(app: Flask):
    with app.app_context():
        db.session.query(UserSettings).delete()
        db.session.commit()
    yield
    with app.app_context():
        db.session.query(UserSettings).delete()
        db.session.commit()


def test_the_switch_is_kept_per_user(app: Flask, admin_web: WebClient, reset) -> None:
    assert switch_label(admin_web) == "Activate Developer Mode"
    token = csrf_token_from(admin_web.get("/").get_data(as_text=True))
    response = admin_web.client.post(TOGGLE, data={"csrf_token": token, "next": "/users/list/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/users/list/"
    assert stored(app, ADMIN.username) is True
    assert "Developer mode is on." in page_text(admin_web.get("/"))
    assert switch_label(admin_web) == "Deactivate Developer Mode"

    # Another user's setting is their own.
    other = WebClient(app.test_client())
    other.login(USER)
    assert switch_label(other) == "Activate Developer Mode"
    assert stored(app, USER.username) is None

    # A new session of the same user finds it on.
    again = WebClient(app.test_client())
    again.login(ADMIN)
    assert switch_label(again) == "Deactivate Developer Mode"

    admin_web.client.post(TOGGLE, data={"csrf_token": token})
    assert stored(app, ADMIN.username) is False
    assert switch_label(admin_web) == "Activate Developer Mode"


def test_the_switch_needs_the_csrf_token(app: Flask, admin_web: WebClient, reset) -> None:
    assert admin_web.client.post(TOGGLE).status_code == 400
    assert admin_web.client.post(TOGGLE, data={"csrf_token": "forged"}).status_code == 400
    assert stored(app, ADMIN.username) is None


def test_an_anonymous_visitor_is_sent_to_log_in(app: Flask, reset) -> None:
    client = app.test_client()
    token = csrf_token_from(client.get("/login/").get_data(as_text=True))
    response = client.post(TOGGLE, data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/")
    with app.app_context():
        assert db.session.query(UserSettings).count() == 0
    assert client.get(TOGGLE).status_code == 405


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_the_switch_never_redirects_to_another_site(
    admin_web: WebClient, reset, target: str
) -> None:
    token = csrf_token_from(admin_web.get("/").get_data(as_text=True))
    response = admin_web.client.post(TOGGLE, data={"csrf_token": token, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
