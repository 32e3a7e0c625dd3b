"""Bad inputs to the webhook URL: one test per row of docs/security.md ("Endpoint: bad inputs").

Every input goes through the real app: the test client, or a real HTTP server (werkzeug's,
threaded) where the transport is the point (a body that is never sent, a request line too long
for the server). Each test checks the answer (status, JSON, never a traceback), that the
database did not change (every table; the call log gains exactly the row of a call that reached
its rule), and that a normal call works afterwards.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from addons.webhooks.models import WebhookCall
from nightpos_app.extensions import db
from tests.addons.webhooks.conftest import read
from tests.addons.webhooks.live_server import serving

#: The rule's model and the normal call that must work after each bad input.
NORMAL = {"_model": "res.partner", "_id": 1}
MIB = 2**20

COUNT_AND_CREATE = {
    "name": "Count, and create a contact when a name is given",
    "action_type": "execute_code",
    "settings": {
        "code": (
            "record.write({'customer_rank': record.customer_rank + 1})\n"
            "if 'name' in payload:\n"
            "    env['res.partner'].create({'name': payload['name']})\n"
        )
    },
}


# --- What is checked after every bad input -------------------------------------------------


@dataclass
class Answer:
    """An HTTP answer, whichever way it came."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float = 0.0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Endpoint:
    """The rule under test, and how to reach it."""

    app: Any
    rule: dict[str, Any]
    client: Any
    server: tuple[str, int] | None = None
    sent: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.rule["path"]

    def send(self, method: str = "POST", path: str | None = None, **kwargs: Any) -> Answer:
        """One request through the test client (the whole app, no network)."""
        started = time.perf_counter()
        response = self.client.open(path or self.path, method=method, **kwargs)
        return Answer(
            response.status_code,
            dict(response.headers),
            response.get_data(),
            time.perf_counter() - started,
        )

    def post_json_text(self, text: str | bytes, **kwargs: Any) -> Answer:
        body = text.encode() if isinstance(text, str) else text
        return self.send(data=body, content_type="application/json", **kwargs)


def snapshot(app) -> dict[str, list[str]]:
    """Every row of every table, but the call log (checked on its own). Only the tables this
    database has: the metadata also holds those of addons other tests enabled."""
    with app.app_context():
        present = set(sa.inspect(db.engine).get_table_names())
        return {
            table.name: sorted(repr(tuple(row)) for row in db.session.execute(sa.select(table)))
            for table in db.metadata.sorted_tables
            if table.name in present and table.name != WebhookCall.__tablename__
        }


def logged_calls(app, rule_id: int) -> list[tuple[str, int]]:
    with app.app_context():
        return [
            (row.status, row.http_status)
            for row in db.session.execute(
                sa.select(WebhookCall.status, WebhookCall.http_status)
                .where(WebhookCall.rule_id == rule_id)
                .order_by(WebhookCall.id)
            )
        ]


def rank_of_partner_1(app) -> int:
    return read(app, "res.partner", [("id", "=", 1)], ["customer_rank"])[0]["customer_rank"]


def assert_clean(answer: Answer) -> None:
    """JSON with a status, and nothing of the server's insides."""
    assert b"Traceback" not in answer.body and b'File "' not in answer.body
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.body
    assert answer.json["status"] == "error"


def check_refused(
    endpoint: Endpoint,
    send: Callable[[], Answer],
    *,
    status: int,
    message: str | None = None,
    logged: bool = True,
) -> Answer:
    """Send a bad input: the answer, an unchanged database, one call-log row if ``logged``."""
    before, calls_before = snapshot(endpoint.app), logged_calls(endpoint.app, endpoint.rule["id"])
    answer = send()
    assert answer.status == status, answer.body[:500]
    assert_clean(answer)
    if message is not None:
        assert message in answer.json["message"], answer.json
    assert snapshot(endpoint.app) == before
    expected = [*calls_before, ("error", status)] if logged else calls_before
    assert logged_calls(endpoint.app, endpoint.rule["id"]) == expected
    return answer


def check_normal_call_works(endpoint: Endpoint) -> None:
    """The server is none the worse: a normal call is answered and counted."""
    rank = rank_of_partner_1(endpoint.app)
    if endpoint.server is None:
        answer = endpoint.send(json=NORMAL)
    else:
        answer = http_request(endpoint.server, "POST", endpoint.path, json.dumps(NORMAL).encode())
    assert (answer.status, answer.json) == (200, {"status": "ok"})
    assert rank_of_partner_1(endpoint.app) == rank + 1


@pytest.fixture
def endpoint(app, client, make_rule) -> Iterator[Endpoint]:
    rule = make_rule("res.partner", actions=[COUNT_AND_CREATE], log_calls=True)
    ep = Endpoint(app, rule, client)
    yield ep
    check_normal_call_works(ep)


@pytest.fixture
def live_endpoint(endpoint: Endpoint) -> Iterator[Endpoint]:
    """The same, over a real HTTP server."""
    with serving(endpoint.app) as address:
        endpoint.server = address
        yield endpoint
        check_normal_call_works(endpoint)
        endpoint.server = None


# --- HTTP helpers ---------------------------------------------------------------------------


def http_request(server: tuple[str, int], method: str, path: str, body: bytes = b"") -> Answer:
    connection = http.client.HTTPConnection(*server, timeout=10)
    started = time.perf_counter()
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return Answer(
            response.status,
            dict(response.getheaders()),
            response.read(),
            time.perf_counter() - started,
        )
    finally:
        connection.close()


def raw_exchange(server: tuple[str, int], head: bytes, body_part: bytes = b"") -> Answer:
    """Send ``head`` and ``body_part`` on a socket and read one answer (without sending more)."""
    with socket.create_connection(server, timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(head + body_part)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(
            response.status,
            dict(response.getheaders()),
            response.read(),
            time.perf_counter() - started,
        )


class CountingBody(io.RawIOBase):
    """A request body of ``size`` bytes, made as it is read, counting what was read."""

    def __init__(self, size: int, fill: bytes = b" ") -> None:
        self.size, self.fill, self.position, self.consumed = size, fill, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body with seek/tell
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        buffer[:count] = self.fill * count
        self.position += count
        self.consumed += count
        return count


# --- The rows -------------------------------------------------------------------------------


def test_empty_body_runs_the_rule_on_an_empty_payload(endpoint):
    # No body is an empty payload (a rule may need none); the default Target Record then
    # finds no model to look in.
    check_refused(
        endpoint, lambda: endpoint.send(data=b""), status=500, message="unknown model None"
    )


def test_invalid_json_is_400(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text('{"_model": "res.partner", "_id": 1'),
        status=400,
        message="The request body is not valid JSON: Expecting",
    )


def test_invalid_utf8_is_400(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(b'{"_model": "res.partner", "name": "caf\xe9"}'),
        status=400,
        message="The request body is not valid UTF-8.",
    )


def test_json_array_is_400(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(json.dumps([NORMAL])),
        status=400,
        message="The JSON body must be an object ({...}), got an array.",
    )


@pytest.mark.parametrize(
    ("body", "kind"),
    [('"text"', "a string"), ("42", "a number"), ("true", "true or false"), ("null", "null")],
)
def test_json_scalar_is_400(endpoint, body, kind):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(body),
        status=400,
        message=f"The JSON body must be an object ({{...}}), got {kind}.",
    )


def test_nesting_10000_deep_is_400(endpoint):
    too_deep = "The JSON body is nested too deeply (more than 100 levels)."
    for depth in (10_000, 101):  # past the parser's recursion limit, and just past ours
        body = '{"_model": "res.partner", "_id": 1, "a": ' + "[" * depth + "]" * depth + "}"
        answer = check_refused(
            endpoint, lambda body=body: endpoint.post_json_text(body), status=400, message=too_deep
        )
        assert answer.seconds < 2
    # 100 levels (the object and 99 arrays) are fine.
    rank = rank_of_partner_1(endpoint.app)
    body = '{"_model": "res.partner", "_id": 1, "a": ' + "[" * 99 + "]" * 99 + "}"
    assert endpoint.post_json_text(body).status == 200
    assert rank_of_partner_1(endpoint.app) == rank + 1


def test_10_mib_body_is_413_without_being_read(live_endpoint):
    ep = live_endpoint
    # Over a real socket: the headers announce 10 MiB, 64 KiB follow, and the answer comes
    # without the rest ever being sent.
    head = (
        f"POST {ep.path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {10 * MIB}\r\n\r\n"
    ).encode()
    answer = check_refused(
        ep,
        lambda: raw_exchange(ep.server, head, b'{"a": "' + b"x" * (64 * 1024)),
        status=413,
        message=f"The request body is larger than {MIB} bytes.",
    )
    assert answer.seconds < 5
    # Through the app with a body that counts what is read of it: nothing.
    body = CountingBody(10 * MIB)
    check_refused(
        ep,
        lambda: ep.send(input_stream=body, content_type="application/json"),
        status=413,
        message="larger than",
    )
    assert body.consumed == 0


def test_body_streamed_without_a_length_is_413_at_the_limit(endpoint):
    # A chunked body has no Content-Length: it is read up to the limit and no further.
    body = CountingBody(10 * MIB)
    check_refused(
        endpoint,
        lambda: endpoint.send(
            input_stream=body,
            content_type="application/json",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        ),
        status=413,
        message=f"The request body is larger than {MIB} bytes.",
    )
    assert body.consumed == MIB + 1


def test_body_shorter_than_its_length_is_400(live_endpoint):
    ep = live_endpoint
    head = (
        f"POST {ep.path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000\r\n\r\n"
    ).encode()

    def hang_up_half_way() -> Answer:
        with socket.create_connection(ep.server, timeout=10) as sock:
            started = time.perf_counter()
            sock.sendall(head + json.dumps(NORMAL).encode())
            sock.shutdown(socket.SHUT_WR)  # the rest of the 1,000 bytes never comes
            response = http.client.HTTPResponse(sock)
            response.begin()
            return Answer(
                response.status,
                dict(response.getheaders()),
                response.read(),
                time.perf_counter() - started,
            )

    answer = check_refused(
        ep,
        hang_up_half_way,
        status=400,
        message="The request body ended before its Content-Length.",
    )
    assert answer.seconds < 5


def test_10_mib_form_body_is_413_without_being_read(endpoint):
    body = CountingBody(10 * MIB, fill=b"a")
    check_refused(
        endpoint,
        lambda: endpoint.send(input_stream=body, content_type="application/x-www-form-urlencoded"),
        status=413,
        message="larger than",
    )
    assert body.consumed == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"abc"', "invalid literal for int() with base 10: 'abc'"),
        ("null", "int() argument must be a string, a bytes-like object or a real number"),
        ("-1", "Record does not exist or has been deleted: res.partner(-1,)"),
    ],
    ids=["abc", "null", "minus-one"],
)
def test_id_the_target_record_cannot_use_is_500(endpoint, value, message):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(f'{{"_model": "res.partner", "_id": {value}}}'),
        status=500,
        message=message,
    )


def test_id_1e400_is_400(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text('{"_model": "res.partner", "_id": 1e400}'),
        status=400,
        message="The JSON body has a number out of range (1e400): integers must fit in 64 bits",
    )


def test_huge_integer_id_is_400(endpoint):
    # 10**400, past Python's 4,300-digit conversion limit, and the first integer past 64 bits.
    for digits in ("1" + "0" * 400, "9" * 5000, str(2**63), str(-(2**63) - 1)):
        answer = check_refused(
            endpoint,
            lambda digits=digits: endpoint.post_json_text(
                f'{{"_model": "res.partner", "_id": {digits}}}'
            ),
            status=400,
            message="The JSON body has a number out of range",
        )
        assert len(answer.body) < 500  # the number is not echoed in full
    # The largest 64-bit integer is a number like any other: no such record.
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(f'{{"_model": "res.partner", "_id": {2**63 - 1}}}'),
        status=500,
        message=f"res.partner({2**63 - 1},)",
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400(endpoint, constant):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(f'{{"_model": "res.partner", "_id": {constant}}}'),
        status=400,
        message=f"The request body is not valid JSON: {constant} is not a JSON value.",
    )


def test_duplicate_key_is_400(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text('{"_model": "res.partner", "_id": 2, "_id": 1}'),
        status=400,
        message="The JSON body has the key '_id' twice in one object.",
    )


def test_unknown_model_is_500(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.send(json={"_model": "no.such.model", "_id": 1}),
        status=500,
        message="unknown model 'no.such.model'",
    )


def test_model_other_than_the_rules_is_500(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.send(json={"_model": "sale.order", "_id": 1}),
        status=500,
        message="Target Record: expected res.partner records, got sale.order records",
    )


NAMES = [
    "Zoë 🦊 Fox 👩🏽‍💻",  # emoji, a skin tone, a zero-width joiner sequence
    "tab\there, line\nbreak, bell\a, escape\x1b[31m, DEL\x7f, C1\x85, RTL\u202eoverride",
    "\U0001f600" * 50,  # astral characters only
]


@pytest.mark.parametrize("name", NAMES, ids=["emoji", "control-characters", "astral"])
def test_control_characters_and_emoji_are_stored_exactly(endpoint, name):
    app = endpoint.app

    def contacts_named(value: str) -> int:
        return len(read(app, "res.partner", [("name", "=", value)], ["name"]))

    before = contacts_named(name)
    raw_utf8 = json.dumps({**NORMAL, "name": name}, ensure_ascii=False).encode()
    escaped = json.dumps({**NORMAL, "name": name}, ensure_ascii=True).encode()
    for send in (
        lambda: endpoint.post_json_text(raw_utf8),
        lambda: endpoint.post_json_text(escaped),
        lambda: endpoint.send(data={"_model": "res.partner", "_id": "1", "name": name}),
    ):
        answer = send()
        assert (answer.status, answer.json) == (200, {"status": "ok"})
    stored = read(app, "res.partner", [("name", "=", name)], ["name"])
    assert contacts_named(name) == before + 3
    assert {row["name"] for row in stored} == {name}


@pytest.mark.parametrize("how", ["json", "form", "query"])
def test_nul_character_is_400(endpoint, how):
    message = "The payload contains a NUL character (U+0000), which cannot be stored."
    sends = {
        "json": lambda: endpoint.post_json_text(
            '{"_model": "res.partner", "_id": 1, "name": "a\\u0000b"}'
        ),
        "form": lambda: endpoint.send(data={"_model": "res.partner", "_id": "1", "name": "a\0b"}),
        "query": lambda: endpoint.send(
            "GET", endpoint.path + "?_model=res.partner&_id=1&name=a%00b"
        ),
    }
    check_refused(endpoint, sends[how], status=400, message=message)


def test_lone_surrogate_is_400(endpoint):
    check_refused(
        endpoint,
        lambda: endpoint.post_json_text(
            '{"_model": "res.partner", "_id": 1, "name": "half \\ud83e of a fox"}'
        ),
        status=400,
        message="lone surrogate",
    )


def test_byte_order_mark_is_ignored(endpoint):
    rank = rank_of_partner_1(endpoint.app)
    answer = endpoint.post_json_text(b"\xef\xbb\xbf" + json.dumps(NORMAL).encode())
    assert (answer.status, answer.json) == (200, {"status": "ok"})
    assert rank_of_partner_1(endpoint.app) == rank + 1


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"])
def test_wrong_method_is_405_json(endpoint, method):
    for path in (endpoint.path, "/web/hook/not-a-secret"):
        if method == "HEAD":  # the same answer, but HEAD answers carry no body
            before = snapshot(endpoint.app)
            answer = endpoint.send(method, path)
            assert answer.status == 405 and answer.body == b""
            assert snapshot(endpoint.app) == before
        else:
            answer = check_refused(
                endpoint,
                lambda path=path: endpoint.send(method, path, json=NORMAL),
                status=405,
                message="Use POST (or GET with query parameters).",
                logged=False,
            )
        assert answer.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize("method", ["PROPFIND", "BREW"])
def test_other_methods_get_the_routers_405(endpoint, method):
    before = snapshot(endpoint.app)
    answer = endpoint.send(method, endpoint.path, json=NORMAL)
    assert answer.status == 405
    assert b"Traceback" not in answer.body and b'File "' not in answer.body
    assert snapshot(endpoint.app) == before
    assert logged_calls(endpoint.app, endpoint.rule["id"]) == []


def test_very_long_url_is_404_or_414_quickly(live_endpoint):
    ep = live_endpoint
    # Longer than a request line may be: the HTTP server refuses it before the app sees it.
    head = b"POST /web/hook/" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: test\r\n\r\n"
    before = snapshot(ep.app)
    answer = raw_exchange(ep.server, head)
    assert answer.status == 414 and answer.seconds < 5
    assert b"Traceback" not in answer.body
    assert snapshot(ep.app) == before
    # Long, but a request line the server takes: the app answers 404 at once (a secret that
    # long is not even looked up).
    answer = check_refused(
        ep,
        lambda: http_request(ep.server, "POST", "/web/hook/" + "x" * 60_000, b"{}"),
        status=404,
        logged=False,
    )
    assert answer.seconds < 5
