"""Logs as JSON lines (``NIGHTPOS_LOG_FORMAT=json``): one event a line, for log shippers.

Every record of the process (the app's, gunicorn's error and access logs, the outbox worker's)
is written to stderr as one JSON object: ``ts``, ``level``, ``logger``, ``message``, and the
event's own fields when it has some (a webhook call: ``event``, ``rule_id``, ``call_id``,
``status``, ``duration_ms``; see addons/webhooks/metrics.py). Secrets are redacted as in
text logs: the access loggers' filter runs first (nightpos_app/redaction.py), and the message
and traceback of every record go through the same patterns here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from nightpos_app.redaction import redact_text

#: The setting (config key or environment variable): ``json`` or ``text`` (the default).
FORMAT_SETTING = "NIGHTPOS_LOG_FORMAT"
#: Where a record keeps its event's fields (``logger.info(..., extra={FIELDS: {...}})``).
FIELDS = "nightpos_fields"
#: Loggers gunicorn writes to with handlers of its own: their output becomes JSON too.
GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, Mapping):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_logs_wanted(config: Mapping[str, Any]) -> bool:
    value = config.get(FORMAT_SETTING) or os.environ.get(FORMAT_SETTING) or "text"
    return str(value).strip().lower() == "json"


def install(config: Mapping[str, Any]) -> bool:
    """Switch the process's logging to JSON lines if the setting asks (once per process);
    whether it did. The root logger gets a stderr handler at INFO (so that the per-call
    events are written), and gunicorn's handlers the JSON format."""
    if not json_logs_wanted(config):
        return False
    formatter = JsonFormatter()
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        for handler in list(root.handlers):
            root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    for name in GUNICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
    return True
