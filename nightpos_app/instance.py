"""Secrets kept in the instance folder: the Flask secret key and the first admin password.

Generated once with :mod:`secrets`, written with owner-only permissions, and
reused on later runs, so restarting the app keeps sessions and the printed
password stays valid. Nothing here has a fixed default.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# File names inside the instance folder (not secrets themselves).
SECRET_KEY_FILE = "secret_key"  # noqa: S105
ADMIN_PASSWORD_FILE = "admin_password"  # noqa: S105


def read_or_create_secret(path: Path, nbytes: int = 32) -> tuple[str, bool]:
    """The secret stored at ``path``, created if missing; also whether it was created now."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: two processes starting at once must not overwrite each other's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value, True
