"""The Details of a rule's page: what it was set up with, without the empty values.

FAB's show widget lists every column, empty or not, whatever the trigger: a webhook showed
Apply On and Before Update Domain, a rule On update a Target Record and a Rate Limit. Here the
list holds the fields the rule's trigger uses (``rule_form.FIELD_TRIGGERS``) that have a value,
and the request guards apart (set ones only), so the page can lead with what an admin acts on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from addons.webhooks.models import AutomationRule
from addons.webhooks.views.rule_form import FORM_COLUMNS, GUARD_COLUMNS, applies

#: (label, text, is code): one line of the Details.
Detail = tuple[str, str, bool]
#: Shown as code (monospace, kept as written).
CODE_COLUMNS = {"target_record", "filter_domain", "filter_pre_domain"}
#: Always listed, even when off: what a reader needs to know about every rule (the CPU Time
#: Limit shows the default it runs with when none is set).
ALWAYS = {"model", "trigger", "active", "cpu_seconds"}
#: Values that mean "not set" for a column (off, the default).
UNSET: dict[str, tuple[Any, ...]] = {
    "auth_scheme": ("none",),
    "log_calls": (False,),
    "respond": ("after_run",),
    "ordered": (False,),
    "keep_payloads": (False,),
    "idempotency": (False,),
}


def _is_set(rule: AutomationRule, column: str) -> bool:
    value = getattr(rule, column)
    if column in ALWAYS:
        return True
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    if column == "auth_header":
        return rule.auth_scheme == "header"
    return value not in UNSET.get(column, ())


def rule_details(
    rule: AutomationRule,
    formatters: Mapping[str, Callable[[Any], str]],
    labels: Mapping[str, Any],
) -> tuple[list[Detail], list[Detail]]:
    """The rule's details and its request guards, as the page lists them."""
    details: list[Detail] = []
    guards: list[Detail] = []
    for column in [c for c in FORM_COLUMNS if c != "name"] + ["created_at", "updated_at"]:
        if not applies(column, rule.trigger) or not _is_set(rule, column):
            continue
        value = getattr(rule, column)
        if column in formatters:
            text = formatters[column](value)
        elif hasattr(value, "strftime"):
            text = f"{value:%Y-%m-%d %H:%M} UTC"
        else:
            text = str(value)
        line = (str(labels.get(column, column)), text, column in CODE_COLUMNS)
        (guards if column in GUARD_COLUMNS else details).append(line)
    return details, guards
