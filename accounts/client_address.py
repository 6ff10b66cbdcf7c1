"""The client's address: the one place that decides who is asking.

Behind a proxy, every request reaches the console from the proxy's address; the real
client is in `X-Forwarded-For`, which anyone can also send. The header is believed
only as far as the chain of hops is made of proxies the operator named in
`TRUSTED_PROXIES` (CIDRs; empty by default: nobody is trusted and the peer is the
client). Walking the header from the right, the first address that is not a trusted
proxy is the client; whatever stands to its left was written by the client itself.

Every per-address decision (rate limits, lockouts, audit rows, sessions, consent
proofs, key IP allowlists) calls `client_address`.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable

from django.conf import settings

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A hop list longer than this is not a real proxy chain; the rest is not walked.
MAX_HOPS = 32
# Longer than any address with a port, brackets and a zone id.
_MAX_ENTRY_LENGTH = 64


def client_address(request) -> str | None:
    """Return the address of the client that made `request`, or None when unknown.

    The peer (`REMOTE_ADDR`) is the client unless it is a trusted proxy; then the
    nearest untrusted address in `X-Forwarded-For`, read from the right, is. When every
    hop is trusted, the farthest one that could be read is the client. A malformed hop
    ends the walk, so garbage can never stand in for an address.
    """
    peer = parse_address(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    networks = trusted_proxies()
    if not networks or not _is_trusted(peer, networks):
        return str(peer)
    client = peer
    for hop in _hops_from_the_right(request.META.get("HTTP_X_FORWARDED_FOR")):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """Return the networks of `settings.TRUSTED_PROXIES`, leaving out malformed entries."""
    return _parse_networks(_entries())


def invalid_trusted_proxies() -> list[str]:
    """Return the entries of `settings.TRUSTED_PROXIES` that are not networks."""
    return [entry for entry in _entries() if entry.strip() and _network(entry) is None]


def _entries() -> tuple[str, ...]:
    raw = getattr(settings, "TRUSTED_PROXIES", ()) or ()
    if isinstance(raw, str):
        raw = raw.split(",")
    try:
        return tuple(str(entry) for entry in raw)
    except TypeError:  # not a list at all: trust nobody
        return ()


def parse_address(value) -> IPAddress | None:
    """Return the IP address in `value` (an address, `[v6]`, `[v6]:port` or `v4:port`).

    Zones are dropped, and IPv4-mapped IPv6 addresses come back as IPv4, so one client
    has one form whatever socket it reached. Anything else gives None.
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _MAX_ENTRY_LENGTH:
        return None
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not _is_port(rest)):
            return None
        value = host
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        if not _is_port(":" + port):
            return None
        value = host
    # A zone ("fe80::1%eth0") names a local interface, not a client; databases refuse it.
    value = value.partition("%")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    port = text[1:]
    return (
        text.startswith(":")
        and port.isascii()
        and port.isdigit()
        and len(port) <= 5
        and int(port) <= 65535
    )


def _hops_from_the_right(header) -> Iterable[str]:
    if not isinstance(header, str) or not header:
        return ()
    # Several X-Forwarded-For lines reach Django joined with commas, in order.
    return header.rsplit(",", MAX_HOPS)[::-1][:MAX_HOPS]


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


@functools.lru_cache(maxsize=16)
def _parse_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        network = _network(entry)
        if network is not None:
            networks.append(network)
        elif entry.strip():
            logger.warning("TRUSTED_PROXIES: ignoring %r, which is not an IP network.", entry)
    return tuple(networks)


def _network(entry) -> IPNetwork | None:
    text = str(entry).strip()
    if not text or len(text) > _MAX_ENTRY_LENGTH:
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if isinstance(network, ipaddress.IPv6Network):
        # "::ffff:10.0.0.0/104" names IPv4 proxies; addresses are compared as IPv4.
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            return ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network
