"""Which address a client connects from, for the per-address limits.

The peer's own address, unless the peer is one of `PLACE_TRUSTED_PROXIES`: then the right-most
hop of `X-Forwarded-For` that is not a trusted proxy (each proxy appends the address it saw, so
the hops left of the first untrusted one may be made up by the client). From anyone else the
header is ignored: a client cannot pick its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

from place.errors import SettingsError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ADDRESS_CHARS = 64  # a made-up hop is kept as text; it must not grow the pod's tables


def parse_networks(values: Iterable[str], name: str = "PLACE_TRUSTED_PROXIES") -> list[Network]:
    """Addresses or CIDR networks; a bad one fails at startup with one line."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise SettingsError(
                f"{name} must list addresses or networks like 10.0.0.0/8, got {value!r}"
            ) from None
    return networks


class ClientAddresses:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = parse_networks(trusted_proxies)

    def of(self, scope: Scope) -> str:
        """The client's address for this handshake or request."""
        client = scope.get("client")
        peer = _normal(client[0]) if client else "unknown"
        if not self._trusted or not self._is_trusted(peer):
            return peer
        hops = [
            hop.strip()
            for name, value in scope.get("headers", ())
            if name.lower() == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            address = _normal(hop)
            if not self._is_trusted(address):
                return address
        return _normal(hops[0]) if hops else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def _normal(address: str) -> str:
    """One spelling per address: `::ffff:1.2.3.4` and `1.2.3.4:5678` (some proxies add the
    port) are 1.2.3.4, `[::1]:80` is ::1; made-up text is kept, cut short."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        host, _, port = address.rpartition(":")
        try:
            ip = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        except ValueError:
            return address[:MAX_ADDRESS_CHARS]
        if not port.isdigit() or (ip.version == 6 and not host.startswith("[")):
            return address[:MAX_ADDRESS_CHARS]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
