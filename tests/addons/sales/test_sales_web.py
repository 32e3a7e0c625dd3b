"""Sales (``sale.order``, ``res.currency``) through the real app over HTTP.

Screens are driven as a browser drives them (log in, open the form, post it
with the page's CSRF token); the REST resources with a JWT from FAB's login
endpoint. Every change is checked in the database through the record API.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import prison
import pytest
from flask import Flask

from tests.support.web import (
    ADMIN,
    ApiClient,
    WebClient,
    api_client,
    create_record,
    edit_through_form,
    form_values,
    one_context_per_request,
    page_text,
    read_records,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

ORDERS = "/saleorderview"
CURRENCIES = "/rescurrencyview"
ORDER_API = "/api/v1/sale_order/"
CURRENCY_API = "/api/v1/res_currency/"

ORDER_FIELDS = ["partner_id", "currency_id", "date_order", "state", "amount_total", "note"]
STATE_LABELS = {
    "draft": "Quotation",
    "sent": "Quotation Sent",
    "sale": "Sales Order",
    "cancel": "Cancelled",
}


def currency_id(app: Flask, code: str) -> int:
    (row,) = read_records(app, "res.currency", [("name", "=", code)], ["name"])
    return int(row["id"])


def partner_id(app: Flask, name: str) -> int:
    (row,) = read_records(app, "res.partner", [("name", "=", name)], ["name"])
    return int(row["id"])


def order(app: Flask, order_id: int) -> dict[str, Any]:
    (row,) = read_records(app, "sale.order", [("id", "=", order_id)], ORDER_FIELDS)
    return row


def orders(app: Flask, domain: list[Any] | None = None) -> list[dict[str, Any]]:
    return read_records(app, "sale.order", domain or [], [*ORDER_FIELDS, "name"])


def number(order_id: int) -> str:
    return f"S{order_id:05d}"


@pytest.fixture
def api(app: Flask, demo: None) -> ApiClient:
    return api_client(app.test_client(), ADMIN)


def rison(**args: Any) -> str:
    return "?q=" + prison.dumps(args)


# --------------------------------------------------------------- menu, demo


def test_sales_menu_on_the_home_page(admin_web: WebClient) -> None:
    page = page_text(admin_web.get("/"))
    sales = re.search(
        r'>\s*Sales<b class="caret"></b></a>\s*<ul class="dropdown-menu">(.*?)</ul>', page, re.S
    )
    assert sales, "no Sales menu"
    entries = re.findall(r'href="([^"]+)">.*?</i>\s*(\w+)</a>', sales.group(1), re.S)
    assert entries == [
        (f"{ORDERS}/list/", "Orders"),
        (f"{CURRENCIES}/list/", "Currencies"),
        # Added by the webhooks addon: Sales → Webhooks opens the Sales Order rules.
        ("/webhookview/list/?model=sale.order", "Webhooks"),
    ]


def test_demo_has_at_least_ten_orders_none_in_usd(app: Flask, demo: None) -> None:
    all_orders = orders(app)
    assert len(all_orders) >= 10
    usd = currency_id(app, "USD")
    assert [o for o in all_orders if o["currency_id"][0] == usd] == []


# ------------------------------------------------------------ order screens


def test_order_list_shows_every_order_number(app: Flask, demo: None, admin_web: WebClient) -> None:
    response = admin_web.get(f"{ORDERS}/list/")
    assert response.status_code == 200
    page = page_text(response)
    all_orders = orders(app)
    shown = re.findall(r"<td>\s*(S\d{5})\s*</td>", page)
    # Newest first, each as S + its id on five digits.
    assert shown == [number(o["id"]) for o in sorted(all_orders, key=lambda o: -o["id"])]
    assert all(o["name"] == number(o["id"]) for o in all_orders)
    # Status as its label.
    assert "Quotation Sent" in page
    assert not re.search(r"<td>\s*sent\s*</td>", page)


def test_order_show_page(app: Flask, demo: None, admin_web: WebClient) -> None:
    (first,) = [o for o in orders(app) if o["currency_id"][1] == "JPY"]
    response = admin_web.get(f"{ORDERS}/show/{first['id']}")
    assert response.status_code == 200
    page = page_text(response)

    def shown(label: str) -> str:
        match = re.search(rf"{label}</th>\s*<td>\s*<span[^>]*>([^<]*)</span>", page)
        assert match, f"no {label} on the show page"
        return match.group(1)

    assert shown("Order Reference") == number(first["id"])
    assert shown("Customer") == "Siam Trading Co., Ltd."
    assert shown("Currency") == "JPY"
    assert shown("Status") == "Sales Order"
    assert shown("Total") == "480000.00"
    assert shown("Terms and Conditions") == "", "an empty note shows as nothing, not None"


def test_order_form_offers_customers_currencies_and_states(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    page = admin_web.get(f"{ORDERS}/add").get_data(as_text=True)

    def options(name: str) -> list[tuple[str, str]]:
        select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
        assert select, f"{name} is not a <select>"
        return re.findall(r'<option[^>]*value="([^"]*)">([^<]*)</option>', select.group(1))

    partners = read_records(app, "res.partner", fields=["name"])
    assert sorted(options("partner")) == sorted((str(p["id"]), p["name"]) for p in partners)
    currencies = read_records(app, "res.currency", fields=["name"])
    assert sorted(options("currency")) == sorted((str(c["id"]), c["name"]) for c in currencies)
    assert options("state") == list(STATE_LABELS.items())
    assert form_values(page)["state"] == "draft"


def test_add_order_through_the_form(app: Flask, demo: None, admin_web: WebClient) -> None:
    before = {o["id"] for o in orders(app)}
    customer, eur = partner_id(app, "Mekong Supplies"), currency_id(app, "EUR")
    response = admin_web.submit(
        f"{ORDERS}/add",
        {
            "partner": str(customer),
            "currency": str(eur),
            "date_order": "2024-05-06",
            "state": "sent",
            "amount_total": "99.95",
            "note": "Deliver before noon",
        },
    )
    assert response.status_code == 302, page_text(response)
    (new,) = [o for o in orders(app) if o["id"] not in before]
    assert new["partner_id"] == (customer, "Mekong Supplies")
    assert new["currency_id"] == (eur, "EUR")
    assert new["date_order"] == dt.date(2024, 5, 6)
    assert new["state"] == "sent"
    assert new["amount_total"] == Decimal("99.95")
    assert new["note"] == "Deliver before noon"
    # The new order's page shows its number.
    assert number(new["id"]) in page_text(admin_web.get(f"{ORDERS}/show/{new['id']}"))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"partner": ""}, "partner", "This field is required."),
        # FAB's dropdown reads an unknown id as no choice at all.
        ({"currency": "999999"}, "currency", "This field is required."),
        ({"state": "shipped"}, "state", "Not a valid choice"),
        ({"amount_total": "lots"}, "amount_total", "Not a valid decimal value"),
        ({"date_order": "06/05/2024"}, "date_order", "Not a valid date value"),
    ],
)
def test_add_order_with_invalid_input_shows_the_error(
    app: Flask, demo: None, admin_web: WebClient, change: dict[str, str], field: str, message: str
) -> None:
    before = len(orders(app))
    valid = {
        "partner": str(partner_id(app, "Mekong Supplies")),
        "currency": str(currency_id(app, "EUR")),
        "date_order": "2024-05-06",
        "state": "draft",
        "amount_total": "10",
    }
    response = admin_web.submit(f"{ORDERS}/add", {**valid, **change})
    assert response.status_code == 200, "the form comes back instead of a redirect"
    page = page_text(response)
    # The message sits in the row of the field at fault.
    row = re.search(rf'<label for="{field}".*?</tr>', page, re.S)
    assert row and message in row.group(0), f"no {message!r} next to {field}"
    assert len(orders(app)) == before


def test_edit_order_through_the_form(app: Flask, demo: None, admin_web: WebClient) -> None:
    target = orders(app)[0]
    gbp = currency_id(app, "GBP")
    response = edit_through_form(
        admin_web,
        f"{ORDERS}/edit/{target['id']}",
        {"currency": str(gbp), "state": "cancel", "note": "Customer cancelled"},
    )
    assert response.status_code == 302, page_text(response)
    after = order(app, target["id"])
    assert after["currency_id"] == (gbp, "GBP")
    assert after["state"] == "cancel"
    assert after["note"] == "Customer cancelled"
    for name in ("partner_id", "date_order", "amount_total"):
        assert after[name] == target[name]


def test_delete_order_through_the_list(app: Flask, demo: None, admin_web: WebClient) -> None:
    target = orders(app)[0]["id"]
    response = admin_web.submit(f"{ORDERS}/list/", {}, post_url=f"{ORDERS}/delete/{target}")
    assert response.status_code == 302
    assert read_records(app, "sale.order", [("id", "=", target)]) == []
    assert len(orders(app)) == 11


# --------------------------------------------------------- currency screens


def test_currency_list(app: Flask, demo: None, admin_web: WebClient) -> None:
    page = page_text(admin_web.get(f"{CURRENCIES}/list/"))
    codes = re.findall(r"<td>\s*([A-Z]{3})\s*</td>", page)
    # Ordered by code, the model's default order.
    assert codes == ["EUR", "GBP", "JPY", "THB", "USD"]


def test_add_currency_through_the_form(app: Flask, demo: None, admin_web: WebClient) -> None:
    page = admin_web.get(f"{CURRENCIES}/add").get_data(as_text=True)
    assert "ISO 4217 code, e.g. USD" in page, "the field's help is shown"
    response = admin_web.submit(
        f"{CURRENCIES}/add", {"name": "CHF", "symbol": "Fr.", "active": "y"}
    )
    assert response.status_code == 302, page_text(response)
    rows = read_records(app, "res.currency", [("name", "=", "CHF")], ["symbol", "active"])
    assert [(r["symbol"], r["active"]) for r in rows] == [("Fr.", True)]


def test_add_duplicate_currency_code_shows_the_error(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    response = admin_web.submit(f"{CURRENCIES}/add", {"name": "EUR", "symbol": "E", "active": "y"})
    assert response.status_code == 200
    row = re.search(r'<label for="name".*?</tr>', page_text(response), re.S)
    assert row and "Already exists." in row.group(0)
    assert len(read_records(app, "res.currency", [("name", "=", "EUR")])) == 1


def test_add_currency_without_a_code_shows_the_error(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    response = admin_web.submit(f"{CURRENCIES}/add", {"name": "", "symbol": "?"})
    assert response.status_code == 200
    row = re.search(r'<label for="name".*?</tr>', page_text(response), re.S)
    assert row and "This field is required." in row.group(0)
    assert len(read_records(app, "res.currency")) == 5


def test_edit_currency_keeps_its_own_code(app: Flask, demo: None, admin_web: WebClient) -> None:
    thb = currency_id(app, "THB")
    # The unique check must not count the currency itself.
    response = edit_through_form(admin_web, f"{CURRENCIES}/edit/{thb}", {"symbol": "THB"})
    assert response.status_code == 302, page_text(response)
    (row,) = read_records(app, "res.currency", [("id", "=", thb)], ["name", "symbol", "active"])
    assert (row["name"], row["symbol"], row["active"]) == ("THB", "THB", True)


def test_archive_currency_by_unticking_active(app: Flask, demo: None, admin_web: WebClient) -> None:
    usd = currency_id(app, "USD")
    response = edit_through_form(admin_web, f"{CURRENCIES}/edit/{usd}", {"active": None})
    assert response.status_code == 302, page_text(response)
    assert read_records(app, "res.currency", [("id", "=", usd)], ["active"])[0]["active"] is False


def test_edit_currency_to_a_taken_code_is_refused(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    usd = currency_id(app, "USD")
    response = edit_through_form(admin_web, f"{CURRENCIES}/edit/{usd}", {"name": "EUR"})
    assert response.status_code == 200
    assert "Already exists." in page_text(response)
    assert read_records(app, "res.currency", [("id", "=", usd)], ["name"])[0]["name"] == "USD"


def test_delete_unused_currency(app: Flask, demo: None, admin_web: WebClient) -> None:
    chf = create_record(app, "res.currency", {"name": "CHF", "symbol": "Fr."})
    response = admin_web.submit(
        f"{CURRENCIES}/list/", {}, post_url=f"{CURRENCIES}/delete/{chf}", follow_redirects=True
    )
    assert response.status_code == 200
    assert "Currency “CHF” was deleted." in page_text(response)  # not FAB's "Deleted Row"
    assert read_records(app, "res.currency", [("id", "=", chf)]) == []


@pytest.mark.parametrize(
    ("view", "model", "name", "message"),
    [
        (CURRENCIES, "res.currency", "THB", "Currency THB cannot be deleted"),
        (
            "/respartnerview",
            "res.partner",
            "Siam Trading Co., Ltd.",
            "Contact Siam Trading Co., Ltd. cannot be deleted",
        ),
    ],
)
def test_delete_of_a_record_orders_use_is_refused_with_a_message(
    app: Flask, demo: None, admin_web: WebClient, view: str, model: str, name: str, message: str
) -> None:
    (row,) = read_records(app, model, [("name", "=", name)], ["name"])
    response = admin_web.submit(
        f"{view}/list/", {}, post_url=f"{view}/delete/{row['id']}", follow_redirects=True
    )
    page = page_text(response)
    assert f"{message}: other records still refer to it." in page
    assert "FOREIGN KEY" not in page.upper() and "DELETE FROM" not in page.upper()
    assert read_records(app, model, [("id", "=", row["id"])], ["name"]) == [row]


# ------------------------------------------------------------- orders: API


def test_api_list_orders(app: Flask, api: ApiClient) -> None:
    response = api.get(ORDER_API)
    assert response.status_code == 200
    body = response.get_json()
    all_orders = orders(app)
    assert body["count"] == len(all_orders)
    first = body["result"][0]
    newest = max(all_orders, key=lambda o: o["id"])
    assert first == {
        "id": newest["id"],
        "name": number(newest["id"]),
        "partner_id": newest["partner_id"][0],
        "partner": {"name": newest["partner_id"][1]},
        "currency_id": newest["currency_id"][0],
        "currency": {"name": newest["currency_id"][1]},
        "date_order": newest["date_order"].isoformat(),
        "state": newest["state"],
        "amount_total": float(newest["amount_total"]),  # a JSON number, as the spec says
        "note": None,
    }
    assert body["label_columns"]["currency_id"] == "Currency"


def test_api_list_orders_with_rison_filters(app: Flask, api: ApiClient) -> None:
    thb = currency_id(app, "THB")
    q = rison(
        filters=[
            {"col": "currency_id", "opr": "eq", "value": thb},
            {"col": "state", "opr": "eq", "value": "sale"},
        ],
        order_column="amount_total",
        order_direction="asc",
    )
    body = api.get(ORDER_API + q).get_json()
    expected = [o for o in orders(app) if o["currency_id"][0] == thb and o["state"] == "sale"]
    assert body["count"] == len(expected) == 3
    assert body["ids"] == [o["id"] for o in sorted(expected, key=lambda o: o["amount_total"])]
    assert {r["currency"]["name"] for r in body["result"]} == {"THB"}

    usd = currency_id(app, "USD")
    q = rison(filters=[{"col": "currency_id", "opr": "eq", "value": usd}])
    assert api.get(ORDER_API + q).get_json()["count"] == 0


def test_api_list_refuses_an_unknown_filter_column(api: ApiClient) -> None:
    q = rison(filters=[{"col": "secret", "opr": "eq", "value": 1}])
    response = api.get(ORDER_API + q)
    assert response.status_code == 400
    assert response.get_json()["message"]


@pytest.mark.parametrize(
    ("col", "opr", "value"),
    [
        ("currency_id", "eq", "THB"),
        ("amount_total", "gt", "lots"),
        ("date_order", "gt", "yesterday"),
        # Beyond PostgreSQL's integer range.
        ("currency_id", "eq", 2**31),
    ],
)
def test_api_list_refuses_a_filter_value_of_the_wrong_type(
    api: ApiClient, col: str, opr: str, value: object
) -> None:
    # PostgreSQL would refuse the comparison (a 500); SQLite would match nothing.
    response = api.get(ORDER_API + rison(filters=[{"col": col, "opr": opr, "value": value}]))
    assert response.status_code == 400
    assert response.get_json() == {"message": f"Filter value {value!r} does not suit column {col}."}


def test_api_list_refuses_unbalanced_rison(api: ApiClient) -> None:
    # prison recurses without end on this; FAB alone would answer a 500.
    response = api.get(ORDER_API + "?q=(((")
    assert response.status_code == 400
    assert response.get_json() == {"message": "Not a valid rison argument"}


def test_api_get_order(app: Flask, api: ApiClient) -> None:
    target = orders(app)[3]
    body = api.get(f"{ORDER_API}{target['id']}").get_json()
    assert body["result"]["name"] == number(target["id"])
    assert body["result"]["currency_id"] == target["currency_id"][0]
    assert body["result"]["partner"] == {"name": target["partner_id"][1]}
    assert api.get(f"{ORDER_API}999999").status_code == 404


def test_api_post_order_with_many2one_ids(app: Flask, api: ApiClient) -> None:
    customer, thb = partner_id(app, "Anong Srisuk"), currency_id(app, "THB")
    response = api.post(
        ORDER_API,
        {"partner_id": customer, "currency_id": thb, "amount_total": 1234.5, "note": "API"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["result"]["currency_id"] == thb
    new = order(app, body["id"])
    assert new["partner_id"] == (customer, "Anong Srisuk")
    assert new["currency_id"] == (thb, "THB")
    assert new["amount_total"] == Decimal("1234.50")
    # Defaults from the model.
    assert (new["state"], new["date_order"]) == ("draft", dt.date.today())
    assert api.get(f"{ORDER_API}{body['id']}").get_json()["result"]["name"] == number(body["id"])


def test_api_put_order(app: Flask, api: ApiClient) -> None:
    target = orders(app)[0]
    eur = currency_id(app, "EUR")
    response = api.put(f"{ORDER_API}{target['id']}", {"currency_id": eur, "state": "sent"})
    assert response.status_code == 200, response.get_json()
    after = order(app, target["id"])
    assert (after["currency_id"], after["state"]) == ((eur, "EUR"), "sent")
    assert (after["partner_id"], after["amount_total"]) == (
        target["partner_id"],
        target["amount_total"],
    )


def test_api_delete_order(app: Flask, api: ApiClient) -> None:
    target = orders(app)[0]["id"]
    assert api.delete(f"{ORDER_API}{target}").status_code == 200
    assert read_records(app, "sale.order", [("id", "=", target)]) == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"currency_id": 999999}, "currency_id", "No Currency with id 999999."),
        ({"partner_id": 999999}, "partner_id", "No Contact with id 999999."),
        ({"state": "shipped"}, "state", "Must be one of: draft, sent, sale, cancel."),
        ({"currency_id": "THB"}, "currency_id", "Not a valid integer."),
        ({"amount_total": "lots"}, "amount_total", "Not a valid number."),
        ({"date_order": "06/05/2024"}, "date_order", "Not a valid date."),
        ({"partner_id": None}, "partner_id", "Field may not be null."),
    ],
)
def test_api_post_invalid_order_is_a_422_naming_the_field(
    app: Flask, api: ApiClient, change: dict[str, Any], field: str, message: str
) -> None:
    valid = {"partner_id": partner_id(app, "Anong Srisuk"), "currency_id": currency_id(app, "THB")}
    before = len(orders(app))
    response = api.post(ORDER_API, {**valid, **change})
    assert response.status_code == 422
    assert response.get_json() == {"message": {field: [message]}}
    assert len(orders(app)) == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"currency_id": 2**31},
            "currency_id",
            "Must be greater than or equal to -2147483648 and less than or equal to 2147483647.",
        ),
        (
            {"amount_total": 10**12},
            "amount_total",
            "Must be greater than or equal to -999999999999.99"
            " and less than or equal to 999999999999.99.",
        ),
    ],
)
def test_api_number_the_database_cannot_hold_is_a_422(
    app: Flask, api: ApiClient, change: dict[str, Any], field: str, message: str
) -> None:
    # PostgreSQL would refuse it with an error (a 500 for the currency lookup).
    valid = {"partner_id": partner_id(app, "Anong Srisuk"), "currency_id": currency_id(app, "THB")}
    response = api.post(ORDER_API, {**valid, **change})
    assert response.status_code == 422
    assert response.get_json() == {"message": {field: [message]}}


def test_an_id_no_record_can_have_is_a_404(api: ApiClient, admin_web: WebClient) -> None:
    huge = 2**40
    assert api.get(f"{ORDER_API}{huge}").status_code == 404
    assert api.put(f"{ORDER_API}{huge}", {"state": "sale"}).status_code == 404
    assert api.delete(f"{ORDER_API}{huge}").status_code == 404
    assert admin_web.get(f"{ORDERS}/show/{huge}").status_code == 404
    assert admin_web.get(f"{ORDERS}/show/not-a-number").status_code == 404


def test_api_post_order_without_required_fields(app: Flask, api: ApiClient) -> None:
    response = api.post(ORDER_API, {"amount_total": 5})
    assert response.status_code == 422
    assert response.get_json() == {
        "message": {
            "partner_id": ["Missing data for required field."],
            "currency_id": ["Missing data for required field."],
        }
    }


def test_api_put_unknown_currency_changes_nothing(app: Flask, api: ApiClient) -> None:
    target = orders(app)[0]
    response = api.put(f"{ORDER_API}{target['id']}", {"currency_id": 999999, "state": "sale"})
    assert response.status_code == 422
    assert response.get_json() == {"message": {"currency_id": ["No Currency with id 999999."]}}
    assert order(app, target["id"]) == {k: v for k, v in target.items() if k != "name"}


# --------------------------------------------------------- currencies: API


def test_api_currency_crud(app: Flask, api: ApiClient) -> None:
    response = api.post(CURRENCY_API, {"name": "CHF", "symbol": "Fr."})
    assert response.status_code == 201, response.get_json()
    chf = response.get_json()["id"]
    assert read_records(app, "res.currency", [("id", "=", chf)], ["name", "active"]) == [
        {"id": chf, "name": "CHF", "active": True}
    ]
    # PUT with the currency's own code is no duplicate.
    response = api.put(f"{CURRENCY_API}{chf}", {"name": "CHF", "symbol": "CHF"})
    assert response.status_code == 200, response.get_json()
    assert api.get(f"{CURRENCY_API}{chf}").get_json()["result"] == {
        "id": chf,
        "name": "CHF",
        "symbol": "CHF",
        "active": True,
    }
    assert api.delete(f"{CURRENCY_API}{chf}").status_code == 200
    assert read_records(app, "res.currency", [("id", "=", chf)]) == []


def test_api_filter_currencies(api: ApiClient) -> None:
    q = rison(filters=[{"col": "name", "opr": "eq", "value": "EUR"}])
    body = api.get(CURRENCY_API + q).get_json()
    assert [(r["name"], r["symbol"]) for r in body["result"]] == [("EUR", "€")]


@pytest.mark.parametrize("method", ["post", "put"])
def test_api_duplicate_currency_code_is_a_422(app: Flask, api: ApiClient, method: str) -> None:
    if method == "post":
        response = api.post(CURRENCY_API, {"name": "EUR", "symbol": "E"})
    else:
        response = api.put(f"{CURRENCY_API}{currency_id(app, 'USD')}", {"name": "EUR"})
    assert response.status_code == 422
    assert response.get_json() == {"message": {"name": ["Another Currency already has 'EUR'."]}}
    assert len(read_records(app, "res.currency", [("name", "=", "EUR")])) == 1
    assert len(read_records(app, "res.currency", [("name", "=", "USD")])) == 1


def test_api_currency_missing_code_is_a_422(api: ApiClient) -> None:
    response = api.post(CURRENCY_API, {"symbol": "?"})
    assert response.status_code == 422
    assert response.get_json() == {"message": {"name": ["Missing data for required field."]}}


def test_api_delete_currency_orders_use_is_a_409_without_sql(app: Flask, api: ApiClient) -> None:
    thb = currency_id(app, "THB")
    response = api.delete(f"{CURRENCY_API}{thb}")
    # A conflict with the database's state, in the API's one error shape, as the spec says.
    assert response.status_code == 409
    assert response.get_json() == {
        "message": "Currency THB cannot be deleted: other records still refer to it."
    }
    assert len(read_records(app, "res.currency", [("id", "=", thb)])) == 1
    spec = api.get("/api/v1/_openapi").get_json()
    refused = spec["paths"]["/api/v1/res_currency/{pk}"]["delete"]["responses"]["409"]
    assert refused == {"$ref": "#/components/responses/409"}
    shape = spec["components"]["responses"]["409"]["content"]["application/json"]["schema"]
    assert shape["required"] == ["message"] and shape["properties"]["message"]["type"] == "string"
