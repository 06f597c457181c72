"""The guard in front of every download: which URLs may be fetched, and at which address.

Only ``http`` and ``https`` URLs without credentials are accepted. The host is resolved (the
resolver is injectable; the default asks the event loop's ``getaddrinfo``) and refused if ANY of
its addresses is loopback, private, link-local, multicast, reserved, unspecified, shared (CGNAT)
or otherwise not globally routable, including IPv4 addresses embedded in IPv6 (mapped, 6to4,
NAT64, Teredo). Entries of ``allowed_hosts`` open such addresses to one host and port, for
local development and tests (see :class:`AllowedHost` for the format: ``127.0.0.1:8910``,
``[::1]:8910``, ``media.internal:443``; a bare host, the older format, still opens every port of
it, and is reported once as too wide). Cloud metadata endpoints (169.254.169.254,
fd00:ec2::254, metadata.google.internal, ...) are refused even when allow-listed: no setting
should ever open them.

A URL let through only by the allow-list is marked :attr:`VettedUrl.internal`: whoever answers
for it must not let the caller tell one internal answer from another (an open port from a
closed one), see :mod:`reelforge.media.ingest`.

Against DNS rebinding, the caller connects to the address that was vetted, not to the name:
:attr:`VettedUrl.connect_url` carries the IP, :attr:`VettedUrl.headers` the original ``Host``,
and for https :attr:`VettedUrl.extensions` sets httpx's ``sni_hostname`` so TLS still presents
and verifies the real name. The HTTP client used with it must not use a proxy
(``trust_env=False``), or the proxy would do its own resolution.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

from reelforge.errors import ConfigurationError, FetchFailed, UrlNotAllowed
from reelforge.log import get_logger

__all__ = ["AllowedHost", "Resolver", "UrlGuard", "VettedUrl", "system_resolver"]

_log = get_logger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: turns a host name into IP address strings."""

_METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "100.64.0.0/10",  # shared address space (CGNAT)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "2001::/32",  # Teredo (its client address is obfuscated; never needed here)
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the running event loop's ``getaddrinfo`` (TCP addresses only)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class AllowedHost:
    """One ``allowed_hosts`` entry: a host (a name or an IP literal) and its port.

    Written ``host:port`` (``127.0.0.1:8910``, ``media.internal:443``), ``[v6]:port``
    (``[::1]:8910``), or with ``*`` for every port (``127.0.0.1:*``). A bare host (``127.0.0.1``,
    ``::1``: the format before ports were named) means every port too; a guard built with such
    an entry logs ``media.allowed_hosts_every_port``, since every port of that host then
    answers ingest."""

    host: str
    port: int | None  # None: every port

    @classmethod
    def parse(cls, entry: str) -> AllowedHost:
        text = entry.strip()
        if text.startswith("["):
            host, bracket, rest = text[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise _bad_entry(entry)
            port_text = rest[1:] if rest else "*"
        elif _is_ip_literal(text) or ":" not in text:
            host, port_text = text, "*"
        else:
            host, _, port_text = text.rpartition(":")
        host = _normalize_host(host)
        if not host or (":" in host and not _is_ip_literal(host)):
            raise _bad_entry(entry)
        if port_text == "*":
            return cls(host, None)
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _bad_entry(entry)
        return cls(host, int(port_text))

    def admits(self, host: str, port: int) -> bool:
        return host == self.host and self.port in (None, port)


def _bad_entry(entry: str) -> ConfigurationError:
    return ConfigurationError(
        f"ingest.allowed_hosts entry {entry!r} is not host:port ('127.0.0.1:8910', "
        "'[::1]:8910', 'media.internal:443', or 'host:*' for every port).",
        details={"setting": "ingest.allowed_hosts", "entry": entry},
    )


@dataclass(frozen=True, slots=True)
class VettedUrl:
    """A URL the guard accepted, with the address to connect to. ``internal``: the address is
    not public, and only an ``allowed_hosts`` entry let the URL through."""

    url: httpx.URL
    address: IPAddress
    internal: bool = False

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def port(self) -> int:
        return self.url.port or (443 if self.url.scheme == "https" else 80)

    @property
    def connect_url(self) -> httpx.URL:
        """The URL with its host replaced by the vetted address."""
        return self.url.copy_with(host=str(self.address))

    @property
    def headers(self) -> dict[str, str]:
        """The ``Host`` header of the original URL."""
        return {"Host": self.url.netloc.decode("ascii")}

    @property
    def extensions(self) -> dict[str, str]:
        """httpx request extensions: TLS SNI and certificate check against the real name."""
        if self.url.scheme == "https" and not _is_ip_literal(self.url.host):
            return {"sni_hostname": self.url.raw_host.decode("ascii")}
        return {}


class UrlGuard:
    """Decides whether a URL may be fetched; see the module docstring for the rules."""

    def __init__(self, allowed_hosts: Iterable[str] = (), *, resolver: Resolver | None = None):
        self._allowed = tuple(AllowedHost.parse(entry) for entry in allowed_hosts)
        self._resolver: Resolver = resolver or system_resolver
        wide = [entry.host for entry in self._allowed if entry.port is None]
        if wide:
            _log.warning(
                "media.allowed_hosts_every_port",
                hosts=wide,
                hint="name the port (host:port) so that only that service is reachable",
            )

    async def vet(self, url: str | httpx.URL) -> VettedUrl:
        """Check ``url`` and resolve its host; raise UrlNotAllowed (or FetchFailed for DNS)."""
        parsed = _parse(url)
        host = _normalize_host(parsed.host)
        if host in _METADATA_HOSTS:
            raise _refused(parsed, "a cloud metadata endpoint")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        allowed = any(entry.admits(host, port) for entry in self._allowed)
        addresses = await self._resolve(parsed, host, port)
        internal = False
        for address in addresses:
            reason = _blocked_reason(address)
            if reason == "a cloud metadata endpoint" or (reason and not allowed):
                raise _refused(parsed, reason, address)
            internal = internal or reason is not None
        return VettedUrl(url=parsed, address=addresses[0], internal=internal)

    async def _resolve(self, url: httpx.URL, host: str, port: int) -> list[IPAddress]:
        if _is_ip_literal(host):
            return [ipaddress.ip_address(host)]
        try:
            found = await self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(
                f"Could not resolve the host {host!r}.", details={"host": host}
            ) from exc
        addresses: list[IPAddress] = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError as exc:
                raise _refused(url, "an unparseable address") from exc
        if not addresses:
            raise FetchFailed(f"The host {host!r} has no address.", details={"host": host})
        return addresses


def _parse(url: str | httpx.URL) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UrlNotAllowed("The URL cannot be parsed.") from exc
    if parsed.scheme not in {"http", "https"}:
        raise UrlNotAllowed(
            f"Only http and https URLs can be fetched, not {parsed.scheme or 'none'!r}.",
            details={"scheme": parsed.scheme},
        )
    if not parsed.host:
        raise UrlNotAllowed("The URL has no host.")
    if parsed.userinfo:
        raise UrlNotAllowed(
            "URLs with credentials are not accepted.", details={"host": parsed.host}
        )
    return parsed


def _normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".").strip("[]")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched from, or None if it is a public unicast address."""
    if address in _METADATA_ADDRESSES:
        return "a cloud metadata endpoint"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return _blocked_reason(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or any(address in net for net in _EXTRA_BLOCKED):
        return "a reserved address"
    if not address.is_global:
        return "a non-public address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refused(url: httpx.URL, reason: str, address: IPAddress | None = None) -> UrlNotAllowed:
    details: dict[str, str] = {"host": url.host, "reason": reason}
    if address is not None:
        details["address"] = str(address)
    return UrlNotAllowed(
        f"Fetching from {url.host!r} is not allowed: it is {reason}.", details=details
    )
