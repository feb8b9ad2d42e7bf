"""Redis memory per signed-in player (what the capacity table of docs/operations.md needs for a
big event), measured on a real redis-server: 100,000 players signed in and placing once, through
the real code: their Firebase token cached for every pod (TokenCache.put), their number and name
(player_register.lua), one placement each with a 300 s cooldown (canvas_place.lua, via Placer).
Prints used_memory per player, without the placement stream (archived and trimmed in an event;
its cost per placement is bench.stream_memory's).

    .venv/bin/python -m bench.player_memory
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from place.api.auth import Identity, TokenCache
from place.canvas import Placer, register_player
from place.keys import Keys
from place.protocol import Place
from place.redis_client import make_redis
from place.scripts import Scripts
from place.settings import Settings
from place.ticker.ticker import Ticker
from tests.servers import RedisServer

PLAYERS = 100_000
BATCH = 500
UID = "xY3kP9qR2sT5uV8wZ1aB4c"  # and 6 digits: a Firebase uid is 28 characters


async def measure(url: str) -> dict[str, float]:
    redis = make_redis(url)  # the pods' pool: waits for a free connection
    await redis.flushall()
    settings = Settings(width=1000, height=1000, cooldown_s=300)
    ticker = Ticker(settings, redis)
    assert await ticker.lock.acquire()
    await ticker.ensure_canvas()
    keys = Keys()
    scripts = Scripts(redis)
    before = (await redis.info("memory"))["used_memory"]
    cache = TokenCache(keys, size=1)
    cache.share(redis)
    placer = Placer(scripts, keys, max_batch=BATCH)
    expires = int(time.time() * 1000) + 3_600_000
    done = asyncio.Event()
    answered = 0

    def answer(*_: object) -> None:
        nonlocal answered
        answered += 1
        if answered == PLAYERS:
            done.set()

    for start in range(0, PLAYERS, BATCH):
        batch = []
        for i in range(start, start + BATCH):
            uid = f"{UID}{i:06d}"
            identity = Identity(uid, f"Player {i}", False, expires)
            digest = hashlib.sha256(f"token-of-{uid}".encode()).digest()
            batch.append((digest, identity))
        await asyncio.gather(*(cache.put(digest, identity) for digest, identity in batch))
        players = await asyncio.gather(
            *(register_player(redis, scripts, keys, ident.id, ident.name) for _, ident in batch)
        )
        for n, (player, _) in enumerate(players):
            i = start + n
            placer.submit(player, Place(None, i % 1000, (i // 1000) % 1000, 1), answer)
        await asyncio.sleep(0)
    await done.wait()
    stream = await redis.memory_usage(keys.placements, samples=0) or 0
    after = (await redis.info("memory"))["used_memory"]
    counts = {
        "tokens": len([k async for k in redis.scan_iter(match=keys.token("*"), count=10_000)]),
        "cooldowns": len(
            [k async for k in redis.scan_iter(match=keys.cooldown("*"), count=10_000)]
        ),
        "players": await redis.hlen(keys.player_numbers),
    }
    await redis.aclose()
    assert set(counts.values()) == {PLAYERS}, counts
    return {"per_player": (after - before - stream) / PLAYERS, "stream": stream / PLAYERS}


async def main() -> None:
    server = RedisServer()
    try:
        figures = await measure(server.url)
    finally:
        server.stop()
    print(f"{PLAYERS:,} signed-in players, each with a cached token, a number and a cooldown:")
    print(f"  Redis used_memory per player: {figures['per_player']:.0f} bytes")
    print(f"  (and {figures['stream']:.0f} bytes per placement in the stream, until archived)")


if __name__ == "__main__":
    asyncio.run(main())
