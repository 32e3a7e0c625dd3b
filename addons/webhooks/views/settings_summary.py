"""An action's settings summed up, one line a setting, for the rule page's list of actions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from addons.webhooks.views.naming import field_label, model_label
from addons.webhooks.views.settings_inputs import (
    SettingInput,
    SettingsFormBase,
    TypeSection,
    readable_choices,
)
from addons.webhooks.views.values import display_value
from nightpos_app.i18n import translate
from nightpos_app.orm.registry import ModelEntry


class SettingsSummary(SettingsFormBase):
    """How a settings form tells stored settings in words."""

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
            known = dict(readable_choices(model)) if model else {}
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
