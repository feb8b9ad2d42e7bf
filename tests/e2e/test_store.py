"""Nothing lost: real pods, tickers and players, with a real S3-compatible server (moto's
standalone server over HTTP) or a directory as the store. Redis loses everything, the store stalls,
an ops person restores a backup: every acknowledged placement is still there, and every player
sees it live without a reload."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import numpy as np
import redis as redis_sync

from place.keys import Keys
from place.settings import Settings
from place.snapshot.archive import decode_chunk, merge_rows
from place.store import Store, open_store
from tests.client import TestPlayer
from tests.e2e.cluster import Cluster, place_command
from tests.servers import RedisServer, S3Server

FAST_STORE = {"PLACE_BACKUP_S": "1", "PLACE_ARCHIVE_S": "1", "PLACE_TIMELAPSE_S": "1"}


def archived_count(store: Store) -> int:
    chunks = [decode_chunk(store.read(item.key)[0]) for item in store.list("archive/")]
    return len(merge_rows(chunks))


async def until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for `condition()` (sync) to hold, with a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def redis_canvas(cluster: Cluster) -> np.ndarray | None:
    raw = redis_sync.Redis.from_url(cluster.redis_url).get(Keys().canvas)
    return None if raw is None else np.frombuffer(raw, np.uint8)


async def place_many(player: TestPlayer, count: int, offset: int = 0) -> dict[int, int]:
    """Place `count` pixels and return what each acknowledged pixel (index) holds."""
    acked = {}
    for i in range(count):
        x, y, c = (i * 7 + offset) % 64, (i * 3 + offset) % 48, 1 + (i + offset) % 30
        answer = await player.place(x, y, c, place_id=i)
        assert answer["t"] == "placed", answer
        acked[y * 64 + x] = c
    return acked


async def test_redis_loses_everything_and_every_player_gets_the_canvas_back(
    redis_server: RedisServer, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    cluster = Cluster(redis_server, tmp_path / "logs", **s3_server.env(s3_bucket), **FAST_STORE)
    store = open_store(Settings(s3_endpoint_url=s3_server.endpoint), f"s3://{s3_bucket}/event")
    try:
        cluster.ticker()
        first, second = cluster.pod(), cluster.pod()
        painter = await TestPlayer.join(first.ws_url)
        await painter.sign_in("ann")
        viewers = [await TestPlayer.join(first.ws_url), await TestPlayer.join(second.ws_url)]
        acked = await place_many(painter, 40)
        expected = np.zeros(64 * 48, np.uint8)
        for pixel, color in acked.items():
            expected[pixel] = color
        for viewer in viewers:
            await viewer.wait_for(lambda v=viewer: np.array_equal(v.canvas, expected))
        # every placement is in the store: a backup, and the archive after it
        await until(lambda: archived_count(store) == 40, 15, "the archive")
        await until(lambda: store.list("backups/latest.json"), 15, "a backup")
        seq_before = viewers[0].seq

        redis_sync.Redis.from_url(cluster.redis_url).flushall()

        await until(
            lambda: (c := redis_canvas(cluster)) is not None and np.array_equal(c, expected),
            20,
            "the automatic restore",
        )
        for viewer in viewers:  # the same connections: no reload, no reconnect
            await viewer.wait_for(
                lambda v=viewer: v.seq > seq_before and np.array_equal(v.canvas, expected), 20
            )
        # the game goes on
        assert (await painter.place(0, 0, 5, place_id="after"))["t"] == "placed"
        await viewers[1].wait_for(lambda: viewers[1].pixel(0, 0) == 5)
    finally:
        cluster.stop()


async def test_a_store_outage_stalls_nothing_and_the_archive_catches_up(
    redis_server: RedisServer, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    cluster = Cluster(redis_server, tmp_path / "logs", **s3_server.env(s3_bucket), **FAST_STORE)
    store = open_store(Settings(s3_endpoint_url=s3_server.endpoint), f"s3://{s3_bucket}/event")
    assert s3_server.process is not None
    try:
        cluster.ticker()
        pod = cluster.pod()
        painter = await TestPlayer.join(pod.ws_url)
        await painter.sign_in("ann")
        viewer = await TestPlayer.join(pod.ws_url)
        await place_many(painter, 5)
        await until(lambda: archived_count(store) == 5, 15, "the archive")

        os.kill(s3_server.process.pid, signal.SIGSTOP)  # the store stalls for 30 s
        try:
            gaps = []
            last = time.monotonic()
            deadline = last + 30
            count = 5
            while time.monotonic() < deadline:
                seen = len(viewer.deltas)
                answer = await painter.place(count % 64, 10, 3, place_id=count)
                assert answer["t"] == "placed"
                count += 1
                await viewer.wait_for(lambda s=seen: len(viewer.deltas) > s, 5)
                now = time.monotonic()
                gaps.append(now - last)
                last = now
        finally:
            os.kill(s3_server.process.pid, signal.SIGCONT)
        # ticks went on as usual (100 ms): every placement reached the viewer promptly
        assert max(gaps) < 1.5, f"a placement took {max(gaps):.2f} s to reach a viewer"
        status = place_command("snapshot", "status", env=cluster.env)
        assert status.returncode == 0, status.stderr
        await until(lambda: archived_count(store) == count, 60, "the archive to catch up")
    finally:
        cluster.stop()


async def test_ops_list_back_up_and_restore_a_time(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    cluster = Cluster(redis_server, tmp_path / "logs", **FAST_STORE)
    store = open_store(Settings(), cluster.env["PLACE_STORE_URL"])
    try:
        ticker = cluster.ticker()
        pod = cluster.pod()
        painter = await TestPlayer.join(pod.ws_url)
        await painter.sign_in("ann")
        viewer = await TestPlayer.join(pod.ws_url)
        early = await place_many(painter, 10)
        await until(lambda: archived_count(store) == 10, 15, "the archive")
        middle = time.time()
        await until(lambda: time.time() > middle + 0.05, 1, "time to pass")
        await place_many(painter, 10, offset=100)
        await until(lambda: archived_count(store) == 20, 15, "the archive")
        then = viewer.canvas.copy()

        backup = place_command("snapshot", "backup", env=cluster.env)
        assert backup.returncode == 0 and "backed up seq" in backup.stdout, backup.stderr
        listing = place_command("snapshot", "list", env=cluster.env)
        assert listing.returncode == 0 and " ok " in listing.stdout, listing.stderr

        at = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(middle))
            + f".{int(middle % 1 * 1000):03d}"
        )
        after_png = tmp_path / "after.png"
        dry = place_command(
            "snapshot",
            "restore",
            "--at",
            at,
            "--dry-run",
            "--after-png",
            str(after_png),
            env=cluster.env,
        )
        assert dry.returncode == 0, dry.stderr
        assert "pixels would change" in dry.stdout and "nothing changed" in dry.stdout
        assert after_png.read_bytes().startswith(b"\x89PNG")
        assert np.array_equal(viewer.canvas, then)  # a dry run changes nothing

        done = place_command("snapshot", "restore", "--at", at, env=cluster.env)
        assert done.returncode == 0, done.stderr
        expected = np.zeros(64 * 48, np.uint8)
        for pixel, color in early.items():
            expected[pixel] = color
        await viewer.wait_for(lambda: np.array_equal(viewer.canvas, expected), 10)

        ticker.stop()  # no newer backup may replace the one corrupted below
        latest = store.list("backups/")[-2].key  # the newest backup (before latest.json)
        data = bytearray(store.read(latest)[0])
        data[-3] ^= 0xFF
        Path(cluster.env["PLACE_STORE_URL"].removeprefix("file://"), latest).write_bytes(data)
        refused = place_command("snapshot", "restore", "--latest", env=cluster.env)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1 and "corrupt" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        cluster.stop()


def test_a_ticker_or_snapshot_command_without_a_store_fails_in_one_line(
    redis_server: RedisServer, s3_server: S3Server, tmp_path: Path
) -> None:
    env = {
        **S3Server.ENV,
        "PLACE_REDIS_URL": redis_server.url,
        "PLACE_STORE_URL": "s3://no-such-bucket/event",
        "PLACE_S3_ENDPOINT_URL": s3_server.endpoint,
    }
    for command in (("ticker",), ("snapshot", "list"), ("snapshot", "restore", "--latest")):
        done = place_command(*command, env=env)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "no-such-bucket" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    bad = place_command("snapshot", "list", env={**env, "PLACE_STORE_URL": "ftp://x"})
    assert bad.returncode == 1 and "PLACE_STORE_URL" in bad.stderr
