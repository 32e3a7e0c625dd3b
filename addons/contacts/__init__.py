"""Contacts: people and companies (``res.partner``)."""

from __future__ import annotations

from typing import Any

from nightpos_app.addons import Manifest
from nightpos_app.hooks import hookimpl
from nightpos_app.i18n import N_

manifest = Manifest(
    name="contacts",
    version="1.0.0",
    summary="People and companies you do business with",
)


@hookimpl
def nightpos_models() -> list[type[Any]]:
    from addons.contacts.models import Partner

    return [Partner]


@hookimpl
def nightpos_views(views: Any) -> None:
    views.add(
        "res.partner",
        menu=N_("Contacts"),
        category=N_("Contacts"),
        icon="fa-address-book",
        category_icon="fa-address-book",
    )


@hookimpl
def nightpos_demo_data(env: Any) -> None:
    from addons.contacts.data import load_demo

    load_demo(env)
