"""A third-party addon's model in a real browser: its menu, its list, its form, its rule.

The loyalty example (tests/fixtures/nightpos-example-model, docs/addons.md) enabled over a
database of its own (tests/addons/loyalty/conftest.py), served by a real HTTP server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.addons.loyalty.conftest import apps  # noqa: F401  (the fixture)
from tests.e2e.test_browser_base import log_in


@pytest.fixture(scope="module")
def loyalty_url(apps: dict[str, Flask]) -> Iterator[str]:  # noqa: F811
    server = make_server("127.0.0.1", 0, apps["with"], threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def loyalty_page(browser: Any, loyalty_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=loyalty_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def row_of(page: Any, number: str) -> str:
    return page.locator(f"tr:has-text('{number}')").inner_text()


def test_a_person_finds_the_addons_screens_and_its_rule_acts_on_a_saved_card(
    loyalty_page: Any,
) -> None:
    page = loyalty_page
    log_in(page)
    page.click("text=Contacts >> nth=0")
    page.click("ul.dropdown-menu a:has-text('Loyalty Cards')")
    page.wait_for_selector("text=LC00001")
    assert "Gold" in row_of(page, "LC00001")  # the demo data's card, made gold by the rule
    assert "Bronze" in row_of(page, "LC00002")

    page.goto("/loyaltycardview/add")
    page.fill("input[name=number]", "LC60001")
    page.select_option("select[name=partner]", index=1, force=True)
    page.fill("input[name=points]", "1500")
    page.click("#model_form button[type=submit]")
    page.wait_for_selector("text=LC60001")
    assert "Gold" in row_of(page, "LC60001"), "the rule on the addon's model acted"
