"""The built-in action types: Update Record, Create Record, Execute Code.

They are registered through the same ``nightpos_action_types`` hook as any addon's types. Their
labels and descriptions are English, marked with ``N_``: the action form translates them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from addons.webhooks.action_types.base import ActionContext, ActionType, SettingsError
from addons.webhooks.action_types.send_webhook import SendWebhook
from nightpos_app.i18n import N_
from nightpos_app.orm.store import final_writes
from nightpos_app.orm.values import convert_values
from nightpos_app.state import get_state

if TYPE_CHECKING:
    from nightpos_app.orm import Environment, RecordSet
    from nightpos_app.orm.registry import ModelEntry
    from nightpos_app.sandbox.process import IsolatedSandbox

#: Admin code is limited in size like any input.
MAX_SOURCE_LENGTH = 64 * 1024


class FieldValueSchema(Schema):
    """One field to set: a fixed ``value`` or a Python ``expression`` computed per record."""

    # ``metadata`` tells the action form which input to show (addons/webhooks/views/
    # settings_form.py lists the widgets):
    # the field is chosen among the model's fields, the value input follows that field's type,
    # and the expression is the alternative to a fixed value.
    field = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"widget": "field", "label": N_("Field")},
    )
    value = fields.Raw(
        allow_none=True, metadata={"widget": "value", "field_from": "field", "label": N_("Value")}
    )
    expression = fields.String(
        validate=validate.Length(min=1, max=MAX_SOURCE_LENGTH),
        metadata={
            "widget": "expression",
            "alternative_to": "value",
            "label": N_("Computed value"),
            "description": N_(
                "A Python expression evaluated for each record (record, payload, env)."
            ),
        },
    )

    @validates_schema
    def _one_source(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("value" in data) == ("expression" in data):
            raise ValidationError("Give either a value or an expression.", "value")


def _check_field_values(
    assignments: list[dict[str, Any]],
    model: ModelEntry,
    env: Environment,
    sandbox: IsolatedSandbox,
    key: str,
) -> None:
    """Each field exists and is writable, each fixed value is valid, each expression compiles."""
    errors: dict[str, list[str]] = {}
    fixed: dict[str, Any] = {}
    for assignment in assignments:
        name = assignment["field"]
        fld = model.fields.get(name)
        if fld is None or fld.readonly:
            errors.setdefault(key, []).append(f"{model.name} has no writable field {name!r}.")
            continue
        if "expression" in assignment:
            problem = sandbox.check(assignment["expression"], "eval")
            if problem:
                errors.setdefault(key, []).append(f"{fld.label}: {problem}")
        else:
            fixed[name] = assignment["value"]
    if fixed and not errors:
        try:
            convert_values(env, model, fixed, creating=False)
        except ValueError as exc:
            errors.setdefault(key, []).append(str(exc))
    if errors:
        raise SettingsError(errors)


def _computed_values(
    context: ActionContext, record: RecordSet, assignments: list[dict[str, Any]]
) -> dict[str, Any]:
    values = {}
    for assignment in assignments:
        if "expression" in assignment:
            values[assignment["field"]] = context.sandbox.evaluate(
                assignment["expression"], context.names(record), filename=f"<{assignment['field']}>"
            )
        else:
            values[assignment["field"]] = assignment["value"]
    return values


class UpdateRecordSchema(FieldValueSchema):
    """Settings of Update Record: one field of the rule's model and its new value."""


class UpdateRecord(ActionType):
    """Set a field of the target record to a fixed or computed value."""

    key = "update_record"
    label = N_("Update Record")
    name_verb = "Update"
    description = N_(
        "Set a field of the target record to a value, or to the result of an expression."
    )
    schema = UpdateRecordSchema

    def check(
        self,
        settings: dict[str, Any],
        model: ModelEntry,
        env: Environment,
        sandbox: IsolatedSandbox,
    ) -> None:
        _check_field_values([settings], model, env, sandbox, "field")

    def run(self, context: ActionContext, record: RecordSet, settings: dict[str, Any]) -> None:
        values = _computed_values(context, record, [settings])
        # A refused write fails the rule, and the rule's transaction is rolled back.
        with final_writes(context.env):
            record.write(values)


class CreateRecordSchema(Schema):
    """Settings of Create Record: the model and the fields to set."""

    model = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"widget": "model", "label": N_("Model")},
    )
    values = fields.List(
        fields.Nested(FieldValueSchema),
        required=True,
        validate=validate.Length(max=200),
        metadata={"widget": "field_values", "model_from": "model", "label": N_("Values")},
    )


class CreateRecord(ActionType):
    """Create a record of any model with fixed or computed values."""

    key = "create_record"
    label = N_("Create Record")
    name_verb = "Create"
    description = N_(
        "Create a new record, its fields set to values or to the results of expressions."
    )
    schema = CreateRecordSchema

    def check(
        self,
        settings: dict[str, Any],
        model: ModelEntry,
        env: Environment,
        sandbox: IsolatedSandbox,
    ) -> None:
        target = settings["model"]
        if target not in env:
            raise SettingsError({"model": [f"Unknown model {target!r}."]})
        _check_field_values(
            settings["values"], get_state().registry[target], env, sandbox, "values"
        )

    def run(self, context: ActionContext, record: RecordSet, settings: dict[str, Any]) -> None:
        values = _computed_values(context, record, settings["values"])
        with final_writes(context.env):  # as Update Record's
            context.env[settings["model"]].create(values)


class ExecuteCodeSchema(Schema):
    """Settings of Execute Code: the Python source."""

    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_SOURCE_LENGTH),
        metadata={
            "widget": "code",
            "label": N_("Code"),
            "description": N_(
                "Python run for each record with env, model, record, records, payload, log, "
                "UserError, datetime, time and json."
            ),
        },
    )


class ExecuteCode(ActionType):
    """Run Python code in the sandbox with env, model, record(s), payload and helpers."""

    key = "execute_code"
    label = N_("Execute Code")
    description = N_(
        "Run Python code with env, model, record, records, payload, log, UserError, "
        "datetime, time and json."
    )
    schema = ExecuteCodeSchema

    def check(
        self,
        settings: dict[str, Any],
        model: ModelEntry,
        env: Environment,
        sandbox: IsolatedSandbox,
    ) -> None:
        problem = sandbox.check(settings["code"], "exec")
        if problem:
            raise SettingsError({"code": [problem]})

    def run(self, context: ActionContext, record: RecordSet, settings: dict[str, Any]) -> None:
        code, names = settings["code"], context.names(record)
        if context.sandbox.catches(code):
            context.sandbox.execute(code, names, filename="<code>")
            return
        # Code without ``try`` cannot catch a refused write and go on: the error fails the rule,
        # whose transaction is rolled back, so its writes need no savepoint.
        with final_writes(context.env):
            context.sandbox.execute(code, names, filename="<code>")


BUILTIN_ACTION_TYPES: list[type[ActionType]] = [
    UpdateRecord,
    CreateRecord,
    ExecuteCode,
    SendWebhook,
]
