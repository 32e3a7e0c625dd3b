"""REST resources of the webhooks addon, one module per concern.

* :mod:`~addons.webhooks.api.rules` — ``/api/v1/base_automation/``: rules, their secret URL
  and its rotation;
* :mod:`~addons.webhooks.api.actions` — ``/api/v1/ir_actions_server/``: actions, settings
  validated by their type, signing secrets;
* :mod:`~addons.webhooks.api.records` — the read-only call log, outbox and attempts;
* :mod:`~addons.webhooks.api.base` — what they share (:class:`WebhooksApi`): secret columns
  returned per caller, validating converters, rotations.

Each ``*_api(entry)`` builds the resource for the registered model ``entry``.
"""

from __future__ import annotations

from addons.webhooks.api.actions import ActionApi, ActionChecks, describe_action_type
from addons.webhooks.api.base import WebhooksApi, requested_grace
from addons.webhooks.api.records import AttemptApi, CallApi, DeliveryApi
from addons.webhooks.api.rules import (
    RuleApi,
    RuleChecks,
    code_right_problems,
    guard_problems,
    record_trigger_problems,
)

rule_api = RuleApi.for_model
action_api = ActionApi.for_model
call_api = CallApi.for_model
delivery_api = DeliveryApi.for_model
attempt_api = AttemptApi.for_model

__all__ = [
    "ActionApi",
    "ActionChecks",
    "AttemptApi",
    "CallApi",
    "DeliveryApi",
    "RuleApi",
    "RuleChecks",
    "WebhooksApi",
    "action_api",
    "attempt_api",
    "call_api",
    "code_right_problems",
    "delivery_api",
    "describe_action_type",
    "guard_problems",
    "record_trigger_problems",
    "requested_grace",
    "rule_api",
]
