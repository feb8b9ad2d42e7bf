"""Hostile clients: one that stops reading (the pod keeps writing to it: its memory must stay
bounded and the others unaffected), and a flood of `resync` (each one asks for the whole canvas).
Every acknowledged placement of the other players is still on the final canvas."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import redis as redis_sync

from tests.client import TestPlayer
from tests.faults.conftest import OwnRedis
from tests.faults.load import KEYS, Ledger, run_writers, settled_canvas, writers_for
from tests.faults.rawws import RawSocket

WIDTH = HEIGHT = 1000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def busy_canvas(cluster, viewer: TestPlayer) -> None:  # type: ignore[no-untyped-def]
    """A canvas of random colours (a snapshot of about 600 KB), as every pod and player has it."""
    pixels = np.random.default_rng(9).integers(0, 32, WIDTH * HEIGHT, dtype=np.uint8)
    client = redis_sync.Redis.from_url(cluster.redis_url)
    client.set(KEYS.canvas, pixels.tobytes())
    client.hincrby(KEYS.config, "version", 1)  # the ticker snapshots it, the pods follow
    await viewer.wait_for(lambda: np.array_equal(viewer.canvas, pixels), timeout=15)


async def connections(pod) -> int:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=pod.url) as http:
        for line in (await http.get("/metrics")).text.splitlines():
            if line.startswith("place_connections "):
                return int(float(line.split()[1]))
    raise AssertionError("no place_connections on /metrics")


async def test_a_client_that_stops_reading_pins_no_memory_and_slows_no_one(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(
        own_redis, PLACE_WIDTH=str(WIDTH), PLACE_HEIGHT=str(HEIGHT), PLACE_PING_TIMEOUT_S="2"
    )
    cluster.ticker()
    pod = cluster.pod()
    viewer = await TestPlayer.join(pod.ws_url)
    await busy_canvas(cluster, viewer)
    before = rss_mb(pod.process.pid)

    # it takes its hello and snapshot into a 4 KB window, then asks for the canvas again and
    # again, and never reads a byte
    stuck = await RawSocket.open(pod.port, receive_buffer=4096)
    try:
        for _ in range(300):
            await stuck.text('{"t":"resync"}')
        ledger = Ledger()
        writers = writers_for([pod.ws_url], 4, WIDTH, HEIGHT, ledger)
        await run_writers(writers, 6)

        grown = rss_mb(pod.process.pid) - before
        assert grown < 40, f"the pod grew by {grown:.0f} MB for one client that does not read"
        assert ledger.acknowledged > 100
        final = await settled_canvas(cluster.redis_url, pod.ws_url)
        ledger.check(final, initial=np.random.default_rng(9).integers(0, 32, WIDTH * HEIGHT))
        await viewer.wait_for(lambda: viewer.canvas.tobytes() == final.tobytes(), timeout=10)
        # the keepalive gives up on it (no pong within PLACE_PING_TIMEOUT_S) and the pod lets it
        # go, unsent bytes and all, though it never reads its close frame
        await until_async(lambda: connections(pod), lambda n: n == 1, 20, "the stuck client gone")
    finally:
        await stuck.close()
        await viewer.close()


async def until_async(probe, done, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done(await probe()):
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_a_flood_of_resync_gets_at_most_one_canvas_a_second(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis, PLACE_WIDTH=str(WIDTH), PLACE_HEIGHT=str(HEIGHT))
    cluster.ticker()
    pod = cluster.pod()
    viewer = await TestPlayer.join(pod.ws_url)
    await busy_canvas(cluster, viewer)
    flooder = await TestPlayer.join(pod.ws_url)
    before = rss_mb(pod.process.pid)
    ledger = Ledger()
    writers = writers_for([pod.ws_url], 4, WIDTH, HEIGHT, ledger)
    snapshots_before = len(flooder.snapshots)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def flood() -> None:
        for _ in range(1000):
            await flooder.send({"t": "resync"})
            await asyncio.sleep(0.003)

    await asyncio.gather(run_writers(writers, 5), flood())
    await asyncio.sleep(1.5)  # the last one waiting for its second is answered
    took = loop.time() - started
    got = len(flooder.snapshots) - snapshots_before
    assert 1 <= got <= took + 2, f"{got} canvases in {took:.1f} s for 1000 resync"
    assert rss_mb(pod.process.pid) - before < 40
    final = await settled_canvas(cluster.redis_url, pod.ws_url)
    ledger.check(final, initial=np.random.default_rng(9).integers(0, 32, WIDTH * HEIGHT))
    await flooder.wait_for(lambda: flooder.canvas.tobytes() == final.tobytes(), timeout=10)
    await flooder.close()
    await viewer.close()


async def test_a_quiet_canvas_still_tells_every_player_it_is_alive(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    """The page takes a socket that hears nothing for 15 s for dead (a network gone without a
    close): on a canvas where nobody places, the pod's heartbeat is what it hears."""
    cluster = make_cluster(own_redis)
    cluster.ticker()
    pod = cluster.pod()
    player = await TestPlayer.join(pod.ws_url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    first = await player.expect("tick", timeout=7)
    second = await player.expect("tick", timeout=7)
    assert loop.time() - started < 12
    assert first["seq"] == second["seq"] == player.seq
    await player.close()
