"""A real HTTP server for tests: werkzeug's threaded server, serving a test app in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request (thousands in the concurrency test)."""

    def log_request(self, *_args: object, **_kwargs: object) -> None:
        pass


@contextmanager
def serving(app: Flask) -> Iterator[tuple[str, int]]:
    """Serve ``app`` on a free loopback port; yields (host, port); always shut down after."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
