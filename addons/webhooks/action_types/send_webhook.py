"""Send Webhook Notification: tell another system about a record, through the outbox.

The action builds the message and writes it to the outbox (``webhook.delivery``) in the
transaction of the change: if the rule fails and its work is rolled back, the message is
rolled back with it, and a message is only ever sent about a change that was committed. A
worker (``addons/webhooks/outgoing/``) sends it after the commit, signs it with the action's
signing secret, checks the address against SSRF at send time and retries.

The body is compact JSON, Odoo's shape::

    {"_model": "sale.order", "_id": 7, "_action": "Notify ERP(#12)",
     "partner_id": 3, "date_order": "2024-05-06", "amount_total": 99.95}

Many-to-one fields are the related id (or null), dates and datetimes ISO 8601 (a datetime in
UTC, with ``Z``), decimals numbers. :func:`message_body` is the one place that builds it: the
action form's sample comes from it too, so what the form shows is what is sent.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, validate
from marshmallow import fields as ma

from addons.webhooks.action_types.base import ActionContext, ActionType, SettingsError
from addons.webhooks.outgoing.ssrf import check_url_syntax
from nightpos_app.i18n import N_

if TYPE_CHECKING:
    from nightpos_app.orm import Environment, RecordSet
    from nightpos_app.orm.fields import FieldInfo
    from nightpos_app.orm.registry import ModelEntry
    from nightpos_app.sandbox.process import IsolatedSandbox

MAX_URL_LENGTH = 2048
MAX_FIELDS = 200
MAX_HEADERS = 20
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 1024
MIN_TIMEOUT = 1
MAX_TIMEOUT = 30
DEFAULT_TIMEOUT = 10

#: RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: Headers the sender sets itself (the body's length and type, the host of the URL), and the
#: connection's own: an action must not be able to contradict them.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)
#: The Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature): a forged
#: one would make a receiver trust a message that the action's secret did not sign.
RESERVED_PREFIX = "webhook-"


def sendable_fields(entry: ModelEntry) -> dict[str, str]:
    """The fields a message may carry, name → English label: the stored fields, then the
    computed ones (a sales order's reference), but never a credential.

    A field declared secret (``info={"secret": True}``: a rule's URL secret, an action's
    settings, a message's headers) or with ``secret`` in its name is never sent: the people
    who choose the fields are not necessarily allowed to read secrets, and automation code may
    not read them either.
    """
    found = {f.name: f.label for f in entry.fields.values() if not f.secret}
    found.update(entry.computed)
    return {name: label for name, label in found.items() if "secret" not in name.lower()}


#: How long a save waits for the URL's host to resolve before it warns (the lookup may hang).
SAVE_RESOLVE_SECONDS = 3.0


def _save_resolver(host: str, port: int, **kwargs: Any) -> list[Any]:
    """``socket.getaddrinfo`` bounded by :data:`SAVE_RESOLVE_SECONDS`: a slow DNS server delays
    the save by that much at most (the lookup goes on in its thread, and is dropped)."""
    import socket
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Late

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(socket.getaddrinfo, host, port, **kwargs).result(SAVE_RESOLVE_SECONDS)
    except Late:
        raise OSError(f"no answer within {SAVE_RESOLVE_SECONDS:g} s") from None
    finally:
        pool.shutdown(wait=False)


def _check_url(value: str) -> None:
    """Syntax only: the address is resolved and checked (SSRF) when the worker sends."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Give an http:// or https:// URL.")
    if not parts.hostname:
        raise ValidationError("The URL has no host.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError("The URL must not contain spaces or control characters.")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number or out of range)
    except ValueError:
        raise ValidationError("The URL's port is not valid.") from None
    # The rest of what the sender would refuse without resolving the name (credentials).
    problem = check_url_syntax(value)
    if problem:
        raise ValidationError(problem.removeprefix("refused: ").capitalize() + ".")


def _check_headers(value: Mapping[str, str]) -> None:
    if len(value) > MAX_HEADERS:
        raise ValidationError(f"At most {MAX_HEADERS} extra headers.")
    problems = []
    for name, text in value.items():
        lowered = name.lower()
        if not _TOKEN.match(name) or len(name) > MAX_HEADER_NAME:
            problems.append(
                f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~, "
                f"at most {MAX_HEADER_NAME} characters)."
            )
        elif lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIX):
            problems.append(f"The header {name!r} is set by the sender and cannot be changed.")
        elif len(text) > MAX_HEADER_VALUE:
            problems.append(f"The value of {name!r} is longer than {MAX_HEADER_VALUE} characters.")
        elif any(ord(ch) < 32 and ch != "\t" or ord(ch) == 127 for ch in text):
            problems.append(f"The value of {name!r} must not contain line breaks.")
    if problems:
        raise ValidationError(problems)


class SendWebhookSchema(Schema):
    """Settings of Send Webhook Notification: where, which fields, extra headers, timeout."""

    url = ma.String(
        required=True,
        validate=[validate.Length(min=1, max=MAX_URL_LENGTH), _check_url],
        metadata={
            "widget": "url",
            "label": N_("URL"),
            "description": N_("Where the message is POSTed (http:// or https://)."),
        },
    )
    fields = ma.List(
        ma.String(validate=validate.Length(min=1, max=128)),
        load_default=list,
        validate=validate.Length(max=MAX_FIELDS),
        metadata={
            "widget": "field_list",
            "label": N_("Fields to send"),
            "description": N_("The fields of the record the message carries, besides its id."),
        },
    )
    headers = ma.Dict(
        keys=ma.String(validate=validate.Length(min=1)),
        values=ma.String(),
        load_default=dict,
        validate=_check_headers,
        metadata={
            "widget": "headers",
            "label": N_("Extra headers"),
            "description": N_("One header a line, Name: value (e.g. Authorization: Bearer …)."),
        },
    )
    timeout = ma.Integer(
        load_default=DEFAULT_TIMEOUT,
        validate=validate.Range(min=MIN_TIMEOUT, max=MAX_TIMEOUT),
        metadata={
            "label": N_("Timeout (s)"),
            "description": N_("How long to wait for the receiver's answer, 1 to 30 seconds."),
        },
    )


# ---------------------------------------------------------------- the message


def json_value(fld: FieldInfo | None, value: Any) -> Any:
    """A field's value as the message carries it.

    ``value`` is either what the record API reads (a many-to-one as a recordset) or a raw
    column value (a deleted record's: a many-to-one as the foreign key id).
    """
    if value is None:
        return None
    if fld is not None and fld.type == "many2one":
        ids = getattr(value, "ids", None)
        if ids is not None:
            return ids[0] if ids else None
        return int(value)
    if isinstance(value, decimal.Decimal):
        # A number, not text: the shortest float that reads back as the same decimal (a
        # Numeric(14, 2) always has one).
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        # NightPOS stores datetimes in UTC without a zone: say so.
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def action_label(name: str, action_id: int | str) -> str:
    """``_action`` of the body: the action's name and id, ``Notify ERP(#12)``."""
    return f"{name}(#{action_id})"


def message_body(model: str, record_id: int | None, action: str, values: Mapping[str, Any]) -> str:
    """The exact text sent (and signed): compact JSON, the record's identity first."""
    body: dict[str, Any] = {"_model": model, "_id": record_id, "_action": action}
    for name, value in values.items():
        body.setdefault(name, value)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def record_values(entry: ModelEntry, record: RecordSet, names: list[str]) -> dict[str, Any]:
    """The chosen fields of an existing record, as the message carries them."""
    return {
        name: json_value(entry.fields.get(name), record[name])
        for name in names
        if name in entry.fields or name in entry.computed
    }


def deleted_values(entry: ModelEntry, raw: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """The chosen fields of a deleted record, from its last values (columns by name; a
    computed field only if the engine kept it)."""
    return {
        name: json_value(entry.fields.get(name), raw.get(name))
        for name in names
        if name in entry.fields or name in entry.computed
    }


_PLACEHOLDERS: dict[str, Any] = {
    "many2one": 1,
    "integer": 1,
    "float": 1.5,
    "boolean": True,
    "date": "2024-01-31",
    "datetime": "2024-01-31T09:30:00Z",
    "json": {},
}


def placeholder_values(entry: ModelEntry, names: list[str]) -> dict[str, Any]:
    """Values of the right types for a model that has no record yet (the form's sample)."""
    values: dict[str, Any] = {}
    for name in names:
        fld = entry.fields.get(name)
        if fld is None:
            if name in entry.computed:
                values[name] = entry.computed[name]
            continue
        if fld.type == "selection" and fld.selection:
            values[name] = fld.selection[0][0]
        else:
            values[name] = _PLACEHOLDERS.get(fld.type, fld.label)
    return values


def sample_body(
    env: Environment, entry: ModelEntry, settings: Mapping[str, Any], action: str
) -> str:
    """What the action would send now: from the model's first record, else placeholders."""
    names = [n for n in settings.get("fields") or [] if isinstance(n, str)]
    names = [n for n in names if n in sendable_fields(entry)]
    record = env[entry.name].search([], limit=1)
    if record:
        return message_body(entry.name, record.id, action, record_values(entry, record, names))
    return message_body(entry.name, 1, action, placeholder_values(entry, names))


class SendWebhook(ActionType):
    """POST the record's chosen fields as JSON to a URL, after the change is committed."""

    key = "send_webhook"
    label = N_("Send Webhook Notification")
    description = N_(
        "Send the record's chosen fields as JSON to a URL. The message is sent after the "
        "change is saved, signed, and retried until the receiver accepts it."
    )
    schema = SendWebhookSchema

    def check(
        self,
        settings: dict[str, Any],
        model: ModelEntry,
        env: Environment,
        sandbox: IsolatedSandbox,
    ) -> None:
        allowed = sendable_fields(model)
        unknown = [name for name in settings["fields"] if name not in allowed]
        if unknown:
            raise SettingsError(
                {"fields": [f"{model.name} has no field {name!r}." for name in unknown]}
            )

    def warnings(self, settings: dict[str, Any]) -> list[str]:
        """The URL's host resolved now and checked as the worker will: a URL it would refuse
        (a loopback or private address not in WEBHOOK_OUTGOING_ALLOWED_CIDRS) or cannot resolve
        is saved with a warning that says so, and names the setting."""
        from addons.webhooks.outgoing import ssrf
        from addons.webhooks.settings import setting
        from nightpos_app.i18n import translate

        allowed = ssrf.parse_networks(setting("WEBHOOK_OUTGOING_ALLOWED_CIDRS"))
        try:
            ssrf.resolve_target(str(settings.get("url", "")), allowed, _save_resolver)
        except ssrf.Unresolved as failure:
            return [
                translate(
                    "The URL's host cannot be resolved now (%(reason)s): deliveries will be "
                    "retried until it can.",
                    reason=str(failure),
                )
            ]
        except ssrf.Refused as refusal:
            return [
                translate(
                    "Deliveries to this URL will be refused (%(reason)s). The server sends to "
                    "loopback and private addresses only when the setting %(setting)s lists "
                    "their network.",
                    reason=str(refusal).split("; ", 1)[0],
                    setting=ssrf.ALLOW_SETTING,
                )
            ]
        return []

    def preview(
        self,
        env: Environment,
        model: ModelEntry,
        settings: Mapping[str, Any],
        action_name: str,
        action_id: int | str,
    ) -> str:
        """The action form's sample: the body :meth:`run` would build, for a real record."""
        return sample_body(env, model, settings, action_label(action_name, action_id))

    def run(self, context: ActionContext, record: RecordSet, settings: dict[str, Any]) -> None:
        from addons.webhooks.outgoing import outbox
        from nightpos_app.extensions import db
        from nightpos_app.state import get_state

        entry = get_state().registry[record.model_name]
        names = list(settings.get("fields") or [])
        record_id = record.ids[0]
        if context.event == "unlink" and record_id in context.deleted_values:
            # The row is gone: its last values were kept for us.
            values = deleted_values(entry, context.deleted_values[record_id], names)
        else:
            values = record_values(entry, record, names)
        outbox.enqueue(
            db.session,
            rule_id=context.rule_id,
            action_id=context.action_id,
            model=record.model_name,
            record_id=record_id,
            url=settings["url"],
            body=message_body(
                record.model_name,
                record_id,
                action_label(context.action_name, context.action_id),
                values,
            ),
            headers=dict(settings.get("headers") or {}),
            timeout_seconds=float(settings.get("timeout", DEFAULT_TIMEOUT)),
        )
