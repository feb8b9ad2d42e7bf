"""`place dev`: the whole system on one machine for a newcomer.

A redis-server of its own on a free port (its data in ./var/redis, so the canvas survives a
restart), a ticker and one pod with dev auth in this process; Ctrl-C stops all of it.

What a newcomer runs into is handled here, in this order: a second `place dev` in the same
directory stops at once (one Redis per data directory: a lock in var/redis), so does one on a
busy port (bound before anything starts), and only then is the URL printed. While it runs, the
URL of its Redis is in var/redis.url, where the other `place` commands run in this directory find
it (`place admin cooldown 0` in another terminal just works). Its Redis never outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.api.server import listen, run_api
from place.config import LiveConfig
from place.errors import PlaceError
from place.keys import Keys
from place.redis_client import make_redis
from place.settings import DEV_REDIS_URL_FILE, Settings
from place.store import open_store
from place.tasks import cancel_and_wait
from place.ticker.ticker import run_ticker

logger = logging.getLogger("place.dev")

REDIS_DATA_DIR = Path("var/redis")
LOCK_NAME = "dev.lock"
CANVAS_WITHIN_S = 10.0  # how long the banner waits for the ticker to make (or find) the canvas
REDIS_STOPS_WITHIN_S = 10


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


@contextlib.contextmanager
def one_per_directory(data_dir: Path) -> Iterator[int]:
    """Hold an exclusive lock on `data_dir`/dev.lock; yields its file descriptor.

    Two redis-servers saving to one directory overwrite each other's canvas. The redis-server
    inherits the descriptor (`redis_server`), so the lock is held as long as either process
    lives, and the kernel drops it when both are gone, however they ended.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = path.read_text().strip() or "?"
        os.close(fd)
        raise PlaceError(
            f"another place dev (pid {holder}) runs in this directory, with its Redis on"
            f" {data_dir}; use that one, stop it, or start this one in another directory"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def redis_server(data_dir: Path | None, lock_fd: int | None = None) -> AsyncIterator[str]:
    """Start a redis-server on a free loopback port; yields its URL, stops it on exit.

    It shares `lock_fd` (see `one_per_directory`) and, on Linux, gets SIGTERM when this process
    dies, even by SIGKILL, so it is never left running on its own.
    """
    port = free_port()
    process = subprocess.Popen(
        redis_server_command(port, data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches the pod, which drains first; Redis stops last
        pass_fds=() if lock_fd is None else (lock_fd,),
        preexec_fn=_die_with_parent(),  # one C call in the child: no lock is taken in it
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        await _wait_for_redis(url, process)
        yield url
    finally:
        await _stop(process)


async def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Redis saves the canvas, then exits), then SIGKILL if it has not exited within
    `REDIS_STOPS_WITHIN_S`: Redis refuses to exit when that last save fails (its directory was
    deleted or is full), and `place dev` must end anyway."""
    process.terminate()
    try:
        await asyncio.to_thread(process.wait, REDIS_STOPS_WITHIN_S)
    except subprocess.TimeoutExpired:
        logger.warning(
            "redis-server did not stop within %d s (a failed save?): killed it",
            REDIS_STOPS_WITHIN_S,
        )
        process.kill()
        await asyncio.to_thread(process.wait)


def _die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` asking Linux to send the child SIGTERM when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


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


@contextlib.contextmanager
def published(url: str, path: Path = DEV_REDIS_URL_FILE) -> Iterator[None]:
    """`url` in `path` while this runs, for the other commands (read by `Settings.from_env`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(url + "\n")
    partial.replace(path)  # whole or absent for a reader
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


async def run_dev(settings: Settings) -> None:
    open_store(settings)  # a bad PLACE_STORE_URL stops it here too, before anything has started
    async with contextlib.AsyncExitStack() as stack:
        own_redis = not settings.redis_url_given
        lock_fd = stack.enter_context(one_per_directory(REDIS_DATA_DIR)) if own_redis else None
        sock = listen(settings)  # a busy port stops it here, before anything has started
        stack.callback(sock.close)
        if own_redis:
            url = await stack.enter_async_context(redis_server(REDIS_DATA_DIR, lock_fd))
            stack.enter_context(published(url))
            settings = settings.replace(redis_url=url)
            logger.info("started redis-server at %s (data in %s)", url, REDIS_DATA_DIR)
        ticker = asyncio.create_task(run_ticker(settings), name="ticker")
        api = asyncio.create_task(run_api(settings, "dev", sock), name="api")
        banner = asyncio.create_task(_print_banner(settings, own_redis), name="banner")
        try:
            await asyncio.wait([api, ticker], return_when=asyncio.FIRST_COMPLETED)
            if ticker.done() and not api.done():  # the ticker failed: no canvas would follow
                logger.error("the ticker stopped; stopping")
                await cancel_and_wait([api])
                ticker.result()
            await api
        finally:
            await cancel_and_wait([banner, ticker, api])


async def _print_banner(settings: Settings, own_redis: bool) -> None:
    """The URL and what to try next, once the canvas exists (made or found by the ticker)."""
    config = await _live_config(settings)
    place = _program()
    if config is None:
        cooldown, suggested = "no canvas yet (is the ticker stuck? see the log above)", 0
    elif config.cooldown_ms == 0:
        cooldown, suggested = "no cooldown", 5
    else:
        cooldown, suggested = f"a {config.cooldown_ms / 1000:g} s cooldown between pixels", 0
    if config is not None and config.cooldown_ms != round(settings.cooldown_s * 1000):
        cooldown += " (this canvas's own: PLACE_COOLDOWN_S only seeds a new canvas)"
    if own_redis:
        redis = f"Redis {settings.redis_url}, data in {REDIS_DATA_DIR}"
        other = f"{place} admin cooldown {suggested}"
    else:
        redis = f"Redis from {settings.redis_url_source}"
        other = f"{place} admin --redis-url URL cooldown {suggested}"
    print(
        f"\n  our/place is running at http://{settings.host}:{settings.port}/\n"
        f"    dev auth: sign in with any name; {cooldown}\n"
        f"    in another terminal here, change it:  {other}\n"
        f"    {redis}; Ctrl-C stops it all\n",
        flush=True,
    )


async def _live_config(settings: Settings) -> LiveConfig | None:
    """The canvas's configuration once it exists, or None after `CANVAS_WITHIN_S`."""
    redis = make_redis(settings.redis_url)
    key = Keys(settings.key_prefix).config
    deadline = time.monotonic() + CANVAS_WITHIN_S
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(RedisError, OSError):
                fields = await redis.hgetall(key)
                if fields:
                    return LiveConfig.from_hash(fields)
            await asyncio.sleep(0.05)
        return None
    finally:
        await redis.aclose()


def _program() -> str:
    """How this `place` was started, so that the commands printed can be pasted as they are."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "place":
        return "python -m place"
    if argv0.is_absolute():
        with contextlib.suppress(ValueError):
            return str(argv0.relative_to(Path.cwd()))
    return str(argv0)
