"""The webhook screens in Thai (the labels the specification's original uses) and in English.

The language is chosen in FAB's language menu (``/lang/th``). What is stored (trigger and
action type keys, settings) and what the webhook URL answers never depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale

from addons.webhooks.rules.state import get_webhooks
from nightpos_app.i18n import TRANSLATIONS_DIR, translate
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.screens import add_action, create_rule, link, location, options
from tests.support.web import (
    WebClient,
    csrf_token_from,
    navbar_menu,
    one_context_per_request,
    page_text,
)

# Each request in its own app context (pytest-flask would share one).
_ = one_context_per_request

SET_USD = {
    "name": "Set USD",
    "action_type": "update_record",
    "settings": {"field": "currency_id", "value": 1},
}

#: The specification's labels: (English, the Thai its original uses).
RULE_PAGE_LABELS = [
    ("Rotate Secret", "หมุนเปลี่ยนรหัสลับ"),
    ("Log Calls", "บันทึกการเรียก"),
    ("Target Record", "ระเบียนเป้าหมาย"),
    ("Actions To Do", "การดำเนินการที่ต้องทำ"),
    ("Add an action", "เพิ่มการดำเนินการ"),
    ("Logs", "ล็อก"),
    ("Model", "โมเดล"),
    ("Trigger", "ตัวกระตุ้น"),
    ("On webhook", "เมื่อมีเว็บฮุค"),
    ("Update Record", "อัปเดตระเบียน"),
    ("Test (dry run)", "ทดสอบ (ทดลองรัน)"),
    ("Copy", "คัดลอก"),
]
THAI = re.compile(r"[\u0e00-\u0e7f]")


def choose(web: WebClient, language: str) -> WebClient:
    """Pick ``language`` in FAB's language menu, as a person would."""
    assert web.get(f"/lang/{language}").status_code == 302
    return web


@pytest.fixture
def thai_web(admin_web: WebClient) -> WebClient:
    return choose(admin_web, "th")


@pytest.fixture
def usd_rule(make_rule: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_rule("sale.order", actions=[SET_USD], log_calls=True, name="Orders to USD")


def button_text(page: str, element_id: str) -> str:
    found = re.search(rf'<a[^>]*id="{element_id}"[^>]*>(.*?)</a>', page, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


# --------------------------------------------------------------------------- catalog


def test_every_action_type_is_translated(app: Flask) -> None:
    """Types' labels, descriptions and settings reach the form from the registry."""
    with (TRANSLATIONS_DIR / "th" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        thai = {m.id for m in read_po(po) if m.id and m.string}
    shown: set[str] = set()
    for action_type in get_webhooks(app).action_types:
        shown.update([action_type.label, action_type.description])
        for fld in action_type.schema().fields.values():
            shown.update(
                str(fld.metadata[key]) for key in ("label", "description") if key in fld.metadata
            )
    assert shown - thai == set()
    with app.test_request_context("/"), force_locale("th"):
        assert translate("Execute Code") == "รันโค้ด"


# ------------------------------------------------------------------------------ menus


def test_sales_menu_shows_webhooks_in_thai(thai_web: WebClient) -> None:
    page = page_text(thai_web.get("/"))
    assert ("/webhookview/list/?model=sale.order", "เว็บฮุค") in navbar_menu(page, "การขาย")
    assert navbar_menu(page, "สตูดิโอ") == [
        ("/webhookview/list/", "เว็บฮุค"),
        ("/automationruleview/list/", "ระบบอัตโนมัติ"),
        ("/webhookdeliveryview/list/", "การส่งข้อความ"),
    ]


def test_the_webhook_list_and_new_in_thai(thai_web: WebClient, usd_rule: dict[str, Any]) -> None:
    listing = thai_web.get("/webhookview/list/?model=sale.order").get_data(as_text=True)
    assert button_text(listing, "webhook-new") == "สร้างใหม่"
    text = page_text(thai_web.get("/webhookview/list/?model=sale.order"))
    assert "เว็บฮุค — คำสั่งขาย" in text
    assert "เมื่อมีเว็บฮุค" in text and "ใช่" in text  # the trigger, Log Calls: Yes
    new = thai_web.get(link(listing, "webhook-new")).get_data(as_text=True)
    assert "สร้างเว็บฮุคใหม่" in page_text(thai_web.get(link(listing, "webhook-new")))
    assert options(new, "trigger") == [("on_webhook", "เมื่อมีเว็บฮุค")]
    for label in ("ชื่อ", "ตัวกระตุ้น", "บันทึกการเรียก", "ระเบียนเป้าหมาย", "บันทึก"):
        assert label in page_text(thai_web.get(link(listing, "webhook-new")))


def test_new_from_studio_offers_the_models_in_thai(thai_web: WebClient, clean_rules) -> None:
    page = thai_web.get("/webhookview/add").get_data(as_text=True)
    models = dict(options(page, "model"))
    assert models["sale.order"] == "คำสั่งขาย"
    assert models["res.partner"] == "ผู้ติดต่อ"
    # Without developer mode, the engine's own models are not offered (issue 13, finding 7).
    assert "base.automation" not in models and "webhook.delivery" not in models


# ------------------------------------------------------------------------ a rule's page


def test_a_rules_page_in_thai(thai_web: WebClient, usd_rule: dict[str, Any]) -> None:
    html = thai_web.get(f"/webhookview/show/{usd_rule['id']}").get_data(as_text=True)
    text = page_text(thai_web.get(f"/webhookview/show/{usd_rule['id']}"))
    for _english, thai in RULE_PAGE_LABELS:
        assert thai in text, thai
    assert button_text(html, "webhook-rotate") == "หมุนเปลี่ยนรหัสลับ"
    assert button_text(html, "webhook-add-action") == "เพิ่มการดำเนินการ"
    assert button_text(html, "webhook-logs").startswith("ล็อก")
    assert 'data-copied="คัดลอกแล้ว"' in html
    # The action's row: its type and its settings' labels, in Thai; the value is data.
    actions = re.search(r'id="webhook-actions".*?</table>', text, re.S)
    assert actions
    assert "อัปเดตระเบียน" in actions.group(0)
    assert re.search(r"ฟิลด์:</strong>\s*สกุลเงิน", actions.group(0))
    assert "Update Record" not in text and "Rotate Secret" not in text


def test_a_rules_page_in_english(admin_web: WebClient, usd_rule: dict[str, Any]) -> None:
    html = admin_web.get(f"/webhookview/show/{usd_rule['id']}").get_data(as_text=True)
    text = page_text(admin_web.get(f"/webhookview/show/{usd_rule['id']}"))
    for english, _thai in RULE_PAGE_LABELS:
        assert english in text, english
    assert button_text(html, "webhook-rotate") == "Rotate Secret"
    assert button_text(html, "webhook-add-action") == "Add an action"
    assert not THAI.search(html.replace("ไทย", "")), "Thai on an English page"


def test_the_action_form_lists_the_types_in_thai(
    thai_web: WebClient, usd_rule: dict[str, Any]
) -> None:
    rule_page = thai_web.get(f"/webhookview/show/{usd_rule['id']}").get_data(as_text=True)
    form = thai_web.get(link(rule_page, "webhook-add-action")).get_data(as_text=True)
    types = options(form, "action_type")
    assert ("update_record", "อัปเดตระเบียน") in types
    assert ("execute_code", "รันโค้ด") in types
    assert ("create_record", "สร้างระเบียน") in types
    assert ("currency_id", "สกุลเงิน") in options(form, "update_record-field")
    text = page_text(thai_web.get(link(rule_page, "webhook-add-action")))
    for label in ("รายละเอียดการดำเนินการ", "ชื่อการดำเนินการ", "ประเภท", "ลำดับ", "โค้ด"):
        assert label in text, label
    assert "เพิ่มการดำเนินการ: Orders to USD" in text
    # The value input follows the chosen field: a selection offers its labels, in Thai.
    choices = thai_web.get(
        f"/serveractionview/value_choices?rule_id={usd_rule['id']}&field=state"
    ).get_json()
    assert ["draft", "ใบเสนอราคา"] in choices["choices"]


def test_the_action_form_lists_the_types_in_english(
    admin_web: WebClient, usd_rule: dict[str, Any]
) -> None:
    rule_page = admin_web.get(f"/webhookview/show/{usd_rule['id']}").get_data(as_text=True)
    form = admin_web.get(link(rule_page, "webhook-add-action")).get_data(as_text=True)
    types = options(form, "action_type")
    assert ("update_record", "Update Record") in types
    assert ("execute_code", "Execute Code") in types


# ------------------------------------------------------- working in Thai stores the keys


def test_use_case_1_in_thai(app: Flask, thai_web: WebClient, clean_rules) -> None:
    listing = page_text(thai_web.get("/webhookview/list/?model=sale.order"))
    rule_id = create_rule(thai_web, link(listing, "webhook-new"), name="สกุลเงิน USD", log_calls="y")
    (rule,) = read(app, "base.automation", [("id", "=", rule_id)], ["model", "trigger"])
    assert (rule["model"], rule["trigger"]) == ("sale.order", "on_webhook")
    usd = read(app, "res.currency", [("name", "=", "USD")], ["name"])[0]["id"]

    rule_page = thai_web.get(f"/webhookview/show/{rule_id}").get_data(as_text=True)
    saved = add_action(
        thai_web,
        rule_page,
        name="ตั้งเป็น USD",
        action_type="update_record",
        **{
            "update_record-field": "currency_id",
            "update_record-value-source": "value",
            "update_record-value": str(usd),
        },
    )
    assert location(saved) == f"/webhookview/show/{rule_id}"
    shown = page_text(thai_web.get(f"/webhookview/show/{rule_id}"))
    assert "บันทึกการดำเนินการ 'ตั้งเป็น USD' แล้ว" in shown
    (action,) = read(app, "ir.actions.server", [("rule_id", "=", rule_id)], ["action_type"])
    assert action["action_type"] == "update_record"

    # The dry run: words in Thai, what the sender would get as the URL answers it.
    page = thai_web.get(f"/webhookview/show/{rule_id}").get_data(as_text=True)
    report = page_text(
        thai_web.client.post(
            f"/webhookview/dry_run/{rule_id}",
            data={
                "payload": '{"_model": "sale.order", "_id": 7}',
                "csrf_token": csrf_token_from(page),
            },
        )
    )
    assert "การตอบกลับ" in report and "การเปลี่ยนแปลง (ไม่ได้บันทึก)" in report
    assert '<code>{"status": "ok"}</code>' in report
    assert "อัปเดต คำสั่งขาย: S00007" in report


def test_rotate_secret_and_logs_in_thai(
    app: Flask, thai_web: WebClient, usd_rule: dict[str, Any]
) -> None:
    page = thai_web.get(f"/webhookview/show/{usd_rule['id']}").get_data(as_text=True)
    confirm = thai_web.get(link(page, "webhook-rotate"))
    assert "หมุนเปลี่ยนรหัสลับ: Orders to USD" in page_text(confirm)
    token = csrf_token_from(confirm.get_data(as_text=True))
    thai_web.client.post(link(page, "webhook-rotate"), data={"csrf_token": token})
    shown = page_text(thai_web.get(f"/webhookview/show/{usd_rule['id']}"))
    assert "หมุนเปลี่ยนรหัสลับแล้ว: URL เดิมใช้งานไม่ได้อีกต่อไป" in shown

    rule_page = thai_web.get(f"/webhookview/show/{usd_rule['id']}").get_data(as_text=True)
    logs = page_text(thai_web.get(link(rule_page, "webhook-logs")))
    assert "ล็อก: Orders to USD" in logs
    assert "จำนวนระเบียน" in logs and "ไม่พบระเบียน" in logs


# ------------------------------------------------------------- the URL answers in English


def test_the_webhook_answers_the_same_to_a_thai_session(
    app: Flask, thai_web: WebClient, make_rule, client
) -> None:
    """A call carrying a Thai session cookie gets exactly what any other caller gets."""
    rule = make_rule("sale.order", actions=[SET_USD], log_calls=True)
    payloads = [
        {"_model": "sale.order", "_id": "3"},
        {"_model": "res.partner", "_id": "1"},  # the wrong model: an error message
        {"_model": "sale.order", "_id": "99999"},
    ]
    for payload in payloads:
        from_thai = thai_web.client.post(rule["path"], json=payload)
        from_elsewhere = client.post(rule["path"], json=payload)
        assert from_thai.status_code == from_elsewhere.status_code
        assert from_thai.get_json() == from_elsewhere.get_json()
        assert not THAI.search(from_thai.get_data(as_text=True))
    wrong_model = thai_web.client.post(rule["path"], json=payloads[1]).get_json()
    assert wrong_model["status"] == "error"
    assert "sale.order" in wrong_model["message"]
