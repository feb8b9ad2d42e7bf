"""Redis restarted from an append-only file that missed its last writes (appendfsync everysec
under disk pressure loses up to about 2 s): the ticker's `seq` is then below what the pods have
applied, and the deltas it publishes next carry numbers a pod has seen. The pod takes that as
news, reloads, and its players get the canvas Redis holds, instead of ignoring every delta until
the sequence catches up."""

from __future__ import annotations

from redis.asyncio import Redis

from place.admin import Admin
from place.api.hub import Hub
from place.api.mirror import Mirror
from place.canvas import Placer
from place.keys import Keys
from place.metrics import Metrics
from place.scripts import Scripts
from tests.integration.helpers import leading_ticker, place, player

KEYS = Keys()


async def published(redis: Redis, during) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The raw messages the ticker published on the channel while `during()` ran."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(KEYS.channel)
    await during()
    marker = b'{"t":"test-marker"}'
    await redis.publish(KEYS.channel, marker)
    found = []
    while (message := await pubsub.get_message(timeout=5)) is None or message["data"] != marker:
        if message is not None:
            found.append(message["data"])
    await pubsub.aclose()
    return found


async def test_a_pod_follows_a_sequence_that_went_back(redis: Redis) -> None:
    ticker = await leading_ticker(redis)
    await ticker.tick()
    await Admin(redis, KEYS).cooldown(0)
    await ticker.tick()
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    mirror = Mirror(redis, KEYS, Hub(60), Metrics(), hello=lambda connection: b"")
    assert await mirror.reload(announce=False)
    for x in range(4):
        await place(placer, ann, x, 0, 1)
        await ticker.tick()
    for message in await published(redis, ticker.tick):
        await mirror.handle(message)
    seen = mirror.seq
    assert mirror.canvas is not None and mirror.canvas.tobytes() == await redis.get(KEYS.canvas)
    # Redis comes back without its last two ticks (their placements lost with them)
    await redis.hset(KEYS.ticker_state, "seq", seen - 2)
    kept = await redis.xrange(KEYS.deltas, max=f"{seen - 2}-1")
    await redis.delete(KEYS.deltas)
    for entry_id, fields in kept:
        await redis.xadd(KEYS.deltas, fields, id=entry_id)
    await place(placer, ann, 7, 1, 3)
    for message in await published(redis, ticker.tick):
        await mirror.handle(message)
    assert mirror.seq == seen - 1
    assert mirror.canvas is not None and mirror.canvas[1 * 10 + 7] == 3
    fresh = Mirror(redis, KEYS, Hub(60), Metrics(), hello=lambda connection: b"")
    assert await fresh.reload(announce=False)  # what a pod started now would have
    assert fresh.seq == mirror.seq and fresh.canvas.tobytes() == mirror.canvas.tobytes()
