"""How the webhook screens name models and fields, with or without developer mode.

Without developer mode people read labels ("Sales Order", "Currency"); with it they also see
the technical names a payload or admin code needs ("Sales Order (sale.order)",
"Currency (currency_id)"). Every webhook screen names things through these functions, so the
two modes never disagree from one screen to the next.

Labels are shown in the user's language (the registry keeps them in English); technical names
are never translated.
"""

from __future__ import annotations

from flask import request

from nightpos_app.devmode import developer_mode
from nightpos_app.i18n import translate
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.registry import ModelEntry
from nightpos_app.state import get_state

#: The model a business app's Webhooks menu opens with: (menu category, model). A menu entry is
#: added only where the category exists and the model is registered, so disabling an app
#: simply drops its entry.
APP_MODELS: tuple[tuple[str, str], ...] = (("Sales", "sale.order"), ("Contacts", "res.partner"))

#: The query argument that carries the app's model from a menu entry to the list and the form.
CONTEXT_ARG = "model"


def technical(label: str, name: str) -> str:
    """``label`` with the technical name after it when developer mode is on."""
    return f"{label} ({name})" if developer_mode() else label


def model_label(name: str | None) -> str:
    """How a model is named on screen; an unknown name is shown as it is."""
    if not name:
        return ""
    registry = get_state().registry
    if name not in registry:
        return name
    return technical(translate(registry[name].description), name)


def field_label(fld: FieldInfo) -> str:
    """How a field is named on screen: its label in the user's language."""
    return technical(translate(fld.label), fld.name)


def model_choices() -> list[tuple[str, str]]:
    """The models a rule may target, as (technical name, label), in the order of the labels.

    Developer mode offers every registered model. Without it, only the business models: those
    automation code may write (``__model_code_access__`` ``"write"``); the internal ones (a
    rule's actions, its call log, the outbox) are the engine's own and would only confuse.
    """
    everything = developer_mode()
    entries = sorted(
        (e for e in get_state().registry if everything or e.code_may_write),
        key=lambda e: (translate(e.description).lower(), e.name),
    )
    return [(entry.name, model_label(entry.name)) for entry in entries]


def writable_fields(entry: ModelEntry) -> list[FieldInfo]:
    """The fields an action may set: stored, not read-only, in the order of the shown labels."""
    return sorted(
        (f for f in entry.fields.values() if not f.readonly),
        key=lambda f: (translate(f.label).lower(), f.name),
    )


def field_choices(entry: ModelEntry) -> list[tuple[str, str]]:
    return [(f.name, field_label(f)) for f in writable_fields(entry)]


def context_model() -> str | None:
    """The model of the app the screens were opened from (``?model=sale.order``), if any.

    Only a registered technical name counts: anything else is ignored rather than echoed.
    """
    name = request.args.get(CONTEXT_ARG, "")
    return name if name in get_state().registry else None
