"""The pod's copy of the canvas, kept exactly current from the ticker's channel.

A pod subscribes once, then loads the latest snapshot and the deltas after it from Redis, and from
then on applies each delta as it comes and hands it to the hub. Players are served from this memory
only: a new connection, a resync, or a reconnect storm of thousands reads nothing from Redis.

A missed delta (a `seq` gap, or a heartbeat ahead of us) is fetched from the recent deltas Redis
keeps; when those no longer reach back far enough, the pod reloads the latest snapshot.
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
from redis.exceptions import RedisError

from place import protocol
from place.api.frames import binary_frame
from place.api.hub import Connection, Hub
from place.config import LiveConfig
from place.keys import Keys
from place.metrics import Metrics

logger = logging.getLogger("place.mirror")


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
        self._snapshot: tuple[int, bytes] | None = None  # (seq, encoded websocket frame)

    @property
    def loaded(self) -> bool:
        return self.config is not None

    def snapshot_frame(self) -> bytes:
        """The snapshot of the current canvas as a websocket frame, encoded once per `seq`."""
        if self._snapshot is None or self._snapshot[0] != self.seq:
            assert self.config is not None and self.canvas is not None
            frame = protocol.encode_snapshot(
                self.seq, self.config.width, self.config.height, self.canvas
            )
            self._snapshot = (self.seq, binary_frame(frame))
        return self._snapshot[1]

    async def run(self) -> None:
        """Follow the channel forever; on a Redis failure, wait a second and start over."""
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.channel)
                await self.reload(announce=self.loaded)
                async for message in pubsub.listen():
                    await self.handle(message["data"])
            except (RedisError, OSError) as error:
                logger.warning("lost the ticker's channel (%s); resubscribing", error)
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()

    async def handle(self, message: bytes) -> None:
        """One message from the ticker: a delta, a heartbeat or a snapshot notice."""
        self.last_heard = time.monotonic()
        bus = protocol.decode_bus(message)
        if isinstance(bus, protocol.BusDelta):
            self.metrics.delta_latency.observe(max(0.0, time.time() - bus.published))
            self.metrics.tick_duration.observe(bus.tick_us / 1e6)
            if not self.loaded or bus.seq <= self.seq:
                return
            if bus.seq == self.seq + 1:
                self._apply(bus.frame, deliver=True)
            else:
                await self.catch_up()
        elif bus["t"] == "tick":
            self.metrics.tick_duration.observe(bus.get("tick_us", 0) / 1e6)
            if self.loaded and bus["seq"] > self.seq:
                await self.catch_up()
        elif bus["t"] == "snapshot" and not self._matches(bus):
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

    def _apply(self, frame: bytes, deliver: bool) -> None:
        assert self.canvas is not None
        delta = protocol.decode_delta(frame)
        self.canvas[delta.pixels] = delta.colors
        self.seq = delta.seq
        if deliver:
            self.hub.deliver_delta(binary_frame(frame), self.snapshot_frame)

    async def catch_up(self) -> None:
        """Apply the deltas we missed from those Redis keeps, or reload when they are gone."""
        entries = await self.redis.xrange(self.keys.deltas, min=f"{self.seq + 1}-1", max="+")
        if not entries or _entry_seq(entries[0][0]) != self.seq + 1:
            await self.reload(announce=True)
            return
        for entry_id, fields in entries:
            if _entry_seq(entry_id) == self.seq + 1:
                self._apply(fields[b"frame"], deliver=True)

    async def reload(self, announce: bool) -> bool:
        """Load the latest snapshot and the deltas after it; tell every player when `announce`."""
        frame, config_json = await self.redis.hmget(self.keys.snapshot, "frame", "config")
        if frame is None or config_json is None:
            return False
        snapshot = protocol.decode_snapshot(frame)
        config = LiveConfig.from_json(orjson.loads(config_json))
        config_changed = config != self.config
        self.config = config
        self.canvas = snapshot.pixels.copy()
        self.seq = snapshot.seq
        self._snapshot = (self.seq, binary_frame(frame))
        entries = await self.redis.xrange(self.keys.deltas, min=f"{self.seq + 1}-1", max="+")
        for entry_id, fields in entries:
            if _entry_seq(entry_id) == self.seq + 1:
                self._apply(fields[b"frame"], deliver=False)
        logger.info("canvas %dx%d loaded at seq %d", config.width, config.height, self.seq)
        if announce:
            if config_changed:
                self.hub.deliver_each(self.hello)
            self.hub.deliver_snapshot(self.snapshot_frame)
        return True


def _entry_seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])
