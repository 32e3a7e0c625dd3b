"""Sales: sales orders (``sale.order``) and currencies (``res.currency``)."""

from __future__ import annotations

from typing import Any

from nightpos_app.addons import Manifest
from nightpos_app.hooks import hookimpl
from nightpos_app.i18n import N_

manifest = Manifest(
    name="sales",
    version="1.0.0",
    summary="Sales orders and the currencies they are in",
    depends=("contacts",),
)


@hookimpl
def nightpos_models() -> list[type[Any]]:
    from addons.sales.models import Currency, SaleOrder

    return [Currency, SaleOrder]


@hookimpl
def nightpos_views(views: Any) -> None:
    views.add(
        "sale.order",
        menu=N_("Orders"),
        category=N_("Sales"),
        icon="fa-file-text-o",
        category_icon="fa-shopping-cart",
    )
    views.add("res.currency", menu=N_("Currencies"), category=N_("Sales"), icon="fa-money")


@hookimpl
def nightpos_demo_data(env: Any) -> None:
    from addons.sales.data import load_demo

    load_demo(env)
