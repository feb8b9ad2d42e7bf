"""Who gets in: each websocket handshake is checked before the upgrade, each sign-in counted.

- Origin: with `PLACE_ALLOWED_ORIGINS` set, a handshake whose `Origin` is not listed (or has
  none) gets HTTP 403. Browsers always send it; other clients must send a listed one.
- Capacity: a pod holding `PLACE_LIMIT_CONCURRENCY` websockets answers further handshakes with
  HTTP 503, and the load balancer tries another pod (uvicorn's own `limit_concurrency` only
  covers plain HTTP requests: it lets websocket upgrades through).
- Per address: at most `PLACE_MAX_CONNECTIONS_PER_ADDRESS` open websockets from one client
  address on this pod; further handshakes get HTTP 403 until one closes.
- Sign-ins: at most `PLACE_SIGNINS_PER_ADDRESS_PER_MIN` `auth` messages a minute from one client
  address on this pod (bursts of as many); further ones get `error` `rate_limited` with
  `retry_at_ms`. Every `auth` counts, also a token already verified: it is accounts per address
  that the limit holds back, not only work for Firebase.

The limits are per pod: behind a load balancer that spreads one address over n pods, an address
may hold up to n times as much. Refusals answer with a JSON body `{"error": "..."}`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter

import orjson
from starlette.types import Scope, Send

from place.api.addresses import ClientAddresses
from place.api.ratelimit import KeyedLimiter
from place.settings import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str


class Door:
    def __init__(self, settings: Settings) -> None:
        self.addresses = ClientAddresses(settings.trusted_proxies)
        self.origins = frozenset(_origin(origin) for origin in settings.allowed_origins)
        self.capacity = settings.limit_concurrency
        self.per_address = settings.max_connections_per_address
        self.sign_ins = KeyedLimiter(settings.signins_per_address_per_min)
        self.open: Counter[str] = Counter()  # open websockets by client address
        self.total = 0
        self.refused: Counter[str] = Counter()  # by reason: origin, full, address, sign_in

    def enter(self, scope: Scope) -> tuple[str, Refusal | None]:
        """The client's address, and why its handshake is refused (None: let it in).
        Let in, it counts until `leave`."""
        address = self.addresses.of(scope)
        if self.origins and _origin(_header(scope, b"origin")) not in self.origins:
            self.refused["origin"] += 1
            return address, Refusal(403, "this page's origin may not connect")
        if self.total >= self.capacity:
            self.refused["full"] += 1
            return address, Refusal(503, "this server is full; try again shortly")
        if self.open[address] >= self.per_address:
            self.refused["address"] += 1
            return address, Refusal(403, "too many connections from your address")
        self.open[address] += 1
        self.total += 1
        return address, None

    def leave(self, address: str) -> None:
        self.total -= 1
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def sign_in_retry_at_ms(self, address: str) -> int | None:
        """None when this address may sign in now; else when it may (Unix ms)."""
        wait = self.sign_ins.take(address)
        if wait <= 0:
            return None
        self.refused["sign_in"] += 1
        return int(time.time() * 1000) + math.ceil(wait * 1000)


async def refuse(send: Send, refusal: Refusal) -> None:
    """Answer a websocket handshake with a plain HTTP response instead of the upgrade."""
    body = orjson.dumps({"error": refusal.reason})
    await send(
        {
            "type": "websocket.http.response.start",
            "status": refusal.status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str:
    """A request header (names compared without case: uvicorn passes them as the client sent)."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _origin(value: str) -> str:
    return value.strip().rstrip("/").lower()
