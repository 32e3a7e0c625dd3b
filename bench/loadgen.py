"""A small HTTP/1.1 load generator: N concurrent connections, a fixed duration or count.

Run it in a process of its own (``python -m bench.loadgen ...``), never in a server's: it prints
one JSON object with the requests made, requests/s, latency percentiles (ms) and errors.

Each connection sends the same request again and again, keeping the connection alive when the
server allows it and reconnecting when it answers ``Connection: close`` (gunicorn's sync
workers do). A request's latency runs from the moment it is sent (connect included when a new
connection is needed, as wrk counts it) to the last byte of the answer. An answer whose status
is not the expected one, or a connection error, is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    first_error: str | None = None


def build_request(method: str, host: str, port: int, path: str, body: bytes) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "User-Agent: nightpos-bench",
        "Accept: application/json",
    ]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length: int | None = None
    close = lines[0].startswith("HTTP/1.0")
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.lower() == "close"
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:
        await reader.read()
        close = True
    return status, close


async def _connection(
    host: str,
    port: int,
    request: bytes,
    expect: int,
    stats: Stats,
    deadline: float,
    budget: list[int] | None,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    clock = time.perf_counter
    while clock() < deadline:
        if budget is not None:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        started = clock()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            writer.write(request)
            status, close = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            stats.errors += 1
            stats.first_error = stats.first_error or f"{type(exc).__name__}: {exc}"
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        stats.latencies.append(clock() - started)
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status != expect:
            stats.errors += 1
            stats.first_error = stats.first_error or f"HTTP {status}"
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


async def run_load(
    host: str,
    port: int,
    path: str,
    *,
    method: str = "POST",
    body: bytes = b"",
    connections: int = 8,
    duration: float = 5.0,
    count: int | None = None,
    expect: int = 200,
) -> dict[str, object]:
    request = build_request(method, host, port, path, body)
    stats = Stats()
    budget = [count] if count is not None else None
    started = time.perf_counter()
    deadline = started + (duration if count is None else 3600.0)
    await asyncio.gather(
        *(
            _connection(host, port, request, expect, stats, deadline, budget)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    done = len(stats.latencies)
    return {
        "requests": done,
        "seconds": round(elapsed, 3),
        "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": percentile(stats.latencies, 0.50) * 1000,
        "p99_ms": percentile(stats.latencies, 0.99) * 1000,
        "errors": stats.errors,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "first_error": stats.first_error,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body", default="", help="request body (JSON text)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--count", type=int, help="make exactly this many requests instead")
    parser.add_argument("--expect", type=int, default=200, help="the status that is not an error")
    args = parser.parse_args(argv)
    result = asyncio.run(
        run_load(
            args.host,
            args.port,
            args.path,
            method=args.method,
            body=args.body.encode("utf-8"),
            connections=args.connections,
            duration=args.duration,
            count=args.count,
            expect=args.expect,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
