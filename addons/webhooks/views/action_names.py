"""The name an action gets when it is saved without one, from its type and settings.

As Odoo names its server actions: "Update Sales Order: Currency = USD", "Create Contact: Name =
Ada", "Execute Code: contact_name = payload.get('name')". The name is stored, so it is English
and has no technical names whoever saved it (like every stored text, docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale

from addons.webhooks.views.settings_form import SettingsForm
from nightpos_app.devmode import without_technical_names

#: Stored names are at most 256 characters; a generated one stays readable in a list.
MAX_GENERATED = 120


def _first_line(code: str) -> str:
    """The first line of code that is not blank or a comment."""
    for line in code.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text
    return ""


def action_name(settings_form: SettingsForm, type_key: str, settings: dict[str, Any]) -> str:
    """A name for an action of ``type_key`` with ``settings`` on the form's model."""
    kind = settings_form.types[type_key]
    with force_locale("en"), without_technical_names():
        section = settings_form.section(type_key)
        shown = [inp for inp in section.inputs if inp.key in settings]
        described = settings_form.describe(type_key, settings)
        target = str(settings_form.entry.description)
        parts: list[str] = []
        chosen_field: str | None = None
        for inp, (label, text, is_code) in zip(shown, described, strict=False):
            if inp.widget == "field":
                chosen_field = text  # "Currency", then its value: "Currency = USD"
            elif inp.widget == "model":
                target = text
            elif chosen_field is not None and (inp.widget == "value" or inp.alternative_to):
                parts.append(f"{chosen_field} = {_first_line(text) if is_code else text}")
                chosen_field = None
            elif is_code:
                parts.append(_first_line(text))
            elif inp.widget == "field_values":
                parts.append(text.replace("; ", ", "))
            elif text:
                parts.append(f"{label} = {text}")
        if chosen_field is not None:
            parts.append(chosen_field)
        title = f"{kind.name_verb} {target}" if kind.name_verb else str(kind.label)
    name = f"{title}: {', '.join(p for p in parts if p)}" if any(parts) else title
    return name if len(name) <= MAX_GENERATED else name[: MAX_GENERATED - 1] + "…"
