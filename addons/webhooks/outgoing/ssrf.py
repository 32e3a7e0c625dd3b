"""Where outgoing webhooks may go: no internal addresses (server-side request forgery).

An admin (or anyone who can write an action) chooses the URL, and the server sends to it from
inside the network: without a guard, a URL could reach the database, an internal admin page or
the cloud's metadata service (and its credentials). So only ``http`` and ``https`` are sent,
the host is resolved and every address it resolves to is checked, and the sender then connects
to the checked address itself (never resolving the name again: a DNS answer that changes
between the check and the connection, "DNS rebinding", cannot reach a refused address).

``WEBHOOK_OUTGOING_ALLOWED_CIDRS`` lets chosen internal networks through (a receiver on the
LAN, or 127.0.0.0/8 in tests).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``socket.getaddrinfo``'s signature (host, port, ..., type): a resolver can be passed in.
Resolver = Callable[..., list[tuple[object, object, object, object, tuple[object, ...]]]]

SCHEMES = ("http", "https")

#: Cloud metadata services (AWS, GCP, Azure; AWS over IPv6; Alibaba): they hand out the
#: machine's credentials to whoever asks from inside.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
#: Carrier-grade NAT space (RFC 6598): not public, and ipaddress does not call it private.
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
#: NAT64 (RFC 6052): an IPv6 address that a NAT64 gateway turns into the IPv4 address inside.
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")


#: The setting that lets internal networks through: every refusal of an address names it, so
#: that the admin reading the delivery's error knows what to change.
ALLOW_SETTING = "WEBHOOK_OUTGOING_ALLOWED_CIDRS"
ALLOW_HINT = (
    f"to send to it anyway, add its network to {ALLOW_SETTING} "
    "(e.g. 10.1.0.0/16 or 127.0.0.0/8) in the server's configuration"
)


class Refused(Exception):
    """The URL may not be sent to; ``str()`` says why, starting with ``refused:`` (``DNS:`` for
    :class:`Unresolved`)."""


class Unresolved(Refused):
    """The host name could not be resolved now: a DNS failure, worth retrying like a
    connection that could not be made (the name may resolve again in a minute)."""


@dataclass(frozen=True)
class Target:
    """A URL checked for sending: where to connect, and what to tell the server."""

    scheme: str
    #: The host as written in the URL (a name, or an IP address without brackets).
    hostname: str
    port: int
    #: The checked addresses, in the resolver's order: the sender connects to these only.
    addresses: tuple[IPAddress, ...]
    #: The path and query to request.
    path: str
    #: The ``Host`` header: the URL's host (bracketed if IPv6) and its port if not the default.
    host_header: str


def parse_networks(cidrs: Iterable[str] | str | None) -> tuple[Network, ...]:
    """The networks of a list of CIDR strings (or one comma-separated string); ValueError if
    one is not a network."""
    if cidrs is None:
        return ()
    if isinstance(cidrs, str):
        cidrs = cidrs.split(",")
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as error:
        raise Refused(f"refused: {url[:200]!r} is not a valid URL ({error})") from None
    return parts


def check_url_syntax(url: str) -> str | None:
    """Why ``url`` cannot be a webhook's URL, or None: scheme and host only, no DNS.

    For the action's form: the full check (:func:`resolve_target`) runs at send time, when the
    name is resolved.
    """
    try:
        parts = _split(url)
    except Refused as error:
        return str(error)
    if parts.scheme.lower() not in SCHEMES:
        return "refused: only http and https URLs can be sent to"
    if not parts.hostname:
        return "refused: the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "refused: the URL may not contain a user name or password (use a header)"
    return None


def _as_ip(value: object) -> IPAddress:
    # getaddrinfo gives IPv6 addresses with a zone ("fe80::1%eth0"): the zone is not part of it.
    return ipaddress.ip_address(str(value).split("%", 1)[0])


def address_problem(address: IPAddress, allowed: Sequence[Network] = ()) -> str | None:
    """Why ``address`` may not be sent to (e.g. "a private address"), or None.

    An IPv4 address written as IPv6 (``::ffff:10.0.0.1``, or NAT64's ``64:ff9b::a00:1``) is
    judged as the IPv4 address it reaches.
    """
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        elif address in NAT64_NETWORK:
            candidates.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(ip.version == net.version and ip in net for ip in candidates for net in allowed):
        return None
    for ip in reversed(candidates):  # the IPv4 address inside first: it says more
        problem = _problem_of(ip)
        if problem is not None:
            return problem
    return None


def _problem_of(ip: IPAddress) -> str | None:
    # The order matters: the metadata addresses are link-local or shared too, and saying
    # "metadata" is clearer.
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in SHARED_NETWORK:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def resolve_target(
    url: str,
    allowed: Sequence[Network] = (),
    resolver: Resolver | None = None,
) -> Target:
    """Check ``url`` and resolve its host; raise :class:`Refused` with the reason if any of its
    addresses may not be sent to (or it cannot be resolved)."""
    problem = check_url_syntax(url)
    if problem is not None:
        raise Refused(problem)
    parts = _split(url)
    scheme = parts.scheme.lower()
    hostname = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = _as_ip(hostname)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: tuple[IPAddress, ...] = (literal,)
    else:
        try:
            infos = (resolver or socket.getaddrinfo)(hostname, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise Unresolved(f"DNS: {hostname} cannot be resolved ({error})") from None
        # Every address is checked, not just the first: the sender may fall back to any.
        addresses = tuple(dict.fromkeys(_as_ip(info[4][0]) for info in infos))
        if not addresses:
            raise Unresolved(f"DNS: {hostname} resolves to no address")
    for address in addresses:
        problem = address_problem(address, allowed)
        if problem is not None:
            if literal is not None:
                raise Refused(f"refused: {address} is {problem}; {ALLOW_HINT}")
            raise Refused(f"refused: {hostname} resolves to {address}, {problem}; {ALLOW_HINT}")
    default_port = 443 if scheme == "https" else 80
    host = f"[{hostname}]" if ":" in hostname else hostname
    return Target(
        scheme=scheme,
        hostname=hostname,
        port=port,
        addresses=addresses,
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        host_header=host if port == default_port else f"{host}:{port}",
    )
