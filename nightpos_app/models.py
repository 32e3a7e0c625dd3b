"""The host's own tables (not part of the record API)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_appbuilder import Model


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class InstalledAddon(Model):
    """One row per addon that `flask nightpos init` has set up in this database."""

    __tablename__ = "nightpos_addon"

    name = sa.Column(sa.String(64), primary_key=True)
    version = sa.Column(sa.String(32), nullable=False)
    demo_loaded = sa.Column(sa.Boolean, nullable=False, default=False)
    installed_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class UserSettings(Model):
    """One user's own preferences; a missing row means the defaults.

    A host table rather than a column on FAB's ``ab_user``: FAB owns that table and its
    forms, and a preference must not change what FAB's user screens edit.
    """

    __tablename__ = "nightpos_user_settings"

    user_id = sa.Column(
        sa.Integer, sa.ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True
    )
    #: Developer mode (Odoo's "debug mode"): screens show technical names of models and
    #: fields, and choices that only make sense with them (a rule's Model).
    developer_mode = sa.Column(sa.Boolean, nullable=False, default=False)
