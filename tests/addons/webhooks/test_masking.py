"""Secret-looking payload keys are masked in the call log (and only there)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.masking import DEFAULT_MASKED_KEYS, MASK, mask_payload
from tests.addons.webhooks.conftest import read
from tests.support.web import one_context_per_request

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request


@pytest.mark.parametrize(
    "key", ["password", "token", "secret", "authorization", "PASSWORD", "Authorization"]
)
def test_each_default_word_is_masked_in_any_case(key: str) -> None:
    assert mask_payload({key: "hunter2", "name": "Ann"}) == {key: MASK, "name": "Ann"}


@pytest.mark.parametrize("key", ["api_token", "X-Api-Token", "client_secret_v2", "user_Password"])
def test_words_match_as_substrings_of_keys(key: str) -> None:
    assert mask_payload({key: "s3cr3t"}) == {key: MASK}


def test_nested_dicts_and_lists_are_masked() -> None:
    payload = {
        "_model": "sale.order",
        "headers": {"Authorization": "Bearer abc", "Accept": "*/*"},
        "users": [{"name": "a", "password": "p1"}, {"name": "b", "tokens": ["t1", "t2"]}],
        "matrix": [[{"secret": 1}]],
    }
    assert mask_payload(payload) == {
        "_model": "sale.order",
        "headers": {"Authorization": MASK, "Accept": "*/*"},
        "users": [{"name": "a", "password": MASK}, {"name": "b", "tokens": MASK}],
        "matrix": [[{"secret": MASK}]],
    }


def test_a_secret_key_holding_a_structure_is_masked_whole() -> None:
    assert mask_payload({"credentials_secret": {"user": "u", "pw": "p"}}) == {
        "credentials_secret": MASK
    }


def test_values_are_never_matched_only_keys() -> None:
    payload = {"note": "my password is hunter2", "list": ["token"], "n": 1, "x": None}
    assert mask_payload(payload) == payload


def test_the_payload_itself_is_not_changed() -> None:
    payload: dict[str, Any] = {"password": "p", "nested": {"token": "t"}}
    copy = json.loads(json.dumps(payload))
    mask_payload(payload)
    assert payload == copy


def test_scalars_and_empty_key_lists() -> None:
    assert mask_payload("password") == "password"
    assert mask_payload(7) == 7
    assert mask_payload({"password": "p"}, []) == {"password": "p"}


def test_configured_words_replace_the_defaults() -> None:
    payload = {"pin": "1234", "password": "p", "Card-PIN": "9"}
    assert mask_payload(payload, ["PIN"]) == {"pin": MASK, "password": "p", "Card-PIN": MASK}
    # A comma-separated string, as a setting read from the environment would be.
    assert mask_payload(payload, "pin, password") == {
        "pin": MASK,
        "password": MASK,
        "Card-PIN": MASK,
    }


def test_defaults() -> None:
    assert set(DEFAULT_MASKED_KEYS) == {"password", "token", "secret", "authorization"}


# ------------------------------------------------------------ through the endpoint


def _logged_payload(app: Flask, rule_id: int) -> str:
    rows = read(app, "base.automation.call", [("rule_id", "=", rule_id)], ["payload"])
    assert len(rows) == 1, rows
    return rows[0]["payload"]


def test_the_call_log_masks_while_the_rule_sees_the_payload(app: Flask, make_rule) -> None:
    # The rule's code records what it received in the order's note: proof that the rule got
    # the payload as sent, and that only the logged copy is masked.
    rule = make_rule(
        "sale.order",
        log_calls=True,
        actions=[
            {
                "name": "Keep token",
                "action_type": "execute_code",
                "settings": {"code": "record.write({'note': payload['auth']['api_token']})"},
            }
        ],
    )
    payload = {
        "_model": "sale.order",
        "_id": 7,
        "auth": {"api_token": "tok-123", "user": "bob"},
        "items": [{"Password": "pw-456", "qty": 2}],
    }
    response = app.test_client().post(rule["path"], json=payload)
    assert response.status_code == 200, response.get_json()
    logged = _logged_payload(app, rule["id"])
    assert "tok-123" not in logged and "pw-456" not in logged
    assert json.loads(logged) == {
        "_model": "sale.order",
        "_id": 7,
        "auth": {"api_token": MASK, "user": "bob"},
        "items": [{"Password": MASK, "qty": 2}],
    }
    assert read(app, "sale.order", [("id", "=", 7)], ["note"])[0]["note"] == "tok-123"


def test_the_masked_keys_are_configurable(app: Flask, make_rule) -> None:
    rule = make_rule("sale.order", log_calls=True, target_record="model.browse(7)")
    app.config["WEBHOOK_LOG_MASKED_KEYS"] = ["pin"]
    try:
        response = app.test_client().post(rule["path"], json={"PIN": "1234", "token": "t"})
    finally:
        del app.config["WEBHOOK_LOG_MASKED_KEYS"]
    assert response.status_code == 200, response.get_json()
    assert json.loads(_logged_payload(app, rule["id"])) == {"PIN": MASK, "token": "t"}
