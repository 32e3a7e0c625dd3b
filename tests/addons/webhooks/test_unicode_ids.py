"""Ids in URLs and query strings are ASCII digits: other digits are no id, never a 500.

``str.isdigit()`` takes superscripts (which ``int()`` refuses) and the digits of every script
(which ``int()`` reads as numbers); every screen and API route that reads an id from text
asks :func:`nightpos_app.digits.ascii_int` instead.
"""

from __future__ import annotations

import pytest

from tests.support.web import ADMIN, WebClient, api_client

IDS = ["¹", "١", "１", "²³", "1" * 12]


@pytest.mark.parametrize("raw", IDS)
def test_screens_answer_no_such_record(admin_web: WebClient, raw: str) -> None:
    for path in (
        f"/serveractionview/add?rule_id={raw}",
        f"/serveractionview/preview?rule_id={raw}&action_id={raw}",
    ):
        status = admin_web.get(path).status_code
        assert status in (302, 400, 404), (path, status)
    for path in (
        f"/webhookcallview/list/?rule_id={raw}",
        f"/webhookdeliveryview/list/?rule_id={raw}",
    ):
        assert admin_web.get(path).status_code in (200, 302, 404), path


@pytest.mark.parametrize("raw", IDS)
def test_the_actions_api_answers_404(client, raw: str) -> None:
    response = api_client(client, ADMIN).put(f"/api/v1/ir_actions_server/{raw}", json={"name": "x"})
    assert response.status_code in (404, 405), response.get_data(as_text=True)[:300]
