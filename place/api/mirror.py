"""The pod's copy of the canvas, kept exactly current from the ticker's channel.

A pod subscribes once, then loads the latest snapshot and the deltas after it from Redis, and from
then on applies each delta as it comes and hands it to the hub. Players are served from this memory
only: a new connection, a resync, or a reconnect storm of thousands reads nothing from Redis.

A missed delta (a `seq` gap, or a heartbeat ahead of us) is fetched from the recent deltas Redis
keeps; when those no longer reach back far enough, the pod reloads the latest snapshot.

The canvas a player is sent is an encoded snapshot (the *base*) and the deltas after it (the
*tail*), each frame as encoded once for everyone. The base is re-encoded in a worker thread, never
on the event loop, one encode at a time: when a player needs the canvas and the tail has grown to
an eighth of the base's bytes (at least `TAIL_FLOOR`), and in any case once it reaches half of them
(at least 4 x `TAIL_FLOOR`, or `TAIL_MOST` deltas). A busy canvas costs a snapshot encode every few
seconds at most, a quiet one next to none, and a reconnect storm one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable

import numpy as np
import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from place import protocol
from place.api.frames import binary_frame, text_frame
from place.api.hub import Connection, Hub
from place.config import LiveConfig
from place.keys import Keys
from place.metrics import Metrics
from place.redis_client import Backoff, read

logger = logging.getLogger("place.mirror")

PING_AFTER_S = 1.0  # the channel silent this long (no ticker?): ping it
SILENT_AFTER_S = 3.0  # no message, not even the pong, this long: the connection is dead

# zlib level of the snapshots a pod encodes (docs/performance.md: bytes against CPU, measured)
SNAPSHOT_LEVEL = 6
TAIL_MOST = 240  # deltas after the base (2 minutes at 500 ms) before it is re-encoded anyway
TAIL_FLOOR = 64 * 1024  # tail bytes below which the base is never re-encoded (a blank canvas)


class _TailDelta:
    """One delta after the base: its 0x02 websocket frame and, made on first need, its 0x03."""

    __slots__ = ("_compact", "frame", "payload", "seq")

    def __init__(self, seq: int, payload: bytes, compact: bytes | None) -> None:
        self.seq = seq
        self.payload = payload
        self.frame = binary_frame(payload)
        self._compact = binary_frame(compact) if compact is not None else None

    @property
    def compact(self) -> bytes:
        if self._compact is None:  # a delta from Redis, or from a ticker that sent only 0x02
            delta = protocol.decode_delta(self.payload)
            payload = protocol.encode_compact_delta(delta.seq, delta.pixels, delta.colors)
            self._compact = binary_frame(payload)
        return self._compact


class Mirror:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        hub: Hub,
        metrics: Metrics,
        hello: Callable[[Connection], bytes],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.hub = hub
        self.metrics = metrics
        self.hello = hello
        self.config: LiveConfig | None = None
        self.seq = 0
        self.canvas: np.ndarray | None = None
        self.last_heard = float("-inf")  # monotonic time of the ticker's last message
        self.snapshot_level = SNAPSHOT_LEVEL
        self.snapshots_encoded = 0
        self._base: tuple[int, bytes] = (0, b"")  # (seq, encoded snapshot websocket frame)
        self._tail: list[_TailDelta] = []
        self._tail_bytes = 0
        self._catch_up: dict[bool, tuple[int, tuple[bytes, ...]]] = {}
        self._sum: tuple[int, bytes] | None = None  # (seq, `sum` websocket frame)
        self._encoding: asyncio.Task[None] | None = None
        self._generation = 0  # bumped by every reload: an encode begun before it is dropped
        self.first_load = asyncio.Event()  # set once a canvas is loaded

    @property
    def loaded(self) -> bool:
        return self.config is not None

    def catch_up(self, v2: bool) -> tuple[bytes, ...]:
        """The current canvas as websocket frames for one player: the base snapshot, then every
        delta after it, as 0x03 for a `v2` player and 0x02 for the others. Cached per `seq`."""
        cached = self._catch_up.get(v2)
        if cached is not None and cached[0] == self.seq:
            return cached[1]
        tail = [entry.compact if v2 else entry.frame for entry in self._tail]
        frames = (self._base[1], *tail)
        self._catch_up[v2] = (self.seq, frames)
        if self._tail_bytes >= max(TAIL_FLOOR, len(self._base[1]) // 8):
            self._encode_base()
        return frames

    def sum_frame(self) -> bytes:
        """The `sum` text frame of the current canvas (CRC-32 of its bytes), once per `seq`."""
        if self._sum is None or self._sum[0] != self.seq:
            assert self.canvas is not None
            crc = zlib.crc32(self.canvas)
            self._sum = (self.seq, text_frame(protocol.encode_sum(self.seq, crc)))
        return self._sum[1]

    def _set_base(self, seq: int, frame: bytes) -> None:
        self._base = (seq, frame)
        self._tail = [entry for entry in self._tail if entry.seq > seq]
        self._tail_bytes = sum(len(entry.frame) for entry in self._tail)
        self._catch_up.clear()

    def _encode_base(self) -> None:
        """Encode the current canvas as the new base, in a worker thread (zlib lets go of the
        GIL); one encode at a time."""
        if self._encoding is not None or not self._tail:
            return
        assert self.config is not None and self.canvas is not None
        self._encoding = asyncio.get_running_loop().create_task(
            self._encode(self._generation, self.seq, self.config, self.canvas.tobytes())
        )

    async def _encode(self, generation: int, seq: int, config: LiveConfig, pixels: bytes) -> None:
        try:
            frame = await asyncio.to_thread(
                protocol.encode_snapshot,
                seq,
                config.width,
                config.height,
                pixels,
                self.snapshot_level,
            )
        finally:
            self._encoding = None
        self.snapshots_encoded += 1
        if generation == self._generation and seq > self._base[0]:
            self._set_base(seq, binary_frame(frame))

    async def run(self) -> None:
        """Follow the channel forever. On a Redis failure, or a channel silent for
        `SILENT_AFTER_S` (a half-open connection: not even a ping is answered), start over on a
        new connection after a backoff (exponential, with jitter)."""
        backoff = Backoff(0.1, 5.0)
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.channel)
                await self.reload(announce=self.loaded)
                backoff.reset()
                await self._follow(pubsub)
            except (RedisError, OSError) as error:
                logger.warning("lost the ticker's channel (%s); resubscribing", error)
                await backoff.wait()
            finally:
                await pubsub.aclose()

    async def _follow(self, pubsub: PubSub) -> None:
        """Handle each message; ping the channel after `PING_AFTER_S` of silence."""
        heard, pinged = time.monotonic(), False
        while True:
            message = await pubsub.get_message(timeout=PING_AFTER_S)
            now = time.monotonic()
            if message is not None:
                heard, pinged = now, False
                if message["type"] == "message":
                    await self.handle(message["data"])
            elif now - heard > SILENT_AFTER_S:
                raise RedisConnectionError(f"no answer on the channel for {SILENT_AFTER_S:g} s")
            elif not pinged and now - heard >= PING_AFTER_S:
                await pubsub.ping(b"mirror")
                pinged = True

    async def handle(self, message: bytes) -> None:
        """One message from the ticker: a delta, a heartbeat or a snapshot notice."""
        self.last_heard = time.monotonic()
        bus = protocol.decode_bus(message)
        if isinstance(bus, protocol.BusDelta):
            self.metrics.delta_latency.observe(max(0.0, time.time() - bus.published))
            self.metrics.tick_duration.observe(bus.tick_us / 1e6)
            if not self.loaded or bus.seq == self.seq:
                return
            if bus.seq < self.seq:
                await self._went_back(bus.seq)
            elif bus.seq == self.seq + 1:
                self._apply(bus.frame, bus.compact, deliver=True)
                # publication to the last of this pod's players written (place_delta_fanout_seconds)
                self.metrics.delta_fanout.observe(max(0.0, time.time() - bus.published))
            else:
                await self.fetch_missed()
        elif bus["t"] == "tick":
            self.metrics.tick_duration.observe(bus.get("tick_us", 0) / 1e6)
            if self.loaded and bus["seq"] > self.seq:
                await self.fetch_missed()
            elif self.loaded and bus["seq"] < self.seq:
                await self._went_back(bus["seq"])
        elif bus["t"] == "snapshot" and not self._matches(bus):
            await self.reload(announce=True)

    async def _went_back(self, seq: int) -> None:
        """The ticker's `seq` is below ours: Redis lost its last writes (restarted from an
        append-only file that missed them). Its canvas is the truth now: reload and tell every
        player. (Right after a resubscription, a message sent before the reload read Redis can
        also come late: reloading then only sends the canvas once more.)"""
        logger.warning("the ticker's seq went back from %d to %d; reloading", self.seq, seq)
        await self.reload(announce=True)

    def _matches(self, notice: dict[str, int]) -> bool:
        """Whether our canvas is the one the ticker just saved (a cheap self-check)."""
        return (
            self.config is not None
            and self.canvas is not None
            and notice["seq"] == self.seq
            and notice["config_version"] == self.config.version
            and notice["crc32"] == zlib.crc32(self.canvas)
        )

    def _apply(self, frame: bytes, compact: bytes | None, deliver: bool) -> None:
        assert self.canvas is not None
        delta = protocol.decode_delta(frame)
        self.canvas[delta.pixels] = delta.colors
        self.seq = delta.seq
        entry = _TailDelta(delta.seq, frame, compact)
        self._tail.append(entry)
        self._tail_bytes += len(entry.frame)
        if deliver:
            self.hub.deliver_delta(entry.frame, entry.compact, self.catch_up)
            most = max(4 * TAIL_FLOOR, len(self._base[1]) // 2)
            if len(self._tail) >= TAIL_MOST or self._tail_bytes >= most:
                self._encode_base()

    async def fetch_missed(self) -> None:
        """Apply the deltas we missed from those Redis keeps, or reload when they are gone."""
        entries = await read(
            lambda: self.redis.xrange(self.keys.deltas, min=f"{self.seq + 1}-1", max="+")
        )
        if not entries or _entry_seq(entries[0][0]) != self.seq + 1:
            await self.reload(announce=True)
            return
        for entry_id, fields in entries:
            if _entry_seq(entry_id) == self.seq + 1:
                self._apply(fields[b"frame"], None, deliver=True)

    async def reload(self, announce: bool) -> bool:
        """Load the latest snapshot and the deltas after it; tell every player when `announce`."""
        frame, config_json = await read(
            lambda: self.redis.hmget(self.keys.snapshot, "frame", "config")
        )
        if frame is None or config_json is None:
            return False
        snapshot = protocol.decode_snapshot(frame)
        config = LiveConfig.from_json(orjson.loads(config_json))
        config_changed = config != self.config
        self.config = config
        self.canvas = snapshot.pixels.copy()
        self.seq = snapshot.seq
        self._generation += 1
        self._tail = []
        self._sum = None
        self._set_base(self.seq, binary_frame(frame))
        entries = await read(
            lambda: self.redis.xrange(self.keys.deltas, min=f"{self.seq + 1}-1", max="+")
        )
        for entry_id, fields in entries:
            if _entry_seq(entry_id) == self.seq + 1:
                self._apply(fields[b"frame"], None, deliver=False)
        logger.info("canvas %dx%d loaded at seq %d", config.width, config.height, self.seq)
        self.first_load.set()
        if announce:
            if config_changed:
                self.hub.deliver_each(self.hello)
            self.hub.deliver_snapshot(self.catch_up)
        return True


def _entry_seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])
