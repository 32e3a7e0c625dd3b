"""The record API: a model registry, environments, recordsets and domains.

The names are imported when first asked for, so that :mod:`nightpos_app.orm.base` (what a
recordset does without a database) can be imported without SQLAlchemy: a runner process
builds its recordset handles on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nightpos_app.orm.environment import Environment
    from nightpos_app.orm.fields import FieldInfo
    from nightpos_app.orm.recordset import RecordSet
    from nightpos_app.orm.registry import ModelEntry, ModelRegistry

__all__ = ["Environment", "FieldInfo", "ModelEntry", "ModelRegistry", "RecordSet"]

_MODULES = {
    "Environment": "environment",
    "FieldInfo": "fields",
    "RecordSet": "recordset",
    "ModelEntry": "registry",
    "ModelRegistry": "registry",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'nightpos_app.orm' has no attribute {name!r}")
    # The environment module also declares the record types to the sandbox's guards.
    importlib.import_module("nightpos_app.orm.environment")
    return getattr(importlib.import_module(f"nightpos_app.orm.{module}"), name)
