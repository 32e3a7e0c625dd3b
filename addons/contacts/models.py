"""The contact model."""

from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model

from nightpos_app.i18n import N_

COMPANY_TYPES = ("person", "company")


class Partner(Model):
    """A person or a company (``res.partner``)."""

    __tablename__ = "res_partner"
    __model_name__ = "res.partner"
    __model_description__ = N_("Contact")
    __model_order__ = "name, id"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(256), nullable=False, index=True, info={"label": N_("Name")})
    email = sa.Column(sa.String(256), index=True, info={"label": N_("Email")})
    phone = sa.Column(sa.String(64), info={"label": N_("Phone")})
    company_type = sa.Column(
        sa.Enum(
            *COMPANY_TYPES,
            name="res_partner_company_type",
            native_enum=False,
            create_constraint=True,
            length=16,
        ),
        nullable=False,
        default="person",
        info={
            "label": N_("Company Type"),
            "selection_labels": {"person": N_("Individual"), "company": N_("Company")},
        },
    )
    customer_rank = sa.Column(
        sa.Integer, nullable=False, default=0, info={"label": N_("Customer Rank")}
    )
    supplier_rank = sa.Column(
        sa.Integer, nullable=False, default=0, info={"label": N_("Supplier Rank")}
    )
    active = sa.Column(sa.Boolean, nullable=False, default=True, info={"label": N_("Active")})

    def __str__(self) -> str:
        return self.name or f"Contact #{self.id}"
