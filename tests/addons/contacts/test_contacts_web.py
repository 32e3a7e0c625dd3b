"""Contacts (``res.partner``) through the real app over HTTP: screens and REST resource.

Screens are driven as a browser drives them (log in, open the form, post it
with the page's CSRF token); the REST resource with a JWT from FAB's login
endpoint. Every change is checked in the database through the record API.
"""

from __future__ import annotations

import re

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

LIST = "/respartnerview/list/"
ADD = "/respartnerview/add"
API = "/api/v1/res_partner/"

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

FIELDS = [
    "name",
    "email",
    "phone",
    "company_type",
    "customer_rank",
    "supplier_rank",
    "active",
]


def partner_id(app: Flask, name: str) -> int:
    (row,) = read_records(app, "res.partner", [("name", "=", name)], ["name"])
    return int(row["id"])


@pytest.fixture
def api(app: Flask, demo: None) -> ApiClient:
    return api_client(app.test_client(), ADMIN)


# ------------------------------------------------------------------ screens


def test_contacts_menu_on_the_home_page(admin_web: WebClient) -> None:
    page = page_text(admin_web.get("/"))
    # The Contacts category, holding the Contacts list.
    assert re.search(r">\s*Contacts<b class=\"caret\"></b>", page)
    assert 'href="/respartnerview/list/"' in page


def test_list_shows_every_contact(app: Flask, demo: None, admin_web: WebClient) -> None:
    response = admin_web.get(LIST)
    assert response.status_code == 200
    page = page_text(response)
    names = [row["name"] for row in read_records(app, "res.partner", fields=["name"])]
    assert len(names) == 6
    for name in names:
        assert name in page
    assert "Record Count:</strong> 6" in page


def test_show_page(app: Flask, demo: None, admin_web: WebClient) -> None:
    pid = partner_id(app, "Siam Trading Co., Ltd.")
    response = admin_web.get(f"/respartnerview/show/{pid}")
    assert response.status_code == 200
    page = page_text(response)
    assert "orders@siamtrading.example" in page
    assert "+66 2 123 4567" in page
    # The selection's label, not its stored value.
    assert re.search(r"Company Type</th>\s*<td>\s*<span[^>]*>Company</span>", page)


def test_add_form_offers_company_type_as_a_select(demo: None, admin_web: WebClient) -> None:
    page = admin_web.get(ADD).get_data(as_text=True)
    select = re.search(r'<select[^>]*name="company_type"[^>]*>(.*?)</select>', page, re.S)
    assert select, "company_type is not a <select>"
    options = re.findall(r'<option([^>]*)value="(\w+)">([^<]+)</option>', select.group(1))
    assert [(value, label) for _attrs, value, label in options] == [
        ("person", "Individual"),
        ("company", "Company"),
    ]
    assert "selected" in options[0][0], "a new contact is a person by default"


def test_add_contact_through_the_form(app: Flask, demo: None, admin_web: WebClient) -> None:
    response = admin_web.submit(
        ADD,
        {
            "name": "Nok Catering",
            "email": "hello@nok.example",
            "phone": "+66 2 000 1111",
            "company_type": "company",
            "customer_rank": "4",
            "supplier_rank": "1",
            "active": "y",
        },
    )
    assert response.status_code == 302, page_text(response)
    rows = read_records(app, "res.partner", [("name", "=", "Nok Catering")], FIELDS)
    assert len(rows) == 1
    row = rows[0]
    assert row["email"] == "hello@nok.example"
    assert row["phone"] == "+66 2 000 1111"
    assert row["company_type"] == "company"
    assert (row["customer_rank"], row["supplier_rank"], row["active"]) == (4, 1, True)


def test_add_without_a_name_shows_the_error_and_saves_nothing(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    before = len(read_records(app, "res.partner", fields=["name"]))
    response = admin_web.submit(
        ADD,
        {"name": "", "email": "nameless@example.com", "company_type": "person"},
    )
    assert response.status_code == 200, "the form comes back instead of a redirect"
    page = page_text(response)
    assert re.search(r'for="name".*?This field is required\.', page, re.S)
    # The form keeps what the user typed.
    assert form_values(page)["email"] == "nameless@example.com"
    assert len(read_records(app, "res.partner", fields=["name"])) == before


def test_add_with_an_unknown_company_type_is_refused(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    response = admin_web.submit(ADD, {"name": "Alien Corp", "company_type": "alien"})
    assert response.status_code == 200
    assert "Not a valid choice" in page_text(response)
    assert read_records(app, "res.partner", [("name", "=", "Alien Corp")]) == []


def test_add_with_a_rank_the_database_cannot_hold_is_refused(
    app: Flask, demo: None, admin_web: WebClient
) -> None:
    response = admin_web.submit(
        ADD,
        {"name": "Huge Rank", "company_type": "person", "customer_rank": str(2**31)},
    )
    assert response.status_code == 200
    row = re.search(r'<label for="customer_rank".*?</tr>', page_text(response), re.S)
    assert row and "Number must be between -2147483648 and 2147483647." in row.group(0)
    assert read_records(app, "res.partner", [("name", "=", "Huge Rank")]) == []


def test_edit_contact_through_the_form(app: Flask, demo: None, admin_web: WebClient) -> None:
    pid = partner_id(app, "Anong Srisuk")
    before = read_records(app, "res.partner", [("id", "=", pid)], FIELDS)[0]
    response = edit_through_form(
        admin_web,
        f"/respartnerview/edit/{pid}",
        {"phone": "+66 81 999 0000", "supplier_rank": "5", "active": None},
    )
    assert response.status_code == 302, page_text(response)
    after = read_records(app, "res.partner", [("id", "=", pid)], FIELDS)[0]
    assert after["phone"] == "+66 81 999 0000"
    assert after["supplier_rank"] == 5
    assert after["active"] is False
    # What the form showed and the user left alone is unchanged.
    for name in ("name", "email", "company_type", "customer_rank"):
        assert after[name] == before[name]


def test_edit_to_an_empty_name_is_refused(app: Flask, demo: None, admin_web: WebClient) -> None:
    pid = partner_id(app, "Anong Srisuk")
    response = edit_through_form(admin_web, f"/respartnerview/edit/{pid}", {"name": ""})
    assert response.status_code == 200
    assert "This field is required." in page_text(response)
    assert read_records(app, "res.partner", [("id", "=", pid)], ["name"])[0]["name"] == (
        "Anong Srisuk"
    )


def test_delete_contact_through_the_list(app: Flask, demo: None, admin_web: WebClient) -> None:
    pid = create_record(app, "res.partner", {"name": "Short-lived Ltd."})
    # The list page's hidden delete form carries the CSRF token, as in a browser.
    response = admin_web.submit(LIST, {}, post_url=f"/respartnerview/delete/{pid}")
    assert response.status_code == 302
    assert read_records(app, "res.partner", [("id", "=", pid)]) == []
    # The flash names what was deleted (issue 13: not FAB's "Deleted Row").
    assert "Contact “Short-lived Ltd.” was deleted." in page_text(admin_web.get(LIST))


# ----------------------------------------------------------------- REST API


def test_api_list_with_a_rison_filter(app: Flask, api: ApiClient) -> None:
    q = prison.dumps({"filters": [{"col": "company_type", "opr": "eq", "value": "company"}]})
    response = api.get(f"{API}?q={q}")
    assert response.status_code == 200
    body = response.get_json()
    companies = read_records(app, "res.partner", [("company_type", "=", "company")], ["name"])
    assert body["count"] == len(companies) == 3
    assert sorted(r["name"] for r in body["result"]) == sorted(c["name"] for c in companies)
    assert body["list_columns"] == ["id", *FIELDS]

    q = prison.dumps({"filters": [{"col": "name", "opr": "ct", "value": "Siam"}]})
    body = api.get(f"{API}?q={q}").get_json()
    assert [r["name"] for r in body["result"]] == ["Siam Trading Co., Ltd."]


def test_api_list_is_ordered_by_name(app: Flask, api: ApiClient) -> None:
    names = [r["name"] for r in api.get(API).get_json()["result"]]
    assert names == sorted(names)


def test_api_get(app: Flask, api: ApiClient) -> None:
    pid = partner_id(app, "Claire Dubois")
    response = api.get(f"{API}{pid}")
    assert response.status_code == 200
    assert response.get_json()["result"] == {
        "id": pid,
        "name": "Claire Dubois",
        "email": "claire.dubois@example.fr",
        "phone": "+33 1 23 45 67 89",
        "company_type": "person",
        "customer_rank": 1,
        "supplier_rank": 0,
        "active": True,
    }
    assert api.get(f"{API}999999").status_code == 404


def test_api_post(app: Flask, api: ApiClient) -> None:
    response = api.post(API, {"name": "API Partner", "email": "api@example.com"})
    assert response.status_code == 201, response.get_json()
    new_id = response.get_json()["id"]
    (row,) = read_records(app, "res.partner", [("id", "=", new_id)], FIELDS)
    assert row["name"] == "API Partner"
    assert row["email"] == "api@example.com"
    # Defaults from the model.
    assert (row["company_type"], row["customer_rank"], row["active"]) == ("person", 0, True)


def test_api_put_changes_only_what_is_sent(app: Flask, api: ApiClient) -> None:
    pid = partner_id(app, "Mekong Supplies")
    response = api.put(f"{API}{pid}", {"phone": "+66 2 555 0199", "supplier_rank": 7})
    assert response.status_code == 200, response.get_json()
    (row,) = read_records(app, "res.partner", [("id", "=", pid)], FIELDS)
    assert (row["phone"], row["supplier_rank"]) == ("+66 2 555 0199", 7)
    assert (row["name"], row["email"]) == ("Mekong Supplies", "sales@mekong.example")


def test_api_delete(app: Flask, api: ApiClient) -> None:
    pid = create_record(app, "res.partner", {"name": "Delete Me"})
    response = api.delete(f"{API}{pid}")
    assert response.status_code == 200
    assert read_records(app, "res.partner", [("id", "=", pid)]) == []
    assert api.delete(f"{API}{pid}").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"email": "x@example.com"}, "name", "Missing data for required field."),
        (
            {"name": "X", "company_type": "alien"},
            "company_type",
            "Must be one of: person, company.",
        ),
        ({"name": "X", "customer_rank": "lots"}, "customer_rank", "Not a valid integer."),
        ({"name": "X", "active": "maybe"}, "active", "Not a valid boolean."),
        ({"name": "X", "colour": "red"}, "colour", "Unknown field."),
    ],
)
def test_api_post_invalid_input_is_a_422_naming_the_field(
    app: Flask, api: ApiClient, payload: dict[str, object], field: str, message: str
) -> None:
    before = len(read_records(app, "res.partner", fields=["name"]))
    response = api.post(API, payload)
    assert response.status_code == 422
    assert response.get_json() == {"message": {field: [message]}}
    assert len(read_records(app, "res.partner", fields=["name"])) == before


def test_api_put_invalid_input_changes_nothing(app: Flask, api: ApiClient) -> None:
    pid = partner_id(app, "Mekong Supplies")
    response = api.put(f"{API}{pid}", {"phone": "000", "company_type": "alien"})
    assert response.status_code == 422
    assert "company_type" in response.get_json()["message"]
    assert read_records(app, "res.partner", [("id", "=", pid)], ["phone"])[0]["phone"] == (
        "+66 2 555 0101"
    )


def test_api_body_that_is_not_json_is_a_400(api: ApiClient) -> None:
    response = api.client.post(API, headers=api.headers, data="name=X")
    assert response.status_code == 400
    assert response.get_json() == {"message": "Request is not JSON"}
