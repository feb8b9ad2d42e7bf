"""The biggest canvas (4096x4096): its PNG is encoded off the pod's event loop, once per change,
and a resize keeps Redis answering well within the ticker's lock renewal (the who record alone is
200 MB), so no player and no ticker notices it."""

from __future__ import annotations

import asyncio
import time

import httpx
import numpy as np
import redis as redis_sync

from tests.client import TestPlayer
from tests.faults.conftest import OwnRedis
from tests.faults.load import KEYS

SIDE = 4096


async def random_canvas(cluster, player: TestPlayer) -> np.ndarray:  # type: ignore[no-untyped-def]
    pixels = np.random.default_rng(4).integers(0, 32, SIDE * SIDE, dtype=np.uint8)
    client = redis_sync.Redis.from_url(cluster.redis_url)
    client.set(KEYS.canvas, pixels.tobytes())
    client.hincrby(KEYS.config, "version", 1)
    await player.wait_for(lambda: np.array_equal(player.canvas, pixels), timeout=30)
    return pixels


async def test_the_png_of_a_big_canvas_never_stalls_the_pod(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis, PLACE_WIDTH=str(SIDE), PLACE_HEIGHT=str(SIDE))
    cluster.ticker()
    pod = cluster.pod()
    viewer = await TestPlayer.join(pod.ws_url)
    await random_canvas(cluster, viewer)
    stalls: list[float] = []

    async with httpx.AsyncClient(base_url=pod.url, timeout=30) as http:

        async def probe(until: asyncio.Future[None]) -> None:
            while not until.done():
                asked = time.monotonic()
                assert (await http.get("/healthz")).status_code == 200
                stalls.append(time.monotonic() - asked)
                await asyncio.sleep(0.02)

        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        probing = asyncio.create_task(probe(done))
        pngs = await asyncio.gather(*(http.get("/api/canvas.png") for _ in range(4)))
        again = await http.get("/api/canvas.png")
        done.set_result(None)
        await probing
    bodies = {answer.content for answer in [*pngs, again]}
    assert len(bodies) == 1 and next(iter(bodies)).startswith(b"\x89PNG")
    assert len(stalls) > 5
    # zlib over 16 MB of random colours takes about a second: on the loop, /healthz would wait
    assert max(stalls) < 0.5, f"/healthz waited {max(stalls):.2f} s while the PNG was encoded"
    await viewer.close()


async def test_a_resize_of_the_biggest_canvas_does_not_depose_the_ticker(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis, PLACE_WIDTH=str(SIDE), PLACE_HEIGHT=str(SIDE))
    tickers = [cluster.ticker(), cluster.ticker()]
    pod = cluster.pod()
    player = await TestPlayer.join(pod.ws_url)
    await player.sign_in("ann")
    assert (await player.place(4000, 10, 5))["t"] == "placed"
    token = redis_sync.Redis.from_url(cluster.redis_url).get(KEYS.ticker_lock)

    done = await asyncio.to_thread(cluster.admin, "resize", str(SIDE - 1), str(SIDE))
    assert done.returncode == 0, done.stderr
    hello = await player.expect("hello", timeout=20)
    assert hello["width"] == SIDE - 1
    await player.wait_for(lambda: player.width == SIDE - 1, timeout=20)
    assert player.pixel(4000, 10) == 5
    # the same ticker leads: Redis answered its renewals all along
    assert redis_sync.Redis.from_url(cluster.redis_url).get(KEYS.ticker_lock) == token
    for ticker in tickers:
        assert "lost its lock" not in ticker.log() and "Redis failed" not in ticker.log()
    await player.close()
