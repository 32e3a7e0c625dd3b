"""An action type's settings as form inputs, read from the type's marshmallow schema.

No screen lists the action types or their settings: every registered type (a third-party
addon's too) gets a section of the action form built from its schema. A schema field's
``metadata`` may say which input to use; otherwise the marshmallow field type decides:

=================  ===========================================================================
``widget``         input
=================  ===========================================================================
``field``          a field of the rule's model (or of the model named by ``model_from``)
``value``          a value of the field named by ``field_from``: the input follows its type
``expression``     a one-line Python expression (a textarea)
``code``           Python code (a larger textarea)
``model``          a registered model
``field_values``   lines of (field, value or expression) of the model named by ``model_from``
``textarea``       multi-line text
``url``            a URL (a text input; the type checks it)
``field_list``     several fields of the rule's model (a multi-select; a list of names)
``headers``        HTTP headers, one ``Name: value`` a line (a mapping of names to values)
(none)             Boolean: checkbox; Integer/Float/Decimal: number; Date/DateTime: date inputs;
                   String with ``OneOf``: drop-down; String: text; anything else: JSON text
=================  ===========================================================================

``alternative_to: "<other setting>"`` makes a setting the alternative of another (a fixed value
or a computed expression): the form offers a choice and posts only the chosen one. ``label`` and
``description`` give the input's label and help.

The posted text becomes settings (typed: ids, numbers, booleans), which the action type then
validates; its messages, keyed by setting name, are shown next to the inputs.

A type's label and description, and its settings' labels, descriptions and choices, are English
in its class and schema (mark them with ``N_`` for ``make translations``); the sections show
them in the user's language. The type's validation messages are shown as the type words them
(the REST API gives the same ones).

A type with a ``preview(env, model, settings, action_name, action_id)`` method (Send Webhook
Notification) gets a sample under its settings, kept up to date by the form's script through
``/serveractionview/preview``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields as ma
from marshmallow import validate as ma_validate

from addons.webhooks.action_types import ActionType
from addons.webhooks.action_types.send_webhook import sendable_fields
from addons.webhooks.checks import flatten_messages
from addons.webhooks.rules.code_rights import code_settings
from addons.webhooks.views.naming import (
    field_choices,
    field_label,
    model_choices,
    model_label,
    technical,
)
from addons.webhooks.views.values import (
    BadInput,
    ValueInput,
    display_value,
    format_value,
    parse_value,
    value_input,
)
from nightpos_app.i18n import translate
from nightpos_app.orm import Environment
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.registry import ModelEntry, ModelRegistry

#: Blank lines offered under the filled ones of a ``field_values`` input.
BLANK_ROWS = 2
#: Lines of a ``field_values`` input read from a post (the schema allows 200).
MAX_ROWS = 200
#: Lines of a ``headers`` input read from a post (the type refuses more than a few anyway).
MAX_HEADER_LINES = 100

FormData = Mapping[str, str]


@dataclass
class ValueRow:
    """One line of a ``field_values`` input: a field and its fixed value or expression."""

    index: int
    field: str = ""
    source: str = "value"  # "value" | "expression"
    text: str = ""


@dataclass
class SettingInput:
    """One setting of one action type, as the form shows it."""

    key: str
    name: str  # the HTML input name: "<type key>-<setting>"
    label: str
    help: str
    widget: str
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    errors: list[str] = field(default_factory=list)
    #: For a ``value`` input: the input that suits the chosen field.
    value_input: ValueInput | None = None
    #: On an alternative (an expression): the setting it replaces.
    alternative_to: str | None = None
    #: On a setting with alternatives: their keys, and which one is chosen.
    alternatives: list[str] = field(default_factory=list)
    source: str = ""
    #: For ``field_values``: the lines, and the fields they may set.
    rows: list[ValueRow] = field(default_factory=list)
    field_choices: list[tuple[str, str]] = field(default_factory=list)
    #: For ``field_list``: the chosen names, in order.
    values: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Shown disabled: code, for someone who may not write it (rules/code_rights.py).
    locked: bool = False
    #: For ``field_values``: fixed values only, no computed ones (the same reason).
    no_expression: bool = False

    @property
    def source_name(self) -> str:
        return f"{self.name}-source"


@dataclass
class TypeSection:
    """The settings of one action type; the form shows the chosen type's section."""

    key: str
    label: str
    description: str
    inputs: list[SettingInput]
    #: Messages not about one setting (e.g. the settings as a whole).
    errors: list[str] = field(default_factory=list)
    #: For a type that has ``preview``: what it would produce with these settings.
    preview: str | None = None
    #: Every input shown disabled, and why (an action that holds code, for someone who may
    #: not write code).
    locked: bool = False
    note: str = ""

    def input(self, key: str) -> SettingInput:
        return next(i for i in self.inputs if i.key == key)


def _default_widget(fld: ma.Field) -> str:
    if isinstance(fld, ma.Boolean):
        return "checkbox"
    if isinstance(fld, ma.Integer):
        return "integer"
    if isinstance(fld, ma.Number):
        return "number"
    if isinstance(fld, ma.DateTime):
        return "datetime"
    if isinstance(fld, ma.Date):
        return "date"
    if isinstance(fld, ma.String):
        if any(isinstance(v, ma_validate.OneOf) for v in fld.validators):
            return "select"
        return "text"
    return "json"


def _one_of_choices(fld: ma.Field) -> list[tuple[str, str]]:
    for validator in fld.validators:
        if isinstance(validator, ma_validate.OneOf):
            return [(str(value), translate(str(label))) for value, label in validator.options()]
    return []


def _label(key: str, fld: ma.Field) -> str:
    return translate(str(fld.metadata.get("label") or key.replace("_", " ").capitalize()))


class SettingsForm:
    """Builds and reads the settings sections of an action form for one rule's model."""

    def __init__(
        self,
        types: list[ActionType],
        entry: ModelEntry,
        env: Environment,
        registry: ModelRegistry,
    ) -> None:
        self.types = {t.key: t for t in types}
        self.entry = entry
        self.env = env
        self.registry = registry

    # ------------------------------------------------------------------ building

    def section(self, type_key: str) -> TypeSection:
        """The empty section of one type, straight from its schema."""
        action_type = self.types[type_key]
        inputs: list[SettingInput] = []
        for key, fld in action_type.schema().fields.items():
            widget = str(fld.metadata.get("widget") or _default_widget(fld))
            inputs.append(
                SettingInput(
                    key=key,
                    name=f"{type_key}-{key}",
                    label=_label(key, fld),
                    help=translate(str(fld.metadata.get("description", ""))),
                    widget=widget,
                    required=bool(fld.required),
                    choices=_one_of_choices(fld) if widget == "select" else [],
                    alternative_to=fld.metadata.get("alternative_to"),
                    metadata=dict(fld.metadata),
                )
            )
        for inp in inputs:
            if inp.alternative_to:
                primary = next((i for i in inputs if i.key == inp.alternative_to), None)
                if primary is not None:
                    primary.alternatives.append(inp.key)
                    primary.source = primary.source or primary.key
        return TypeSection(
            type_key, translate(action_type.label), translate(action_type.description), inputs
        )

    def _model_of(self, section: TypeSection, inp: SettingInput) -> ModelEntry | None:
        """The model whose fields ``inp`` names: the one ``model_from`` names, else the rule's."""
        source = inp.metadata.get("model_from")
        if not source:
            return self.entry
        name = next((i.value for i in section.inputs if i.key == source), "")
        return self.registry[name] if name in self.registry else None  # noqa: SIM401 (no .get)

    def _field_of(self, section: TypeSection, inp: SettingInput) -> FieldInfo | None:
        """For a ``value`` input: the field the ``field_from`` setting has chosen."""
        source = inp.metadata.get("field_from")
        chosen = next((i.value for i in section.inputs if i.key == source), "")
        model = self._model_of(section, inp)
        return model.fields.get(chosen) if model is not None and chosen else None

    def _complete(self, section: TypeSection) -> TypeSection:
        """Fill the choices that depend on other inputs (a field's value, a model's fields)."""
        for inp in section.inputs:
            if inp.widget == "model":
                inp.choices = [("", ""), *model_choices()]
            elif inp.widget == "field":
                model = self._model_of(section, inp)
                inp.choices = [("", ""), *field_choices(model)] if model else []
            elif inp.widget == "field_list":
                model = self._model_of(section, inp)
                inp.choices = _readable_choices(model) if model else []
            elif inp.widget == "value":
                inp.value_input = value_input(self.env, self._field_of(section, inp))
            elif inp.widget == "field_values":
                model = self._model_of(section, inp)
                inp.field_choices = [("", ""), *field_choices(model)] if model else []
                start = len(inp.rows)
                inp.rows.extend(ValueRow(start + n) for n in range(BLANK_ROWS))
        return section

    def lock_code(self, section: TypeSection, message: str) -> TypeSection:
        """Show the section's code disabled, with ``message`` as its help: code inputs (and
        settings holding code the form cannot separate), and the computed values of
        ``field_values`` lines."""
        holding = code_settings(section.key)
        for inp in section.inputs:
            if inp.key not in holding:
                continue
            if inp.widget == "field_values":
                inp.no_expression = True
            else:
                inp.locked = True
            inp.help = message
        return section

    def empty(self, type_key: str) -> TypeSection:
        return self._complete(self.section(type_key))

    def from_settings(self, type_key: str, settings: Mapping[str, Any]) -> TypeSection:
        """The section showing stored settings (the edit form)."""
        section = self.section(type_key)
        for inp in section.inputs:
            if inp.key not in settings:
                continue
            stored = settings[inp.key]
            if inp.alternative_to:
                primary = next((i for i in section.inputs if i.key == inp.alternative_to), None)
                if primary is not None:
                    primary.source = inp.key
            if inp.widget == "checkbox":
                inp.value = "y" if stored else ""
            elif inp.widget == "json":
                inp.value = json.dumps(stored, ensure_ascii=False, indent=2)
            elif inp.widget == "field_values":
                inp.rows = self._rows_from_settings(section, inp, stored)
            elif inp.widget == "field_list":
                inp.values = [str(v) for v in stored] if isinstance(stored, list) else []
            elif inp.widget == "headers":
                pairs = stored.items() if isinstance(stored, Mapping) else []
                inp.value = "\n".join(f"{name}: {value}" for name, value in pairs)
            elif inp.widget == "value":
                continue  # needs the field, read below
            else:
                inp.value = "" if stored is None else str(stored)
        for inp in section.inputs:
            if inp.widget == "value" and inp.key in settings:
                inp.value = format_value(self._field_of(section, inp), settings[inp.key])
        return self._complete(section)

    def _rows_from_settings(
        self, section: TypeSection, inp: SettingInput, stored: Any
    ) -> list[ValueRow]:
        model = self._model_of(section, inp)
        rows = []
        for index, line in enumerate(stored if isinstance(stored, list) else []):
            if not isinstance(line, Mapping):
                continue
            name = str(line.get("field", ""))
            if "expression" in line:
                rows.append(ValueRow(index, name, "expression", str(line["expression"])))
            else:
                fld = model.fields.get(name) if model else None
                rows.append(ValueRow(index, name, "value", format_value(fld, line.get("value"))))
        return rows

    def from_form(self, type_key: str, form: FormData) -> TypeSection:
        """The section as posted (what the person typed, even when it is not valid)."""
        section = self.section(type_key)
        for inp in section.inputs:
            if inp.widget == "field_values":
                inp.rows = self._rows_from_form(inp, form)
            elif inp.widget == "field_list":
                posted = form.getlist(inp.name) if hasattr(form, "getlist") else []
                inp.values = [str(v) for v in posted if v][:MAX_ROWS]
            else:
                inp.value = form.get(inp.name, "")
            if inp.alternatives:
                chosen = form.get(inp.source_name, inp.key)
                inp.source = chosen if chosen in inp.alternatives else inp.key
        return self._complete(section)

    @staticmethod
    def _rows_from_form(inp: SettingInput, form: FormData) -> list[ValueRow]:
        pattern = re.compile(rf"^{re.escape(inp.name)}-(\d{{1,3}})-field$")
        indices = sorted({int(m.group(1)) for k in form if (m := pattern.match(k))})
        rows = []
        for index in indices[:MAX_ROWS]:
            prefix = f"{inp.name}-{index}"
            row = ValueRow(
                len(rows),
                form.get(f"{prefix}-field", ""),
                "expression" if form.get(f"{prefix}-source") == "expression" else "value",
                form.get(f"{prefix}-value", ""),
            )
            if row.field or row.text:
                rows.append(row)
        return rows

    # ------------------------------------------------------------------- reading

    def read(self, section: TypeSection) -> dict[str, Any]:
        """The settings the section holds; problems with the text go to ``inp.errors``."""
        settings: dict[str, Any] = {}
        skipped = {
            key
            for inp in section.inputs
            if inp.alternatives
            for key in [inp.key, *inp.alternatives]
            if key != inp.source
        }
        for inp in section.inputs:
            if inp.key in skipped:
                continue
            try:
                present, value = self._read_input(section, inp)
            except BadInput as exc:
                inp.errors.append(str(exc))
                continue
            if present:
                settings[inp.key] = value
        return settings

    def _read_input(self, section: TypeSection, inp: SettingInput) -> tuple[bool, Any]:
        if inp.widget == "checkbox":
            return True, bool(inp.value)
        if inp.widget == "field_values":
            return True, self._read_rows(section, inp)
        if inp.widget == "field_list":
            return True, list(inp.values)
        if inp.widget == "headers":
            return True, _read_headers(inp.value)
        if inp.widget == "value":
            return True, parse_value(self._field_of(section, inp), inp.value)
        if inp.value == "":
            return False, None  # the schema says whether it is required
        if inp.widget == "json":
            try:
                return True, json.loads(inp.value)
            except ValueError as exc:
                raise BadInput(translate("Not valid JSON: %(error)s", error=exc)) from None
        return True, inp.value  # marshmallow turns text into numbers, dates...

    def _read_rows(self, section: TypeSection, inp: SettingInput) -> list[dict[str, Any]]:
        model = self._model_of(section, inp)
        lines: list[dict[str, Any]] = []
        problems: list[str] = []
        for number, row in enumerate(inp.rows, start=1):
            if not row.field and not row.text:
                continue  # a blank line offered for typing in
            if not row.field:
                problems.append(translate("Line %(number)s: choose a field.", number=number))
                continue
            if row.source == "expression":
                lines.append({"field": row.field, "expression": row.text})
                continue
            fld = model.fields.get(row.field) if model else None
            try:
                lines.append({"field": row.field, "value": parse_value(fld, row.text)})
            except BadInput as exc:
                problems.append(
                    translate("Line %(number)s: %(problem)s", number=number, problem=exc)
                )
        if problems:
            raise BadInput(" ".join(problems))
        return lines

    def read_quietly(self, section: TypeSection) -> dict[str, Any]:
        """The settings as far as they can be read, nothing reported (for a preview)."""
        settings: dict[str, Any] = {}
        for inp in section.inputs:
            try:
                present, value = self._read_input(section, inp)
            except BadInput:
                continue
            if present:
                settings[inp.key] = value
        return settings

    # -------------------------------------------------------------------- errors

    @staticmethod
    def show_errors(section: TypeSection, messages: Any) -> None:
        """Put a type's validation messages (keyed by setting) next to the inputs."""
        by_key = {inp.key: inp for inp in section.inputs}
        if not isinstance(messages, Mapping):
            section.errors.extend(flatten_messages(messages))
            return
        for key, problem in messages.items():
            target = by_key.get(str(key))
            if target is not None:
                target.errors.extend(flatten_messages(problem))
            else:
                section.errors.extend(flatten_messages(problem))

    # ------------------------------------------------------------------ summary

    def describe(self, type_key: str, settings: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
        """(label, text, is code) for each setting, for the rule page's list of actions."""
        if type_key not in self.types:
            return [(translate("Settings"), json.dumps(dict(settings), ensure_ascii=False), True)]
        section = self.section(type_key)
        lines: list[tuple[str, str, bool]] = []
        for inp in section.inputs:
            if inp.key not in settings:
                continue
            lines.append(self._describe_input(section, inp, settings))
        return lines

    def _describe_input(
        self, section: TypeSection, inp: SettingInput, settings: Mapping[str, Any]
    ) -> tuple[str, str, bool]:
        stored = settings[inp.key]
        if inp.widget in ("code", "expression"):
            return inp.label, str(stored), True
        if inp.widget == "model":
            return inp.label, model_label(str(stored)), False
        if inp.widget == "checkbox":
            return inp.label, translate("Yes") if stored else translate("No"), False
        if inp.widget == "field":
            model = self._model_for_summary(inp, settings)
            fld = model.fields.get(str(stored)) if model else None
            return inp.label, field_label(fld) if fld else str(stored), False
        if inp.widget == "value":
            model = self._model_for_summary(inp, settings)
            chosen = settings.get(inp.metadata.get("field_from", ""), "")
            fld = model.fields.get(str(chosen)) if model else None
            return inp.label, display_value(self.env, fld, stored), False
        if inp.widget == "field_values":
            model = self._model_for_summary(inp, settings)
            return inp.label, self._describe_rows(model, stored), False
        if inp.widget == "field_list":
            model = self._model_for_summary(inp, settings)
            names = stored if isinstance(stored, list) else []
            known = dict(_readable_choices(model)) if model else {}
            labels = [known.get(str(n), str(n)) for n in names]
            return inp.label, ", ".join(labels), False
        if inp.widget == "headers":
            # Names only: a header's value is often a credential (Authorization), and the
            # rule's page is read by people who may not see secrets.
            names = list(stored) if isinstance(stored, Mapping) else []
            return inp.label, ", ".join(str(n) for n in names), False
        if isinstance(stored, (dict, list)):
            return inp.label, json.dumps(stored, ensure_ascii=False), True
        return inp.label, str(stored), False

    def _model_for_summary(
        self, inp: SettingInput, settings: Mapping[str, Any]
    ) -> ModelEntry | None:
        source = inp.metadata.get("model_from")
        if not source:
            return self.entry
        name = settings.get(source)
        return self.registry[name] if isinstance(name, str) and name in self.registry else None

    def _describe_rows(self, model: ModelEntry | None, stored: Any) -> str:
        parts = []
        for line in stored if isinstance(stored, list) else []:
            if not isinstance(line, Mapping):
                continue
            name = str(line.get("field", ""))
            fld = model.fields.get(name) if model else None
            label = field_label(fld) if fld else name
            if "expression" in line:
                parts.append(f"{label} = {line['expression']}")
            else:
                parts.append(f"{label} = {display_value(self.env, fld, line.get('value'))}")
        return "; ".join(parts)


def _readable_choices(entry: ModelEntry) -> list[tuple[str, str]]:
    """The fields a message may carry, as (technical name, label), in the order of the labels;
    never a secret field (nothing a rule does may read one)."""
    sendable = {
        name: label
        for name, label in sendable_fields(entry).items()
        if name not in entry.fields or not entry.fields[name].secret
    }
    found = sorted(sendable.items(), key=lambda f: (translate(f[1]).lower(), f[0]))
    return [(name, technical(translate(label), name)) for name, label in found]


def _read_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines as a mapping; the action type checks names and values."""
    headers: dict[str, str] = {}
    problems: list[str] = []
    lines = [line for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines[:MAX_HEADER_LINES], start=1):
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name:
            problems.append(
                translate("Line %(number)s: write the header as Name: value.", number=number)
            )
        elif name.lower() in {n.lower() for n in headers}:
            problems.append(
                translate(
                    "Line %(number)s: the header %(name)s is given twice.",
                    number=number,
                    name=name,
                )
            )
        else:
            headers[name] = value.strip()
    if problems:
        raise BadInput(" ".join(problems))
    return headers
