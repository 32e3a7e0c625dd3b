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
from typing import Any

from addons.webhooks.rules.code_rights import code_settings
from addons.webhooks.views.naming import field_choices, model_choices
from addons.webhooks.views.settings_inputs import (
    BLANK_ROWS,
    MAX_HEADER_LINES,
    MAX_ROWS,
    FormData,
    SettingInput,
    TypeSection,
    ValueRow,
    readable_choices,
)
from addons.webhooks.views.settings_reading import SettingsReading
from addons.webhooks.views.settings_summary import SettingsSummary
from addons.webhooks.views.values import format_value, value_input

# The inputs are re-exported: the action views import them from here.
__all__ = [
    "BLANK_ROWS",
    "MAX_HEADER_LINES",
    "MAX_ROWS",
    "FormData",
    "SettingInput",
    "SettingsForm",
    "TypeSection",
    "ValueRow",
]


class SettingsForm(SettingsReading, SettingsSummary):
    """Builds and reads the settings sections of an action form for one rule's model.

    Building a section (empty, from stored settings, as posted) is here; its inputs and the
    look-ups are in settings_inputs.py, reading a posted section in settings_reading.py, the
    summary of stored settings in settings_summary.py.
    """

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
                inp.choices = readable_choices(model) if model else []
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
