"""A person in a real browser: log in, open Sales → Orders and Contacts, see the demo data."""

from __future__ import annotations

from tests.e2e.conftest import screenshot
from tests.support.web import ADMIN


def log_in(page, who=ADMIN) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", who.username)
    page.fill("input[name=password]", who.password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/")


def test_admin_logs_in_and_browses_sales_and_contacts(page, demo) -> None:
    page.goto("/")
    assert "/login/" in page.url  # every screen requires login
    log_in(page)
    page.click("text=Sales")
    page.click("a:has-text('Orders')")
    page.wait_for_selector("text=S00001")
    assert page.locator("text=S00012").count() >= 1
    screenshot(page, "sales-orders")

    page.click("text=Contacts >> nth=0")
    page.click("ul.dropdown-menu a:has-text('Contacts')")
    page.wait_for_selector("text=Siam Trading Co., Ltd.")
    screenshot(page, "contacts")
