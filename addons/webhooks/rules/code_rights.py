"""Who may write code: what the ``can_write_code`` permission covers.

Writing code is the power to run code: whoever changes a rule's Target Record or an Execute
Code action runs Python on the server with the record API, whoever changes a rule's Model or
its Trigger chooses which records, and when, the code already written runs on. So creating or
changing anything that holds code takes a permission of its own, ``can_write_code`` on the
automation rule REST resource (next to ``can_read_secret``; :mod:`addons.webhooks.security`),
checked by the screens and the REST API alike:

* a rule's code fields (:data:`RULE_CODE_FIELDS`): its Model, Trigger, Target Record, record
  filters (Apply On, Before Update Domain, Trigger Fields) and timing settings (the Date Field,
  delay and unit of a timing trigger, the period of a scheduled rule, the field and value of
  Values set: they decide when and how often the code runs, "every month" made "every
  minute"). Every new rule chooses a Model and
  a Trigger, so creating a rule takes the permission; without it a role edits the rest of a rule
  (name, active, logging, request guards, CPU limit, description), rotates its secrets and
  deletes it (the rule's code then runs nowhere, which needs no permission);
* an action that holds code: one whose type's settings mark a setting as code (a marshmallow
  field with ``metadata={"widget": "code"}`` or ``"expression"``, at any depth: Execute Code's
  code, the computed values of Update Record and Create Record, any third-party type's). Such an
  action, before or after the change, can be created, changed (type, settings, sequence, rule,
  active) or deleted only with the permission; without it only its name may change. Deleting one
  takes it too: a rule's actions run in order in one transaction, and removing one (a check
  that refuses bad payloads, say) changes what the others do. An action whose type no enabled
  addon provides is taken to hold code (its settings cannot be read).

Admins have the permission (FAB gives the Admin role every permission at sync), and so does the
Automation Manager role: it is the role meant to build rules, and it gets every permission of the
addon's views.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema
from marshmallow import fields as ma

from addons.webhooks.rules.state import get_webhooks
from nightpos_app.i18n import N_

#: A rule's fields that are code, or decide which records and when its code runs on.
RULE_CODE_FIELDS = (
    "model",
    "trigger",
    "target_record",
    "filter_domain",
    "filter_pre_domain",
    "trigger_fields",
    # When and how often the code runs (rules/timing_settings.py).
    "trg_selection_field",
    "trg_selection_value",
    "trg_date_field",
    "trg_date_range",
    "trg_date_range_type",
    "interval_number",
    "interval_type",
)
#: Code fields that are text: empty is stored as None (a form posts "" for an unused one).
_TEXT_CODE_FIELDS = ("trg_selection_field", "trg_selection_value", "trg_date_field")
#: The settings widgets that mark code (addons/webhooks/views/settings_form.py).
CODE_WIDGETS = ("code", "expression")

#: What refusals say (English here and in the REST API; the screens translate them).
CHANGE_REFUSED = N_("Changing this takes the permission to write code (can_write_code).")
CREATE_RULE_REFUSED = N_(
    "Creating an automation rule takes the permission to write code (can_write_code): its Model "
    "and Trigger decide which records its code runs on."
)
ACTION_REFUSED = N_(
    "This action holds code: without the permission to write code (can_write_code) only its "
    "name can be changed."
)
WRITE_CODE_REFUSED = N_("Writing code takes the permission to write code (can_write_code).")
DELETE_ACTION_REFUSED = N_(
    "This action holds code: deleting it takes the permission to write code (can_write_code)."
)


@functools.cache
def _code_settings(schema: type[Schema]) -> tuple[str, ...]:
    """The top-level settings of ``schema`` that are code or hold some (a list of lines with
    computed values), once per schema class."""
    return tuple(name for name, fld in schema().fields.items() if _holds_code(fld))


def _holds_code(fld: ma.Field) -> bool:
    if fld.metadata.get("widget") in CODE_WIDGETS:
        return True
    if isinstance(fld, ma.Nested):
        nested = fld.schema
        return any(_holds_code(f) for f in nested.fields.values())
    if isinstance(fld, ma.List):
        return _holds_code(fld.inner)
    return False


def code_settings(type_key: str) -> tuple[str, ...]:
    """The settings of action type ``type_key`` that may hold code (none for an unknown type:
    nothing is known of its settings)."""
    types = get_webhooks().action_types
    return _code_settings(types[type_key].schema) if type_key in types else ()


def _code_in(schema: Schema, value: Any) -> bool:
    """Whether ``value`` (settings as ``schema`` loads them) holds some code."""
    if not isinstance(value, Mapping):
        return False
    for name, fld in schema.fields.items():
        key = fld.data_key or name
        if key in value and _field_has_code(fld, value[key]):
            return True
    return False


def _field_has_code(fld: ma.Field, value: Any) -> bool:
    if fld.metadata.get("widget") in CODE_WIDGETS:
        return value is not None and value != ""
    if isinstance(fld, ma.Nested):
        items = value if fld.many and isinstance(value, list) else [value]
        return any(_code_in(fld.schema, item) for item in items)
    if isinstance(fld, ma.List) and isinstance(value, list):
        return any(_field_has_code(fld.inner, item) for item in value)
    return False


def holds_code(type_key: str, settings: Any) -> bool:
    """Whether an action of type ``type_key`` with ``settings`` holds code. An unknown type
    (its addon is disabled) counts as holding code: nothing says it does not."""
    types = get_webhooks().action_types
    if type_key not in types:
        return True
    return _code_in(types[type_key].schema(), settings)


def _normal(value: Any) -> Any:
    """``value`` with line ends as ``\\n``: a browser posts a textarea's lines with ``\\r\\n``."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Whether two values are the same, whatever their line ends."""
    return bool(_normal(a) == _normal(b))


def rule_value(name: str, value: Any) -> Any:
    """A rule's code field as stored: record filters stripped, empty as None (the screens
    store them so)."""
    if name in ("filter_domain", "filter_pre_domain", "trigger_fields"):
        return (value or "").strip() or None
    if name in _TEXT_CODE_FIELDS:
        return value or None
    return value


def rule_changes(current: Any, values: Mapping[str, Any]) -> list[str]:
    """The code fields of rule ``current`` that ``values`` change (every one given, for a new
    rule: ``current`` None)."""
    if current is None:
        return [name for name in RULE_CODE_FIELDS if name in values]
    return [
        name
        for name in RULE_CODE_FIELDS
        if name in values
        and not same(rule_value(name, values[name]), rule_value(name, getattr(current, name)))
    ]


@dataclasses.dataclass(frozen=True)
class ActionState:
    """What of an action ``can_write_code`` guards (everything but its name)."""

    rule_id: Any
    action_type: Any
    settings: Any
    sequence: Any
    active: Any = True

    @classmethod
    def of(cls, action: Any) -> ActionState:
        return cls(
            action.rule_id,
            action.action_type,
            dict(action.settings or {}),
            action.sequence,
            action.active is not False,
        )

    def with_values(self, values: Mapping[str, Any]) -> ActionState:
        """This state with the fields ``values`` gives (a REST update)."""
        return dataclasses.replace(
            self, **{f.name: values[f.name] for f in dataclasses.fields(self) if f.name in values}
        )

    def holds_code(self) -> bool:
        return holds_code(str(self.action_type), self.settings)

    def same_as(self, other: ActionState) -> bool:
        return (
            self.rule_id == other.rule_id
            and self.action_type == other.action_type
            and same(self.settings, other.settings)
            and self.sequence == other.sequence
            and bool(self.active) == bool(other.active)
        )


def action_needs_code_right(before: ActionState | None, after: ActionState | None) -> bool:
    """Whether going from ``before`` to ``after`` (None: the action does not exist) takes
    ``can_write_code``: it does when either holds code and they differ."""
    if before is None and after is None:
        return False
    if before is not None and after is not None and before.same_as(after):
        return False
    return any(state is not None and state.holds_code() for state in (before, after))
