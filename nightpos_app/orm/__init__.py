"""The record API: a model registry, environments, recordsets and domains."""

from nightpos_app.orm.environment import Environment
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.recordset import RecordSet
from nightpos_app.orm.registry import ModelEntry, ModelRegistry

__all__ = ["Environment", "FieldInfo", "ModelEntry", "ModelRegistry", "RecordSet"]
