"""Helpers for driving the webhook screens as a browser would (forms, CSRF, links)."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

from werkzeug.test import TestResponse

from tests.support.web import WebClient, form_values, page_text


def location(response: TestResponse) -> str:
    """The path (and query) a redirect points at."""
    assert response.status_code == 302, page_text(response)[:3000]
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def rule_id_of(response: TestResponse) -> int:
    """The id of the rule a saved form redirected to (its page)."""
    match = re.fullmatch(r"/(?:webhookview|automationruleview)/show/(\d+)", location(response))
    assert match, location(response)
    return int(match.group(1))


def link(page: str, element_id: str) -> str:
    """The href of the link with ``id=element_id``."""
    match = re.search(rf'<a[^>]*id="{element_id}"[^>]*href="([^"]+)"', page) or re.search(
        rf'<a[^>]*href="([^"]+)"[^>]*id="{element_id}"', page
    )
    assert match, f"no link #{element_id}"
    return html.unescape(match.group(1))


def input_value(page: str, element_id: str) -> str:
    match = re.search(rf'<input[^>]*id="{element_id}"[^>]*value="([^"]*)"', page)
    assert match, f"no input #{element_id}"
    return html.unescape(match.group(1))


def options(page: str, name: str) -> list[tuple[str, str]]:
    """(value, label) of each option of the select called ``name``."""
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"{name} is not a <select>"
    found = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
    return [(html.unescape(v), html.unescape(label).strip()) for v, label in found]


def create_rule(web: WebClient, new_url: str, **values: Any) -> int:
    """Open a New form, keep what it shows, set ``values``, post it; the new rule's id."""
    page = web.get(new_url)
    assert page.status_code == 200, new_url
    data = {**form_values(page.get_data(as_text=True)), **values}
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    return rule_id_of(web.client.post(new_url, data=data))


def add_action(web: WebClient, rule_page: str, **values: Any) -> TestResponse:
    """Follow the rule page's ``Add an action`` and post the form with ``values``."""
    form_url = link(rule_page, "webhook-add-action")
    page = web.get(form_url)
    assert page.status_code == 200, form_url
    data = {**form_values(page.get_data(as_text=True)), **values}
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    return web.client.post(form_url, data=data)
