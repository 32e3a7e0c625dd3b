"""Which step of a rule failed, in the words every error message starts with.

A rule runs in steps: the Target Record, then each action in turn. An error that does not say
which step it came from sends the admin (or the sender of a webhook) looking in the wrong place
— ``invalid literal for int() with base 10: 'S00007'`` could be the payload, the Target Record
or an Execute Code action. So every error a run reports starts with its step:

    Target Record: invalid literal for int() with base 10: 'S00007'. Expected: ...
    Action 2 'Notify ERP': the receiver's URL ...

and, where it helps, ends with what was expected. The words are English: they are what the
webhook URL answers and what the call log keeps.
"""

from __future__ import annotations

import json

from nightpos_app.exceptions import UserError

TARGET_STEP = "Target Record"


class StepError(UserError):
    """A rule's error with the step that failed (``step``) in front of its message."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(in_step(step, message))
        self.step = step
        self.detail = message


def action_step(number: int, name: str) -> str:
    """How the ``number``-th action (1-based, in run order) is named in an error."""
    return f"Action {number} {name!r}"


def in_step(step: str | None, message: str) -> str:
    """``message`` with ``step`` in front (as it is when there is no step, or it is there)."""
    if not step or message.startswith(f"{step}: "):
        return message
    return f"{step}: {message}"


def in_step_error(step: str, error: UserError) -> UserError:
    """``error`` as a :class:`StepError` of ``step``; an error that names its step already
    (an action's nested run) is kept."""
    if isinstance(error, StepError):
        return error
    return StepError(step, error.message)


def payload_expectation(model: str) -> str:
    """What a Target Record that reads ``_model`` and ``_id`` (the default one) needs from the
    payload, with an example for ``model``."""
    example = json.dumps({"_model": model, "_id": 7})
    return (
        "Expected: _model (a technical name) and _id (a record's id as a number) in the "
        f"payload, e.g. {example}: an order numbered S00007 is sent as 7."
    )


def target_problem(error: UserError, model: str, target_record: str) -> StepError:
    """The Target Record's ``error`` as its step's; for an expression that reads the payload's
    ``_id`` (the default one does), with what the payload must hold."""
    message = error.message
    if "'_id'" in target_record or '"_id"' in target_record:
        message = f"{message.rstrip('.')}. {payload_expectation(model)}"
    return StepError(TARGET_STEP, message)
