"""Keep secrets that travel in URLs out of the server's logs.

A webhook URL carries its secret in the path, and HTTP servers log every request line. Addons
register patterns (``redact_in_logs``); a filter on the servers' access loggers (Werkzeug's
dev server, gunicorn) rewrites matching text before any handler sees it.

Query strings are masked on every URL, whoever registered what: any of their values can be a
credential (``?api_token=…``, ``?password=…``, a signed link's signature), and the access log
is read by more people, and kept longer, than the sender meant. Keys are kept, so the line
still says what was asked: ``GET /web/hook/[redacted]?api_token=***&_id=*** HTTP/1.1``. A part
without ``=`` is masked whole (it may be a bare token); an empty value stays empty.
"""

from __future__ import annotations

import logging
import re

#: Loggers that write request lines: Werkzeug's dev server and gunicorn's access log.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")

#: What a query-string value is logged as.
QUERY_MASK = "***"

#: A request line's query: from the ``?`` after the method and path to the last `` HTTP/x.y``
#: of the line. Werkzeug logs the path decoded (``%22`` is ``"``, ``%C2%A0`` a no-break
#: space) and a malformed line as it came (spaces and all): whatever stands between the path
#: and the protocol is the query. No ``\b`` before the method: Werkzeug colours the line
#: (``\x1b[31mGET …``).
_REQUEST_LINE_QUERY = re.compile(
    r"(?P<head>[A-Z]+ [^ ?]*\?)(?P<query>[^\r\n]*)(?P<tail> HTTP/\d(?:\.\d)?)"
)
#: Any other URL's query (a referer, an error message): up to a space or the end, a closing
#: quote or bracket left out (gunicorn's line quotes its fields). ASCII whitespace only: the
#: decoded path may hold other spaces, which belong to the value.
_URL_QUERY = re.compile(r"\?(?P<query>[^ \t\r\n]*?)(?P<close>[\"')\]>]*)(?=[ \t\r\n]|$)")
#: gunicorn's access-log atoms that are a query string with no ``?`` before it.
_QUERY_ATOMS = ("q", "{query_string}e")


def mask_query(query: str) -> str:
    """``a=1&token=x&flag`` → ``a=***&token=***&***``: the keys, no value."""
    parts = []
    for part in query.split("&"):
        key, equals, value = part.partition("=")
        if equals:
            parts.append(f"{key}={QUERY_MASK}" if value else f"{key}=")
        else:
            parts.append(QUERY_MASK if part else "")
    return "&".join(parts)


def mask_query_strings(text: str) -> str:
    """``text`` with the value of every query-string parameter of every URL in it masked."""
    if "?" not in text:
        return text
    text = _REQUEST_LINE_QUERY.sub(lambda m: m["head"] + mask_query(m["query"]) + m["tail"], text)
    return _URL_QUERY.sub(lambda m: "?" + mask_query(m["query"]) + m["close"], text)


class RedactingFilter(logging.Filter):
    """Rewrites every record of the logger it is attached to: query-string values masked,
    then the registered patterns."""

    def __init__(self) -> None:
        super().__init__()
        self.patterns: list[tuple[re.Pattern[str], str]] = []

    def add(self, pattern: str, replacement: str) -> None:
        compiled = re.compile(pattern)
        if all(existing.pattern != compiled.pattern for existing, _ in self.patterns):
            self.patterns.append((compiled, replacement))

    def redact(self, text: str) -> str:
        text = mask_query_strings(text)
        for pattern, replacement in self.patterns:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):
            # gunicorn's access log formats a dict of atoms; its bare query string (``%(q)s``,
            # in a custom access_log_format) has no ``?`` to be found by in the line.
            for atom in _QUERY_ATOMS:
                value = dict.get(args, atom)
                if isinstance(value, str) and value:
                    args[atom] = mask_query(value)
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


#: One filter for the process: loggers are process-wide too.
_FILTER = RedactingFilter()


def redact_text(text: str) -> str:
    """``text`` with query-string values masked and every registered pattern replaced (what
    the access loggers' filter does to a line; the JSON log format applies it to every one)."""
    return _FILTER.redact(text)


def install() -> None:
    """Attach the filter to the access loggers (once; create_app calls this)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def redact_in_logs(pattern: str, replacement: str) -> None:
    """Replace ``pattern`` (a regular expression) with ``replacement`` in access logs."""
    _FILTER.add(pattern, replacement)
    install()
