"""Processes die under load: a pod (SIGKILL: its players reconnect to another pod) and the
active ticker, twice. Every acknowledged placement is on the final canvas, and the players' canvas
is the one Redis holds."""

from __future__ import annotations

import asyncio
import signal
import time

import redis as redis_sync

from tests.client import TestPlayer
from tests.faults.conftest import OwnRedis
from tests.faults.load import KEYS, Ledger, run_writers, settled_canvas, until, writers_for

WIDTH, HEIGHT = 64, 48


async def test_a_pod_killed_under_load_loses_no_acknowledged_placement(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis)
    cluster.ticker()
    cluster.ticker()
    doomed, survivor = cluster.pod(), cluster.pod()
    ledger = Ledger()
    writers = writers_for([doomed.ws_url, survivor.ws_url], 8, WIDTH, HEIGHT, ledger)
    viewer = await TestPlayer.join(survivor.ws_url)

    async def kill_later() -> None:
        await asyncio.sleep(3)
        doomed.process.send_signal(signal.SIGKILL)

    await asyncio.gather(run_writers(writers, 8), kill_later())
    assert doomed.process.poll() is not None
    moved = [w for w in writers if w.urls[0] == doomed.ws_url]
    assert moved and all(w.reconnects >= 2 for w in moved), "its players reconnected elsewhere"
    assert ledger.acknowledged > 200
    final = await settled_canvas(cluster.redis_url, survivor.ws_url)
    ledger.check(final)
    await viewer.wait_for(lambda: viewer.canvas.tobytes() == final.tobytes(), timeout=10)
    await viewer.close()


async def test_the_active_ticker_killed_twice_loses_nothing_and_leaves_no_seq_gap(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis)
    tickers = [cluster.ticker() for _ in range(3)]
    pod = cluster.pod()
    ledger = Ledger()
    writers = writers_for([pod.ws_url], 6, WIDTH, HEIGHT, ledger)
    viewer = await TestPlayer.join(pod.ws_url)
    client = redis_sync.Redis.from_url(cluster.redis_url)
    killed: list[float] = []

    def active():  # type: ignore[no-untyped-def]
        token = client.get(KEYS.ticker_lock)
        if token is None:
            return None
        alive = [t for t in tickers if t.process.poll() is None]
        return next((t for t in alive if f"ticker {token.decode()[:8]} is active" in t.log()), None)

    async def kill_twice() -> None:
        for _ in range(2):
            await asyncio.sleep(2)
            await until(lambda: active() is not None, 10, "an active ticker")
            victim = active()
            victim.process.send_signal(signal.SIGKILL)
            killed.append(time.monotonic())
            victim.process.wait(5)

    await asyncio.gather(run_writers(writers, 12), kill_twice())
    assert len(killed) == 2 and sum(t.process.poll() is None for t in tickers) == 1
    assert ledger.acknowledged > 200
    final = await settled_canvas(cluster.redis_url, pod.ws_url)
    ledger.check(final)
    await viewer.wait_for(lambda: viewer.canvas.tobytes() == final.tobytes(), timeout=10)
    deltas = viewer.deltas
    assert deltas == list(range(deltas[0], deltas[0] + len(deltas)))  # no gap, no duplicate
    await viewer.close()
