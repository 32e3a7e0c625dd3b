"""One HTTP attempt at delivering a message: no database here, only the network.

The URL is checked (``ssrf.py``) and the request goes to the checked address itself, with the
URL's host in ``Host`` and, for https, the certificate verified against that host name. No
redirect is followed (it could lead anywhere, an internal address too), no proxy from the
environment is used, and only the first bytes of the answer are read.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import urllib3
from urllib3 import exceptions as u3

from addons.webhooks.outgoing import signing, ssrf


@dataclass(frozen=True)
class Message:
    """What sending a message needs, read from its row while it was claimed."""

    id: int
    message_id: str
    url: str
    body: str
    headers: Mapping[str, str]
    timeout_seconds: float
    #: The action's signing secrets now (the previous one too during a rotation's grace).
    secrets: Sequence[str]


@dataclass(frozen=True)
class Result:
    """What one attempt gave: an HTTP answer (``status_code``) or an error that stopped it.

    ``kind`` is ``http`` (an answer came), ``timeout``, ``connection`` (no answer: both worth
    retrying), ``refused`` (the URL may not be sent to) or ``invalid`` (the message cannot be
    sent as it is): the last two are permanent.
    """

    kind: str
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    retry_after: str | None = None


def send(
    message: Message,
    *,
    allowed: Sequence[ssrf.Network] = (),
    excerpt_bytes: int = 2048,
    resolver: ssrf.Resolver | None = None,
) -> Result:
    """POST ``message`` once and say what happened; never raises for network trouble."""
    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        target = ssrf.resolve_target(message.url, allowed, resolver)
    except ssrf.Unresolved as failure:
        # DNS trouble passes like a connection that could not be made: retried.
        return Result("connection", elapsed(), error=str(failure))
    except ssrf.Refused as refusal:
        return Result("refused", elapsed(), error=str(refusal))
    body = message.body.encode("utf-8")
    try:
        headers = signing.message_headers(
            message_id=message.message_id,
            timestamp=int(time.time()),
            body=body,
            secrets=message.secrets,
            host=target.host_header,
            extra=message.headers,
        )
    except ValueError as error:
        return Result("invalid", elapsed(), error=str(error))
    timeout = max(0.001, float(message.timeout_seconds))
    deadline = started + timeout
    last_error: Result | None = None
    # Each checked address in turn, as a browser would: the next one only if no connection
    # could be made to this one (once a request was sent, it is not sent again).
    for address in target.addresses:
        pool = _pool(target, str(address), timeout)
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=False,
            )
            excerpt = _read_excerpt(response, excerpt_bytes, deadline)
            status = response.status
            error = None
            if 300 <= status < 400:
                error = f"HTTP {status}: redirects are not followed"
            elif status >= 400:
                error = f"HTTP {status}"
            return Result(
                "http",
                elapsed(),
                status_code=status,
                error=error,
                response_excerpt=excerpt,
                retry_after=response.headers.get("Retry-After"),
            )
        except (u3.ConnectTimeoutError, u3.NewConnectionError) as error:
            # NewConnectionError subclasses ConnectTimeoutError (urllib3's history): test it first.
            kind = "connection" if isinstance(error, u3.NewConnectionError) else "timeout"
            last_error = Result(kind, elapsed(), error=_connect_error(address, error, timeout))
            if time.monotonic() >= deadline:
                break
        except (u3.ReadTimeoutError, TimeoutError):
            return Result("timeout", elapsed(), error=f"no answer within {timeout:g} s")
        except u3.SSLError as error:
            return Result("connection", elapsed(), error=f"TLS error: {_reason(error)}")
        except (u3.HTTPError, OSError) as error:
            return Result("connection", elapsed(), error=f"connection failed: {_reason(error)}")
        finally:
            pool.close()
    assert last_error is not None  # noqa: S101 (there is at least one address)
    return last_error


def _pool(target: ssrf.Target, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to the checked ``address`` (never the name: no second lookup)."""
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeouts,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            # The certificate must be the URL host's, though the connection is to its address.
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
        )
    return urllib3.HTTPConnectionPool(
        address, target.port, timeout=timeouts, maxsize=1, retries=False
    )


def _read_excerpt(response: urllib3.BaseHTTPResponse, limit: int, deadline: float) -> str:
    """The first ``limit`` bytes of the answer, read until ``deadline`` at most.

    A receiver that sends its answer a byte at a time must not hold the worker for longer
    than the message's timeout: what came in time is kept, the rest is not waited for.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit and time.monotonic() < deadline:
            chunk = response.read(min(512, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (u3.HTTPError, OSError):
        pass  # the status line and headers came: that is the answer; the excerpt is a bonus
    finally:
        response.close()
    return b"".join(chunks).decode("utf-8", "replace")


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return str(reason)[:300]


def _connect_error(address: object, error: BaseException, timeout: float) -> str:
    if not isinstance(error, u3.NewConnectionError):
        return f"connection to {address} timed out after {timeout:g} s"
    # urllib3's text starts with the connection object's repr: keep the OS's words only.
    text = str(error)
    reason = text.split(": ", 1)[-1] if "Failed to establish" in text else text
    return f"connection to {address} failed: {reason[:300]}"
