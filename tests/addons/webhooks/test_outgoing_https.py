"""https: the sender connects to the checked address but verifies the certificate against the
URL's host name (and sends it as SNI), so pinning the address costs no TLS security.

A real TLS server on 127.0.0.1 with a certificate for ``hooks.test``, made by openssl; the name
is resolved by a resolver given to the sender (no /etc/hosts change).
"""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from addons.webhooks.models import new_signing_secret
from addons.webhooks.outgoing import sender, ssrf

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
LOOPBACK = ssrf.parse_networks("127.0.0.0/8")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.test"]
        + ["-addext", "subjectAltName=DNS:hooks.test"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[dict[str, Any]]:
    """A TLS server answering 200; records the SNI names and Host headers it gets."""
    seen: dict[str, Any] = {"sni": [], "host": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["host"].append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda _sock, name, _ctx: seen["sni"].append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    seen["port"] = server.server_address[1]
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def to_loopback(_host: str, port: int, **_kwargs: Any) -> list[Any]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def message(url: str) -> sender.Message:
    return sender.Message(1, "msg_tls", url, "{}", {}, 3.0, [new_signing_secret()])


def test_the_certificate_is_verified_against_the_urls_host_name(
    tls_server: dict[str, Any], certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = tls_server["port"]
    untrusted = sender.send(
        message(f"https://hooks.test:{port}/in"), allowed=LOOPBACK, resolver=to_loopback
    )
    assert untrusted.kind == "connection" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error

    # Trust the test certificate the way an operator would add a CA: OpenSSL's own variable.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    trusted = sender.send(
        message(f"https://hooks.test:{port}/in"), allowed=LOOPBACK, resolver=to_loopback
    )
    assert (trusted.kind, trusted.status_code) == ("http", 200)
    assert tls_server["host"] == [f"hooks.test:{port}"]

    wrong_name = sender.send(
        message(f"https://other.test:{port}/in"), allowed=LOOPBACK, resolver=to_loopback
    )
    assert wrong_name.kind == "connection"
    assert "doesn't match 'hooks.test'" in wrong_name.error
    assert tls_server["sni"] == ["hooks.test", "hooks.test", "other.test"]
