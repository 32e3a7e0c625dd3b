"""The inputs of an action's settings form, and what building, reading and summing up the
settings share: a type's empty section read from its schema, and the models and fields its
inputs name (settings_form.py describes the widgets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields as ma
from marshmallow import validate as ma_validate

from addons.webhooks.action_types import ActionType
from addons.webhooks.action_types.send_webhook import sendable_fields
from addons.webhooks.views.naming import technical
from addons.webhooks.views.values import ValueInput
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


def readable_choices(entry: ModelEntry) -> list[tuple[str, str]]:
    """The fields a message may carry, as (technical name, label), in the order of the labels;
    never a secret field (nothing a rule does may read one)."""
    sendable = {
        name: label
        for name, label in sendable_fields(entry).items()
        if name not in entry.fields or not entry.fields[name].secret
    }
    found = sorted(sendable.items(), key=lambda f: (translate(f[1]).lower(), f[0]))
    return [(name, technical(translate(label), name)) for name, label in found]


class SettingsFormBase:
    """The types and the rule's model a settings form works for, and the look-ups its
    building, reading and summary share (the whole form: settings_form.SettingsForm)."""

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
