"""Who may read /metrics: staff sessions, scrapers with METRICS_TOKEN, METRICS_ALLOWED_IPS.

Composed as DRF composes permissions: ``IsAdminUser | HasMetricsToken |
FromAllowedNetwork``. The address is the socket's peer (REMOTE_ADDR), never
X-Forwarded-For, which any client can write. Behind a reverse proxy on the same
host every request comes from 127.0.0.1, so production allows no address by
default: give the scraper the token instead (or list its network when it
connects directly).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Sequence

from django.conf import settings
from rest_framework.authentication import get_authorization_header
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METRICS_READERS_MESSAGE = (
    "Metrics are open to staff, to scrapers with the metrics token and to METRICS_ALLOWED_IPS"
)


class HasMetricsToken(BasePermission):
    """``Authorization: Bearer <METRICS_TOKEN>`` (no token is accepted while it is empty)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = settings.METRICS_TOKEN
        if not token:
            return False
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return False
        return hmac.compare_digest(parts[1], token.encode())


class FromAllowedNetwork(BasePermission):
    """The client's socket address is in METRICS_ALLOWED_IPS."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return address_allowed(request.META.get("REMOTE_ADDR", ""))


METRICS_READERS = IsAdminUser | HasMetricsToken | FromAllowedNetwork


def address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return any(ip in network for network in allowed_networks(tuple(settings.METRICS_ALLOWED_IPS)))


@functools.lru_cache(maxsize=4)
def allowed_networks(entries: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR networks, as settings validated them."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
