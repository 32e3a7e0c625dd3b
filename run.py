"""Development server: `make run`.

Brings the database up to date (migrations, permissions, demo data, admin
user), prints the admin login, and serves on HOST:PORT (127.0.0.1:8080).
For production use gunicorn: see README.md.
"""

from __future__ import annotations

import os
import sys

from nightpos_app import create_app
from nightpos_app.bootstrap import describe_login, initialise
from nightpos_app.exceptions import StartupError


def main() -> None:
    # The dev server sends outgoing webhooks from a background thread unless told otherwise
    # (NIGHTPOS_OUTBOX_WORKER=off); production runs `flask nightpos worker` processes.
    try:
        app = create_app(
            {"NIGHTPOS_OUTBOX_WORKER": os.environ.get("NIGHTPOS_OUTBOX_WORKER", "thread")}
        )
        login = initialise(app, demo=True)
    except StartupError as exc:  # an addon at fault, named (a failed migration: its revision)
        sys.exit(f"NightPOS did not start: {exc}")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    print(f"NightPOS on http://{host}:{port}/", flush=True)
    print(describe_login(login), flush=True)
    app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


if __name__ == "__main__":
    main()
