"""The REST API keeps its word (issue 12): no 500 for bad input, every answer as the spec says,
one JSON error shape, read-only resources without write routes. Each class of defect is tried
on every resource, with the examples the fuzzer found and variants of them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest
from flask import Flask

from addons.webhooks.models import ROTATION_GRACE
from tests.support.openapi import assert_matches, operation
from tests.support.web import ADMIN, ApiClient, one_context_per_request

_ = one_context_per_request

RESOURCES = ("sale_order", "res_partner", "res_currency", "base_automation", "ir_actions_server")
READ_ONLY = ("base_automation_call", "webhook_delivery", "webhook_delivery_attempt")


@pytest.fixture
def spec(api: ApiClient) -> dict[str, Any]:
    answer = api.get("/api/v1/_openapi")
    assert answer.status_code == 200
    return answer.get_json()


@pytest.fixture
def rule(api: ApiClient) -> int:
    answer = api.post("/api/v1/base_automation/", {"name": "R", "model": "sale.order"})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def _new_action(api: ApiClient, rule: int) -> int:
    """An Update Record action of ``rule``, made through the API; its id."""
    created = api.post(
        "/api/v1/ir_actions_server/",
        {
            "rule_id": rule,
            "name": "A",
            "action_type": "update_record",
            "settings": {"field": "note", "value": "x"},
        },
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


# ------------------------------------------------------------ bodies that are not objects


@pytest.mark.parametrize("body", [[], "x", 1, [None, None], None, True])
@pytest.mark.parametrize("resource", RESOURCES)
def test_a_put_body_that_is_not_an_object_is_the_posts_422(
    api: ApiClient, spec: dict[str, Any], rule: int, resource: str, body: Any
) -> None:
    pk = rule if resource == "base_automation" else 1
    if resource == "ir_actions_server":
        pk = _new_action(api, rule)
    put = api.client.put(
        f"/api/v1/{resource}/{pk}",
        headers=api.headers,
        data=_json(body),
        content_type="application/json",
    )
    post = api.client.post(
        f"/api/v1/{resource}/",
        headers=api.headers,
        data=_json(body),
        content_type="application/json",
    )
    assert put.status_code == post.status_code == 422, put.get_json()
    assert put.get_json() == post.get_json() == {"message": {"_schema": ["Invalid input type."]}}
    assert_matches(spec, "PUT", f"/api/v1/{resource}/{pk}", put)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


# ------------------------------------------------------------ selections and strict types


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/v1/sale_order/", {"partner_id": 1, "currency_id": 1, "state": 1}, "state"),
        ("POST", "/api/v1/sale_order/", {"partner_id": 1, "currency_id": 1, "state": []}, "state"),
        ("POST", "/api/v1/res_partner/", {"name": "x", "company_type": 1}, "company_type"),
        ("POST", "/api/v1/res_partner/", {"name": "x", "company_type": {"a": 1}}, "company_type"),
        (
            "POST",
            "/api/v1/base_automation/",
            {"name": "x", "model": "sale.order", "trigger": 1},
            "trigger",
        ),
        ("PUT", "/api/v1/base_automation/{rule}", {"trigger": True}, "trigger"),
        ("PUT", "/api/v1/base_automation/{rule}", {"auth_scheme": 5}, "auth_scheme"),
        ("PUT", "/api/v1/base_automation/{rule}", {"auth_scheme": "bogus"}, "auth_scheme"),
        # Strict JSON types: what the spec calls a boolean, an integer or a number.
        ("POST", "/api/v1/res_currency/", {"name": "ZZZ", "symbol": "z", "active": 0}, "active"),
        ("POST", "/api/v1/res_partner/", {"name": "x", "supplier_rank": 2.5}, "supplier_rank"),
        ("POST", "/api/v1/res_partner/", {"name": "x", "customer_rank": "3"}, "customer_rank"),
        (
            "POST",
            "/api/v1/sale_order/",
            {"partner_id": 1, "currency_id": 1, "amount_total": "1"},
            "amount_total",
        ),
        ("POST", "/api/v1/sale_order/", {"partner_id": True, "currency_id": 1}, "partner_id"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_422_on_its_field(
    api: ApiClient, spec: dict[str, Any], rule: int, method: str, url: str, body: Any, field: str
) -> None:
    url = url.format(rule=rule)
    answer = api.post(url, body) if method == "POST" else api.put(url, body)
    assert answer.status_code == 422, answer.get_json()
    assert list(answer.get_json()["message"]) == [field]
    assert_matches(spec, method, url, answer)


def test_selections_are_declared_as_enums(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    rule = schemas["BaseAutomationApi.post"]["properties"]
    assert rule["auth_scheme"]["enum"] == ["none", "standard", "github", "header"]
    assert rule["auth_scheme"]["type"] == "string"
    assert rule["trigger"]["type"] == "string" and "on_webhook" in rule["trigger"]["enum"]
    assert schemas["SaleOrderApi.post"]["properties"]["state"]["type"] == "string"
    assert "required" not in schemas["ResPartnerApi.put"], "a PUT sends what it changes"


# ------------------------------------------------------------ answers as the spec says


def test_ids_are_integers_and_amounts_numbers(app: Flask, api: ApiClient, spec: dict) -> None:
    listed = api.get("/api/v1/sale_order/")
    assert listed.status_code == 200
    assert all(isinstance(i, int) for i in listed.get_json()["ids"])
    assert_matches(spec, "GET", "/api/v1/sale_order/", listed)
    shown = api.get("/api/v1/sale_order/7")
    assert shown.get_json()["id"] == 7
    assert shown.get_json()["result"]["amount_total"] == 480000.0
    assert_matches(spec, "GET", "/api/v1/sale_order/7", shown)
    created = api.post("/api/v1/res_partner/", {"name": "Ada"})
    assert created.status_code == 201 and isinstance(created.get_json()["id"], int)
    assert_matches(spec, "POST", "/api/v1/res_partner/", created)
    order = api.post(
        "/api/v1/sale_order/", {"partner_id": 1, "currency_id": 1, "amount_total": 12.5}
    )
    assert order.get_json()["result"]["amount_total"] == 12.5
    assert_matches(spec, "POST", "/api/v1/sale_order/", order)


@pytest.mark.parametrize("resource", RESOURCES + READ_ONLY)
def test_info_lists_its_columns_as_declared(api: ApiClient, spec: dict, resource: str) -> None:
    answer = api.get(f"/api/v1/{resource}/_info")
    assert answer.status_code == 200
    assert isinstance(answer.get_json()["add_columns"], list)
    assert_matches(spec, "GET", f"/api/v1/{resource}/_info", answer)


def test_a_422_with_field_errors_matches_the_declared_shape(api: ApiClient, spec: dict) -> None:
    answer = api.post("/api/v1/sale_order/", {"partner_id": 999, "currency_id": 1})
    assert answer.status_code == 422
    assert answer.get_json() == {"message": {"partner_id": ["No Contact with id 999."]}}
    assert_matches(spec, "POST", "/api/v1/sale_order/", answer)


def test_the_menus_separators_are_declared(api: ApiClient, spec: dict) -> None:
    answer = api.get("/api/v1/menu/")
    assert answer.status_code == 200
    children = [c for entry in answer.get_json()["result"] for c in entry.get("childs", [])]
    assert "-" in children, "the admin's Security menu has separators"
    assert_matches(spec, "GET", "/api/v1/menu/", answer)


# ------------------------------------------------------------ read-only resources


@pytest.mark.parametrize("resource", READ_ONLY)
def test_read_only_resources_have_no_write_routes(
    api: ApiClient, spec: dict, resource: str
) -> None:
    assert set(spec["paths"][f"/api/v1/{resource}/"]) == {"get"}
    assert set(spec["paths"][f"/api/v1/{resource}/{{pk}}"]) == {"get"}
    for method, url in (("POST", "/"), ("PUT", "/1"), ("DELETE", "/1"), ("PATCH", "/1")):
        answer = api.client.open(
            f"/api/v1/{resource}{url}", method=method, headers=api.headers, json={}
        )
        assert answer.status_code == 405, (method, url)
        assert answer.headers["Allow"].replace(" ", "").split(",")
        assert "GET" in answer.headers["Allow"] and method not in answer.headers["Allow"]
        assert answer.get_json() == {
            "message": f"{method} is not allowed here: this URL takes GET."
        }


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_method_a_url_does_not_have_is_a_405_with_allow(api: ApiClient, resource: str) -> None:
    for method in ("PUT", "DELETE", "POST"):
        answer = api.client.open(
            f"/api/v1/{resource}/_info", method=method, headers=api.headers, json={}
        )
        assert answer.status_code == 405
        assert "GET" in answer.headers["Allow"]
        assert answer.is_json and "message" in answer.get_json()


# ------------------------------------------------------------ tokens


def _forged(app: Flask) -> str:
    payload = {
        "sub": "1",
        "type": "access",
        "fresh": True,
        "exp": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    }
    return jwt.encode(payload, "not-the-secret-key-of-this-app-at-all", algorithm="HS256")


def _expired(app: Flask) -> str:
    payload = {
        "sub": "1",
        "type": "access",
        "fresh": True,
        "exp": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
    }
    return jwt.encode(payload, app.config["SECRET_KEY"], algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Bearer ",
        "Bearer a.b.c",
        "Basic Zm9vOmJhcg==",
        "Bearer FORGED",
        "Bearer EXPIRED",
        "Bearer REFRESH",
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/sale_order/",
        "/api/v1/base_automation/_info",
        "/api/v1/webhook_delivery/1",
        "/api/v1/menu/",
    ],
)
def test_any_missing_or_invalid_token_is_a_401_in_the_error_shape(
    app: Flask, api: ApiClient, spec: dict, authorization: str | None, url: str
) -> None:
    if authorization == "Bearer FORGED":
        authorization = f"Bearer {_forged(app)}"
    elif authorization == "Bearer EXPIRED":
        authorization = f"Bearer {_expired(app)}"
    elif authorization == "Bearer REFRESH":
        login = app.test_client().post(
            "/api/v1/security/login",
            json={
                "username": ADMIN.username,
                "password": ADMIN.password,
                "provider": "db",
                "refresh": True,
            },
        )
        authorization = f"Bearer {login.get_json()['refresh_token']}"
    headers = {"Authorization": authorization} if authorization else {}
    answer = app.test_client().get(url, headers=headers)
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert set(answer.get_json()) == {"message"}
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert_matches(spec, "GET", url, answer)


def test_the_refresh_route_refuses_an_access_token_with_a_401(app: Flask, api: ApiClient) -> None:
    answer = app.test_client().post("/api/v1/security/refresh", headers=api.headers)
    assert answer.status_code == 401
    assert answer.get_json() == {"message": "Only refresh tokens are allowed"}


def test_a_login_without_provider_is_a_400_not_a_500(app: Flask, spec: dict) -> None:
    answer = app.test_client().post(
        "/api/v1/security/login", json={"username": "0", "password": "x"}
    )
    assert answer.status_code == 400
    assert answer.get_json() == {"message": {"provider": ["Missing data for required field."]}}
    login = spec["paths"]["/api/v1/security/login"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["username", "password", "provider"]


# ------------------------------------------------------------ primary keys


@pytest.mark.parametrize("pk", ["abc", "null,null", "1.5", "١", "%20", "-"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/webhook_delivery/{pk}"),
        ("GET", "/api/v1/sale_order/{pk}"),
        ("PUT", "/api/v1/sale_order/{pk}"),
        ("DELETE", "/api/v1/res_partner/{pk}"),
        ("POST", "/api/v1/webhook_delivery/{pk}/retry"),
        ("POST", "/api/v1/webhook_delivery/{pk}/replay"),
        ("POST", "/api/v1/base_automation/{pk}/rotate_secret"),
        ("POST", "/api/v1/ir_actions_server/{pk}/rotate_signing_secret"),
    ],
)
def test_a_primary_key_that_is_not_an_integer_is_a_json_404(
    api: ApiClient, method: str, path: str, pk: str
) -> None:
    answer = api.client.open(path.format(pk=pk), method=method, headers=api.headers, json={})
    assert answer.status_code == 404, answer.get_data(as_text=True)
    assert answer.get_json() == {"message": "Not found"}


@pytest.mark.parametrize("pk", ["-1454", "0", "99999999999999999999"])
def test_a_negative_or_huge_primary_key_is_a_404(api: ApiClient, spec: dict, pk: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = api.client.open(
            f"/api/v1/sale_order/{pk}", method=method, headers=api.headers, json={"note": "x"}
        )
        assert answer.status_code == 404, (method, answer.get_data(as_text=True))
        assert_matches(spec, method, f"/api/v1/sale_order/{pk}", answer)


def test_an_unknown_api_url_is_a_json_404(api: ApiClient) -> None:
    answer = api.get("/api/v1/no_such_resource/")
    assert answer.status_code == 404 and answer.get_json() == {"message": "Not found"}


def test_the_screens_keep_their_html_errors(admin_web) -> None:
    answer = admin_web.get("/no-such-page/")
    assert answer.status_code == 404 and not answer.is_json


# ------------------------------------------------------------ the q argument


@pytest.mark.parametrize(
    ("q", "ids"),
    [
        ('{"filters":[{"col":"amount_total","opr":"gt","value":1e+5}],"columns":["id"]}', [7]),
        ('{"filters":[{"col":"note","opr":"eq","value":"a&b+c"}],"columns":["id"]}', []),
        ("(filters:!((col:partner_id,opr:in,value:!(1))),columns:!(id),order_column:id)", [7]),
    ],
)
def test_a_q_in_json_or_rison_is_read_exactly(api: ApiClient, q: str, ids: list[int]) -> None:
    answer = api.get("/api/v1/sale_order/", query_string={"q": q})
    assert answer.status_code == 200, answer.get_json()
    found = answer.get_json()["ids"]
    assert set(ids) <= set(found) and (ids or not found)


@pytest.mark.parametrize(
    "q",
    [
        "(order_column:bogus)",
        "(columns:!(bogus))",
        "(page:-1)",
        "(page:99999999999999999999,page_size:100)",
        "(filters:!((col:state,opr:in,value:sale)))",
        "(filters:!((col:state,opr:gt,value:sale)))",
        "(filters:!((col:partner_id,opr:eq,value:'1')))",
        "(filters:!((col:amount_total,opr:gt,value:1e300)))",
        "(columns:!(id),select_columns:!(id))",
        '{"filters":[{"col":"note","opr":"eq","value":"\\ud800"}]}',
        '{"page": Infinity}',
        "((((",
    ],
)
def test_a_q_the_resources_schema_refuses_is_a_400(api: ApiClient, spec: dict, q: str) -> None:
    answer = api.get("/api/v1/sale_order/", query_string={"q": q})
    assert answer.status_code == 400, answer.get_json()
    assert isinstance(answer.get_json()["message"], str)
    assert_matches(spec, "GET", "/api/v1/sale_order/", answer)


def test_q_is_declared_per_resource(spec: dict) -> None:
    (q,) = [
        p for p in operation(spec, "GET", "/api/v1/sale_order/")["parameters"] if p["name"] == "q"
    ]
    schema = q["content"]["application/json"]["schema"]
    assert "amount_total" in schema["properties"]["order_column"]["enum"]
    filters = schema["properties"]["filters"]["items"]["anyOf"]
    state = [f for f in filters if f["properties"]["col"]["enum"] == ["state"]]
    assert state and state[0]["properties"]["opr"]["enum"] == ["eq", "neq"]


# ------------------------------------------------------------ the webhooks routes' components


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in _refs(value)]


def test_every_ref_of_the_spec_names_a_component(spec: dict) -> None:
    # A route's docstring names shared components (addons/webhooks/api/openapi_components.py);
    # apispec writes a misspelt name into the spec as it is.
    refs = set(_refs(spec["paths"]))
    assert "#/components/parameters/pk" in refs
    for ref in refs:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} names nothing"
            node = node[part]


def test_the_rotations_declare_the_graces_they_take(api: ApiClient, spec: dict, rule: int) -> None:
    action = _new_action(api, rule)
    for url in (
        f"/api/v1/base_automation/{rule}/rotate_secret",
        f"/api/v1/ir_actions_server/{action}/rotate_signing_secret",
    ):
        body = operation(spec, "POST", url)["requestBody"]["content"]["application/json"]
        graces = body["schema"]["properties"]["grace"]["enum"]
        assert graces == list(ROTATION_GRACE)
        for grace in graces:
            answer = api.post(url, {"grace": grace})
            assert answer.status_code == 200, (url, grace, answer.get_json())
            assert_matches(spec, "POST", url, answer)
        refused = api.post(url, {"grace": "forever"})
        assert refused.status_code == 400
        assert_matches(spec, "POST", url, refused)


def test_the_webhooks_routes_answer_as_declared(api: ApiClient, spec: dict, rule: int) -> None:
    base = f"/api/v1/base_automation/{rule}"
    for method, url, body, status in (
        ("POST", f"{base}/rotate_signing_secret", {}, 200),
        ("GET", f"{base}/due", None, 200),
        ("POST", f"{base}/run_now", {}, 400),  # only a scheduled rule runs now
        ("POST", "/api/v1/base_automation/999999/run_now", {}, 404),
        ("GET", "/api/v1/ir_actions_server/action_types", None, 200),
        ("POST", "/api/v1/base_automation_call/replay", {"dry_run": True}, 200),
        ("POST", "/api/v1/base_automation_call/replay", {}, 202),  # none to replay: none queued
        ("POST", "/api/v1/base_automation_call/replay", {"limit": 0}, 422),
        ("POST", "/api/v1/base_automation_call/999999/replay", {}, 404),
        ("POST", "/api/v1/webhook_delivery/999999/retry", {}, 404),
        ("POST", "/api/v1/webhook_delivery/999999/replay", {}, 404),
    ):
        answer = api.client.open(url, method=method, headers=api.headers, json=body)
        assert answer.status_code == status, (method, url, answer.get_json())
        assert_matches(spec, method, url, answer)
