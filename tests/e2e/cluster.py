"""A cluster of real `place` processes against the session's redis-server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis as redis_sync

from tests.servers import REPO, PlaceProcess, RedisServer, free_port

BASE_ENV = {
    "PLACE_AUTH": "dev",
    "PLACE_TICK_MS": "100",
    "PLACE_WIDTH": "64",
    "PLACE_HEIGHT": "48",
    "PLACE_COOLDOWN_S": "0",
    "PLACE_MSG_RATE": "50",
    "PLACE_MSG_BURST": "100",
    "PLACE_HOST": "127.0.0.1",
}


class Cluster:
    def __init__(self, redis_server: RedisServer, log_dir: Path, **env: str) -> None:
        self.redis_url = redis_server.url
        # a store of its own: a ticker that finds Redis empty restores from it
        store = f"file://{log_dir.parent / 'store'}"
        self.env = {
            **BASE_ENV,
            "PLACE_REDIS_URL": self.redis_url,
            "PLACE_STORE_URL": store,
            **env,
        }
        self.log_dir = log_dir
        self.processes: list[PlaceProcess] = []
        redis_sync.Redis.from_url(self.redis_url).flushall()

    def ticker(self) -> PlaceProcess:
        process = PlaceProcess("ticker", self.env, self.log_dir)
        self.processes.append(process)
        return process

    def pod(self, port: int | None = None, **env: str) -> PlaceProcess:
        env = {**self.env, "PLACE_PORT": str(port or free_port()), **env}
        process = PlaceProcess("api", env, self.log_dir)
        self.processes.append(process)
        process.wait_ready()
        return process

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return place_command("admin", *args, env=self.env)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def place_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a `place` command to completion, as an ops person would."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "place", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
