"""Which addresses a customer's webhook may reach: global unicast only, judged on the IPv4 address an
IPv6 one carries, if any. `64:ff9b::a9fe:a9fe` (NAT64), `::a9fe:a9fe` (IPv4-compatible),
`::ffff:169.254.169.254` (mapped), `2002:a9fe:a9fe::` (6to4) and Teredo all reach 169.254.169.254 on a
network that routes them, and Python's `is_global` judges most of them by the IPv6 prefix alone.

Used when a literal address is saved (services.alerts.prefs) and at each try after resolving the name
(services.alerts.webhooks). A leaf: it imports nothing of the project.
"""
from __future__ import annotations

import ipaddress

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")              # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")      # RFC 8215: local-use, the embedding varies
REFUSED = "The webhook URL points at a private or local address (or a multicast one)."

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def wrapped(ip: Address) -> list[Address]:
    """The IPv4 addresses an IPv6 address carries (Teredo carries two: its server and the client)."""
    if ip.version == 4:
        return []
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip.sixtofour:
        return [ip.sixtofour]
    if ip.teredo:
        return list(ip.teredo)
    if ip in NAT64 or int(ip) >> 32 == 0:  # the NAT64 well-known prefix, or ::a.b.c.d (IPv4-compatible)
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _global_unicast(ip: Address) -> bool:
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback)


def allowed(ip: Address) -> bool:
    """True if a webhook may be sent to `ip`: it, or every IPv4 address it carries, is global unicast."""
    if ip.version == 6 and ip in NAT64_LOCAL:
        return False
    return all(_global_unicast(a) for a in wrapped(ip) or [ip])


def literal(host: str) -> Address | None:
    """The address if `host` (a URL's hostname, brackets removed) is a literal IP, else None (a name)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
