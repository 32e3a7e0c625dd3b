"""The rule form's field pickers: Date Field, Trigger Fields, and Values set's Field and Value.

They are drop-downs of the chosen model's real fields, read from the model registry the engine
uses (``get_state().registry``), named the way every webhook screen names fields
(:mod:`addons.webhooks.views.naming`): the date and datetime fields for the Date Field, the
model's fields for Trigger Fields (several may be chosen), its selection fields for Values
set's Field and the field's allowed values for its Value.

The page carries each offered model's choices (``data-model-fields``); webhooks.js swaps the
options when the admin picks another model, with no request. The server checks every posted
name against the model all the same (:func:`field_problems`), so a hand-made POST cannot store
a field of another model or a field of the wrong type.

A stored value the model does not offer (a rule saved as text before these were drop-downs,
naming a field since removed) is kept as an option of its own, so that it shows selected and
the form says what is wrong with it rather than silently dropping it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import SelectMultipleField

from addons.webhooks.rules.record_filters import parse_fields
from addons.webhooks.views.naming import field_label, model_label
from addons.webhooks.views.widgets import choices
from nightpos_app.i18n import translate
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.registry import ModelEntry
from nightpos_app.state import get_state

#: The pickers, by form field.
PICKER_COLUMNS = ("trg_date_field", "trigger_fields", "trg_selection_field", "trg_selection_value")
_DATE_TYPES = ("date", "datetime")


class FieldNamesField(SelectMultipleField):
    """Trigger Fields: a multi-select whose data stays the text the rule stores
    (``"state, amount_total"``), so saving, the code-rights checks and the rule's page read it
    as before, and rules saved as text (commas or spaces) show their fields selected."""

    def process_data(self, value: Any) -> None:
        self.data = value if isinstance(value, str) else ", ".join(value or ())

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = ", ".join(v.strip() for v in valuelist if v.strip())

    def iter_choices(self) -> list[Any]:
        chosen = parse_fields(self.data)
        return [c._replace(selected=c.value in chosen) for c in super().iter_choices()]

    def pre_validate(self, form: Any) -> None:
        """Checked against the chosen model by :func:`field_problems`, with a clear message."""


def _sorted(fields: Iterable[FieldInfo]) -> list[tuple[str, str]]:
    pairs = [(f.name, field_label(f)) for f in fields]
    return sorted(pairs, key=lambda pair: (pair[1].lower(), pair[0]))


def model_pickers(entry: ModelEntry) -> dict[str, Any]:
    """A model's choices for the four pickers, as (technical name, label) pairs."""
    fields = list(entry.fields.values())
    selections = [f for f in fields if f.type == "selection"]
    return {
        "date": _sorted(f for f in fields if f.type in _DATE_TYPES),
        # Any field but the id, as the record triggers accept (rules/record_filters.py).
        "fields": _sorted(f for f in fields if f.name != "id"),
        "selection": _sorted(selections),
        "values": {
            f.name: [(key, translate(label)) for key, label in f.selection] for f in selections
        },
    }


def pickers_by_model(models: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The pickers' choices of each registered model among ``models`` (for webhooks.js)."""
    registry = get_state().registry
    return {
        name: model_pickers(registry[name]) for name in dict.fromkeys(models) if name in registry
    }


def _with_current(pairs: list[tuple[str, str]], current: Iterable[str]) -> list[tuple[str, str]]:
    """``pairs`` and, after them, the current values they lack (shown as they are)."""
    offered = {value for value, _label in pairs}
    return [*pairs, *((value, value) for value in current if value and value not in offered)]


def set_picker_choices(form: Any) -> None:
    """Give the bound form's pickers the choices of its Model (posted, stored or default)."""
    registry = get_state().registry
    known = form.model.data in registry
    pickers = model_pickers(registry[form.model.data]) if known else {}
    selection = form.trg_selection_field.data or ""
    empty = [("", "")]
    form.trg_date_field.choices = choices(
        empty + _with_current(pickers.get("date", []), [form.trg_date_field.data or ""])
    )
    form.trigger_fields.choices = choices(
        _with_current(pickers.get("fields", []), sorted(parse_fields(form.trigger_fields.data)))
    )
    form.trg_selection_field.choices = choices(
        empty + _with_current(pickers.get("selection", []), [selection])
    )
    form.trg_selection_value.choices = choices(
        empty
        + _with_current(
            pickers.get("values", {}).get(selection, []), [form.trg_selection_value.data or ""]
        )
    )


def field_problems(
    entry: ModelEntry, trigger: str | None, values: dict[str, Any]
) -> dict[str, str]:
    """Why the pickers' posted values do not suit ``entry``, by column, in the user's language.

    ``values`` are the form's data; the columns a trigger does not use were blanked before.
    """
    problems: dict[str, str] = {}
    model = model_label(entry.name)
    fields = entry.fields

    def unknown(names: Iterable[str]) -> str:
        return translate("%(model)s has no field %(fields)s.", model=model, fields=", ".join(names))

    date_name = values.get("trg_date_field") or ""
    if date_name and date_name not in fields:
        problems["trg_date_field"] = unknown([date_name])
    elif date_name and fields[date_name].type not in _DATE_TYPES:
        problems["trg_date_field"] = translate(
            "%(field)s is not a date or datetime field: choose one of %(model)s's date fields.",
            field=field_label(fields[date_name]),
            model=model,
        )
    elif not date_name and trigger == "on_time":
        problems["trg_date_field"] = translate(
            "Choose a date or datetime field of %(model)s.", model=model
        )

    strangers = sorted(
        n for n in parse_fields(values.get("trigger_fields")) if n not in fields or n == "id"
    )
    if strangers:
        problems["trigger_fields"] = unknown(strangers)

    selection_name = values.get("trg_selection_field") or ""
    selection = fields.get(selection_name)
    if selection_name and selection is None:
        problems["trg_selection_field"] = unknown([selection_name])
    elif selection is not None and selection.type != "selection":
        problems["trg_selection_field"] = translate(
            "%(field)s is not a selection field: choose one of %(model)s's selection fields.",
            field=field_label(selection),
            model=model,
        )
    elif trigger == "on_value_set" and selection is None:
        problems["trg_selection_field"] = translate(
            "Choose a selection field of %(model)s.", model=model
        )
    elif trigger == "on_value_set" and selection is not None:
        allowed = [key for key, _label in selection.selection]
        if values.get("trg_selection_value") not in allowed:
            problems["trg_selection_value"] = translate(
                "Choose one of %(values)s.", values=", ".join(allowed)
            )
    return problems
