"""An action type from a third-party distribution, installed as an addon author would install it.

``tests/fixtures/nightpos-example-action`` is a distribution of its own (its ``pyproject.toml``
declares the ``nightpos.addons`` entry point); ``make test`` installs it into the test
environment. The session app keeps the default addons, so for it the example addon is
installed but disabled; ``example_app`` enables it over the same database, as a second server
with another ``NIGHTPOS_ADDONS`` would. Everything goes through HTTP: the action form, the REST
API, the webhook URL.

The example is the one docs/action-types.md walks through: the last test checks that the docs
show the fixture's files as they are.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.rules.state import get_webhooks
from nightpos_app import create_app
from nightpos_app.addons import ENTRY_POINT_GROUP, discover
from nightpos_app.extensions import db
from nightpos_app.state import get_state
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import location, options
from tests.support.web import (
    ADMIN,
    ApiClient,
    WebClient,
    api_client,
    form_values,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

PROJECT_DIR = Path(__file__).resolve().parents[3]
DISTRIBUTION_DIR = PROJECT_DIR / "tests" / "fixtures" / "nightpos-example-action"
PACKAGE_DIR = DISTRIBUTION_DIR / "nightpos_example_action"
DOCS = PROJECT_DIR / "docs" / "action-types.md"

ADDON = "example_action"
KEY = "fill_template"
LABEL = "Fill From Template"
ACTIONS = "/api/v1/ir_actions_server/"
ORDER_7 = {"_model": "sale.order", "_id": 7}
NOT_PROVIDED = (
    "The action 'Shipping note' is of type 'fill_template', which no enabled addon provides: "
    "enable the addon that provides it, or change the action."
)


@pytest.fixture(scope="module")
def example_app(app: Flask) -> Iterator[Flask]:
    """The session app's configuration and database, with the example addon enabled too."""
    config = {key: value for key, value in app.config.items() if key != "SERVER_NAME"}
    assert ADDON not in config["NIGHTPOS_ADDONS"], "the default addons leave it out"
    assert ADDON not in (config.get("NIGHTPOS_ADDON_MODULES") or {}), "found by its entry point"
    config["NIGHTPOS_ADDONS"] = [*config["NIGHTPOS_ADDONS"], ADDON]
    other = create_app(config)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def example_web(example_app: Flask) -> WebClient:
    web = WebClient(example_app.test_client())
    web.login(ADMIN)
    return web


@pytest.fixture
def example_api(example_app: Flask) -> ApiClient:
    return api_client(example_app.test_client(), ADMIN)


def default_keys(app: Flask) -> list[str]:
    """The action types of the default addons (the built-in ones), in their order."""
    return [t.key for t in get_webhooks(app).action_types]


def add_url(rule: dict[str, Any]) -> str:
    return f"/serveractionview/add?rule_id={rule['id']}"


def post_action(web: WebClient, url: str, values: dict[str, Any]):
    """Open the action form, keep what it shows, set ``values`` and post it."""
    page = web.get(url)
    assert page.status_code == 200, url
    data = {**form_values(page.get_data(as_text=True)), **values}
    return web.client.post(url, data={k: v for k, v in data.items() if v is not None})


def error_of(page: str, setting: str) -> str:
    found = re.search(
        rf'class="alert alert-danger webhook-error" data-setting="{setting}">(.*?)</div>\s*</div>',
        page,
        re.S,
    )
    assert found, f"no error shown for {setting}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def api_type_keys(api: ApiClient) -> list[str]:
    """The action types the REST API lists (``GET …/action_types``)."""
    response = api.get(f"{ACTIONS}action_types")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [t["key"] for t in response.get_json()["result"]]


def note_of_order_7(app: Flask) -> str | None:
    return read(app, "sale.order", [("id", "=", 7)], ["note"])[0]["note"]


def shipping_note(**settings: Any) -> dict[str, Any]:
    template = "Shipped with $carrier, tracking $tracking."
    return {
        "name": "Shipping note",
        "action_type": KEY,
        "settings": {"field": "note", "template": template, **settings},
    }


def calls(app: Flask, rule_id: int) -> list[dict[str, Any]]:
    return read(
        app,
        "base.automation.call",
        [("rule_id", "=", rule_id)],
        ["status", "http_status", "error_message"],
    )


# ------------------------------------------------------------------ discovery


def test_the_type_comes_from_the_installed_distributions_entry_point(
    app: Flask, example_app: Flask
) -> None:
    try:
        distribution = importlib.metadata.distribution("nightpos-example-action")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("run `make test-venv`: it installs tests/fixtures/nightpos-example-action")
    (entry_point,) = [e for e in distribution.entry_points if e.group == ENTRY_POINT_GROUP]
    assert (entry_point.name, entry_point.value) == (ADDON, "nightpos_example_action")
    assert discover()[ADDON] == "nightpos_example_action"

    # The enabled addon is the installed package, loaded after the addon it depends on.
    addons = [addon.name for addon in get_state(example_app).addons]
    assert addons.index("webhooks") < addons.index(ADDON)
    (addon,) = [a for a in get_state(example_app).addons if a.name == ADDON]
    assert Path(addon.module.__file__).read_text() == (PACKAGE_DIR / "__init__.py").read_text()

    example_types = get_webhooks(example_app).action_types
    assert [t.key for t in example_types] == [*default_keys(app), KEY], "after the built-ins"
    assert type(example_types[KEY]).__module__ == "nightpos_example_action.fill_template"
    # Installed is not enabled: the session app has the default addons only.
    assert ADDON not in [a.name for a in get_state(app).addons]
    assert KEY not in get_webhooks(app).action_types


# ------------------------------------------------------- listed, with its form


def test_it_is_listed_on_the_screens_and_the_api_with_a_form_from_its_schema(
    app: Flask, example_web: WebClient, example_api: ApiClient, make_rule
) -> None:
    rule = make_rule("sale.order")
    page = example_web.get(add_url(rule)).get_data(as_text=True)

    listed = options(page, "action_type")
    assert (KEY, LABEL) in listed
    assert [key for key, _ in listed] == [*default_keys(app), KEY]
    assert KEY in api_type_keys(example_api)

    # Its section of the form, built from the schema's widget metadata.
    text = page_text(example_web.get(add_url(rule)))
    assert f'data-action-type="{KEY}"' in page
    assert "Action details: Fill From Template" in text
    assert ("note", "Terms and Conditions") in options(page, f"{KEY}-field")
    assert re.search(rf'<textarea class="form-control" name="{KEY}-template"', page)
    assert re.search(rf'<input class="form-control" type="text" name="{KEY}-missing"', page)
    assert "Text for a missing value" in text
    assert "$name is replaced by the payload's value for name; $$ is a $." in text


# ------------------------------------------------------- validated on save


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("field", "nope", "sale.order has no writable text field 'nope'."),
        ("field", "amount_total", "sale.order has no writable text field 'amount_total'."),
        (
            "template",
            "Paid $5 with $carrier",
            "Invalid placeholder at line 1, col 6: write $name or ${name}, "
            "and $$ for a dollar sign.",
        ),
    ],
)
def test_its_settings_are_validated_on_save(
    app: Flask,
    example_web: WebClient,
    example_api: ApiClient,
    make_rule,
    setting: str,
    value: str,
    message: str,
) -> None:
    rule = make_rule("sale.order")
    settings = {"field": "note", "template": "Shipped with $carrier", setting: value}

    refused = post_action(
        example_web,
        add_url(rule),
        {"name": "Shipping note", "action_type": KEY}
        | {f"{KEY}-{key}": text for key, text in settings.items()},
    )
    assert refused.status_code == 200
    assert error_of(page_text(refused), setting) == message

    response = example_api.post(
        ACTIONS,
        {"rule_id": rule["id"], "name": "Shipping note", "action_type": KEY, "settings": settings},
    )
    assert response.status_code == 422
    assert response.get_json() == {"message": {"settings": {setting: [message]}}}
    assert read(app, "ir.actions.server", [("rule_id", "=", rule["id"])], ["name"]) == []


# ------------------------------------------------------------------- it runs


def test_it_runs_through_a_webhook_call_like_the_built_in_ones(
    app: Flask, example_app: Flask, example_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order")
    saved = post_action(
        example_web,
        add_url(rule),
        {
            "name": "Shipping note",
            "action_type": KEY,
            f"{KEY}-field": "note",
            f"{KEY}-template": "Shipped with ${carrier}: $tracking ($$0 fee)",
        },
    )
    assert location(saved) == f"/webhookview/show/{rule['id']}"
    (action,) = read(app, "ir.actions.server", [("rule_id", "=", rule["id"])], ["settings"])
    assert action["settings"] == {
        "field": "note",
        "template": "Shipped with ${carrier}: $tracking ($$0 fee)",
    }
    rule_page = page_text(example_web.get(f"/webhookview/show/{rule['id']}"))
    assert LABEL in rule_page
    assert "Shipped with ${carrier}: $tracking ($$0 fee)" in rule_page

    caller = example_app.test_client()
    payload = {**ORDER_7, "carrier": "ไปรษณีย์ไทย", "tracking": 12345}
    response = caller.post(rule["path"], json=payload)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert note_of_order_7(app) == "Shipped with ไปรษณีย์ไทย: 12345 ($0 fee)"


def test_a_text_for_missing_values(
    app: Flask, example_app: Flask, example_api: ApiClient, make_rule
) -> None:
    rule = make_rule("sale.order")
    created = example_api.post(ACTIONS, {"rule_id": rule["id"], **shipping_note(missing="?")})
    assert created.status_code == 201, created.get_json()

    response = example_app.test_client().post(rule["path"], json={**ORDER_7, "carrier": "DHL"})
    assert response.status_code == 200, response.get_json()
    assert note_of_order_7(app) == "Shipped with DHL, tracking ?."


def test_its_errors_are_reported_like_the_built_in_ones(
    app: Flask, example_app: Flask, example_api: ApiClient, make_rule
) -> None:
    before = note_of_order_7(app)
    rule = make_rule("sale.order", log_calls=True)
    created = example_api.post(ACTIONS, {"rule_id": rule["id"], **shipping_note()})
    assert created.status_code == 201, created.get_json()
    caller = example_app.test_client()

    response = caller.post(rule["path"], json={**ORDER_7, "carrier": "DHL"})
    # Its message, after the step that failed (engine/steps.py), as for a built-in type.
    missing = (
        "Action 1 'Shipping note': The action 'Shipping note' needs 'tracking' in the payload."
    )
    assert (response.status_code, response.get_json()) == (
        500,
        {"status": "error", "message": missing},
    )
    assert note_of_order_7(app) == before, "the failed call changed nothing"

    # A built-in type's error, for comparison: the same answer and the same log row.
    builtin = make_rule(
        "sale.order",
        log_calls=True,
        actions=[
            {
                "name": "Refuse",
                "action_type": "execute_code",
                "settings": {"code": "raise UserError('No shipping today.')"},
            }
        ],
    )
    refused = caller.post(builtin["path"], json=ORDER_7)
    assert (refused.status_code, refused.get_json()) == (
        500,
        {"status": "error", "message": "Action 1 'Refuse': No shipping today."},
    )
    refusal = "Action 1 'Refuse': No shipping today."
    for rule_id, message in ((rule["id"], missing), (builtin["id"], refusal)):
        assert [
            (c["status"], c["http_status"], c["error_message"]) for c in calls(app, rule_id)
        ] == [("error", 500, message)]

    # The record API refuses what does not suit the field, with its own message.
    too_long = "x" * 257
    partner_rule = make_rule("res.partner", target_record="model.browse([2])", log_calls=True)
    created = example_api.post(
        ACTIONS,
        {
            "rule_id": partner_rule["id"],
            "name": "Rename",
            "action_type": KEY,
            "settings": {"field": "name", "template": "$name"},
        },
    )
    assert created.status_code == 201, created.get_json()
    response = caller.post(partner_rule["path"], json={"name": too_long})
    assert (response.status_code, response.get_json()) == (
        500,
        {
            "status": "error",
            "message": (
                "Action 1 'Rename': res.partner.name (Name): text longer than 256 characters"
            ),
        },
    )


def test_it_bounds_the_text_it_writes(
    app: Flask, example_app: Flask, example_api: ApiClient, make_rule
) -> None:
    """A short template may repeat a large payload value: the text is measured first."""
    rule = make_rule("sale.order")
    action = {"name": "Repeat", "action_type": KEY}
    action["settings"] = {"field": "note", "template": "$big " * 5}
    created = example_api.post(ACTIONS, {"rule_id": rule["id"], **action})
    assert created.status_code == 201, created.get_json()

    caller = example_app.test_client()
    response = caller.post(rule["path"], json={**ORDER_7, "big": "x" * 1999})
    assert response.status_code == 200, response.get_json()
    assert len(note_of_order_7(app)) == 5 * 2000
    response = caller.post(rule["path"], json={**ORDER_7, "big": "x" * 2000})
    assert (response.status_code, response.get_json()) == (
        500,
        {
            "status": "error",
            "message": "Action 1 'Repeat': The action 'Repeat' would write over 10000 characters.",
        },
    )


# ------------------------------------------------------- its addon disabled


def test_with_its_addon_disabled_the_type_is_gone_and_its_actions_fail_clearly(
    app: Flask, example_app: Flask, example_api: ApiClient, admin_web: WebClient, make_rule
) -> None:
    rule = make_rule("sale.order", log_calls=True)
    created = example_api.post(ACTIONS, {"rule_id": rule["id"], **shipping_note()})
    assert created.status_code == 201, created.get_json()
    action_id = created.get_json()["id"]
    payload = {**ORDER_7, "carrier": "DHL", "tracking": "T1"}

    # The session app: same database, default addons (the example one is not enabled).
    page = admin_web.get(add_url(rule)).get_data(as_text=True)
    assert KEY not in [key for key, _ in options(page, "action_type")]
    assert f'data-action-type="{KEY}"' not in page
    api = api_client(app.test_client(), ADMIN)
    assert api_type_keys(api) == default_keys(app)
    refused = api.post(ACTIONS, {"rule_id": rule["id"], **shipping_note()})
    assert refused.status_code == 422
    assert "Unknown action type 'fill_template'" in refused.get_json()["message"]["action_type"][0]

    before = note_of_order_7(app)
    response = app.test_client().post(rule["path"], json=payload)
    assert (response.status_code, response.get_json()) == (
        500,
        {"status": "error", "message": f"Action 1 'Shipping note': {NOT_PROVIDED}"},
    )
    assert note_of_order_7(app) == before
    assert [(c["status"], c["error_message"]) for c in calls(app, rule["id"])] == [
        ("error", f"Action 1 'Shipping note': {NOT_PROVIDED}")
    ]

    # The screens still open, naming the type by its key.
    for url in (
        f"/webhookview/show/{rule['id']}",
        f"/serveractionview/show/{action_id}",
        f"/serveractionview/edit/{action_id}",
    ):
        shown = admin_web.get(url)
        assert shown.status_code == 200, url
        assert "Shipping note" in page_text(shown), url
        assert KEY in page_text(shown), url
    # Its edit form says why the type is not in the list.
    assert NOT_PROVIDED in page_text(shown)

    # Enabled again, the same action runs.
    response = example_app.test_client().post(rule["path"], json=payload)
    assert response.status_code == 200, response.get_json()
    assert note_of_order_7(app) == "Shipped with DHL, tracking T1."


# ---------------------------------------------------------------- the docs


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", markdown, re.M | re.S)


@pytest.mark.parametrize(
    "path",
    [
        DISTRIBUTION_DIR / "pyproject.toml",
        PACKAGE_DIR / "__init__.py",
        PACKAGE_DIR / "fill_template.py",
    ],
    ids=lambda path: path.name,
)
def test_the_docs_example_is_the_one_these_tests_run(path: Path) -> None:
    assert path.read_text() in code_blocks(DOCS.read_text()), (
        f"docs/action-types.md must show {path.relative_to(PROJECT_DIR)} as it is"
    )
