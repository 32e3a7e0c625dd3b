"""Standard Webhooks signatures and the headers of an outgoing message.

The receiver checks ``webhook-signature`` against ``{webhook-id}.{webhook-timestamp}.{body}``
with the action's secret. During a secret rotation's grace period the message is signed with
the previous secret too (space-separated signatures, as the specification allows), so receivers
can switch secrets at their own pace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from addons.webhooks.incoming.guards import standard_signing_key

USER_AGENT = "NightPOS-Webhooks/1.0"

#: Headers a message's extra headers may not set: the signature's, and those that say what the
#: body is or where it goes (overriding them would break the signature or the request).
PROTECTED_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "connection",
    }
)


def sign(message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The ``webhook-signature`` value: ``v1,<base64>`` for each secret, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets:
        digest = hmac.new(standard_signing_key(secret), signed, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode("ascii"))
    return " ".join(signatures)


def valid_header(name: str, value: str) -> bool:
    """Whether a header can be sent as given: a token name, a value without line breaks."""
    return (
        bool(name)
        and all(33 <= ord(c) <= 126 and c != ":" for c in name)
        and not any(c in value for c in "\r\n\0")
    )


def message_headers(
    *,
    message_id: str,
    timestamp: int,
    body: bytes,
    secrets: Sequence[str],
    host: str,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """Every header of the request: the extra ones first, then those they may not override.

    ValueError (naming the header, never its value: it may be a credential) when an extra
    header cannot be sent.
    """
    headers: dict[str, str] = {"User-Agent": USER_AGENT}
    for name, value in (extra or {}).items():
        name, value = str(name).strip(), str(value)
        if name.lower() in PROTECTED_HEADERS:
            continue
        if not valid_header(name, value):
            raise ValueError(f"the header {name[:64]!r} cannot be sent (invalid name or value)")
        # One spelling per header: an extra "user-agent" replaces ours.
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    headers.update(
        {
            "Host": host,
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(message_id, timestamp, body, secrets),
        }
    )
    return headers
