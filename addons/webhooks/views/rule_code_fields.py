"""The rule form's code fields for someone who may not write code.

Model, Trigger, Target Record and the record filters are code
(:mod:`addons.webhooks.rules.code_rights`): a user without ``can_write_code`` sees them
read-only, and a save that changes one anyway is refused with the field's error, so a hand-made
POST cannot get round the screen.
"""

from __future__ import annotations

from collections.abc import Collection

from flask import request
from wtforms.fields.choices import SelectFieldBase

from addons.webhooks.models import AutomationRule
from addons.webhooks.rules.code_rights import CHANGE_REFUSED, RULE_CODE_FIELDS, rule_changes
from addons.webhooks.security import can_write_code
from addons.webhooks.views.rule_form import RuleForm, rule_form
from nightpos_app.i18n import translate


def with_visible_errors(form: RuleForm, triggers: Collection[str] | None) -> RuleForm:
    """A refused hidden Model (tampered with) comes back as a drop-down showing its error."""
    if request.method != "POST" or not form.model.errors or form.model.type != "HiddenField":
        return form
    visible = rule_form(show_model=True, triggers=triggers)
    visible.validate()
    # Errors found after validation (the right to write code) are not found again.
    visible.model.errors = [
        *visible.model.errors,
        *(e for e in form.model.errors if e not in visible.model.errors),
    ]
    if not can_write_code():
        lock_code_fields(visible)
    return visible


def lock_code_fields(form: RuleForm) -> None:
    """Show the code fields (addons/webhooks/rules/code_rights.py) read-only, saying why: for users
    without the right to write code."""
    note = translate(CHANGE_REFUSED)
    for name in RULE_CODE_FIELDS:
        field = form[name]
        if field.type == "HiddenField":
            continue
        # A disabled drop-down is not posted (_keep_code_fields then keeps the rule's value).
        locked = {"disabled": True} if isinstance(field, SelectFieldBase) else {"readonly": True}
        field.render_kw = {**(field.render_kw or {}), **locked}
        field.description = note


def keep_code_fields(form: RuleForm, rule: AutomationRule) -> None:
    """Code fields that were not posted (shown disabled, or not on this screen) keep the rule's
    values."""
    for name in RULE_CODE_FIELDS:
        if name not in request.form:
            form[name].data = getattr(rule, name)
            form[name].raw_data = [form[name].data or ""]


def code_unchanged(form: RuleForm, rule: AutomationRule) -> bool:
    """Without the right to write code, the code fields must keep the rule's values: each one
    changed gets an error; the others are stored exactly as they were."""
    if can_write_code():
        return True
    changed = rule_changes(rule, {name: form[name].data for name in RULE_CODE_FIELDS})
    for name in RULE_CODE_FIELDS:
        if name in changed:
            form[name].errors = [*form[name].errors, translate(CHANGE_REFUSED)]
        else:
            form[name].data = getattr(rule, name)
    return not changed
