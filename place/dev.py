"""`place dev`: the whole system on one machine for a newcomer.

A redis-server of its own on a free port (its data in ./var/redis, so the canvas survives a
restart), a ticker and one pod with dev auth in this process; Ctrl-C stops all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.api.server import run_api
from place.errors import PlaceError
from place.settings import Settings
from place.ticker.ticker import run_ticker

logger = logging.getLogger("place.dev")

REDIS_DATA_DIR = Path("var/redis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_command(port: int, data_dir: Path | None = None) -> list[str]:
    """A loopback redis-server on `port`, saving to `data_dir` (or not at all); also used by the
    tests and the benchmarks."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise PlaceError(
            "redis-server is not installed: run `make setup` (apt-get install redis-server) "
            "or set PLACE_REDIS_URL"
        )
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "no"]
    if data_dir is None:
        return [*args, "--save", ""]
    data_dir.mkdir(parents=True, exist_ok=True)
    return [*args, "--dir", str(data_dir.resolve()), "--save", "30 1"]


@contextlib.asynccontextmanager
async def redis_server(data_dir: Path | None) -> AsyncIterator[str]:
    """Start a redis-server on a free loopback port; yields its URL, stops it on exit."""
    port = free_port()
    process = subprocess.Popen(
        redis_server_command(port, data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the pod, which drains first; Redis stops last
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        await _wait_for_redis(url, process)
        yield url
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)


async def _wait_for_redis(url: str, process: subprocess.Popen[bytes]) -> None:
    client = Redis.from_url(url)
    try:
        for _ in range(100):
            if process.poll() is not None:
                raise PlaceError(f"redis-server exited at start (status {process.returncode})")
            with contextlib.suppress(RedisError, OSError):
                await client.ping()
                return
            await asyncio.sleep(0.05)
        raise PlaceError("redis-server did not answer within 5 s")
    finally:
        await client.aclose()


async def run_dev(settings: Settings) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if not settings.redis_url_given:
            url = await stack.enter_async_context(redis_server(REDIS_DATA_DIR))
            settings = settings.replace(redis_url=url)
            logger.info("started redis-server at %s (data in %s)", url, REDIS_DATA_DIR)
        ticker = asyncio.create_task(run_ticker(settings), name="ticker")
        print(
            f"\n  our/place is running at http://{settings.host}:{settings.port}/"
            "  (dev auth: sign in with any name; Ctrl-C stops it)\n",
            flush=True,
        )
        try:
            await run_api(settings, default_auth="dev")
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
