"""The whole system as real processes: pods and tickers against a real Redis, real websockets."""

from __future__ import annotations

import asyncio
import datetime
import io
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import redis as redis_sync
from PIL import Image

from place.dev import redis_server_command
from place.keys import Keys
from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.servers import RedisServer

KEYS = Keys()


async def test_players_on_different_pods_see_each_others_pixels(cluster: Cluster) -> None:
    cluster.ticker()
    cluster.ticker()
    pod_a, pod_b = cluster.pod(), cluster.pod()
    ann, bob = await TestPlayer.join(pod_a.ws_url), await TestPlayer.join(pod_b.ws_url)
    await ann.sign_in("ann")
    await bob.sign_in("bob")

    # within a tick (100 ms) plus fan-out; the deadline leaves room for a machine busy with
    # other tests (the latency itself is measured by the benchmarks, docs/performance.md)
    assert (await ann.place(5, 6, 7))["t"] == "placed"
    await bob.wait_for(lambda: bob.pixel(5, 6) == 7, timeout=2)
    assert (await bob.place(8, 9, 3))["t"] == "placed"
    await ann.wait_for(lambda: ann.pixel(8, 9) == 3, timeout=2)
    await ann.close()
    await bob.close()


async def test_every_error_code_reaches_the_player(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod()
    eve = await TestPlayer.join(pod.ws_url)

    assert (await eve.place(1, 1, 1, place_id="a"))["code"] == "unauthenticated"
    await eve.send(b"\x01\x02")
    assert (await eve.expect("error"))["code"] == "bad_message"
    await eve.send("{not json")
    assert (await eve.expect("error"))["code"] == "bad_message"
    await eve.send({"t": "place", "id": 9, "x": "1", "y": 1, "c": 1})
    error = await eve.expect("error")
    assert (error["code"], error["id"]) == ("bad_message", 9)
    await eve.send({"t": "auth", "token": "   "})
    assert (await eve.expect("error"))["code"] == "unauthenticated"

    hello = await eve.sign_in("eve")
    assert hello["user"] == {"id": "eve", "name": "eve"} and hello["next_place_at_ms"] == 0
    assert (await eve.place(64, 0, 1, place_id=2))["code"] == "out_of_bounds"
    assert (await eve.place(0, 0, 32, place_id=3))["code"] == "bad_color"
    assert cluster.admin("close").returncode == 0
    assert (await eve.place(0, 0, 1, place_id=4))["code"] == "closed"
    assert cluster.admin("open").returncode == 0
    assert cluster.admin("ban", "eve").returncode == 0
    assert (await eve.place(0, 0, 1, place_id=5))["code"] == "banned"
    assert cluster.admin("unban", "eve").returncode == 0
    assert cluster.admin("cooldown", "30").returncode == 0
    placed = await eve.place(0, 0, 1, place_id=6)
    assert placed["t"] == "placed" and placed["next_place_at_ms"] > time.time() * 1000 + 25_000
    cooldown = await eve.place(1, 0, 1, place_id=7)
    assert cooldown["code"] == "cooldown"
    assert cooldown["retry_at_ms"] == placed["next_place_at_ms"]
    # every refusal left the canvas as it was: only the one placement shows
    await eve.wait_for(lambda: eve.pixel(0, 0) == 1)
    assert int(np.count_nonzero(eve.canvas)) == 1
    await eve.close()


async def test_flooding_closes_with_1008_and_a_big_frame_with_1009(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_MSG_RATE="5", PLACE_MSG_BURST="10")
    flooder = await TestPlayer.join(pod.ws_url)
    for _ in range(30):
        await flooder.send({"t": "resync"})
    limited = await flooder.expect("error")
    assert limited["code"] == "rate_limited" and limited["retry_at_ms"] > 0
    assert await flooder.close_code() == 1008

    talker = await TestPlayer.join(pod.ws_url)
    await talker.send({"t": "auth", "token": "x" * 5000})
    assert await talker.close_code() == 1009


async def test_killing_the_active_ticker_loses_nothing_and_leaves_no_seq_gap(
    cluster: Cluster,
) -> None:
    tickers = [cluster.ticker(), cluster.ticker()]
    pod = cluster.pod(PLACE_MSG_RATE="0")
    writer, viewer = await TestPlayer.join(pod.ws_url), await TestPlayer.join(pod.ws_url)
    await writer.sign_in("writer")
    redis = redis_sync.Redis.from_url(cluster.redis_url)
    token = redis.get(KEYS.ticker_lock).decode()
    active = next(t for t in tickers if f"ticker {token[:8]} is active" in t.log())

    acknowledged: dict[tuple[int, int], int] = {}
    killed_at = None
    for i in range(300):
        x, y, c = i % 64, (i // 64) % 48, i % 32
        answer = await writer.place(x, y, c, place_id=i)
        assert answer["t"] == "placed", answer
        acknowledged[(x, y)] = c
        if i == 100:
            active.process.send_signal(signal.SIGKILL)
            killed_at = time.time()
        await asyncio.sleep(0.01)
    assert killed_at is not None

    expected = np.zeros(64 * 48, np.uint8)
    for (x, y), c in acknowledged.items():
        expected[y * 64 + x] = c
    await viewer.wait_for(lambda: np.array_equal(viewer.canvas, expected), timeout=10)
    deltas = viewer.deltas
    assert deltas == list(range(deltas[0], deltas[0] + len(deltas)))  # no gap, no duplicate
    # the takeover as the standby logged it: the test's own pace (placements after the kill,
    # the viewer catching up) does not count
    (standby,) = (t for t in tickers if t is not active)
    became_active = re.search(
        r"^(\S+ \S+) INFO place.ticker: ticker \w+ is active$", standby.log(), re.M
    )
    assert became_active is not None, standby.log()
    at = datetime.datetime.strptime(became_active[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    assert at - killed_at < 5 + 1
    assert redis.get(KEYS.canvas) == expected.tobytes()


async def test_a_pod_started_late_catches_up_exactly(cluster: Cluster) -> None:
    cluster.ticker()
    early = cluster.pod(PLACE_MSG_RATE="0")
    writer = await TestPlayer.join(early.ws_url)
    await writer.sign_in("writer")
    rng = np.random.default_rng(7)
    for i in range(60):
        await writer.place(int(rng.integers(64)), int(rng.integers(48)), int(rng.integers(32)), i)
    late = cluster.pod()
    watcher = await TestPlayer.join(late.ws_url)
    await writer.place(63, 47, 9, place_id="last")
    await watcher.wait_for(lambda: watcher.pixel(63, 47) == 9)
    await writer.wait_for(lambda: writer.seq == watcher.seq)
    assert np.array_equal(watcher.canvas, writer.canvas)
    canvas = redis_sync.Redis.from_url(cluster.redis_url).get(KEYS.canvas)
    assert watcher.canvas.tobytes() == canvas


async def test_sigterm_closes_every_player_with_1012_and_exits(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod()
    players = [await TestPlayer.join(pod.ws_url) for _ in range(5)]
    pod.signal(signal.SIGTERM)
    codes = await asyncio.gather(*(player.close_code() for player in players))
    assert codes == [1012] * 5
    assert await asyncio.to_thread(pod.wait) == 0
    assert "Traceback" not in pod.log()


async def test_a_resize_reaches_players_as_hello_and_a_snapshot_of_the_new_size(
    cluster: Cluster,
) -> None:
    cluster.ticker()
    pod = cluster.pod()
    player = await TestPlayer.join(pod.ws_url)
    await player.sign_in("ann")
    await player.place(2, 3, 4)
    result = cluster.admin("resize", "32", "20")
    assert result.returncode == 0 and "32x20" in result.stdout
    hello = await player.expect("hello")
    assert (hello["width"], hello["height"]) == (32, 20)
    assert hello["user"] == {"id": "ann", "name": "ann"}
    await player.wait_for(lambda: (player.width, player.height) == (32, 20))
    assert player.pixel(2, 3) == 4
    assert (await player.place(40, 3, 1, place_id=2))["code"] == "out_of_bounds"


async def test_http_endpoints(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod()
    player = await TestPlayer.join(pod.ws_url)
    await player.sign_in("ann")
    await player.place(3, 4, 29)
    await player.wait_for(lambda: player.pixel(3, 4) == 29)
    async with httpx.AsyncClient(base_url=pod.url) as http:
        config = (await http.get("/api/config")).json()
        assert config["width"] == 64 and config["palette"][29] == "#ff4500"
        assert "user" not in config and "t" not in config

        png = await http.get("/api/canvas.png")
        assert png.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(png.content)).convert("RGB")
        assert image.size == (64, 48) and image.getpixel((3, 4)) == (255, 69, 0)

        pixel = (await http.get("/api/pixel", params={"x": 3, "y": 4})).json()
        assert pixel["c"] == 29 and pixel["user"] == {"name": "ann"} and pixel["at_ms"] > 0
        for params in ({"x": 64, "y": 0}, {"x": "a", "y": 0}, {"y": 1}):
            answer = await http.get("/api/pixel", params=params)
            assert answer.status_code == 400 and answer.json()["error"]

        deadline = time.monotonic() + 5  # the stats are at most 2 s stale
        while (stats := (await http.get("/api/stats")).json())["placements"] < 1:
            assert time.monotonic() < deadline, stats
            await asyncio.sleep(0.05)
        assert stats["ccu"] == 1 and stats["peak_ccu"] >= 1 and stats["users"] == 1
        assert stats["visits"] >= 1 and stats["placements"] == 1 and stats["peak_pps"] == 1

        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        metrics = (await http.get("/metrics")).text
        for name in (
            "place_connections 1",
            'place_placements_total{result="stored"} 1',
            "place_delta_latency_seconds_bucket",
            "place_tick_duration_seconds_count",
        ):
            assert name in metrics
    await player.close()


async def test_a_pod_without_a_ticker_is_not_ready(cluster: Cluster) -> None:
    from tests.servers import PlaceProcess, free_port

    pod = PlaceProcess("api", {**cluster.env, "PLACE_PORT": str(free_port())}, cluster.log_dir)
    cluster.processes.append(pod)
    async with httpx.AsyncClient(base_url=pod.url) as http:
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = await http.get("/readyz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and pod.process.poll() is None, pod.log()
                await asyncio.sleep(0.05)
        # the true reason from the first answer on (not "Redis does not answer")
        assert answer.status_code == 503
        assert answer.json()["reason"] == "no canvas yet (is a ticker running?)"
    cluster.ticker()
    pod.wait_ready()


async def test_ticker_and_pod_ride_out_a_redis_restart(tmp_path: Path) -> None:
    own_redis = RedisServer()
    cluster = Cluster(own_redis, tmp_path / "logs")
    try:
        ticker = cluster.ticker()
        pod = cluster.pod()
        player = await TestPlayer.join(pod.ws_url)
        await player.sign_in("ann")
        own_redis.process.kill()
        own_redis.process.wait()
        async with httpx.AsyncClient(base_url=pod.url) as http:
            deadline = time.monotonic() + 10
            while (await http.get("/readyz")).status_code != 503:  # it noticed
                assert time.monotonic() < deadline, pod.log()
                await asyncio.sleep(0.05)
        own_redis.process = subprocess.Popen(
            redis_server_command(own_redis.port), stdout=subprocess.DEVNULL
        )
        # until the ticker has made a new canvas (nothing to restore it from yet) the pod
        # answers `unavailable`; then the same connection places again
        answers = []
        for attempt in range(100):
            answers.append(await player.place(1, 2, 3, place_id=attempt))
            if answers[-1]["t"] == "placed":
                break
            await asyncio.sleep(0.1)
        assert answers[-1]["t"] == "placed"
        assert {a.get("code") for a in answers[:-1]} <= {"unavailable"}
        await player.wait_for(lambda: player.pixel(1, 2) == 3, timeout=5)
        assert ticker.process.poll() is None and pod.process.poll() is None
        assert "Traceback" not in ticker.log() + pod.log()
        await player.close()
    finally:
        cluster.stop()
        own_redis.stop()
