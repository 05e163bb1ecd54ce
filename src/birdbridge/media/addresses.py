"""Which addresses a media download may connect to (issue 10: server-side request forgery).

Media URLs come from API data that anyone can shape: a post's attachment, a redirect, or
Mastodon's ``remote_url`` of a file on another server. Fetching one from inside the bridge's
network and posting the bytes publicly would publish what only the bridge can reach (a cloud
metadata service, a router, an admin page). So a download connects only to public addresses,
except on the hosts the operator named in the link's config (its ``api_base_url``s): those
may be a sandbox on 127.0.0.1 or an instance on a private network, and they were chosen.

Allowed hosts are matched by name, as written in the config, not by address: allowing
``127.0.0.1`` does not allow ``localhost`` or ``127.0.0.2``.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

SHARED = IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598): not private, not public
NAT64 = IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052): an IPv4 inside
LOCAL_NAT64 = IPv6Network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): a local network

Address = IPv4Address | IPv6Address


class Refused(Exception):
    """The host may not be fetched from; the message says which address and why."""


def host_key(host: str) -> str:
    """A host name as compared: its ASCII (IDNA) form as httpx puts it on the wire, in lower
    case, without a final dot."""
    return host.lower().rstrip(".")


def api_hosts(urls: Iterable[str]) -> frozenset[str]:
    """The hosts of a link's ``api_base_url``s: downloads may reach them whatever their
    address."""
    return frozenset(host_key(_wire_host(url)) for url in urls)


# A host already in the form httpx sends (letters, digits, dots, hyphens; an IPv6 literal).
_PLAIN_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:]+")


def _wire_host(url: str) -> str:
    """The URL's host as httpx puts it on the wire. Read by hand when it is plain, as every
    api_base_url is in practice: every link's engine asks at start-up, and importing httpx
    costs an idle daemon megabytes (it downloads media only)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if url.isascii() and "%" not in url and host and _PLAIN_HOST.fullmatch(host):
        return host
    import httpx

    return httpx.URL(url).raw_host.decode("ascii")


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``, in the resolver's order of preference; OSError if none."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # UnicodeError: a label the IDNA codec refuses (too long, empty)
    except (OSError, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))  # once each, in order


def check(host: str, addresses: list[str], allowed: frozenset[str]) -> None:
    """Raise :class:`Refused` unless ``host`` is allowed or all its addresses are public.

    A name with any refused address is refused as a whole: a public site has no reason to
    also answer with a private address, and "try the next one" would be harder to reason
    about.
    """
    if host_key(host) in allowed:
        return
    for address in addresses:
        reason = refusal(ip_address(address))
        if reason is None:
            continue
        if _literal(host) == ip_address(address):
            raise Refused(f"{host} is {reason}")
        raise Refused(f"{host} resolves to {address}, which is {reason}")


def refusal(address: Address) -> str | None:
    """Why a download may not connect to ``address`` ("a private address"), or None.

    Each class is tested by name, not only ``is_global``: what ``ipaddress`` calls global
    changed between Python versions (3.11 counts multicast, site-local and the NAT64 and
    6to4 forms of private IPv4 addresses as global).
    """
    if isinstance(address, IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            return None if reason is None else f"{reason} ({inner} inside an IPv6 address)"
        if address in LOCAL_NAT64 or address.is_site_local:
            return "a local address"
    for test, reason in _CLASSES:
        if test(address):
            return reason
    return None


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped (``::ffff:10.0.0.5``), 6to4
    (``2002:a00:5::``) or NAT64 (``64:ff9b::a00:5``); the network reaches that IPv4 host."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


# Most specific first: 127.0.0.1 is also "private", 0.0.0.0 also "reserved".
_CLASSES = (
    (lambda a: a.is_unspecified, "an unspecified address"),
    (lambda a: a.is_loopback, "a loopback address"),
    (lambda a: a.is_link_local, "a link-local address"),
    (lambda a: a.is_multicast, "a multicast address"),
    (lambda a: isinstance(a, IPv4Address) and a in SHARED, "a shared (carrier-grade NAT) address"),
    (lambda a: a.is_private, "a private address"),
    (lambda a: a.is_reserved, "a reserved address"),
    (lambda a: not a.is_global, "not a public address"),
)


def _literal(host: str) -> Address | None:
    """The address ``host`` spells, if it is one (``10.0.0.5``, ``::ffff:7f00:1``)."""
    try:
        return ip_address(host)
    except ValueError:
        return None
