"""Every multi-key script runs on Redis Cluster: a one-node cluster (it still refuses a script
whose keys are in different slots: CROSSSLOT) plays an event's placements, ticks, sign-ins, stats
and admin changes. The hash tag in the key prefix (`{place}:...`) puts every key in one slot."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from redis.asyncio import Redis

from place import protocol
from place.admin import Admin
from place.api.hub import Hub
from place.api.stats import StatsReporter
from place.canvas import Placer
from place.dev import free_port, redis_server_command
from place.keys import Keys
from place.scripts import Scripts
from tests.integration.helpers import leading_ticker, place, player
from tests.servers import _wait_for_port

KEYS = Keys()


@pytest_asyncio.fixture
async def cluster_redis(tmp_path: Path) -> AsyncIterator[Redis]:
    port = free_port()
    command = [
        *redis_server_command(port),
        "--cluster-enabled", "yes",
        # its bus: by default the port + 10000, past 65535 for a free port above 55535
        "--cluster-port", str(free_port()),
        "--cluster-config-file", str(tmp_path / "nodes.conf"),
        "--dir", str(tmp_path),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        client = Redis.from_url(f"redis://127.0.0.1:{port}/0")
        await client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 10
        while b"cluster_state:ok" not in await client.execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the one-node cluster never became ok"
            time.sleep(0.05)
        yield client
        await client.aclose()
    finally:
        process.terminate()
        process.wait(10)


async def test_an_event_runs_on_redis_cluster(cluster_redis: Redis) -> None:
    redis = cluster_redis
    ticker = await leading_ticker(redis)
    await ticker.tick()
    admin = Admin(redis, KEYS)
    await admin.cooldown(0)
    ann, bob = await player(redis, "ann"), await player(redis, "bob")
    placer = Placer(Scripts(redis), KEYS)
    assert (await place(placer, ann, 1, 1, 1))[0] is None
    assert (await place(placer, bob, 2, 2, 2))[0] is None
    await ticker.tick()
    await admin.wipe(0, 0, 2, 2, 3)
    await admin.ban("bob", "1h", "testing")
    assert (await place(placer, bob, 3, 3, 1))[0] is not None
    await admin.unban("bob")
    await admin.resize(12, 9)
    await ticker.tick()
    await StatsReporter(redis, Scripts(redis), KEYS, Hub(60)).report()
    snapshot = protocol.decode_snapshot(await redis.hget(KEYS.snapshot, "frame"))
    assert (snapshot.width, snapshot.height) == (12, 9)
    assert snapshot.pixels.tobytes() == await redis.get(KEYS.canvas)
    assert snapshot.pixels[2 * 12 + 2] == 2 and snapshot.pixels[1 * 12 + 1] == 3
