"""This pod's players, and the local fan-out: a frame is encoded once and written to every socket.

Two formats of the same delta exist, each encoded once (by the ticker): `0x02` for players that
connected to plain `/ws` and `0x03` (compact) for those that asked for `/ws?v=2`. Every `resync_s`
a plain player gets the whole canvas again, a `v2` player only its checksum (`sum`), and asks for
the canvas itself when its own differs.

Slow-client policy: a write never waits. Each socket's outgoing bytes sit in its transport's
buffer; when that buffer holds more than `high_water` bytes the player gets no further deltas and
is marked stale, and once the buffer has drained below `low_water` it gets the canvas again (from
the pod's memory: a snapshot and the deltas after it, in the player's format) in place of
everything it missed, then deltas again. So a slow player never delays the others, and a pod's
memory per player stays bounded. A player that stops reading altogether is closed by the
websocket keepalive (ping timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from place.api.frames import OP_BINARY, OP_CONT, OP_TEXT, apply_mask, client_frame, unmask
from place.api.ratelimit import TokenBucket
from place.canvas import Player

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
# every player's unsent bytes together: over this, only players with a near-empty buffer (under
# low_water / 8) get deltas, the others wait stale for one canvas (15,000 dead sockets at
# high_water each would be 3.7 GB)
UNSENT_BUDGET = 256 * 1024 * 1024
RESYNC_EVERY_S = 1.0  # a player's `resync` is answered at most this often (more wait for it)
_SHORT_TEXT = 0x81  # the first byte of a whole text frame (FIN + text)

# the canvas as frames for one player: a snapshot and the deltas after it, in its format (v2 or not)
CatchUp = Callable[[bool], Sequence[bytes]]


class Connection:
    """One player's socket: written to directly on uvicorn's transport, never awaited."""

    __slots__ = (
        "_protocol",
        "_transport",
        "address",
        "bucket",
        "canvas_at",
        "expires_at_ms",
        "next_place_at_ms",
        "player",
        "queued",
        "resync_at",
        "sent",
        "stale",
        "v2",
    )

    def __init__(
        self,
        protocol: Any,
        bucket: TokenBucket | None,
        resync_at: float,
        address: str = "",
        v2: bool = False,
    ) -> None:
        self._protocol = protocol  # uvicorn's websocket protocol: has .transport and .close_sent
        self._transport: asyncio.WriteTransport = protocol.transport
        self.address = address  # the client's address (see place.api.addresses)
        self.bucket = bucket
        self.player: Player | None = None
        self.expires_at_ms: int | None = None  # when the player's sign-in token expires
        self.next_place_at_ms = 0
        self.resync_at = resync_at
        self.canvas_at = float("-inf")
        self.stale = False
        self.v2 = v2  # connected with /ws?v=2: compact deltas and checksums
        self.queued = 0  # messages handed to uvicorn's queue, not yet handled (see FastReader)
        self.sent = 0  # bytes written to it, deltas aside (Hub.bytes_sent counts those)

    def write(self, frame: bytes) -> None:
        """Queue an encoded websocket frame; dropped once the connection is closing."""
        if not self._protocol.close_sent and not self._transport.is_closing():
            self._transport.write(frame)
            self.sent += len(frame)

    def write_all(self, frames: Sequence[bytes]) -> None:
        """Queue several encoded frames, in order (the canvas: a snapshot and deltas after it)."""
        if not self._protocol.close_sent and not self._transport.is_closing():
            for frame in frames:
                self._transport.write(frame)
                self.sent += len(frame)

    @property
    def backlog(self) -> int:
        """Bytes written but not yet sent to the player."""
        return self._transport.get_write_buffer_size()

    @property
    def closing(self) -> bool:
        """Whether the close has begun: nothing more reaches the player."""
        return self._protocol.close_sent or self._transport.is_closing()

    def restart(self) -> None:
        """Close with 1012 (service restart), as uvicorn does to every socket at shutdown: the
        player reconnects at once, through the load balancer, maybe to another pod. Frames the
        player sent that the pod has not handled yet are dropped unanswered (see `closing`)."""
        self._protocol.shutdown()

    def abort(self) -> None:
        """Drop the socket at once, unsent bytes and all: a peer that stopped reading never
        takes its close frame, and its buffer would stay for as long as TCP keeps it open."""
        self._transport.abort()


class FastReader(asyncio.Protocol):
    """Stands between an accepted player's socket and uvicorn's websocket protocol.

    A whole, unfragmented text frame goes straight to `take(connection, payload)`, which handles
    it there and then (a placement) and returns True, or returns False to let it go the usual
    way. Every other frame (and a text frame `take` declines) goes to uvicorn's protocol unchanged:
    pings, pongs, closing, binary frames, frames over the size limit, fragments. So the common
    message skips the websocket library's parser, the ASGI queue, a task switch and pausing and
    resuming the socket; everything else keeps uvicorn's handling. A message handed to uvicorn is
    counted in `connection.queued` until the pod has handled it, and while one is waiting no
    frame is taken here, so messages are still answered in the order they came.
    """

    __slots__ = ("_buffer", "_connection", "_inner", "_max_size", "_take")

    def __init__(
        self,
        inner: asyncio.Protocol,
        connection: Connection,
        take: Callable[[Connection, bytes], bool],
        max_size: int,
    ) -> None:
        self._inner = inner
        self._connection = connection
        self._take = take
        self._max_size = max_size
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        start, size = 0, len(data)
        passed = 0  # data[passed:start] still goes to uvicorn, before anything taken after it
        connection, inner, take, max_size = (
            self._connection,
            self._inner,
            self._take,
            self._max_size,
        )
        while start < size:
            if data[start] == _SHORT_TEXT and start + 6 <= size:
                # the common frame, inline: whole, text, masked, payload under 126 bytes
                payload_size = data[start + 1] - 0x80  # negative: not masked
                end = start + 6 + payload_size
                if (
                    0 <= payload_size < 126
                    and end <= size
                    and payload_size <= max_size
                    and connection.queued == 0
                ):
                    if passed < start:  # what came before it goes first
                        inner.data_received(data[passed:start])
                        passed = start
                    if take(
                        connection, apply_mask(data[start + 6 : end], data[start + 2 : start + 6])
                    ):
                        passed = end
                    else:
                        connection.queued += 1
                    start = end
                    continue
            frame = client_frame(data, start)
            if frame is None:  # incomplete: wait for the rest, unless it is over the limit
                if size - start <= max_size + 14:
                    if passed < start:
                        inner.data_received(data[passed:start])
                    self._buffer = data[start:]
                    return
                break  # uvicorn refuses it (1009)
            end, opcode, fin, payload_start, payload_size = frame
            if (
                opcode == OP_TEXT
                and fin
                and connection.queued == 0
                and payload_size <= max_size
                and payload_start - start >= 6  # masked, as every client frame must be
            ):
                if passed < start:  # what came before it goes first
                    inner.data_received(data[passed:start])
                    passed = start
                if take(connection, unmask(data, payload_start, payload_size)):
                    passed = end
                else:
                    connection.queued += 1
            elif fin and opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                connection.queued += 1  # a message for the pod's queue (its last fragment)
            start = end
        if passed < size:
            inner.data_received(data[passed:] if passed else data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class Inbox:
    """What uvicorn's websocket protocol needs of its `asyncio.Queue` (`put_nowait`, `get`,
    `empty`, `qsize`), in a list and one future: an idle player holds four deques less (1.7 KB
    each connection; see `lighten`)."""

    __slots__ = ("_items", "_waiter")

    def __init__(self, items: list[Any]) -> None:
        self._items = items
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


def lighten(protocol: Any) -> None:
    """After the handshake, let uvicorn's websocket protocol drop what it no longer uses: the
    request and response of the handshake (their headers), and its receive queue for an `Inbox`
    (docs/performance.md: memory per idle connection). Anything it does not have is left as is."""
    queue = getattr(protocol, "queue", None)
    if isinstance(queue, asyncio.Queue) and getattr(protocol, "handshake_complete", False):
        items: list[Any] = []
        while not queue.empty():
            items.append(queue.get_nowait())
        protocol.queue = Inbox(items)
    for name in ("request", "response"):
        if hasattr(protocol, name):
            setattr(protocol, name, None)


class Hub:
    def __init__(
        self,
        resync_s: float,
        high_water: int = HIGH_WATER,
        low_water: int = LOW_WATER,
        unsent_budget: int = UNSENT_BUDGET,
    ) -> None:
        self.connections: set[Connection] = set()
        self.resync_s = resync_s
        self.high_water = high_water
        self.low_water = low_water
        self.unsent_budget = unsent_budget
        self.unsent = 0  # every player's unsent bytes, as of the last delta delivered
        self.frames_delivered = 0
        self.frames_dropped = 0
        self.delta_at = float("-inf")  # monotonic time of the last delta delivered
        self.slow_players = 0  # times a player was found over high_water and marked stale
        self._sent_by_closed = 0  # bytes written to connections no longer here
        self._sent_in_deltas = 0  # bytes of deltas written by deliver_delta (not in .sent)

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)

    def discard(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)
            self._sent_by_closed += connection.sent

    @property
    def bytes_sent(self) -> int:
        """Bytes written to every player this hub ever held (read at scrape time)."""
        held = sum(connection.sent for connection in self.connections)
        return self._sent_by_closed + self._sent_in_deltas + held

    def __len__(self) -> int:
        return len(self.connections)

    def deliver_delta(self, frame: bytes, compact: bytes, catch_up: CatchUp) -> None:
        """Write one delta to every player, `frame` (0x02) or `compact` (0x03) as it asked;
        stale players get the canvas instead.

        `catch_up(v2)` returns the frames of the canvas including this delta; it is called only
        when a player needs them, and caches.
        """
        high, low = self.high_water, self.low_water
        if self.unsent > self.unsent_budget:  # the pod's budget: only near-empty buffers
            high = low = low // 8
        plain = compacts = others = dropped = unsent = 0
        now = time.monotonic()
        for connection in self.connections:
            # the hot loop (docs/performance.md): Connection.write and .backlog inlined, and the
            # bytes of the common case counted once for all (`_sent_in_deltas`)
            transport = connection._transport
            backlog = transport.get_write_buffer_size()
            unsent += backlog
            if connection.stale or backlog > high:
                if self._behind(connection, backlog, low, now, catch_up):
                    others += 1
                else:
                    dropped += 1
            elif connection._protocol.close_sent or transport.is_closing():
                others += 1  # closing: nothing more reaches it (counted as before)
            elif connection.v2:
                transport.write(compact)
                compacts += 1
            else:
                transport.write(frame)
                plain += 1
        self._sent_in_deltas += plain * len(frame) + compacts * len(compact)
        self.unsent = unsent
        self.delta_at = now
        self.frames_delivered += plain + compacts + others
        self.frames_dropped += dropped

    def _behind(
        self, connection: Connection, backlog: int, low: int, now: float, catch_up: CatchUp
    ) -> bool:
        """A stale player, or one found over `high_water`: whether it got the canvas now (the
        canvas again once it has read, at most once every RESYNC_EVERY_S)."""
        if not connection.stale:
            connection.stale = True
            self.slow_players += 1
            return False
        if backlog <= low and now - connection.canvas_at >= RESYNC_EVERY_S:
            connection.write_all(catch_up(connection.v2))
            connection.canvas_at = now
            connection.stale = False
            return True
        return False

    def resync(self, connection: Connection, catch_up: CatchUp, now: float | None = None) -> None:
        """A player's `resync`: the canvas now, if it reads what it gets (backlog under
        `low_water`) and had none within `RESYNC_EVERY_S`; else it is marked stale and gets the
        canvas with a later delta or resync, once it has read. A flood of `resync` pins nothing."""
        now = time.monotonic() if now is None else now
        if now - connection.canvas_at < RESYNC_EVERY_S or connection.backlog > self.low_water:
            connection.stale = True
            connection.resync_at = min(connection.resync_at, now + RESYNC_EVERY_S)
            return
        connection.canvas_at = now
        connection.write_all(catch_up(connection.v2))
        connection.stale = False

    def heartbeat(self, frame: bytes, every_s: float) -> None:
        """The heartbeat (`tick`) to every player that got no delta within `every_s`: while
        deltas flow, only to stale players (at 10,000 viewers and 2 deltas a second, a tick to
        everyone every 5 s was a tenth of the pod's writes)."""
        if time.monotonic() - self.delta_at < every_s:
            for connection in self.connections:
                if connection.stale:
                    connection.write(frame)
        else:
            for connection in self.connections:
                connection.write(frame)

    def deliver_each(self, frames: Callable[[Connection], bytes]) -> None:
        """Write a frame made for each player (a `hello` carries the player's own fields)."""
        for connection in self.connections:
            connection.write(frames(connection))

    def deliver_snapshot(self, catch_up: CatchUp) -> None:
        """Write the current canvas to every player (after a reload or a configuration change)."""
        for connection in self.connections:
            connection.write_all(catch_up(connection.v2))
            connection.stale = False
            connection.resync_at = time.monotonic() + self.resync_s

    def resync_due(self, catch_up: CatchUp, checksum: Callable[[], bytes]) -> None:
        """Every `resync_s` per player: the whole canvas from this pod's memory, or for a `v2`
        player its checksum (`checksum()`: the `sum` frame of the current `seq`, cached)."""
        now = time.monotonic()
        for connection in self.connections:
            if connection.resync_at <= now:
                connection.resync_at = now + self.resync_s
                if connection.v2 and not connection.stale:
                    connection.write(checksum())
                elif now - connection.canvas_at < RESYNC_EVERY_S:  # had one just now
                    connection.stale = True
                    connection.resync_at = connection.canvas_at + RESYNC_EVERY_S
                elif connection.backlog <= self.low_water:
                    connection.write_all(catch_up(connection.v2))
                    connection.canvas_at = now
                    connection.stale = False
                else:
                    connection.stale = True
