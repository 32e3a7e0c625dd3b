"""Request guards of a webhook rule: IP allowlist, request authentication, rate limit.

Each guard is optional and off by default; the URL's secret stays the first credential. The
endpoint applies them in this order, so that the cheapest refusal that tells the least comes
first: unknown secret (404), caller's address not allowed (403), body too large (413),
authentication (401), rate limit (429), then idempotency
(:mod:`addons.webhooks.incoming.idempotency`).

Authentication schemes (``AutomationRule.auth_scheme``):

* ``standard`` — `Standard Webhooks <https://www.standardwebhooks.com/>`_: ``webhook-id``,
  ``webhook-timestamp`` (within 5 minutes of now) and ``webhook-signature`` (``v1,<base64>``,
  HMAC-SHA256 of ``id.timestamp.body`` keyed with the base64 part of the ``whsec_`` secret).
  A ``webhook-id`` seen before is not run again (it is the call's idempotency key).
* ``github`` — ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, keyed with the
  signing secret as text (the whole ``whsec_…`` text). An ``X-GitHub-Delivery`` seen before is
  not run again (it is the call's idempotency key).
* ``header`` — the signing secret itself in a header whose name the rule sets.

Every comparison of a secret or a signature is constant-time (``hmac.compare_digest``). The
signing secret is never logged: refusals say what was wrong, never what was expected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import ipaddress
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Request, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import RequestEntityTooLarge

from addons.webhooks.settings import setting
from nightpos_app.digits import is_ascii_digits

#: Standard Webhooks: timestamps further than this from now are refused (replay window).
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60
#: Longest key (``Idempotency-Key`` or ``webhook-id``) stored; longer ones are refused.
MAX_KEY_LENGTH = 255
#: ASCII control characters, which no idempotency key or delivery id holds.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Refusal:
    """A request a guard refused: the HTTP status, the message, and extra headers."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, Any]:
        return {"status": "error", "message": self.message}


@dataclass(frozen=True)
class RuleGuards:
    """A rule's guard settings, copied out of the ORM object while the session is open."""

    rule_id: int
    auth_scheme: str = "none"
    signing_secret: str = ""
    auth_header: str = ""
    networks: tuple[Network, ...] = ()
    rate_limit: str | None = None
    idempotency: bool = False

    @classmethod
    def of(cls, rule: Any) -> RuleGuards:
        """The guards of an :class:`~addons.webhooks.models.AutomationRule`."""
        try:
            networks = tuple(parse_allowlist(rule.ip_allowlist or ""))
        except ValueError:
            # Validated on save; a bad value written around the screens denies everyone
            # rather than allowing everyone.
            networks = (ipaddress.ip_network("0.0.0.0/32"),)
        return cls(
            rule_id=rule.id,
            auth_scheme=rule.auth_scheme or "none",
            signing_secret=rule.signing_secret or "",
            auth_header=rule.auth_header or "",
            networks=networks,
            rate_limit=(rule.rate_limit or "").strip() or None,
            idempotency=bool(rule.idempotency),
        )

    @property
    def needs_body(self) -> bool:
        """Whether the body is read before authentication (signatures cover its bytes, and a
        too-large body is refused before any credential is checked)."""
        return self.auth_scheme != "none"


# --- IP allowlist -------------------------------------------------------------------------


def parse_allowlist(text: str) -> list[Network]:
    """The networks of an allowlist: one CIDR (or single address) a line; ``#`` comments.

    Raises ValueError naming the first line that is not a network.
    """
    networks: list[Network] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            # strict=False: "10.0.0.1/24" means the /24 it is in, as admins usually mean it.
            networks.append(ipaddress.ip_network(line, strict=False))
        except ValueError:
            raise ValueError(
                f"Line {number}: {line[:60]!r} is not an IP address or network "
                "(e.g. 203.0.113.0/24 or 2001:db8::/32)."
            ) from None
    return networks


def client_address(request: Request, trusted_proxies: int) -> str | None:
    """The caller's IP address, counting ``trusted_proxies`` proxies in front of the app.

    With no trusted proxy, the socket's peer (``X-Forwarded-For`` is whatever the caller
    wrote, so it is ignored). With N, the N-th address from the right of ``X-Forwarded-For``
    (ProxyFix's rule: each trusted proxy appends the address it saw); when the header has
    fewer addresses than that, the request did not come through the proxies as configured and
    the peer address is used.
    """
    if trusted_proxies <= 0:
        return request.remote_addr
    forwarded = [
        part.strip()
        for line in request.headers.getlist("X-Forwarded-For")
        for part in line.split(",")
        if part.strip()
    ]
    if len(forwarded) >= trusted_proxies:
        return forwarded[-trusted_proxies]
    return request.remote_addr


def address_allowed(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``address`` is in one of ``networks`` (an IPv4-mapped IPv6 address counts as
    its IPv4 address, as dual-stack sockets report IPv4 callers that way)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def check_address(guards: RuleGuards, request: Request) -> Refusal | None:
    """403 when the rule has an allowlist and the caller is not on it."""
    if not guards.networks:
        return None
    address = client_address(request, int(setting("WEBHOOK_TRUSTED_PROXIES")))
    if address_allowed(address, guards.networks):
        return None
    return Refusal(403, "This address may not call this webhook.")


# --- The body ------------------------------------------------------------------------------


def buffer_body(request: Request, max_bytes: int) -> bytes | Refusal:
    """Read the body once, bounded, so that it can be both verified and parsed.

    The body is kept by Werkzeug (``get_data(cache=True)``) and the request's stream replaced
    by a copy, so the payload parser reads the same bytes the signature covers.
    """
    if (request.content_length or 0) > max_bytes:
        return Refusal(413, f"The request body is larger than {max_bytes} bytes.")
    request.max_content_length = max_bytes + 1
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return Refusal(413, f"The request body is larger than {max_bytes} bytes.")
    if len(body) > max_bytes:
        return Refusal(413, f"The request body is larger than {max_bytes} bytes.")
    request.stream = io.BytesIO(body)  # type: ignore[misc]  # werkzeug's cached_property
    return body


# --- Authentication ------------------------------------------------------------------------


def _unauthorized(message: str) -> Refusal:
    return Refusal(401, message)


def standard_signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret: its base64 part, decoded."""
    text = secret.removeprefix("whsec_")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verify_standard(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> str | None:
    """Check Standard Webhooks headers against ``body``; None when they pass, else why not."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signatures):
        return "Missing webhook-id, webhook-timestamp or webhook-signature header."
    if len(msg_id) > MAX_KEY_LENGTH:
        return "The webhook-id header is too long."
    # ASCII digits only: isdigit() also takes superscripts, which int() refuses, and other
    # scripts' digits, which int() reads but the sender's signature covers as other bytes.
    if not is_ascii_digits(timestamp) or len(timestamp) > 12:
        return "The webhook-timestamp header is not a Unix time in seconds."
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS:
        return "The webhook-timestamp is more than 5 minutes from the server's time."
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = hmac.new(standard_signing_key(secret), signed, hashlib.sha256).digest()
    # Several space-separated signatures may be sent (during a secret rotation): any may match.
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return None
    return "The webhook-signature does not match."


def verify_github(secret: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """Check ``X-Hub-Signature-256`` against ``body``; None when it passes, else why not."""
    header = headers.get("X-Hub-Signature-256", "")
    if not header.startswith("sha256="):
        return "Missing or malformed X-Hub-Signature-256 header."
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        return None
    return "The X-Hub-Signature-256 signature does not match."


def verify_header(secret: str, header_name: str, headers: Mapping[str, str]) -> str | None:
    """Check the shared secret in header ``header_name``; None when it matches."""
    given = headers.get(header_name or "X-Webhook-Token", "")
    if not given:
        return f"Missing {header_name} header."
    # compare_digest on bytes: non-ASCII input must be refused, not raise.
    if hmac.compare_digest(secret.encode(), given.encode("utf-8", "replace")):
        return None
    return f"The {header_name} header does not match."


def check_authentication(guards: RuleGuards, request: Request, body: bytes) -> Refusal | None:
    """401 unless the request carries valid credentials for the rule's scheme."""
    scheme = guards.auth_scheme
    if scheme == "none":
        return None
    headers = request.headers
    if scheme == "standard":
        problem = verify_standard(guards.signing_secret, headers, body)
    elif scheme == "github":
        problem = verify_github(guards.signing_secret, headers, body)
    elif scheme == "header":
        problem = verify_header(guards.signing_secret, guards.auth_header, headers)
    else:  # an unknown scheme (written around the screens): refuse rather than let through
        problem = "This webhook's authentication is misconfigured."
    return None if problem is None else _unauthorized(problem)


#: The header that names a delivery, per authentication scheme: the sender's own id of the
#: message, the same on its redeliveries, so a redelivery is not run again.
DELIVERY_ID_HEADERS = {"standard": "webhook-id", "github": "X-GitHub-Delivery"}


def request_key(guards: RuleGuards, request: Request) -> str | None:
    """The call's idempotency key, if it has one: the sender's delivery id (``webhook-id``
    with Standard Webhooks, ``X-GitHub-Delivery`` with GitHub: a redelivery is not run again),
    else ``Idempotency-Key`` when the rule has Idempotency Keys on.

    GitHub's signature covers the body alone, not the delivery id: the id only tells
    redeliveries apart, it proves nothing (a caller who can sign may choose it, as with
    ``Idempotency-Key``)."""
    key = None
    delivery_header = DELIVERY_ID_HEADERS.get(guards.auth_scheme)
    if delivery_header is not None:
        key = request.headers.get(delivery_header)
    if not key and guards.idempotency:
        key = request.headers.get("Idempotency-Key") or request.headers.get("webhook-id")
    return key or None


# --- Rate limit ----------------------------------------------------------------------------

_LIMITER_KEY = "nightpos_webhook_limiter"


def parse_rate_limit(text: str) -> RateLimitItem:
    """The limit of a text like ``60/minute`` or ``10 per second``; ValueError if invalid."""
    try:
        return parse(text.strip())
    except ValueError:
        raise ValueError(
            f"{text[:60]!r} is not a rate limit (e.g. 60/minute, 1000/hour, 5/second)."
        ) from None


def _limiter() -> MovingWindowRateLimiter:
    """The app's limiter: in memory by default, shared (e.g. Redis) when a storage URI is set.

    With several processes the in-memory storage counts per process; set
    ``WEBHOOK_RATELIMIT_STORAGE_URI`` (``redis://…``) for one count across them.
    """
    limiter = current_app.extensions.get(_LIMITER_KEY)
    if limiter is None:
        storage = storage_from_string(setting("WEBHOOK_RATELIMIT_STORAGE_URI") or "memory://")
        limiter = current_app.extensions[_LIMITER_KEY] = MovingWindowRateLimiter(storage)
    return limiter


def check_rate_limit(guards: RuleGuards) -> Refusal | None:
    """429 with ``Retry-After`` when the rule's calls are over its rate limit."""
    if not guards.rate_limit:
        return None
    try:
        item = parse_rate_limit(guards.rate_limit)
    except ValueError:
        return None  # validated on save; an unreadable limit is no limit, as before it was set
    limiter = _limiter()
    if limiter.hit(item, "rule", str(guards.rule_id)):
        return None
    reset_at = limiter.get_window_stats(item, "rule", str(guards.rule_id)).reset_time
    retry_after = max(1, int(reset_at - time.time() + 0.999))
    return Refusal(
        429,
        f"Too many calls: this webhook accepts {guards.rate_limit}.",
        {"Retry-After": str(retry_after)},
    )


# --- All of them ---------------------------------------------------------------------------


def admit(guards: RuleGuards, request: Request, max_bytes: int) -> Refusal | None:
    """Apply the rule's guards in order (403, 413, 401, 429, 400 for a bad key); None admits."""
    refusal = check_address(guards, request)
    if refusal is not None:
        return refusal
    if guards.needs_body:
        body = buffer_body(request, max_bytes)
        if isinstance(body, Refusal):
            return body
        refusal = check_authentication(guards, request, body)
        if refusal is not None:
            return refusal
    refusal = check_rate_limit(guards)
    if refusal is not None:
        return refusal
    key = request_key(guards, request)
    if key is not None and len(key) > MAX_KEY_LENGTH:
        return Refusal(400, f"The idempotency key is longer than {MAX_KEY_LENGTH} characters.")
    if key is not None and _CONTROL.search(key):
        # A NUL is refused by PostgreSQL (a 500 once); other control characters are no key.
        # (Bytes 0x80-0x9F are left alone: a UTF-8 key arrives decoded as Latin-1.)
        return Refusal(400, "The idempotency key holds control characters.")
    return None
