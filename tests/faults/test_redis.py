"""Redis fails under load: killed and restarted from its append-only file, stopped for 10 s
(SIGSTOP: its sockets accept, nothing answers) then resumed, and emptied (FLUSHALL: the active
ticker restores the canvas from the object store). Every placement is answered within the
contract's 3 s, the pods recover by themselves, and every acknowledged placement is on the final
canvas."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import numpy as np
import redis as redis_sync

from place.settings import Settings
from place.store import open_store
from tests.client import TestPlayer
from tests.e2e.test_store import archived_count
from tests.faults.conftest import OwnRedis
from tests.faults.load import (
    ANSWER_WITHIN_S,
    Ledger,
    run_writers,
    settled_canvas,
    until,
    writers_for,
)

WIDTH, HEIGHT = 64, 48


async def test_redis_killed_and_restarted_from_its_aof_loses_no_acknowledged_placement(
    aof_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(aof_redis)
    ticker = cluster.ticker()
    pod = cluster.pod()
    ledger = Ledger()
    writers = writers_for([pod.ws_url], 6, WIDTH, HEIGHT, ledger)

    async def crash_and_restart() -> None:
        await asyncio.sleep(3)
        aof_redis.kill()  # SIGKILL: what the OS had from the AOF is all Redis keeps
        await asyncio.sleep(1)
        aof_redis.start()

    await asyncio.gather(run_writers(writers, 10), crash_and_restart())
    codes = {code for _, _, code in ledger.answers}
    assert "unavailable" in codes and ledger.acknowledged > 200
    assert ticker.process.poll() is None and pod.process.poll() is None
    final = await settled_canvas(cluster.redis_url, pod.ws_url)
    ledger.check(final)
    assert "Traceback" not in ticker.log() + pod.log()


async def test_redis_stopped_for_10_s_every_placement_answered_in_3_s_and_the_pods_recover(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis)
    cluster.ticker()
    cluster.ticker()
    pods = [cluster.pod(), cluster.pod()]
    ledger = Ledger()
    writers = writers_for([p.ws_url for p in pods], 6, WIDTH, HEIGHT, ledger)
    readiness: list[tuple[float, float, int]] = []  # (asked at, answered in, status)
    stopped_at: list[float] = []

    async def watch_readyz(seconds: float) -> None:
        async with httpx.AsyncClient(base_url=pods[0].url, timeout=5) as http:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                asked = time.monotonic()
                answer = await http.get("/readyz")
                readiness.append((asked, time.monotonic() - asked, answer.status_code))
                await asyncio.sleep(0.1)

    async def stall() -> None:
        await asyncio.sleep(3)
        own_redis.signal(signal.SIGSTOP)
        stopped_at.append(time.monotonic())
        await asyncio.sleep(10)
        own_redis.signal(signal.SIGCONT)

    await asyncio.gather(run_writers(writers, 20), stall(), watch_readyz(20))
    stop = stopped_at[0]
    # every placement was answered, within 3 s, the stall's ones with `unavailable`
    late = [latency for _, latency, _ in ledger.answers if latency > ANSWER_WITHIN_S]
    assert not late, f"{len(late)} placements answered after 3 s: {sorted(late)[-5:]}"
    # (a placement sent in the stall's last 2.5 s may wait for its end and be stored)
    during = [code for sent, _, code in ledger.answers if stop + 0.5 < sent < stop + 7]
    assert during and set(during) == {"unavailable"}
    # /readyz answered every time within 2 s, and said 503 within 2 s of the stall
    assert max(took for _, took, _ in readiness) < 2.0
    first_503 = min(at + took for at, took, status in readiness if status == 503 and at > stop)
    assert first_503 - stop < 2.0 + 0.2  # (one poll period)
    # and came back by itself after it
    assert readiness[-1][2] == 200
    final = await settled_canvas(cluster.redis_url, pods[1].ws_url)
    ledger.check(final)
    after = [code for sent, _, code in ledger.answers if sent > stop + 12]
    assert "placed" in after
    for pod in pods:
        assert "Traceback" not in pod.log()


async def test_redis_losing_its_data_gets_the_canvas_back_from_the_store(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(
        own_redis, PLACE_BACKUP_S="1", PLACE_ARCHIVE_S="1", PLACE_TIMELAPSE_S="1"
    )
    store = open_store(Settings(), cluster.env["PLACE_STORE_URL"])
    cluster.ticker()
    pod = cluster.pod()
    ledger = Ledger()
    writers = writers_for([pod.ws_url], 4, WIDTH, HEIGHT, ledger)
    viewer = await TestPlayer.join(pod.ws_url)
    await run_writers(writers, 4)
    before = await settled_canvas(cluster.redis_url, pod.ws_url)
    ledger.check(before)
    # the window of loss is what the store has not got yet: wait for it to have everything
    stored = sum(1 for _, _, code in ledger.answers if code == "placed")
    await until(lambda: archived_count(store) == stored, 20, "the archive")
    await until(lambda: store.list("backups/latest.json"), 20, "a backup")
    seq_before = viewer.seq

    redis_sync.Redis.from_url(cluster.redis_url).flushall()

    await until(lambda: viewer.seq > seq_before, 30, "the automatic restore to reach players")
    restored = await settled_canvas(cluster.redis_url, pod.ws_url, timeout=30)
    assert np.array_equal(restored, before)
    await viewer.wait_for(lambda: viewer.canvas.tobytes() == restored.tobytes(), timeout=10)
    # and the game goes on, on the restored canvas
    await run_writers(writers, 3)
    ledger.check(await settled_canvas(cluster.redis_url, pod.ws_url))
    await viewer.close()
