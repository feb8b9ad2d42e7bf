"""The ticker against a real Redis: deltas, heartbeats, snapshots, fencing, and the pod's mirror
catching up from what the ticker keeps."""

from __future__ import annotations

import asyncio
import uuid
import zlib

import numpy as np
import orjson
import pytest
from redis.asyncio import Redis

from place import protocol
from place.admin import Admin
from place.api.hub import Hub
from place.api.mirror import Mirror
from place.canvas import Placer
from place.keys import Keys
from place.metrics import Metrics
from place.scripts import Scripts
from place.ticker.ticker import Deposed, Ticker
from tests.integration.helpers import SETTINGS, leading_ticker, place, player

KEYS = Keys()


class Channel:
    """What the ticker published, as the pods receive it."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pubsub = redis.pubsub(ignore_subscribe_messages=True)

    async def __aenter__(self) -> Channel:
        await self.pubsub.subscribe(KEYS.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()

    async def messages(self) -> list[protocol.BusDelta | dict]:
        """Everything published so far: what arrives before a marker published now (Redis
        delivers a channel's messages in the order it took them), however slowly it comes."""
        marker = orjson.dumps({"t": "test-marker", "id": uuid.uuid4().hex})
        await self.redis.publish(KEYS.channel, marker)
        found = []
        deadline = asyncio.get_running_loop().time() + 10
        while (message := await self.pubsub.get_message(timeout=0.5)) is None or (
            message["data"] != marker
        ):
            assert asyncio.get_running_loop().time() < deadline, f"only {found} came"
            if message is not None:
                found.append(protocol.decode_bus(message["data"]))
        return found


async def test_a_tick_publishes_one_coalesced_delta_then_heartbeats(redis: Redis) -> None:
    ticker = await leading_ticker(redis)
    await ticker.tick()  # the first tick of a leader writes the snapshot
    await Admin(redis, KEYS).cooldown(0)
    await ticker.tick()  # the configuration change: a snapshot with seq + 1
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    async with Channel(redis) as channel:
        for x, c in [(1, 1), (2, 2), (1, 3)]:
            await place(placer, ann, x, 0, c)
        await ticker.tick()
        await ticker.tick()  # nothing new: a heartbeat, no delta
        delta, heartbeat = await channel.messages()
    assert isinstance(delta, protocol.BusDelta)
    decoded = protocol.decode_delta(delta.frame)
    assert decoded.seq == 3
    assert dict(zip(decoded.pixels.tolist(), decoded.colors.tolist(), strict=True)) == {1: 3, 2: 2}
    assert heartbeat == {"t": "tick", "seq": 3, "tick_us": heartbeat["tick_us"]}
    assert (await redis.xrange(KEYS.deltas))[-1][0] == b"3-1"
    # folded placements stay in the stream until archived (tests/integration/test_keeper.py)
    assert await redis.xlen(KEYS.placements) == 3


async def test_a_deposed_ticker_publishes_nothing_and_the_new_leader_continues_seq(
    redis: Redis,
) -> None:
    old = await leading_ticker(redis)
    await old.tick()
    await Admin(redis, KEYS).cooldown(0)
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    await place(placer, ann, 0, 0, 1)
    await old.tick()  # snapshot of the config change: seq 2
    await place(placer, ann, 1, 0, 1)
    await old.tick()  # delta seq 3
    await redis.delete(KEYS.ticker_lock)  # the old lock expired while the old ticker was paused
    new = Ticker(SETTINGS, redis)
    assert await new.lock.acquire()
    await place(placer, ann, 2, 0, 1)
    async with Channel(redis) as channel:
        with pytest.raises(Deposed):
            await old.tick()
        assert await channel.messages() == []  # fenced: not a byte from the old ticker
        await new.tick()
        published = await channel.messages()
    delta = protocol.decode_delta(published[0].frame)
    assert delta.seq == 4 and delta.pixels.tolist() == [2]  # no gap, no duplicate, nothing lost
    assert published[1]["t"] == "snapshot" and published[1]["seq"] == 4  # a new leader's snapshot


async def test_a_resize_is_folded_into_a_snapshot_of_the_new_size(redis: Redis) -> None:
    ticker = await leading_ticker(redis)
    await ticker.tick()
    ann = await player(redis, "ann")
    await place(Placer(Scripts(redis), KEYS), ann, 4, 4, 2)
    await Admin(redis, KEYS).resize(6, 5)
    async with Channel(redis) as channel:
        await ticker.tick()
        (notice,) = await channel.messages()
    assert notice["t"] == "snapshot" and notice["seq"] == 2
    record = await redis.hgetall(KEYS.snapshot)
    snapshot = protocol.decode_snapshot(record[b"frame"])
    assert (snapshot.seq, snapshot.width, snapshot.height) == (2, 6, 5)
    assert snapshot.pixels[4 * 6 + 4] == 2  # the pixel placed before the resize kept its place
    assert b'"width":6' in record[b"config"]


async def test_a_mirror_started_late_catches_up_exactly(redis: Redis) -> None:
    ticker = await leading_ticker(redis)
    await ticker.tick()
    await Admin(redis, KEYS).cooldown(0)
    players = [await player(redis, f"p{i}") for i in range(5)]
    placer = Placer(Scripts(redis), KEYS)
    rng = np.random.default_rng(5)
    for _ in range(6):
        await asyncio.gather(
            *(
                place(placer, p, int(rng.integers(10)), int(rng.integers(8)), int(rng.integers(4)))
                for p in players
            )
        )
        await ticker.tick()
    mirror = Mirror(redis, KEYS, Hub(60), Metrics(), hello=lambda connection: b"")
    assert await mirror.reload(announce=False)
    state_seq = int(await redis.hget(KEYS.ticker_state, "seq"))
    assert mirror.seq == state_seq
    assert mirror.canvas.tobytes() == await redis.get(KEYS.canvas)
    # and it stays exact when it misses a delta: the heartbeat tells it, Redis has the delta
    await place(placer, players[0], 9, 7, 3)
    await ticker.tick()
    await mirror.handle(protocol.encode_notice("tick", seq=state_seq + 1))
    assert mirror.seq == state_seq + 1
    assert mirror.canvas.tobytes() == await redis.get(KEYS.canvas)
    assert zlib.crc32(mirror.canvas) == zlib.crc32(await redis.get(KEYS.canvas))
