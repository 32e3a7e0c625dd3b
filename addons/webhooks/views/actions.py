"""The action form: ``Add an action`` on a rule's page, and editing an action.

Name, sequence and the type list come first; the type list is the registry's
(``get_webhooks().action_types``), so a third-party type appears with its settings, built from
its schema (:mod:`addons.webhooks.views.settings_form`). The chosen type validates the
settings on save (``ActionType.validate``) and its messages are shown next to the inputs.

Three JSON endpoints let the form follow the person's choices without a reload: the input for a
field's value (``Currency`` → the currencies to choose from), a model's fields, and the sample
of a type that has one (Send Webhook Notification: the exact JSON it would send).

The action's page (``/serveractionview/show/<id>``) shows its details and, for Send Webhook
Notification, the signing secret to those who may read secrets, with Rotate Signing Secret.

Types' labels, descriptions and setting labels are English in the registry (a REST client
reads them so); the form shows them in the user's language.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import has_access, permission_name
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from addons.webhooks.action_types import SettingsError
from addons.webhooks.models import ROTATION_GRACE, AutomationRule, ServerAction
from addons.webhooks.rules import hidden_headers
from addons.webhooks.rules.code_rights import (
    ACTION_REFUSED,
    CHANGE_REFUSED,
    DELETE_ACTION_REFUSED,
    WRITE_CODE_REFUSED,
    ActionState,
    action_needs_code_right,
    code_settings,
    same,
)
from addons.webhooks.rules.engine import action_type
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.security import can_read_secrets, can_write_code
from addons.webhooks.views.action_names import action_name
from addons.webhooks.views.naming import field_choices, model_label
from addons.webhooks.views.rule_form import no_nul
from addons.webhooks.views.rule_page import rule_url
from addons.webhooks.views.settings_form import SettingsForm, TypeSection
from addons.webhooks.views.values import value_input
from addons.webhooks.views.widgets import choices
from nightpos_app.crud import RecordInterface, RecordModelView
from nightpos_app.digits import ascii_int
from nightpos_app.exceptions import UserError
from nightpos_app.extensions import db
from nightpos_app.i18n import N_, lazy, translate
from nightpos_app.state import get_env, get_state

INT32 = 2**31 - 1

#: The grace periods of Rotate Signing Secret, worded for signing (the keys and periods are the
#: rule's ROTATION_GRACE, so the REST API takes the same ones).
SIGNING_GRACE_LABELS: dict[str, str] = {
    "none": N_("None: the old secret stops signing at once"),
    "1h": N_("1 hour"),
    "24h": N_("24 hours"),
    "7d": N_("7 days"),
}


class ActionForm(DynamicForm):
    """What every action has, whatever its type."""

    name = StringField(
        lazy("Action Name"),
        validators=[Optional(), Length(max=256), no_nul],
        widget=BS3TextFieldWidget(),
        description=lazy(
            "Empty: named from its type and details, e.g. “Update Sales Order: Currency = USD”."
        ),
    )
    action_type = SelectField(
        lazy("Type"), validators=[InputRequired()], widget=Select2Widget(), validate_choice=True
    )
    sequence = IntegerField(
        lazy("Sequence"),
        default=10,
        validators=[InputRequired(), NumberRange(min=-INT32 - 1, max=INT32)],
        widget=BS3TextFieldWidget(),
        description=lazy("Actions run in this order, lowest first."),
    )


def type_label(key: str) -> str:
    """An action type's label in the user's language; an unknown key (its addon is gone) as it
    is."""
    types = get_webhooks().action_types
    return translate(types[key].label) if key in types else key


def type_choices() -> list[tuple[str, str]]:
    """The registered types as (key, label in the user's language), in registration order."""
    return [(key, translate(label)) for key, label in get_webhooks().action_types.choices()]


def unknown_type_warning(action: ServerAction) -> None:
    """Say why an action's type is not in the list: no enabled addon provides it (the words
    its webhook calls fail with)."""
    try:
        action_type(action.name, action.action_type)
    except UserError as exc:
        flash(exc.message, "warning")


def _rule_or_404(rule_id: Any) -> AutomationRule:
    raw = str(rule_id or "")
    rule_id = ascii_int(raw, max_digits=9)
    rule = db.session.get(AutomationRule, rule_id) if rule_id is not None else None
    if rule is None:
        abort(404)
    return rule


def _settings_shown(settings: Any) -> Any:
    """An action's settings on its page: header values hidden from those who may not read
    secrets (addons/webhooks/rules/hidden_headers.py)."""
    return settings if can_read_secrets() else hidden_headers.hide_any(settings)


def _posted_settings(type_key: str | None) -> bool:
    """Whether the post carries settings of ``type_key`` (disabled inputs are not posted)."""
    prefix = f"{type_key}-"
    return type_key is not None and any(name.startswith(prefix) for name in request.form)


def _refuse_code(
    form: ActionForm, section: TypeSection, before: ActionState | None, after: ActionState
) -> None:
    """Say where a change that takes the right to write code is: the type, the code inputs
    that changed, or (an action holding code whose other details changed) the section."""
    message = translate(CHANGE_REFUSED)
    if before is not None and before.action_type != after.action_type:
        form.action_type.errors = [*form.action_type.errors, message]
        return
    old = before.settings if before is not None else {}
    changed = [
        key
        for key in code_settings(str(after.action_type))
        if not same(old.get(key), after.settings.get(key))
    ]
    inputs = [inp for inp in section.inputs if inp.key in changed]
    for inp in inputs:
        inp.errors.append(message)
    if not inputs:
        section.errors.append(translate(ACTION_REFUSED))


class ServerActionView(RecordModelView):
    """Actions of automation rules (``ir.actions.server``): added and edited from a rule."""

    datamodel = RecordInterface(ServerAction)
    route_base = "/serveractionview"
    form_template = "webhooks/action_form.html"
    list_title = lazy("Actions")
    show_title = lazy("Action")
    list_columns = ["rule", "sequence", "name", "action_type"]
    # The settings are listed in words under Action Details (the template), not as a dict.
    show_columns = ["rule", "sequence", "name", "action_type"]
    search_columns = ["rule", "name", "action_type"]
    order_columns = ["sequence", "name", "action_type"]
    label_columns = {
        "rule": lazy("Automation Rule"),
        "sequence": lazy("Sequence"),
        "name": lazy("Action Name"),
        "action_type": lazy("Type"),
        "settings": lazy("Action Details"),
    }
    formatters_columns = {"action_type": type_label, "settings": _settings_shown}
    base_order = ("sequence", "asc")
    # FAB would build forms from the columns at start-up; this form is built per request.
    add_form = ActionForm
    edit_form = ActionForm

    # --------------------------------------------------------------- the form

    def _settings_form(self, rule: AutomationRule) -> SettingsForm:
        registry = get_state().registry
        if rule.model not in registry:
            abort(409, description=f"The rule's model {rule.model!r} is not installed.")
        types = list(get_webhooks().action_types)
        return SettingsForm(types, registry[rule.model], get_env(), registry)

    def _handle(self, rule: AutomationRule, action: ServerAction | None) -> str | Response:
        """GET shows the form; POST validates and saves, or shows it again with the errors.

        Without the right to write code (addons/webhooks/rules/code_rights.py) code inputs are shown
        disabled, and an action that holds code can only be renamed: its type, sequence and
        settings are shown disabled and keep their values.
        """
        types = get_webhooks().action_types
        settings_form = self._settings_form(rule)
        writes_code = can_write_code()
        before = ActionState.of(action) if action is not None else None
        locked = not writes_code and before is not None and before.holds_code()
        if request.method == "POST":
            form = ActionForm()
        else:
            form = ActionForm(obj=action)
            if action is None:
                form.sequence.data = self._next_sequence(rule)
                form.action_type.data = request.args.get("type") or next(iter(types)).key
        form.action_type.choices = choices(type_choices())
        if locked:
            # The type is posted by a hidden input (a disabled drop-down is not posted).
            form.action_type.render_kw = {"disabled": True}
            form.sequence.render_kw = {"readonly": True}
        chosen = form.action_type.data if form.action_type.data in types else None
        if request.method == "GET" and action is not None and action.action_type not in types:
            unknown_type_warning(action)
        sections = {t.key: settings_form.empty(t.key) for t in types}
        same_type = action is not None and chosen is not None and chosen == action.action_type
        stored = dict(action.settings or {}) if action is not None and same_type else None
        # A locked action's settings are not posted (disabled inputs): it keeps its own.
        keep_stored = locked and stored is not None and not _posted_settings(chosen)
        if request.method == "POST" and chosen and not keep_stored:
            sections[chosen] = settings_form.from_form(chosen, request.form)
        elif chosen and stored is not None:
            # Header values are hidden from those who may not read secrets (hidden_headers.py).
            shown = stored if can_read_secrets() else hidden_headers.hide(chosen, stored)
            sections[chosen] = settings_form.from_settings(chosen, shown)
        if not writes_code:
            message = translate(WRITE_CODE_REFUSED)
            for section in sections.values():
                settings_form.lock_code(section, message)
            if locked and chosen:
                sections[chosen].locked = True
                sections[chosen].note = translate(ACTION_REFUSED)

        if request.method == "POST":
            valid = form.validate()
            if keep_stored:
                settings = stored
            else:
                settings = (
                    self._validated(settings_form, sections[chosen], stored) if chosen else None
                )
            if valid and settings is not None and not writes_code:
                after = ActionState(
                    rule.id,
                    chosen,
                    settings,
                    form.sequence.data,
                    before.active if before is not None else True,
                )
                if action_needs_code_right(before, after):
                    _refuse_code(form, sections[chosen], before, after)
                    settings = None
                elif before is not None and before.same_as(after):
                    settings = dict(before.settings)  # as stored, whatever the line ends
            if valid and settings is not None:
                action = action or ServerAction(rule_id=rule.id)
                # Left empty, the name comes from the type and its settings (as Odoo's do).
                form.name.data = (form.name.data or "").strip() or action_name(
                    settings_form, chosen, settings
                )
                action.name = form.name.data
                action.sequence = form.sequence.data
                action.action_type = chosen
                action.settings = settings
                if self._save(action):
                    for warning in types[chosen].warnings(settings):
                        flash(warning, "warning")
                    return redirect(rule_url(rule))

        for section in sections.values():
            self._preview(settings_form, section, form.name.data or "", action and action.id)
        heading = (
            translate("Edit an action") if action and action.id else translate("Add an action")
        )
        return self.render_template(
            self.form_template,
            title=f"{heading}: {rule.name}",
            form=form,
            rule=rule,
            rule_model_label=model_label(rule.model),
            sections=list(sections.values()),
            chosen=chosen,
            back_url=rule_url(rule),
            action=action if action is not None and action.id else None,
            type_locked=locked,
        )

    @staticmethod
    def _preview(
        settings_form: SettingsForm, section: TypeSection, name: str, action_id: Any
    ) -> None:
        """Fill in the section's sample when its type makes one (``preview``)."""
        preview = getattr(settings_form.types[section.key], "preview", None)
        if preview is None:
            return
        settings = settings_form.read_quietly(section)
        try:
            section.preview = preview(
                settings_form.env, settings_form.entry, settings, name, action_id or "new"
            )
        except UserError as exc:  # a field nothing a rule does may read (a secret)
            section.preview = exc.message

    @staticmethod
    def _validated(
        settings_form: SettingsForm, section: TypeSection, stored: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The chosen type's settings as its schema loads them, or None with the messages
        shown on the inputs. Header values shown as hidden keep the ``stored`` ones."""
        settings = settings_form.read(section)
        if any(inp.errors for inp in section.inputs):
            return None
        if not can_read_secrets():
            settings = hidden_headers.restore(section.key, settings, stored)
            hidden = hidden_headers.still_hidden(section.key, settings)
            if hidden:
                message = translate(
                    "Give the value of the header(s) %(names)s.", names=", ".join(hidden)
                )
                keys = hidden_headers.header_settings(section.key)
                settings_form.show_errors(section, {key: [message] for key in keys})
                return None
        webhooks = get_webhooks()
        try:
            return webhooks.action_types[section.key].validate(
                settings, settings_form.entry, settings_form.env, webhooks.sandbox
            )
        except SettingsError as exc:
            settings_form.show_errors(section, exc.messages)
            return None

    def _save(self, action: ServerAction) -> bool:
        try:
            if action.id is None:
                self.datamodel.add(action)
            else:
                self.datamodel.edit(action)
        except Exception as exc:  # RecordInterface words database refusals for people
            flash(str(exc), "danger")
            return False
        flash(translate("The action %(name)s was saved.", name=repr(action.name)), "success")
        return True

    @staticmethod
    def _next_sequence(rule: AutomationRule) -> int:
        highest = db.session.scalar(
            sa.select(sa.func.max(ServerAction.sequence)).where(ServerAction.rule_id == rule.id)
        )
        return 10 if highest is None else min(int(highest) + 10, INT32)

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self) -> str | Response:
        return self._handle(_rule_or_404(request.args.get("rule_id")), None)

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk: Any) -> str | Response:
        action = self.datamodel.get(pk, self._base_filters)
        if action is None:
            abort(404)
        return self._handle(action.rule, action)

    # ------------------------------------------------------- the action's page

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk: Any) -> str:
        """The action's details and, for a signed type, its signing secret (if allowed)."""
        action = self.datamodel.get(pk, self._base_filters)
        if action is None:
            abort(404)
        widgets = self._show(pk)
        return self.render_template(
            "webhooks/action_show.html",
            pk=action.id,
            title=f"{self.show_title}: {action.name}",
            widgets=widgets,
            action=action,
            rule=action.rule,
            back_url=rule_url(action.rule),
            signs=action.action_type == "send_webhook",
            details=self._details(action),
            can_read_secrets=can_read_secrets(),
            graces=[(key, translate(label)) for key, label in SIGNING_GRACE_LABELS.items()],
        )

    def _details(self, action: ServerAction) -> list[tuple[str, str, bool]]:
        """The action's settings in words, as the rule's page lists them (header values
        hidden from those who may not read secrets)."""
        if action.rule.model not in get_state().registry:
            return []
        settings = _settings_shown(dict(action.settings or {}))
        return self._settings_form(action.rule).describe(action.action_type, settings)

    @expose("/rotate_signing_secret/<pk>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def rotate_signing_secret(self, pk: Any) -> Response:
        """Replace the action's signing secret; the old one may keep signing for a while."""
        action = self.datamodel.get(pk, self._base_filters)
        if action is None:
            abort(404)
        grace_key = request.form.get("grace", "none")
        if grace_key not in ROTATION_GRACE:
            abort(400)
        action.rotate_signing_secret(ROTATION_GRACE[grace_key][1])
        db.session.commit()
        until = action.previous_signing_secret_expires_at
        if until is None:
            message = translate(
                "The signing secret was rotated: messages are signed with the new secret only. "
                "Give it to the receivers."
            )
        else:
            message = translate(
                "The signing secret was rotated. Messages are signed with both secrets until "
                "%(until)s UTC: give the new one to the receivers before then.",
                until=f"{until:%Y-%m-%d %H:%M}",
            )
        flash(message, "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=action.id))

    def pre_delete(self, item: ServerAction) -> None:
        g.webhooks_deleted_from = item.rule
        if not can_write_code() and action_needs_code_right(ActionState.of(item), None):
            # FAB flashes the message and deletes nothing.
            raise UserError(translate(DELETE_ACTION_REFUSED))

    def post_delete_redirect(self) -> Response:
        # Back to the rule the action belonged to (FAB would go back in its page history).
        rule = g.get("webhooks_deleted_from")
        return redirect(rule_url(rule)) if rule is not None else super().post_delete_redirect()

    # ------------------------------------------------------- JSON for the form

    # Both JSON endpoints name records and fields of any model, so they take the right to
    # edit actions (which can run code that reads any model anyway), not just to see them.

    @expose("/value_choices")
    @has_access
    @permission_name("edit")
    def value_choices(self) -> Response:
        """The input for a value of ``field`` of the rule's model (or of ``model``)."""
        registry = get_state().registry
        model = request.args.get("model") or _rule_or_404(request.args.get("rule_id")).model
        if model not in registry:
            abort(404)
        fld = registry[model].fields.get(request.args.get("field", ""))
        if fld is not None and fld.readonly:
            fld = None
        return jsonify(value_input(get_env(), fld).as_json())

    @expose("/model_fields")
    @has_access
    @permission_name("edit")
    def model_fields(self) -> Response:
        """The fields an action may set on ``model``, as (technical name, label) pairs."""
        registry = get_state().registry
        model = request.args.get("model", "")
        if model not in registry:
            abort(404)
        return jsonify({"fields": [list(c) for c in field_choices(registry[model])]})

    @expose("/preview")
    @has_access
    @permission_name("edit")
    def preview(self) -> Response:
        """The sample of a type that has one, for the settings in the query string (as the
        form would post them). It reads a record of the rule's model: the right to edit
        actions, as for the other endpoints of the form."""
        rule = _rule_or_404(request.args.get("rule_id"))
        key = request.args.get("action_type", "")
        types = get_webhooks().action_types
        if key not in types or getattr(types[key], "preview", None) is None:
            abort(404)
        settings_form = self._settings_form(rule)
        section = settings_form.from_form(key, request.args)
        action_id = request.args.get("action_id", "")
        self._preview(
            settings_form,
            section,
            request.args.get("name", "")[:256],
            ascii_int(action_id, max_digits=9),
        )
        return jsonify({"preview": section.preview})
