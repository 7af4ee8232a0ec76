"""Keep URLs added from chat outside: they may reach only public internet addresses.

An admin's `/sources add` must not turn the bot into a reader of internal services whose
pages anyone could then /search. Every host such a fetch connects to (the first one and
each redirect's) is resolved here, all its addresses are checked, and the connection is
made to a checked address, so a name that resolves differently a moment later (DNS
rebinding) cannot slip through.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterable

import httpcore
import httpx

ALLOW_SETTING = "PAPERBOY_ALLOW_PRIVATE_SOURCES=true"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Hosts that inet_aton reads as IPv4 addresses although they are not dotted quads:
# 2130706433, 0x7f.1, 017700000001, 127.1 ...
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?", re.IGNORECASE)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """The host is, or resolves to, an address that is not public; the message says which."""


def _kind(ip: IPAddress) -> str | None:
    """What makes `ip` not a public internet address, or None if it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def _refuse(what: str, kind: str) -> Refused:
    article = "an" if kind[0] in "aeiou" else "a"
    return Refused(f"{what} {article} {kind} address (set {ALLOW_SETTING} to allow)")


def check_host(host: str) -> None:
    """Refuse a host that is not public by its very spelling (no DNS involved)."""
    name = host.strip("[]").lower()
    if name.rstrip(".") == "localhost" or name.rstrip(".").endswith(".localhost"):
        raise _refuse(f"{host} is", "loopback")
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        if _NUMERIC_HOST.fullmatch(name):
            raise Refused(f"{host} is a numeric host in a non-standard form") from None
        if name.endswith("."):
            raise Refused(f"{host} ends with a dot: write the name without it") from None
        return
    kind = _kind(ip)
    if kind is not None:
        raise _refuse(f"{ip} is", kind)


def public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, if all of them are public; raise Refused otherwise.

    A name that does not resolve raises socket.gaierror (an OSError).
    """
    check_host(host)
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        kind = _kind(ipaddress.ip_address(address))
        if kind is not None:
            raise _refuse(f"{host} resolves to {address},", kind)
    return addresses


def url_refusal(url: str) -> str | None:
    """Why `url` may not be added from chat, or None.

    A name that does not resolve now is let through: it is checked again on every fetch.
    """
    try:
        parsed = httpx.URL(url)
        public_addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except httpx.InvalidURL as exc:
        return f"invalid URL: {exc}"
    except Refused as exc:
        return str(exc)
    except (OSError, UnicodeError):
        return None
    return None


class _PublicOnlyBackend(httpcore.SyncBackend):
    """Connects only to checked public addresses: the pin against DNS rebinding."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = public_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None  # getaddrinfo never answers with no address
        raise failure


class PublicOnlyTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through _PublicOnlyBackend.

    Use it in a client with trust_env=False: a proxy would resolve names itself, unchecked.
    """

    def __init__(self) -> None:
        super().__init__()
        # httpx takes no network backend, httpcore's pool does: swap the pool for one with ours
        # (TLS still verifies the certificate against the host name, not the address).
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(), network_backend=_PublicOnlyBackend()
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # loading the CA bundle takes a while: do it once
