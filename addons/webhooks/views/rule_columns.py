"""How the rule screens name and show a rule's columns: the list's and the page's columns,
their labels (built once, rendered in each request's language) and how each value is shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from addons.webhooks.models import (
    AUTH_SCHEMES,
    DELAY_UNITS,
    INTERVAL_UNITS,
    RESPOND_MODES,
    TRIGGERS,
)
from addons.webhooks.settings import setting
from addons.webhooks.views.naming import model_label
from addons.webhooks.views.rule_form import FORM_COLUMNS
from nightpos_app.i18n import lazy, translate

LIST_COLUMNS = ["name", "model", "trigger", "active", "log_calls"]
#: The show page lists what the form edits, then when the rule was made and changed.
SHOW_COLUMNS = [*FORM_COLUMNS, "created_at", "updated_at"]
#: Built once, rendered in each request's language.
LABELS = {
    "name": lazy("Name"),
    "model": lazy("Model"),
    "trigger": lazy("Trigger"),
    "active": lazy("Active"),
    "log_calls": lazy("Log Calls"),
    "respond": lazy("Respond"),
    "ordered": lazy("One Call at a Time, in Order"),
    "keep_payloads": lazy("Keep Payloads for Replay"),
    "target_record": lazy("Target Record"),
    "cpu_seconds": lazy("CPU Time Limit (s)"),
    "description": lazy("Description"),
    "auth_scheme": lazy("Request Authentication"),
    "auth_header": lazy("Secret Header Name"),
    "filter_domain": lazy("Apply On"),
    "filter_pre_domain": lazy("Before Update Domain"),
    "trigger_fields": lazy("Trigger Fields"),
    "trg_selection_field": lazy("Field"),
    "trg_selection_value": lazy("Value"),
    "trg_date_field": lazy("Date Field"),
    "trg_date_range": lazy("Delay"),
    "trg_date_range_type": lazy("Delay Unit"),
    "interval_number": lazy("Run Every"),
    "interval_type": lazy("Period Unit"),
    "ip_allowlist": lazy("Allowed IP Addresses"),
    "rate_limit": lazy("Rate Limit"),
    "idempotency": lazy("Idempotency Keys"),
    "created_at": lazy("Created"),
    "updated_at": lazy("Last Updated"),
}


def yes_no(value: Any) -> str:
    return translate("Yes") if value else translate("No")


def trigger_label(value: Any) -> str:
    return translate(TRIGGERS[value]) if value in TRIGGERS else _text(value)


def _respond_label(value: Any) -> str:
    return translate(RESPOND_MODES[value]) if value in RESPOND_MODES else _text(value)


def _auth_label(value: Any) -> str:
    return translate(AUTH_SCHEMES[value]) if value in AUTH_SCHEMES else _text(value)


def _cpu_label(value: Any) -> str:
    """A rule's CPU Time Limit; empty shows the default it runs with (clamped as at run time)."""
    if value is None:
        seconds = min(setting("WEBHOOK_CPU_SECONDS"), setting("WEBHOOK_CPU_SECONDS_MAX"))
        return translate("Default (%(seconds)s s)", seconds=f"{seconds:g}")
    return f"{value:g}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


#: How the list and the page show each value (FAB's ``formatters_columns``).
FORMATTERS: dict[str, Callable[[Any], str]] = {
    "model": model_label,
    "trigger": trigger_label,
    "active": yes_no,
    "log_calls": yes_no,
    "description": _text,
    "auth_scheme": _auth_label,
    "auth_header": _text,
    "filter_domain": _text,
    "filter_pre_domain": _text,
    "trigger_fields": _text,
    "ip_allowlist": _text,
    "rate_limit": _text,
    "idempotency": yes_no,
    "respond": _respond_label,
    "ordered": yes_no,
    "keep_payloads": yes_no,
    "cpu_seconds": _cpu_label,
    "trg_date_range_type": lambda v: translate(DELAY_UNITS[v]) if v in DELAY_UNITS else "",
    "interval_type": lambda v: translate(INTERVAL_UNITS[v]) if v in INTERVAL_UNITS else "",
}
