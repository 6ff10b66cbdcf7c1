"""Where a webhook may go, and an HTTP client that goes only there.

A receiver's URL is checked when it is registered and again at every delivery, after
DNS resolution: every address the name resolves to must be allowed, and the connection
is made to the address that was checked (no second look-up between check and connect,
so a name cannot resolve to a public address for the check and a private one for the
connection). TLS still names the host (SNI and certificate check), and so does the
`Host` header. Redirects are never followed: a 3xx is a failed attempt.

Refused: loopback, private (RFC 1918), link-local (the cloud metadata address
169.254.169.254 among them), carrier-grade NAT (100.64.0.0/10), multicast, unspecified,
reserved and documentation ranges, IPv6 unique-local and link-local, and IPv6 forms
that carry one of those IPv4 addresses (IPv4-mapped, 6to4, NAT64). Ranges listed in
`WEBHOOK_ALLOWED_PRIVATE_NETWORKS` are admitted (on-premises receivers), and only they
may be reached over plain `http://`.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from accounts.webhooks.models import URL_MAX_LENGTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not global, but named for the reader: Python's `is_global` covers them already.
_ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fd00:ec2::254/128",
        "fc00::/7",
        "fe80::/10",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
RESPONSE_READ_LIMIT = 4096


class WebhookUrlRefused(ValueError):
    """The URL, or an address its host resolves to, may not receive webhooks."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def allowed_private_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(net, strict=False)
        for net in getattr(settings, "WEBHOOK_ALLOWED_PRIVATE_NETWORKS", [])
    ]


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _publicly_routable(ip: IPAddress) -> bool:
    if any(ip in net for net in _ALWAYS_REFUSED if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def address_check(ip: IPAddress, *, scheme: str) -> None:
    """Raise WebhookUrlRefused unless a webhook may be sent to `ip` over `scheme`."""
    inner = _embedded_ipv4(ip)
    addresses = [ip] if inner is None else [ip, inner]
    admitted = allowed_private_networks()
    if any(a in net for a in addresses for net in admitted if a.version == net.version):
        return
    if scheme != "https":
        raise WebhookUrlRefused(
            "Plain http:// is allowed only to the private networks the console admits; "
            "use https://."
        )
    if not all(_publicly_routable(a) for a in addresses):
        raise WebhookUrlRefused(f"The address {ip} is not a public address.")
    if not getattr(settings, "WEBHOOK_DELIVER_TO_PUBLIC_NETWORKS", True):
        raise WebhookUrlRefused("This console delivers webhooks to its private networks only.")


def url_parse(url: str) -> Target:
    """Check the URL's shape (scheme, host, port, no credentials); raise WebhookUrlRefused."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX_LENGTH:
        raise WebhookUrlRefused(f"Enter a URL of at most {URL_MAX_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url) or not url.isascii():
        raise WebhookUrlRefused("The URL may not contain spaces, control or non-ASCII characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlRefused("Enter a valid URL.") from exc
    if parts.scheme not in ("https", "http"):
        raise WebhookUrlRefused("The URL must start with https://.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookUrlRefused("The URL may not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".") if parts.hostname != "." else ""
    if not host:
        raise WebhookUrlRefused("The URL must name a host.")
    if port == 0:
        raise WebhookUrlRefused("Enter a valid port.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(target: Target) -> list[IPAddress]:
    """Every address the host resolves to; an IP literal is its own answer."""
    literal = _literal(target.host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookUrlRefused(f"The host {target.host} does not resolve.") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise WebhookUrlRefused(f"The host {target.host} does not resolve.")
    return addresses


def url_check(url: str, *, resolve_host: bool = True) -> tuple[Target, list[IPAddress]]:
    """Check the URL and every address its host resolves to; return them, all allowed.

    Names that resolve in some other way than plain IP notation (`2130706433`, `0x7f.1`,
    `0177.0.0.1`) are resolved by the system like any name, so they meet the same rules
    as the address they stand for. With `resolve_host=False` a name that does not
    resolve is let through (registration: the name may not be published yet); delivery
    always resolves.
    """
    target = url_parse(url)
    try:
        addresses = resolve(target)
    except WebhookUrlRefused:
        if resolve_host:
            raise
        if target.scheme != "https":
            raise WebhookUrlRefused(
                "Plain http:// is allowed only to the private networks the console admits; "
                "use https://."
            ) from None
        return target, []
    for address in addresses:
        address_check(address, scheme=target.scheme)
    return target, addresses


# ---------------------------------------------------------------------------- the client


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, *, address: str, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, *, address: str, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the name, not the address we dialled.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str
    latency_ms: int


def post(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
) -> Response:
    """POST `body` to `url` at a checked address; raise WebhookUrlRefused or OSError.

    The connect timeout bounds the TCP and TLS set-up, the read timeout every read of
    the answer. Only the first RESPONSE_READ_LIMIT bytes of the answer are read.
    """
    target, addresses = url_check(url, resolve_host=True)
    address = str(addresses[0])
    started = time.monotonic()
    kwargs = {"port": target.port, "timeout": connect_timeout}
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target.host, address=address, context=ssl.create_default_context(), **kwargs
        )
    else:
        conn = _PinnedHTTPConnection(target.host, address=address, **kwargs)
    try:
        conn.connect()
        conn.sock.settimeout(read_timeout)
        conn.request("POST", target.path, body=body, headers=headers)
        answer = conn.getresponse()
        raw = answer.read(RESPONSE_READ_LIMIT)
        status = answer.status
    except http.client.HTTPException as exc:
        raise OSError(f"Bad HTTP answer: {type(exc).__name__}") from exc
    finally:
        conn.close()
    latency_ms = int((time.monotonic() - started) * 1000)
    return Response(status=status, excerpt=raw.decode("utf-8", "replace"), latency_ms=latency_ms)
