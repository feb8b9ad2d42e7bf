"""Fixtures of the fault suite: a redis-server of each test's own (it gets killed, stopped and
restarted), with an append-only file when asked, and a cluster of real `place` processes on it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from place.dev import free_port, redis_server_command
from tests.e2e.cluster import Cluster
from tests.servers import _wait_for_port


class OwnRedis:
    """A redis-server this test may SIGKILL, SIGSTOP and restart on the same port and data."""

    def __init__(self, data_dir: Path, aof: bool = False) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = data_dir
        self.aof = aof
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def command(self) -> list[str]:
        command = redis_server_command(self.port)
        if self.aof:  # an append-only file, synced before every answer: nothing acknowledged
            # is lost however slow the disk (with `everysec` a slow fsync lets Redis answer
            # before it writes: up to about 2 s lost, tests/integration/test_seq_back.py)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            command += ["--appendonly", "yes", "--appendfsync", "always"]
            command += ["--dir", str(self.data_dir)]
        return command

    def start(self) -> None:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis", aof=True)
    yield server
    server.stop()


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """`make_cluster(redis, **env)`: real `place` processes on that Redis, stopped after."""
    made: list[Cluster] = []

    def make(redis: OwnRedis, **env: str) -> Cluster:
        cluster = Cluster(redis, tmp_path / "logs", PLACE_MSG_RATE="0", **env)  # type: ignore[arg-type]
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()
