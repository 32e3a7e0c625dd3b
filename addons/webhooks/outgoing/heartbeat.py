"""The outbox worker's heartbeat file, for a process supervisor (the worker's ``/healthz``).

A running worker rewrites the file (``--heartbeat-file`` or ``NIGHTPOS_WORKER_HEARTBEAT_FILE``)
from its loop: between batches, between messages, and while it waits out a database outage,
at most once a second. ``flask nightpos worker-health`` (or any check of the file's age)
tells a live worker from a hung one: a worker whose file is older than the check's
``--max-age`` is not going round its loop. The file also says whether its last look at the
outbox reached the database.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The setting (config key or environment variable) naming the file.
FILE_SETTING = "NIGHTPOS_WORKER_HEARTBEAT_FILE"
#: The file is rewritten at most this often.
MIN_INTERVAL_SECONDS = 1.0
#: ``worker-health``'s default: above the longest wait of the worker's loop (a database outage
#: backs off up to 30 s; a message's send takes up to twice its 30 s timeout at most).
DEFAULT_MAX_AGE_SECONDS = 90.0


@dataclass
class Heartbeat:
    """Writes ``path`` for one worker."""

    path: Path
    worker_id: str
    _last: float = 0.0

    def beat(self, database_ok: bool = True, *, force: bool = False) -> None:
        """Rewrite the file (atomically: a reader never sees half of it)."""
        now = time.time()
        if not force and now - self._last < MIN_INTERVAL_SECONDS:
            return
        self._last = now
        content = json.dumps(
            {"worker": self.worker_id, "pid": os.getpid(), "at": now, "database_ok": database_ok}
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".heartbeat-")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(content)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def check(path: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """Whether the worker writing ``path`` is alive: (healthy, what to print)."""
    try:
        beat: dict[str, Any] = json.loads(path.read_text())
        at = float(beat["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return False, f"no heartbeat in {path}"
    age = (now if now is not None else time.time()) - at
    worker = beat.get("worker", "?")
    if age > max_age:
        return False, f"worker {worker}: last heartbeat {age:.0f} s ago (over {max_age:g} s)"
    database = "reaches the database" if beat.get("database_ok") else "cannot reach the database"
    return True, f"worker {worker}: alive ({age:.1f} s ago), {database}"
