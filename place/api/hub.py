"""This pod's players, and the local fan-out: a frame is encoded once and written to every socket.

Slow-client policy: a write never waits. Each socket's outgoing bytes sit in its transport's
buffer; when that buffer holds more than `high_water` bytes the player gets no further deltas and
is marked stale, and once the buffer has drained below `low_water` it gets one fresh snapshot (from
the pod's memory) in place of everything it missed, then deltas again. So a slow player never
delays the others, and a pod's memory per player stays bounded. A player that stops reading
altogether is closed by the websocket keepalive (ping timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from place.api.ratelimit import TokenBucket
from place.canvas import Player

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class Connection:
    """One player's socket: written to directly on uvicorn's transport, never awaited."""

    __slots__ = (
        "_protocol",
        "_transport",
        "address",
        "bucket",
        "expires_at_ms",
        "next_place_at_ms",
        "player",
        "resync_at",
        "stale",
    )

    def __init__(
        self, protocol: Any, bucket: TokenBucket | None, resync_at: float, address: str = ""
    ) -> None:
        self._protocol = protocol  # uvicorn's websocket protocol: has .transport and .close_sent
        self._transport: asyncio.WriteTransport = protocol.transport
        self.address = address  # the client's address (see place.api.addresses)
        self.bucket = bucket
        self.player: Player | None = None
        self.expires_at_ms: int | None = None  # when the player's sign-in token expires
        self.next_place_at_ms = 0
        self.resync_at = resync_at
        self.stale = False

    def write(self, frame: bytes) -> None:
        """Queue an encoded websocket frame; dropped once the connection is closing."""
        if not self._protocol.close_sent and not self._transport.is_closing():
            self._transport.write(frame)

    @property
    def backlog(self) -> int:
        """Bytes written but not yet sent to the player."""
        return self._transport.get_write_buffer_size()


class Hub:
    def __init__(
        self, resync_s: float, high_water: int = HIGH_WATER, low_water: int = LOW_WATER
    ) -> None:
        self.connections: set[Connection] = set()
        self.resync_s = resync_s
        self.high_water = high_water
        self.low_water = low_water
        self.frames_delivered = 0
        self.frames_dropped = 0

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)

    def discard(self, connection: Connection) -> None:
        self.connections.discard(connection)

    def __len__(self) -> int:
        return len(self.connections)

    def deliver_delta(self, frame: bytes, snapshot: Callable[[], bytes]) -> None:
        """Write one encoded delta frame to every player; stale players get a snapshot instead.

        `snapshot` returns the encoded snapshot frame of the canvas including this delta; it is
        called only when a player needs it, and caches.
        """
        high, low = self.high_water, self.low_water
        delivered = dropped = 0
        for connection in self.connections:
            if connection.stale:
                if connection.backlog <= low:
                    connection.write(snapshot())
                    connection.stale = False
                    delivered += 1
                else:
                    dropped += 1
            elif connection.backlog > high:
                connection.stale = True
                dropped += 1
            else:
                connection.write(frame)
                delivered += 1
        self.frames_delivered += delivered
        self.frames_dropped += dropped

    def deliver_each(self, frames: Callable[[Connection], bytes]) -> None:
        """Write a frame made for each player (a `hello` carries the player's own fields)."""
        for connection in self.connections:
            connection.write(frames(connection))

    def deliver_snapshot(self, snapshot: Callable[[], bytes]) -> None:
        """Write the current snapshot to every player (after a reload or a configuration change)."""
        for connection in self.connections:
            connection.write(snapshot())
            connection.stale = False
            connection.resync_at = time.monotonic() + self.resync_s

    def resync_due(self, snapshot: Callable[[], bytes]) -> None:
        """Every `resync_s` per player: a full snapshot, from this pod's memory."""
        now = time.monotonic()
        for connection in self.connections:
            if connection.resync_at <= now:
                connection.resync_at = now + self.resync_s
                if connection.backlog <= self.low_water:
                    connection.write(snapshot())
                    connection.stale = False
                else:
                    connection.stale = True
