"""Redis memory per placement waiting in the stream (what a store outage costs), measured on a
real redis-server: 100,000 placements stored through the real placement script, in batches of
the sizes pods send. Prints bytes per placement for each batch size.

    .venv/bin/python -m bench.stream_memory
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from place.canvas import Placer, register_player
from place.keys import Keys
from place.protocol import Place
from place.scripts import Scripts
from place.settings import Settings
from place.ticker.ticker import Ticker
from tests.servers import RedisServer

PLACEMENTS = 100_000
UID = "xY3kP9qR2sT5uV8wZ1aB4cD7eF0g"  # a Firebase uid is 28 characters


async def measure(url: str, batch: int) -> float:
    redis = Redis.from_url(url)
    await redis.flushall()
    settings = Settings(width=1000, height=1000, cooldown_s=0)
    ticker = Ticker(settings, redis)
    assert await ticker.lock.acquire()
    await ticker.ensure_canvas()
    keys = Keys()
    players = [
        (await register_player(redis, Scripts(redis), keys, f"{UID}{i:04d}", "n"))[0]
        for i in range(batch)
    ]
    placer = Placer(Scripts(redis), keys, max_batch=batch)
    done = asyncio.Event()
    answered = 0

    def answer(*_: object) -> None:
        nonlocal answered
        answered += 1
        if answered == PLACEMENTS:
            done.set()

    for i in range(PLACEMENTS):
        placer.submit(players[i % batch], Place(None, i % 1000, (i // 1000) % 1000, 1), answer)
        if i % batch == batch - 1:
            await asyncio.sleep(0)  # let the batch go as pods send them
    await done.wait()
    used = await redis.memory_usage(keys.placements, samples=0)
    await redis.aclose()
    return used / PLACEMENTS


async def main() -> None:
    server = RedisServer()
    try:
        for batch in (1, 10, 100, 1000):
            per = await measure(server.url, batch)
            print(f"batches of {batch:>4}: {per:6.1f} bytes of stream per placement")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
