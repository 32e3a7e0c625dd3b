"""Keep secrets that travel in URLs out of the server's logs.

A webhook URL carries its secret in the path, and HTTP servers log every request line. Addons
register patterns (``redact_in_logs``); a filter on the servers' access loggers (Werkzeug's
dev server, gunicorn) rewrites matching text before any handler sees it.
"""

from __future__ import annotations

import logging
import re

#: Loggers that write request lines: Werkzeug's dev server and gunicorn's access log.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


class RedactingFilter(logging.Filter):
    """Rewrites every record of the logger it is attached to with the registered patterns."""

    def __init__(self) -> None:
        super().__init__()
        self.patterns: list[tuple[re.Pattern[str], str]] = []

    def add(self, pattern: str, replacement: str) -> None:
        compiled = re.compile(pattern)
        if all(existing.pattern != compiled.pattern for existing, _ in self.patterns):
            self.patterns.append((compiled, replacement))

    def redact(self, text: str) -> str:
        for pattern, replacement in self.patterns:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


#: One filter for the process: loggers are process-wide too.
_FILTER = RedactingFilter()


def redact_in_logs(pattern: str, replacement: str) -> None:
    """Replace ``pattern`` (a regular expression) with ``replacement`` in access logs."""
    _FILTER.add(pattern, replacement)
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
