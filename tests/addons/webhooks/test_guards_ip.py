"""The IP allowlist over HTTP: IPv4 and IPv6 networks, with and without trusted proxies."""

from __future__ import annotations

import pytest

from addons.webhooks.incoming.guards import parse_allowlist
from tests.addons.webhooks.guard_support import counting_rule, runs

ALLOWLIST = "203.0.113.0/24  # the shop\n\n2001:db8:1::/48\n198.51.100.7"


def call(client, rule, name, remote, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        rule["path"],
        json={"name": name},
        headers=headers,
        environ_base={"REMOTE_ADDR": remote},
    )


@pytest.fixture
def proxies(app):
    """Set WEBHOOK_TRUSTED_PROXIES for one test."""

    def set_to(count):
        app.config["WEBHOOK_TRUSTED_PROXIES"] = count

    yield set_to
    app.config.pop("WEBHOOK_TRUSTED_PROXIES", None)


@pytest.mark.parametrize(
    "remote",
    ["203.0.113.9", "198.51.100.7", "2001:db8:1:2::5", "::ffff:203.0.113.10"],
)
def test_addresses_on_the_list_run(app, client, make_rule, remote):
    rule = counting_rule(make_rule, ip_allowlist=ALLOWLIST)
    assert call(client, rule, "ip ok", remote).status_code == 200
    assert runs(app, "ip ok") == 1


@pytest.mark.parametrize("remote", ["203.0.114.9", "198.51.100.8", "2001:db8:2::1", "::1"])
def test_addresses_off_the_list_get_403_and_nothing_runs(app, client, make_rule, remote):
    rule = counting_rule(make_rule, ip_allowlist=ALLOWLIST, log_calls=True)
    response = call(client, rule, "ip denied", remote)
    assert response.status_code == 403
    assert response.get_json()["status"] == "error"
    assert runs(app, "ip denied") == 0


def test_no_allowlist_allows_everyone(app, client, make_rule):
    rule = counting_rule(make_rule)
    assert call(client, rule, "ip open", "192.0.2.1").status_code == 200


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(app, client, make_rule):
    rule = counting_rule(make_rule, ip_allowlist=ALLOWLIST)
    response = call(client, rule, "ip spoof", "192.0.2.66", forwarded="203.0.113.9")
    assert response.status_code == 403
    assert runs(app, "ip spoof") == 0


def test_one_trusted_proxy_uses_the_address_it_saw(app, client, make_rule, proxies):
    proxies(1)
    rule = counting_rule(make_rule, ip_allowlist=ALLOWLIST)
    # The caller wrote the first address; the proxy appended the one it saw (the last).
    allowed = call(client, rule, "ip proxied", "10.0.0.2", forwarded="192.0.2.66, 203.0.113.9")
    assert allowed.status_code == 200
    spoofed = call(client, rule, "ip proxied", "10.0.0.2", forwarded="203.0.113.9, 192.0.2.66")
    assert spoofed.status_code == 403
    v6 = call(client, rule, "ip proxied", "10.0.0.2", forwarded="2001:db8:1::77")
    assert v6.status_code == 200
    assert runs(app, "ip proxied") == 2


def test_two_trusted_proxies_take_the_second_from_the_right(app, client, make_rule, proxies):
    proxies(2)
    rule = counting_rule(make_rule, ip_allowlist=ALLOWLIST)
    forwarded = "192.0.2.66, 203.0.113.9, 10.0.0.1"
    assert call(client, rule, "ip two", "10.0.0.2", forwarded=forwarded).status_code == 200
    # Fewer addresses than proxies: not through the proxies, so the peer address counts.
    assert call(client, rule, "ip two", "10.0.0.2", forwarded="203.0.113.9").status_code == 403
    assert runs(app, "ip two") == 1


def test_allowlist_parsing():
    networks = parse_allowlist(ALLOWLIST)
    assert [str(n) for n in networks] == ["203.0.113.0/24", "2001:db8:1::/48", "198.51.100.7/32"]
    with pytest.raises(ValueError, match="Line 2"):
        parse_allowlist("10.0.0.0/8\n10.0.0.0/33")
    with pytest.raises(ValueError, match="not an IP address"):
        parse_allowlist("example.com")
