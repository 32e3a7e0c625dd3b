"""Currencies and sales orders."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import relationship

from nightpos_app.i18n import N_

ORDER_STATES = ("draft", "sent", "sale", "cancel")


class Currency(Model):
    """A currency by ISO 4217 code (``res.currency``)."""

    __tablename__ = "res_currency"
    __model_name__ = "res.currency"
    __model_description__ = N_("Currency")
    __model_order__ = "name, id"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(
        sa.String(3),
        nullable=False,
        unique=True,
        info={"label": N_("Currency"), "help": N_("ISO 4217 code, e.g. USD")},
    )
    symbol = sa.Column(sa.String(8), nullable=False, info={"label": N_("Symbol")})
    active = sa.Column(sa.Boolean, nullable=False, default=True, info={"label": N_("Active")})

    def __str__(self) -> str:
        return self.name or f"Currency #{self.id}"


class SaleOrder(Model):
    """A sales order (``sale.order``); its number is ``S`` + the id on five digits."""

    __tablename__ = "sale_order"
    __model_name__ = "sale.order"
    __model_description__ = N_("Sales Order")
    __model_order__ = "id desc"
    __model_computed__ = {"name": N_("Order Reference")}

    id = sa.Column(sa.Integer, primary_key=True)
    partner_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("res_partner.id"),
        nullable=False,
        index=True,
        info={"label": N_("Customer")},
    )
    partner = relationship("Partner")
    currency_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("res_currency.id"),
        nullable=False,
        index=True,
        info={"label": N_("Currency")},
    )
    currency = relationship("Currency")
    date_order = sa.Column(
        sa.Date, nullable=False, default=dt.date.today, info={"label": N_("Order Date")}
    )
    state = sa.Column(
        sa.Enum(
            *ORDER_STATES,
            name="sale_order_state",
            native_enum=False,
            create_constraint=True,
            length=16,
        ),
        nullable=False,
        default="draft",
        info={
            "label": N_("Status"),
            "selection_labels": {
                "draft": N_("Quotation"),
                "sent": N_("Quotation Sent"),
                "sale": N_("Sales Order"),
                "cancel": N_("Cancelled"),
            },
        },
    )
    amount_total = sa.Column(
        sa.Numeric(14, 2), nullable=False, default=0, info={"label": N_("Total")}
    )
    note = sa.Column(sa.Text, info={"label": N_("Terms and Conditions")})

    @property
    def name(self) -> str:
        """The order reference shown to users: S00007 is order 7."""
        return f"S{self.id:05d}" if self.id is not None else "New"

    def __str__(self) -> str:
        return self.name
