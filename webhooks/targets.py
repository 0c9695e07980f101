"""Which URLs a webhook may call (SSRF): http(s) only, and no address that is not
public (loopback, private, link-local, multicast, reserved...) unless it is inside one
of `[webhooks] allow_private` (e.g. "127.0.0.1" for tests, "10.1.0.0/16" for an
internal receiver). Checked when a subscription is saved (a clear error for the admin)
and again at each connection by `GuardedResolver`, so a name that later resolves to a
private address (DNS rebinding) is refused too; literal IPs are checked here since
aiohttp does not resolve them."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedTarget(ValueError):
    """The URL may not be called; the message says why."""


def networks(allowed: Iterable[str]) -> list[Network]:
    """The allow-list read (ValueError naming the entry that is not an address or network)."""
    out: list[Network] = []
    for entry in allowed:
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return out


def address_allowed(address: str, allowed: list[Network]) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return True
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allowed: list[Network]) -> str:
    """The URL if it may be called as far as can be told without resolving its name,
    else RefusedTarget."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedTarget("url: must start with http:// or https://")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise RefusedTarget("url: the port is not a number from 1 to 65535") from None
    if not host:
        raise RefusedTarget("url: no host name")
    if parts.username or parts.password:
        raise RefusedTarget("url: no user or password in the URL (the signature authenticates)")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
            if not address_allowed("127.0.0.1", allowed):
                raise RefusedTarget(f"url: {host} is this machine (not allowed by [webhooks] allow_private)") from None
        return url
    if not address_allowed(host, allowed):
        raise RefusedTarget(f"url: {host} is not a public address (not allowed by [webhooks] allow_private)")
    return url


class GuardedResolver(ThreadedResolver):
    """Resolves as usual, then keeps only the addresses a webhook may reach."""

    def __init__(self, allowed: list[Network], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await super().resolve(host, port, family)
        kept = [r for r in found if address_allowed(r["host"], self.allowed)]
        if not kept:
            raise OSError(f"{host} resolves only to addresses that are not public (refused: SSRF guard)")
        return kept
