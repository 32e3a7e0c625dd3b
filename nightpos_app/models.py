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
