"""Secret-looking payload keys are masked in the call log (and only there)."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.masking import DEFAULT_MASKED_KEYS, MASK, mask_payload, masked_json
from addons.webhooks.rules.calllog import TRUNCATION_MARK, LoggedPayload, payload_text
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


# ------------------------------------------------------------ the logged text, bounded
#
# The call log keeps WEBHOOK_LOG_PAYLOAD_BYTES (16 KiB) of each payload. Its text is made piece
# by piece and no further than that: made in full and then cut, a 1 MiB payload nested 99 deep
# cost 5 s and 217 MB a call (each of its half a million items indented by 200 spaces).

LIMIT = 16 * 1024
MIB = 2**20


def reference_text(payload: Any, masked_keys: Any = DEFAULT_MASKED_KEYS) -> str:
    """The whole logged text as it always looked: the masked copy, indented by ``json``."""
    return json.dumps(mask_payload(payload, masked_keys), ensure_ascii=False, indent=2, default=str)


def reference_start(payload: Any, size: int) -> str:
    """At least ``size`` characters of :func:`reference_text`, from ``json``'s own lazy
    encoder (so the test does not build the hundreds of MB itself)."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2, default=str)
    pieces: list[str] = []
    for piece in encoder.iterencode(mask_payload(payload)):
        pieces.append(piece)
        size -= len(piece)
        if size < 0:
            break
    return "".join(pieces)


SMALL_PAYLOADS = [
    {},
    {"a": [], "b": {}, "c": [[]], "d": [{}]},
    {"_model": "sale.order", "_id": 7, "ok": True, "no": False, "none": None, "pi": 3.14},
    {"text": 'quote " backslash \\ tab \t newline \n bell \x07 U+2028 \u2028 ไทย 👍🏽'},
    {"users": [{"name": "a", "password": "p1"}, {"name": "b", "tokens": ["t1", "t2"]}]},
    {"credentials_secret": {"user": "u"}, "X-Api-Token": [1, 2], "matrix": [[{"secret": 1}]]},
    {"big": 2**63 - 1, "small": -(2**63), "float": 1e-300, "list": [1, "2", [3, [4]]]},
]


@pytest.mark.parametrize("payload", SMALL_PAYLOADS)
def test_the_logged_text_of_a_small_payload_looks_as_it_always_did(payload: Any) -> None:
    for keys in (DEFAULT_MASKED_KEYS, ["pin"], ""):
        text = reference_text(payload, keys)
        assert "".join(masked_json(payload, keys)) == text
        assert payload_text(payload, LIMIT, keys) == (text, False)


@pytest.mark.parametrize("payload", SMALL_PAYLOADS)
def test_a_cut_text_is_the_start_of_the_whole_one_within_the_limit(payload: Any) -> None:
    text = reference_text(payload)
    size = len(text.encode())
    for limit in range(len(TRUNCATION_MARK.encode()), size + 2):
        cut, truncated = payload_text(payload, limit, DEFAULT_MASKED_KEYS)
        if limit >= size:
            assert (cut, truncated) == (text, False)
            continue
        assert truncated and cut.endswith(TRUNCATION_MARK)
        assert len(cut.encode()) <= limit
        assert text.startswith(cut.removesuffix(TRUNCATION_MARK))


def body_of(**values: Any) -> bytes:
    payload = {"_model": "sale.order", "_id": 7, **values}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def deep_body() -> bytes:
    # The report's case: ~1 MiB, an object and 98 arrays (99 levels), a secret at the bottom.
    inner = '{"password": "hunter2"},' + "0," * 480_000 + "0"
    head = body_of(auth={"api_token": "tok-123"})[:-1] + b',"a":'
    return head + b"[" * 98 + inner.encode() + b"]" * 98 + b"}"


HUGE_BODIES = {
    "deep": deep_body,
    "wide": lambda: body_of(auth={"api_token": "tok-123"}, a=[0] * 500_000),
    "long-string": lambda: body_of(password="hunter2", note="x" * (MIB - 100)),
    "long-thai-string": lambda: body_of(password="hunter2", note="ก" * (MIB // 3 - 100)),
    "many-keys": lambda: body_of(
        password="hunter2", **{f"k{i:06d}" if i % 7 else f"token_{i:06d}": i for i in range(63_000)}
    ),
}


@pytest.fixture
def peaks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The peak memory (bytes, tracemalloc) of making each logged payload in the real calls."""
    measured: list[int] = []
    make = LoggedPayload.of.__func__  # type: ignore[attr-defined]

    def traced(cls: type[LoggedPayload], payload: Any, **options: Any) -> LoggedPayload:
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        try:
            return make(cls, payload, **options)
        finally:
            measured.append(tracemalloc.get_traced_memory()[1] - before)
            if started:
                tracemalloc.stop()

    monkeypatch.setattr(LoggedPayload, "of", classmethod(traced))
    return measured


@pytest.mark.parametrize("shape", HUGE_BODIES)
def test_a_huge_payload_is_logged_cut_within_the_limit_and_bounded_memory(
    app: Flask, make_rule, peaks: list[int], shape: str
) -> None:
    body = HUGE_BODIES[shape]()
    assert 0.9 * MIB < len(body) <= MIB  # under WEBHOOK_MAX_BODY_BYTES: the rule runs
    rule = make_rule("sale.order", log_calls=True, target_record="model.browse(7)")
    response = app.test_client().post(rule["path"], data=body, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]

    rows = read(app, "base.automation.call", [("rule_id", "=", rule["id"])], ["payload"])
    logged = _logged_payload(app, rule["id"])
    assert rows and logged.endswith(TRUNCATION_MARK)
    assert read(
        app, "base.automation.call", [("rule_id", "=", rule["id"])], ["payload_truncated"]
    ) == [{"id": rows[0]["id"], "payload_truncated": True}]
    assert len(logged.encode()) <= LIMIT
    assert len(logged.encode()) > LIMIT - 16  # cut at the limit, not long before
    kept = logged.removesuffix(TRUNCATION_MARK)
    assert reference_start(json.loads(body), LIMIT).startswith(kept)
    assert "hunter2" not in logged and "tok-123" not in logged
    assert f'"{MASK}"' in logged
    # Making the text cost less memory than the body itself (it once cost 200 times as much).
    (peak,) = peaks
    assert peak < MIB, f"{peak:,} bytes to make the logged text"
