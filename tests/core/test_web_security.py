"""Host-level web security, through the real app over HTTP.

What FAB 5.3 really does, checked here rather than assumed:

* A screen without permission: an anonymous visitor is redirected to
  ``/login/?next=…`` and the login page flashes "Access is Denied"; a
  logged-in user is answered ``403 Forbidden`` (``has_access`` aborts).
* A REST call without a JWT is ``401 {"message": "Missing Authorization
  Header"}`` (Flask-JWT-Extended, in the API's error shape: nightpos_app/rest.py), with a
  JWT but no permission ``403 {"message": "Forbidden"}``.
* FAB exempts every API blueprint from CSRF, so no API that changes data may
  accept the browser's session cookie: ours authenticate with JWT only.
* Flask-WTF answers a form POST without a valid token ``400``; FAB refuses a
  delete by GET when CSRF protection is on.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_appbuilder import ModelRestApi

from nightpos_app.crud import ModelViews, columns_for
from nightpos_app.state import get_state
from tests.support.web import (
    ADMIN,
    USER,
    WebClient,
    api_client,
    create_record,
    csrf_token_from,
    one_context_per_request,
    page_text,
    read_records,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

#: Screens and REST resource of each business model.
MODELS = {
    "res.partner": ("/respartnerview", "/api/v1/res_partner/"),
    "res.currency": ("/rescurrencyview", "/api/v1/res_currency/"),
    "sale.order": ("/saleorderview", "/api/v1/sale_order/"),
}

#: A valid new record of each model, as its add form posts it.
FORM_DATA = {
    "res.partner": {
        "name": "Via Form",
        "company_type": "person",
        "customer_rank": "0",
        "supplier_rank": "0",
    },
    "res.currency": {"name": "CHF", "symbol": "Fr.", "active": "y"},
    "sale.order": {"state": "draft", "amount_total": "1", "date_order": "2024-01-02"},
}


def model_views(app: Flask) -> ModelViews:
    views = get_state(app).views
    assert views is not None
    return views


def any_record_id(app: Flask, model: str) -> int:
    return int(read_records(app, model, fields=[])[0]["id"])


def count(app: Flask, model: str) -> int:
    return len(read_records(app, model, fields=[]))


def form_data(app: Flask, model: str) -> dict[str, str]:
    data = dict(FORM_DATA[model])
    if model == "sale.order":
        data["partner"] = str(any_record_id(app, "res.partner"))
        data["currency"] = str(any_record_id(app, "res.currency"))
    return data


# ------------------------------------------------------- every model, exposed


def test_every_registered_model_has_screens_and_a_rest_resource(app: Flask) -> None:
    registry = get_state(app).registry
    views = model_views(app)
    assert set(MODELS) <= {entry.name for entry in registry}
    for entry in registry:
        assert entry.name in views.views, f"{entry.name} has no screens"
        api = views.apis[entry.name]
        assert api.resource_name == entry.name.replace(".", "_")
        # Columns are listed explicitly (FAB would expose every column).
        own = [cls for cls in type(api).__mro__ if cls not in ModelRestApi.__mro__]
        for attr in ("list_columns", "show_columns", "add_columns", "edit_columns"):
            assert any(attr in vars(cls) for cls in own), f"{entry.name}: no explicit {attr}"
    # The generic resources take them from the field metadata.
    for name in MODELS:
        cols = columns_for(get_state(app).registry[name])
        assert views.apis[name].list_columns == cols.api_read
        assert views.apis[name].add_columns == cols.api_write
    # Spelled out for one model: stored fields, then computed and related names.
    assert model_views(app).apis["sale.order"].list_columns == [
        "id",
        "partner_id",
        "currency_id",
        "date_order",
        "state",
        "amount_total",
        "note",
        "name",
        "partner.name",
        "currency.name",
    ]


def test_openapi_spec_lists_every_resource(app: Flask, demo: None) -> None:
    api = api_client(app.test_client(), ADMIN)
    response = api.get("/api/v1/_openapi")
    assert response.status_code == 200
    spec = response.get_json()
    for entry in get_state(app).registry:
        base = f"/api/v1/{entry.resource_name}/"
        assert base in spec["paths"], f"{entry.name} missing from the OpenAPI spec"
        api_class = get_state(app).views.apis[entry.name]
        # A read-only resource (the call log, the outbox) has no write route at all.
        writes = set() if api_class.read_only else {"post"}
        assert {"get", *writes} == set(spec["paths"][base])
        item_writes = set() if api_class.read_only else {"put", "delete"}
        assert {"get", *item_writes} == set(spec["paths"][base + "{pk}"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["SaleOrderApi.post"]["properties"]) == {
        "partner_id",
        "currency_id",
        "date_order",
        "state",
        "amount_total",
        "note",
    }
    assert "currency_id" in schemas["SaleOrderApi.post"]["required"]


def test_the_openapi_spec_needs_a_login(anonymous: FlaskClient) -> None:
    assert anonymous.get("/api/v1/_openapi").status_code == 401


# ---------------------------------------------------------------- JWT login


def test_jwt_login(app: Flask, demo: None) -> None:
    client = app.test_client()
    response = client.post(
        "/api/v1/security/login",
        json={"username": ADMIN.username, "password": ADMIN.password, "provider": "db"},
    )
    assert response.status_code == 200
    token = response.get_json()["access_token"]
    assert token.count(".") == 2, "a JWT: header.payload.signature"
    # The token alone (a fresh client, no cookie) opens the API.
    fresh = app.test_client()
    listed = fresh.get("/api/v1/sale_order/", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert listed.get_json()["count"] == count(app, "sale.order")


def test_jwt_login_with_a_wrong_password(app: Flask) -> None:
    response = app.test_client().post(
        "/api/v1/security/login",
        json={"username": ADMIN.username, "password": "wrong", "provider": "db"},
    )
    assert response.status_code == 401
    assert "access_token" not in response.get_json()


def test_a_malformed_jwt_is_refused(app: Flask, demo: None) -> None:
    response = app.test_client().get(
        "/api/v1/sale_order/", headers={"Authorization": "Bearer not-a-token"}
    )
    # Like a missing token: a 401 in the API's error shape (Flask-JWT-Extended said 422).
    assert response.status_code == 401
    assert response.get_json() == {"message": "Not enough segments"}


# ---------------------------------------------------------- login required


def test_home_page_needs_a_login(anonymous: FlaskClient) -> None:
    response = anonymous.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/")


#: Routes anyone may open: logging in and out, the language switch, the
#: webhook endpoint (its secret URL is its credential), static files, and the favicon
#: (browsers ask for it on the login page too).
PUBLIC_PREFIXES = (
    "/login/",
    "/logout/",
    "/lang/",
    "/back",
    "/static/",
    "/web/hook/",
    "/favicon.ico",
    # For load balancers and Prometheus: no login, no secrets; /metrics takes a token
    # (tests/core/test_health.py, tests/addons/webhooks/test_metrics.py).
    "/healthz",
    "/readyz",
    "/metrics",
)


def test_every_screen_needs_a_login(app: Flask, anonymous: FlaskClient) -> None:
    """Every GET route outside the API and the public ones sends an anonymous visitor away."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(("/api/", *PUBLIC_PREFIXES)):
            continue
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        response = anonymous.get(url)
        assert response.status_code == 302, f"{url}: {response.status_code}"
        # To the login page, or home (an unknown action), which sends to login.
        location = response.headers["Location"]
        assert location.startswith("/login/") or location == "/", f"{url} -> {location}"
        checked += 1
    assert checked >= 4 * len(MODELS)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("screen", ["list/", "add", "show/{id}", "edit/{id}"])
def test_anonymous_screen_redirects_to_login_with_access_denied(
    app: Flask, demo: None, anonymous: FlaskClient, model: str, screen: str
) -> None:
    url = f"{MODELS[model][0]}/{screen.format(id=any_record_id(app, model))}"
    response = anonymous.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login/?next=")
    login_page = anonymous.get(response.headers["Location"])
    assert login_page.status_code == 200
    assert "Access is Denied" in page_text(login_page)


@pytest.mark.parametrize("model", MODELS)
def test_anonymous_api_call_is_a_401(
    app: Flask, demo: None, anonymous: FlaskClient, model: str
) -> None:
    api = MODELS[model][1]
    record = any_record_id(app, model)
    for response in (
        anonymous.get(api),
        anonymous.get(f"{api}{record}"),
        anonymous.post(api, json={"name": "x"}),
        anonymous.put(f"{api}{record}", json={"name": "x"}),
        anonymous.delete(f"{api}{record}"),
    ):
        assert response.status_code == 401
        assert response.get_json() == {"message": "Missing Authorization Header"}
    assert any_record_id(app, model) == record


# ------------------------------------------------- logged in, no permission


@pytest.fixture
def user_web(web: WebClient) -> WebClient:
    web.login(USER)
    return web


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("screen", ["list/", "add", "show/{id}", "edit/{id}"])
def test_user_without_permission_gets_403_on_screens(
    app: Flask, demo: None, user_web: WebClient, model: str, screen: str
) -> None:
    url = f"{MODELS[model][0]}/{screen.format(id=any_record_id(app, model))}"
    response = user_web.get(url)
    assert response.status_code == 403


def test_user_without_permission_cannot_post_a_form(app: Flask, demo: None) -> None:
    client = app.test_client()
    # The login page's token stays valid for the session after login.
    token = csrf_token_from(client.get("/login/").get_data(as_text=True))
    login = client.post(
        "/login/", data={"username": USER.username, "password": USER.password, "csrf_token": token}
    )
    assert login.status_code == 302
    before = count(app, "res.currency")
    response = client.post(
        "/rescurrencyview/add", data={**FORM_DATA["res.currency"], "csrf_token": token}
    )
    assert response.status_code == 403
    assert count(app, "res.currency") == before


def test_user_without_permission_sees_no_business_menu(user_web: WebClient) -> None:
    response = user_web.get("/")
    assert response.status_code == 200
    page = page_text(response)
    assert "test-user" in page, "the user is logged in"
    for link in ("/respartnerview/list/", "/saleorderview/list/", "/rescurrencyview/list/"):
        assert link not in page


@pytest.mark.parametrize("model", MODELS)
def test_user_without_permission_gets_403_from_the_api(app: Flask, demo: None, model: str) -> None:
    api = api_client(app.test_client(), USER)
    url = MODELS[model][1]
    record = any_record_id(app, model)
    for response in (
        api.get(url),
        api.get(f"{url}{record}"),
        api.post(url, {"name": "x"}),
        api.delete(f"{url}{record}"),
    ):
        assert response.status_code == 403
        assert response.get_json() == {"message": "Forbidden"}
    assert any_record_id(app, model) == record


# ------------------------------------------------- the API takes JWTs only


def test_browser_session_cannot_write_through_the_api(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    # FAB exempts API blueprints from CSRF: were the session cookie enough,
    # any web page could make a logged-in admin's browser post here.
    before = count(app, "res.partner")
    response = admin_web.client.post("/api/v1/res_partner/", json={"name": "Forged"})
    assert response.status_code == 401
    assert read_records(app, "res.partner", [("name", "=", "Forged")]) == []
    # A form-encoded cross-site post fares no better.
    response = admin_web.client.post("/api/v1/res_partner/", data={"name": "Forged"})
    assert response.status_code == 401
    assert count(app, "res.partner") == before
    # And the same browser may still use the screens: the session is valid.
    assert admin_web.get("/respartnerview/list/").status_code == 200


def test_no_api_route_that_changes_data_accepts_the_session_cookie(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    """Every CSRF-exempt route under /api/ refuses a write authorised only by the cookie."""
    login_routes = {"/api/v1/security/login", "/api/v1/security/refresh"}
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in login_routes:
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            url = rule.rule.replace("<pk:pk>", "1")
            response = admin_web.client.open(url, method=method, json={"name": "Forged"})
            assert response.status_code == 401, f"{method} {url}: {response.status_code}"
            checked.append((method, url))
    assert len(checked) >= 3 * len(MODELS), checked
    assert read_records(app, "res.partner", [("name", "=", "Forged")]) == []


def test_fab_security_apis_are_not_exposed(app: Flask) -> None:
    """FAB's user/role APIs accept the session cookie; they must stay off (FAB_ADD_SECURITY_API)."""
    security = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/security/")}
    assert security == {"/api/v1/security/login", "/api/v1/security/refresh"}


# --------------------------------------------------------------------- CSRF


def test_login_without_csrf_token_is_a_400(app: Flask) -> None:
    client = app.test_client()
    client.get("/login/")  # a session, as a browser would have
    response = client.post("/login/", data={"username": ADMIN.username, "password": ADMIN.password})
    assert response.status_code == 400
    assert "The CSRF token is missing." in page_text(response)
    # Not logged in.
    assert client.get("/respartnerview/list/").status_code == 302


def test_login_with_a_forged_csrf_token_is_a_400(app: Flask) -> None:
    client = app.test_client()
    client.get("/login/")
    response = client.post(
        "/login/",
        data={"username": ADMIN.username, "password": ADMIN.password, "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert "The CSRF token is invalid." in page_text(response)


def test_login_with_the_pages_token_works(web: WebClient) -> None:
    response = web.login(ADMIN)
    assert response.status_code == 302
    assert web.get("/respartnerview/list/").status_code == 200


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("token", [None, "forged"])
def test_add_without_a_valid_csrf_token_is_a_400(
    app: Flask, demo: None, admin_web: WebClient, model: str, token: str | None
) -> None:
    before = count(app, model)
    data: dict[str, Any] = form_data(app, model)
    if token:
        data["csrf_token"] = token
    response = admin_web.client.post(f"{MODELS[model][0]}/add", data=data)
    assert response.status_code == 400
    assert "CSRF token" in page_text(response)
    assert count(app, model) == before


def test_add_with_the_forms_csrf_token_works(app: Flask, demo: None, admin_web: WebClient) -> None:
    # The same post as above, with the token: proves the 400 is the token's doing.
    for model in MODELS:
        before = count(app, model)
        response = admin_web.submit(f"{MODELS[model][0]}/add", form_data(app, model))
        assert response.status_code == 302, f"{model}: {page_text(response)}"
        assert count(app, model) == before + 1


@pytest.mark.parametrize("model", MODELS)
def test_edit_without_a_csrf_token_is_a_400(
    app: Flask, demo: None, admin_web: WebClient, model: str
) -> None:
    record = any_record_id(app, model)
    before = read_records(app, model, [("id", "=", record)])
    data = form_data(app, model)
    response = admin_web.client.post(f"{MODELS[model][0]}/edit/{record}", data=data)
    assert response.status_code == 400
    assert read_records(app, model, [("id", "=", record)]) == before


@pytest.mark.parametrize("model", MODELS)
def test_delete_without_a_csrf_token_is_a_400(
    app: Flask, demo: None, admin_web: WebClient, model: str
) -> None:
    record = any_record_id(app, model)
    response = admin_web.client.post(f"{MODELS[model][0]}/delete/{record}")
    assert response.status_code == 400
    assert "The CSRF token is missing." in page_text(response)
    assert len(read_records(app, model, [("id", "=", record)])) == 1


def test_delete_by_get_is_refused(app: Flask, demo: None, admin_web: WebClient) -> None:
    # A link or an <img> on another site must not delete anything.
    record = create_record(app, "res.partner", {"name": "Keep Me"})
    response = admin_web.get(f"/respartnerview/delete/{record}", follow_redirects=True)
    assert response.status_code == 200
    assert "Access is Denied" in page_text(response)
    assert len(read_records(app, "res.partner", [("id", "=", record)])) == 1


# ----------------------------------------------------------- cookies, redirects


def test_session_cookie_flags(app: Flask) -> None:
    web = WebClient(app.test_client())
    response = web.login(ADMIN)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "login sets the session cookie"
    flags = {part.strip().lower() for part in cookies[-1].split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in flags


def test_login_does_not_redirect_to_another_site(app: Flask) -> None:
    client = app.test_client()
    url = "/login/?next=https://evil.example/steal"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    response = client.post(
        url, data={"username": ADMIN.username, "password": ADMIN.password, "csrf_token": token}
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
