"""The ticker after a backlog (a failover, a stall): a snapshot is exactly the canvas after its
`seq`, never holding placements of later deltas; and a change too big for a delta (a full-canvas
wipe) reaches the pods as a snapshot notice instead of a giant message on the bus."""

from __future__ import annotations

import asyncio
import zlib

import numpy as np
from redis.asyncio import Redis

from place import protocol
from place.admin import Admin
from place.canvas import Placer
from place.keys import Keys
from place.protocol import Place
from place.scripts import Scripts
from place.ticker.ticker import BIG_DELTA_PIXELS, MAX_ENTRIES_PER_TICK
from tests.integration.helpers import SETTINGS, leading_ticker, player
from tests.integration.test_ticker import Channel

KEYS = Keys()


async def place_each_alone(placer: Placer, moves: list[tuple[int, int, int]], who) -> None:  # type: ignore[no-untyped-def]
    """One stream entry per placement (a batch of one each), all answered `placed`."""
    for start in range(0, len(moves), 200):
        answers = []
        for x, y, c in moves[start : start + 200]:
            answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            placer.submit(who, Place(None, x, y, c), lambda code, *_, f=answer: f.set_result(code))
            answers.append(answer)
        assert await asyncio.gather(*answers) == [None] * len(answers)


def replay(snapshot: protocol.Snapshot, deltas: list[bytes], upto: int) -> np.ndarray:
    canvas = snapshot.pixels.copy()
    for frame in deltas:
        delta = protocol.decode_delta(frame)
        if snapshot.seq < delta.seq <= upto:
            canvas[delta.pixels] = delta.colors
    return canvas


async def test_a_snapshot_taken_over_a_backlog_is_exactly_the_canvas_after_its_seq(
    redis: Redis,
) -> None:
    ticker = await leading_ticker(redis)
    await Admin(redis, KEYS).cooldown(0)
    await ticker.tick()  # the snapshot of the configuration: the base
    base = protocol.decode_snapshot(await redis.hget(KEYS.snapshot, "frame"))
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS, max_batch=1)
    # more entries than one tick reads; the last ones paint over the first ones
    first = [(i % 10, (i // 10) % 8, 1) for i in range(MAX_ENTRIES_PER_TICK)]
    later = [(i % 10, (i // 10) % 8, 2) for i in range(500)]
    await place_each_alone(placer, first + later, ann)

    ticker._snapshot_due = 0.0  # a snapshot is due on this tick (every PLACE_RESYNC_S)
    async with Channel(redis) as channel:
        await ticker.tick()
        await ticker.tick()
        published = await channel.messages()
    record = await redis.hgetall(KEYS.snapshot)
    snapshot = protocol.decode_snapshot(record[b"frame"])
    deltas = [fields[b"frame"] for _, fields in await redis.xrange(KEYS.deltas)]
    # the snapshot is the base plus every delta up to its seq, and none after
    assert np.array_equal(snapshot.pixels, replay(base, deltas, snapshot.seq))
    notices = [m for m in published if isinstance(m, dict) and m["t"] == "snapshot"]
    assert notices and notices[-1]["crc32"] == zlib.crc32(snapshot.pixels.tobytes())
    # and every placement is in the canvas the players end with
    final_seq = int(await redis.hget(KEYS.ticker_state, "seq"))
    assert replay(base, deltas, final_seq).tobytes() == await redis.get(KEYS.canvas)


async def test_a_full_canvas_wipe_is_published_as_a_snapshot_notice_not_a_giant_delta(
    redis: Redis,
) -> None:
    side = int(BIG_DELTA_PIXELS**0.5) + 10  # a canvas a little bigger than the threshold
    settings = SETTINGS.replace(width=side, height=side)
    ticker = await leading_ticker(redis, settings)
    await ticker.tick()
    seq = int(await redis.hget(KEYS.ticker_state, "seq"))
    await Admin(redis, KEYS).wipe(0, 0, side, side, 3)
    async with Channel(redis) as channel:
        await ticker.tick()
        published = await channel.messages()
    assert not any(isinstance(m, protocol.BusDelta) for m in published)
    (notice,) = published
    assert notice["t"] == "snapshot" and notice["seq"] == seq + 1
    snapshot = protocol.decode_snapshot(await redis.hget(KEYS.snapshot, "frame"))
    assert snapshot.seq == seq + 1 and set(snapshot.pixels.tolist()) == {3}
    assert notice["crc32"] == zlib.crc32(snapshot.pixels.tobytes())
    # a small change after it is a delta again, with the next seq
    await Admin(redis, KEYS).wipe(0, 0, 2, 2, 1)
    async with Channel(redis) as channel:
        await ticker.tick()
        (delta,) = await channel.messages()
    assert isinstance(delta, protocol.BusDelta) and delta.seq == seq + 2
