"""What the browser tests of issue 13 share: the language, the words they expect in it, and
where an element is on screen."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_browser_base import log_in

LANGUAGES = ["en", "th"]

#: The words the tests look for, in each language (the Thai is the catalog's).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "automations": "Automations",
        "name_help": "Say what the rule is for",
        "created": "Automation Rule “{name}” was created.",
        "action_saved": "The action '{name}' was saved.",
        "refused_hint": "WEBHOOK_OUTGOING_ALLOWED_CIDRS",
        "help": "Help",
        "code": "Code",
        "guards": "Request guards",
        "record_ok": "The actions ran; nothing was saved.",
        "first_webhook": "Your first webhook",
        "rules_with_errors": "Rules with errors (last 24 hours)",
        "deliveries": "Outgoing deliveries",
        "calls_today": "Calls today (UTC)",
    },
    "th": {
        "automations": "ระบบอัตโนมัติ",
        "name_help": "บอกว่ากฎนี้มีไว้ทำอะไร",
        "created": "กฎการทำงานอัตโนมัติ “{name}” ถูกสร้างแล้ว",
        "action_saved": "บันทึกการดำเนินการ '{name}' แล้ว",
        "refused_hint": "WEBHOOK_OUTGOING_ALLOWED_CIDRS",
        "help": "วิธีใช้",
        "code": "โค้ด",
        "guards": "การป้องกันคำขอ",
        "record_ok": "การดำเนินการทำงานแล้ว ไม่มีสิ่งใดถูกบันทึก",
        "first_webhook": "เว็บฮุคแรกของคุณ",
        "rules_with_errors": "กฎที่มีข้อผิดพลาด (24 ชั่วโมงล่าสุด)",
        "deliveries": "การส่งข้อความออก",
        "calls_today": "การเรียกวันนี้ (UTC)",
    },
}


def start(page: Any, language: str) -> dict[str, str]:
    """Log in and pick ``language`` in the language menu's URL, as a person would; the words
    to expect."""
    log_in(page)
    if language != "en":
        page.goto(f"/lang/{language}")
    return WORDS[language]


def box(page: Any, selector: str) -> dict[str, float]:
    """Where the first element matching ``selector`` is, in page coordinates."""
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def failing_call(url: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` to a webhook URL whose rule fails: the answer is a 500."""
    import urllib.error

    import pytest

    from tests.e2e.test_browser_webhook import post_json

    with pytest.raises(urllib.error.HTTPError) as refused:
        post_json(url, payload)
    assert refused.value.code == 500
