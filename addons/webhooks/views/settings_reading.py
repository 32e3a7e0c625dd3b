"""Reading an action's settings form: the posted text becomes settings (typed: ids, numbers,
booleans) for the action type to validate, and the type's messages go back next to the inputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from addons.webhooks.checks import flatten_messages
from addons.webhooks.views.settings_inputs import (
    MAX_HEADER_LINES,
    SettingInput,
    SettingsFormBase,
    TypeSection,
)
from addons.webhooks.views.values import BadInput, parse_value
from nightpos_app.i18n import translate


class SettingsReading(SettingsFormBase):
    """What a settings form does with a posted section: read it, report the problems."""

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
            return True, read_headers(inp.value)
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


def read_headers(text: str) -> dict[str, str]:
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
