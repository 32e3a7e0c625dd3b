"""Outgoing webhooks cannot reach internal addresses (SSRF), unless the config allows them.

A refused URL fails its message for good, with the reason, and nothing is sent.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from addons.webhooks.outgoing import ssrf
from addons.webhooks.outgoing.worker import OutboxWorker
from tests.addons.webhooks.receiver import (
    LOOPBACK_SETTINGS,
    NOTIFY_ACTION,
    Receiver,
    action_ids,
    app_config,
    enqueue_message,
    receiving,
    settle,
)

NO_ALLOWLIST = {**LOOPBACK_SETTINGS, "WEBHOOK_OUTGOING_ALLOWED_CIDRS": []}


def fake_dns(*addresses: str) -> ssrf.Resolver:
    """A resolver that answers ``addresses`` for every name (as an attacker's DNS would)."""

    def resolve(host: str, port: int, **_kwargs: Any) -> list[Any]:
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return resolve


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "refused: 127.0.0.1 is a loopback address"),
        ("http://[::1]:8080/", "refused: ::1 is a loopback address"),
        ("http://10.0.0.5/", "refused: 10.0.0.5 is a private address"),
        ("http://192.168.1.20/", "refused: 192.168.1.20 is a private address"),
        ("https://172.16.3.4/", "refused: 172.16.3.4 is a private address"),
        ("http://169.254.1.1/", "refused: 169.254.1.1 is a link-local address"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is a cloud metadata",
        ),
        ("http://[fd00:ec2::254]/", "refused: fd00:ec2::254 is a cloud metadata address"),
        ("http://100.100.100.200/", "refused: 100.100.100.200 is a cloud metadata address"),
        ("http://100.64.0.1/", "refused: 100.64.0.1 is a shared (carrier-grade NAT) address"),
        ("http://0.0.0.0/", "refused: 0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "refused: 224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "refused: 240.0.0.1 is a"),
        ("http://[fe80::1]/", "refused: fe80::1 is a link-local address"),
        ("http://[fc00::1]/", "refused: fc00::1 is a private address"),
        ("http://[::ffff:10.0.0.5]/", "refused: ::ffff:a00:5 is a private address"),
        ("http://[::ffff:127.0.0.1]/", "refused: ::ffff:7f00:1 is a loopback address"),
        ("http://[::ffff:169.254.169.254]/", "is a cloud metadata address"),
        ("http://[64:ff9b::a9fe:a9fe]/", "is a cloud metadata address"),
        ("ftp://example.com/", "refused: only http and https URLs can be sent to"),
        ("file:///etc/passwd", "refused: only http and https URLs can be sent to"),
        ("gopher://example.com:70/", "refused: only http and https URLs can be sent to"),
        ("http:///nohost", "refused: the URL has no host"),
        ("http://user:pw@example.com/", "refused: the URL may not contain a user name"),
        ("http://example.com:99999/", "is not a valid URL"),
    ],
)
def test_internal_addresses_and_other_schemes_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ssrf.Refused) as refused:
        ssrf.resolve_target(url, (), fake_dns("93.184.216.34"))
    assert str(refused.value).startswith(reason) or reason in str(refused.value)


def test_a_public_address_passes_and_is_what_the_sender_connects_to() -> None:
    target = ssrf.resolve_target("https://hooks.example.com/in?x=1", (), fake_dns("93.184.216.34"))
    assert target.addresses == (ipaddress.ip_address("93.184.216.34"),)
    assert (target.scheme, target.hostname, target.port) == ("https", "hooks.example.com", 443)
    assert target.host_header == "hooks.example.com"
    assert target.path == "/in?x=1"


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(ssrf.Refused, match=r"internal\.example resolves to 10\.1\.2\.3, a private"):
        ssrf.resolve_target("http://internal.example/", (), fake_dns("10.1.2.3"))


def test_every_address_of_a_name_is_checked() -> None:
    with pytest.raises(ssrf.Refused, match="resolves to 127.0.0.1, a loopback address"):
        ssrf.resolve_target("http://mixed.example/", (), fake_dns("93.184.216.34", "127.0.0.1"))


def test_localhost_really_resolves_to_loopback_and_is_refused() -> None:
    with pytest.raises(ssrf.Refused, match="localhost resolves to .*loopback address"):
        ssrf.resolve_target("http://localhost:8080/hook")


def test_an_unresolvable_name_is_refused() -> None:
    with pytest.raises(ssrf.Refused, match="cannot be resolved"):
        ssrf.resolve_target("http://no-such-host.invalid/")


def test_the_allowlist_lets_chosen_networks_through() -> None:
    allowed = ssrf.parse_networks("10.0.0.0/8, 127.0.0.0/8")
    assert ssrf.resolve_target("http://10.0.0.5/", allowed).addresses
    assert ssrf.resolve_target("http://[::ffff:10.0.0.5]/", allowed).addresses
    with pytest.raises(ssrf.Refused, match="192.168.1.1 is a private address"):
        ssrf.resolve_target("http://192.168.1.1/", allowed)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/in", None),
        ("http://10.0.0.5:8080/x", None),  # addresses are checked when sending, with the config
        ("ftp://example.com/", "refused: only http and https URLs can be sent to"),
        ("javascript:alert(1)", "refused: only http and https URLs can be sent to"),
        ("https://", "refused: the URL has no host"),
        (
            "https://a:b@example.com/",
            "refused: the URL may not contain a user name or password (use a header)",
        ),
    ],
)
def test_check_url_syntax_needs_no_dns(url: str, problem: str | None) -> None:
    assert ssrf.check_url_syntax(url) == problem


# --- Through the worker: a refused message fails at once, and nothing is sent ----------------


@pytest.fixture
def unallowed_receiver(app: Flask) -> Iterator[Receiver]:
    with app_config(app, **NO_ALLOWLIST), receiving() as receiver:
        yield receiver


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (None, "refused: 127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a cloud"),
        ("http://[::ffff:127.0.0.1]:1/", "refused: ::ffff:7f00:1 is a loopback address"),
        ("file:///etc/passwd", "refused: only http and https URLs can be sent to"),
        ("http://localhost:1/", "refused: localhost resolves to"),
    ],
)
def test_the_worker_fails_a_refused_message_for_good(
    app: Flask, make_rule: Any, unallowed_receiver: Receiver, url: str | None, error: str
) -> None:
    rule = make_rule(actions=[NOTIFY_ACTION])
    action_id = action_ids(app, rule["id"])[0]
    [message] = enqueue_message(app, rule["id"], action_id, url or unallowed_receiver.url)
    row = settle(app, OutboxWorker(app), message)

    assert row["state"] == "failed" and row["attempt_count"] == 1
    assert row["last_error"].startswith(error)
    assert row["attempts"][0]["status_code"] is None
    assert unallowed_receiver.requests == []
