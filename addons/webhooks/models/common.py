"""What the webhooks addon's tables share: secrets, their digests, and rotation grace periods."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from nightpos_app.i18n import N_
from nightpos_app.models import utcnow


def new_webhook_secret() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    """A Standard Webhooks style secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def grace_deadline(grace: dt.timedelta | None) -> dt.datetime | None:
    """When a rotation's grace period ends (UTC), or None for no grace period."""
    return utcnow() + grace if grace is not None and grace > dt.timedelta(0) else None


#: How long Rotate Secret may keep the previous URL working, in the order the form lists them.
ROTATION_GRACE: dict[str, tuple[str, dt.timedelta | None]] = {
    "none": (N_("None: the old URL stops at once"), None),
    "1h": (N_("1 hour"), dt.timedelta(hours=1)),
    "24h": (N_("24 hours"), dt.timedelta(hours=24)),
    "7d": (N_("7 days"), dt.timedelta(days=7)),
}


def secret_digest(secret: str) -> str:
    """The indexed lookup key of a secret: the database never compares the secret itself."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
