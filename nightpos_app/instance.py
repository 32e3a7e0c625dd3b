"""The instance folder and the secrets kept in it: the Flask secret key, the first admin
password, and (by default) the SQLite database, which holds password hashes and webhook secrets.

Secrets are generated once with :mod:`secrets`, written with owner-only permissions, and
reused on later runs, so restarting the app keeps sessions and the printed password stays
valid. Nothing here has a fixed default.

Who else may read them: nobody. The folder is made ``0700`` and NightPOS's files in it
``0600``, for a new install, and at every start for an existing one made before (or by hand)
with modes others can read, saying so in a warning (:func:`secure_instance_folder`,
:func:`secure_sqlite_database`).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

# File names inside the instance folder (not secrets themselves).
SECRET_KEY_FILE = "secret_key"  # noqa: S105
ADMIN_PASSWORD_FILE = "admin_password"  # noqa: S105
#: The files SQLite makes beside a database (WAL, its shared memory, the rollback journal).
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
#: Permission bits of the group and of others: none of them on the folder or its secrets.
_OTHERS = 0o077

logger = logging.getLogger(__name__)


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


def secure_instance_folder(folder: Path) -> None:
    """Create ``folder`` owner-only (0700), or make an existing one so; and the secret files
    NightPOS keeps in it (0600)."""
    # mkdir's mode is for the last folder only (parents get the usual mode), and the umask
    # may only take bits away: 0700 at most, even with umask 0.
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(folder)
    for name in (SECRET_KEY_FILE, ADMIN_PASSWORD_FILE):
        _tighten(folder / name)


def secure_sqlite_database(database: Path) -> None:
    """Create the SQLite database file owner-only (0600) before SQLite first opens it; make an
    existing one, and its side files, so.

    Why an empty file made ahead, rather than a umask or a chmod after connecting: a process's
    umask is shared by all its threads (a server creates the database on its first request,
    while other threads create files of their own), and a chmod after SQLite has created the
    file leaves a moment when anyone may open it, and the -wal/-shm made meanwhile keep the
    old mode. ``O_EXCL`` with mode 0600 has neither problem, and two processes starting at once
    cannot both create it. SQLite takes an empty file for a new database, and creates its
    -wal, -shm and -journal files with the mode of the database file (os_unix.c,
    findCreateFileMode), so they are owner-only too without any further step.
    """
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except FileNotFoundError:  # no such folder: SQLite will say so when it is opened
        return
    else:
        os.close(fd)
    for suffix in ("", *SQLITE_SIDE_FILES):
        _tighten(database.with_name(database.name + suffix))


def _tighten(path: Path) -> None:
    """Take the group's and others' permission bits off ``path`` if it has any; warn."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if not mode & _OTHERS:
        return
    if stat.S_ISDIR(info.st_mode) and mode & stat.S_ISVTX:
        # A sticky folder (/tmp) is shared on purpose: closing it would break the system.
        logger.warning(
            "instance folder %s is a shared folder (mode %04o): left as it is; use a folder of "
            "NightPOS's own (NIGHTPOS_INSTANCE_DIR) to keep others out",
            path,
            mode,
        )
        return
    tightened = mode & ~_OTHERS
    try:
        os.chmod(path, tightened)
    except OSError as exc:
        logger.warning(
            "%s can be read by others (mode %04o) and could not be made owner-only: %s",
            path,
            mode,
            exc.strerror or exc,
        )
        return
    logger.warning(
        "%s could be read by others (mode %04o): made owner-only (mode %04o)",
        path,
        mode,
        tightened,
    )
