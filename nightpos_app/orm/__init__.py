"""The record API: a model registry, environments, recordsets and domains."""

from nightpos_app.orm.environment import Environment
from nightpos_app.orm.fields import FieldInfo
from nightpos_app.orm.recordset import RecordSet
from nightpos_app.orm.registry import ModelEntry, ModelRegistry
from nightpos_app.sandbox.records import register_record_types

# Admin code handed these (tests of the sandbox's first layer, in process) sees the record API.
register_record_types(RecordSet, Environment)

__all__ = ["Environment", "FieldInfo", "ModelEntry", "ModelRegistry", "RecordSet"]
