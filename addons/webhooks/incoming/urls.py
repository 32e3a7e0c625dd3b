"""A rule's webhook URL, a sample payload for it, and a ready-to-copy ``curl`` command."""

from __future__ import annotations

import json
import shlex
from typing import Any

from flask import request

from addons.webhooks.models import DEFAULT_TARGET_RECORD, AutomationRule
from addons.webhooks.settings import setting


def base_url() -> str:
    """``NIGHTPOS_BASE_URL`` when set (behind a proxy the browser's URL may not be the one
    other systems reach), else the URL the current request came in on."""
    return (setting("NIGHTPOS_BASE_URL") or request.url_root).rstrip("/")


def secret_url(secret: str) -> str:
    return f"{base_url()}/web/hook/{secret}"


def webhook_url(rule: AutomationRule) -> str:
    return secret_url(rule.webhook_secret)


def sample_payload(rule: AutomationRule) -> dict[str, Any]:
    """What another NightPOS would send: the default Target Record reads ``_model`` and ``_id``.

    A custom Target Record reads whatever its author decided, so no guess is made for it.
    """
    if (rule.target_record or "").strip() == DEFAULT_TARGET_RECORD:
        return {"_model": rule.model, "_id": 1}
    return {}


def curl_command(url: str, payload: Any) -> str:
    """A shell command that POSTs ``payload`` as JSON to ``url`` (each part shell-quoted)."""
    body = json.dumps(payload, ensure_ascii=False)
    return (
        f"curl -X POST {shlex.quote(url)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )
