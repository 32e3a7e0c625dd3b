"""The secret URL runs without a session: it works, reads no cookie and sets none."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, session
from flask.sessions import NullSession

from tests.addons.webhooks.test_endpoint import SET_USD, currency_of


@pytest.fixture
def usd_rule(make_rule: Any) -> dict[str, Any]:
    return make_rule("sale.order", actions=[SET_USD], log_calls=True)


def _cookie_headers(response: Any) -> tuple[list[str], list[str]]:
    return response.headers.getlist("Set-Cookie"), response.headers.getlist("Vary")


def test_the_webhook_answers_without_setting_a_cookie(
    app: Flask, client: Any, usd_rule: dict[str, Any]
) -> None:
    # A caller that sends a cookie (a browser of a logged-in user, say) gets none back either.
    client.set_cookie("session", "not-a-valid-session")
    response = client.post(usd_rule["path"], json={"_model": "sale.order", "_id": 6})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert currency_of(app, 6) == "USD"
    assert _cookie_headers(response) == ([], [])
    unknown = client.post("/web/hook/" + "x" * 43, json={})
    assert unknown.status_code == 404
    assert _cookie_headers(unknown) == ([], [])


def test_other_pages_still_have_sessions(client: Any) -> None:
    """The login page sets its session cookie (the check above can see one)."""
    response = client.get("/login/")
    assert response.status_code == 200
    cookies, _ = _cookie_headers(response)
    assert any(cookie.startswith("session=") for cookie in cookies)


def test_webhook_requests_cannot_write_a_session(app: Flask) -> None:
    with app.test_request_context("/web/hook/" + "x" * 43, method="POST"):
        assert isinstance(session, NullSession)
        assert "_user_id" not in session
        with pytest.raises(RuntimeError):
            session["_user_id"] = "1"
    with app.test_request_context("/login/"):
        assert not isinstance(session, NullSession)
