"""`place dev` as a newcomer meets it: one command, the URL once it is really up, a cooldown short
enough to try it alone, `place admin` from another terminal without flags, a clean Ctrl-C; and
the mistakes: a busy port or a second `place dev` in the same directory stop at once in one line,
and its Redis never outlives it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from tests.servers import free_port

STARTS_WITHIN_S = 30  # a dev start is about 2 s; the margin is for a machine busy with tests


def _environment(**env: str) -> dict[str, str]:
    """The environment of a newcomer: no PLACE_* set, unless the test says so."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PLACE_")} | env


def _wait(condition: Callable[[], bool], what: str, timeout: float = STARTS_WITHIN_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


class Dev:
    """`place dev` run in `directory` as a newcomer would, its output in a file."""

    def __init__(self, directory: Path, port: int, **env: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = port
        self.log_path = directory / f"dev-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "place", "dev", "--port", str(port)],
            cwd=directory,
            env=_environment(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"place dev exited ({self.process.returncode}):\n{self.output()}")
        try:
            return self.get("/readyz")[0] == 200
        except OSError:
            return False

    def wait_started(self) -> None:
        """Ready, and its banner printed."""
        _wait(lambda: self.ready() and "Ctrl-C stops it all" in self.output(), "place dev up")

    def exit_status(self, timeout: float = STARTS_WITHIN_S) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"place dev still runs:\n{self.output()}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Dev]]:
    started: list[Dev] = []

    def start(directory: Path = tmp_path, port: int | None = None, **env: str) -> Dev:
        dev = Dev(directory, port or free_port(), **env)
        started.append(dev)
        return dev

    yield start
    for dev in started:
        dev.stop()


def place_here(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A `place` command in another terminal, in the same directory, without flags."""
    return subprocess.run(
        [sys.executable, "-m", "place", *args],
        cwd=directory,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )


def redis_servers_in(data_dir: Path) -> list[int]:
    """The live redis-server processes working in `data_dir` (redis-server moves to its --dir;
    a zombie has no working directory left)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "redis-server":
                continue
            if os.readlink(proc / "cwd") == str(data_dir.resolve()):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_place_dev_runs_everything_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, start: Callable[..., Dev]
) -> None:
    dev = start()
    dev.wait_started()
    status, page = dev.get("/")
    assert status == 200 and b"<html" in page.lower()
    output = dev.output()
    assert f"our/place is running at http://127.0.0.1:{dev.port}/" in output
    assert "a 5 s cooldown between pixels" in output  # a newcomer alone tries it within seconds
    assert "python -m place admin cooldown 0" in output
    redis_url = re.search(r"Redis (redis://127\.0\.0\.1:\d+/0), data in var/redis", output)[1]
    assert (tmp_path / "var" / "redis.url").read_text().strip() == redis_url

    # another terminal, same directory, no flags: the admin commands reach dev's Redis
    changed = place_here(tmp_path, "admin", "cooldown", "0")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("set the cooldown to 0 s")
    _wait(
        lambda: orjson.loads(dev.get("/api/config")[1])["cooldown_ms"] == 0,
        "every pod follows within a tick",
    )

    dev.process.send_signal(signal.SIGINT)
    assert dev.exit_status() == 0
    assert "Traceback" not in dev.output()
    assert not (tmp_path / "var" / "redis.url").exists()
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(OSError):  # its redis-server is gone too
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert redis_servers_in(tmp_path / "var" / "redis") == []

    # the canvas and its live cooldown survive; the banner tells the live one, not the seed
    again = start()
    again.wait_started()
    assert "no cooldown (this canvas's own: PLACE_COOLDOWN_S only seeds a new canvas)" in (
        again.output()
    )
    assert "python -m place admin cooldown 5" in again.output()


def test_place_dev_on_a_busy_port_stops_at_once_and_starts_nothing(
    tmp_path: Path, start: Callable[..., Dev]
) -> None:
    first = start(tmp_path / "a", PLACE_COOLDOWN_S="60")
    first.wait_started()
    assert "a 60 s cooldown between pixels" in first.output()  # set explicitly: it wins
    second = start(tmp_path / "b", first.port)
    assert second.exit_status() == 1
    assert second.output() == (
        f"place dev: port {first.port} on 127.0.0.1 is in use (is another place running?);"
        " choose another with --port or PLACE_PORT\n"
    )
    assert redis_servers_in(tmp_path / "b" / "var" / "redis") == []
    assert not (tmp_path / "b" / "var" / "redis.url").exists()
    assert first.ready()


def test_a_second_place_dev_in_the_same_directory_says_so(
    tmp_path: Path, start: Callable[..., Dev]
) -> None:
    first = start()
    first.wait_started()
    url = (tmp_path / "var" / "redis.url").read_text()
    second = start()
    assert second.exit_status() == 1
    assert second.output() == (
        f"place dev: another place dev (pid {first.process.pid}) runs in this directory, with"
        " its Redis on var/redis; use that one, stop it, or start this one in another"
        " directory\n"
    )
    with pytest.raises(OSError):  # it did not take its port either
        socket.create_connection(("127.0.0.1", second.port), timeout=1).close()
    assert len(redis_servers_in(tmp_path / "var" / "redis")) == 1
    assert (tmp_path / "var" / "redis.url").read_text() == url
    assert first.ready()


def test_the_redis_of_place_dev_never_outlives_it(
    tmp_path: Path, start: Callable[..., Dev]
) -> None:
    dev = start()
    dev.wait_started()
    data_dir = tmp_path / "var" / "redis"
    assert len(redis_servers_in(data_dir)) == 1
    dev.process.kill()  # no cleanup can run: SIGKILL
    dev.process.wait(10)
    _wait(lambda: redis_servers_in(data_dir) == [], "its redis-server stops")
    again = start()  # and the directory is free again
    again.wait_started()
    assert len(redis_servers_in(data_dir)) == 1
