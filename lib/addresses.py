"""The client's address, as far as the deployment lets the app know it.

Every per-address decision — beacon and login limits, password-reset limits, API throttles,
view counting — and the address in log lines come from these functions, so one forged header
fools none of them.

Each trusted reverse proxy *appends* the address it received the request from to
``X-Forwarded-For``; whatever stands to the left of those entries was written by the client and
proves nothing. So behind ``NUM_PROXIES`` proxies the client is the ``NUM_PROXIES``-th entry
counted from the right, exactly as Django REST framework's ``NUM_PROXIES`` counts (the settings
give DRF the same number); with no proxy it is the socket's peer, ``REMOTE_ADDR``.

Limits key IPv6 clients on their /64: one home or phone gets a whole /64 and can pick any
address in it, so counting single IPv6 addresses would give every visitor 2^64 tries.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings

IPV6_CLIENT_PREFIX = 64


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # An IPv4 client reaching a dual-stack socket shows up as ::ffff:a.b.c.d; it is that IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _client_address(request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    meta = request.META
    remote = _parse(meta.get("REMOTE_ADDR", ""))
    proxies = settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "") if proxies else ""
    if forwarded:
        hops = forwarded.split(",")
        appended = _parse(hops[-min(proxies, len(hops))])
        # Our own proxy writes a bare address; anything else means the header did not come from it.
        if appended is not None:
            return appended
    return remote


def client_ip(request) -> str:
    """The client's address in canonical form ('' when unknown): for logs and anonymised storage."""
    address = _client_address(request)
    return str(address) if address is not None else ""


def client_key(request) -> str:
    """What per-client limits count on: the IPv4 address, or the IPv6 client's /64 network."""
    address = _client_address(request)
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)
