"""The commands as an ops person meets them: --help, one-line errors, `place dev` start and stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.cluster import Cluster, place_command
from tests.servers import free_port

UNREACHABLE = {"PLACE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}


@pytest.mark.parametrize(
    "args", [(), ("api",), ("ticker",), ("dev",), ("admin",), ("admin", "resize")]
)
def test_every_command_has_help(args: tuple[str, ...]) -> None:
    result = place_command(*args, "--help", env={})
    assert result.returncode == 0 and "usage: place" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("ticker",), UNREACHABLE, "place ticker: Redis at redis://127.0.0.1:"),
        (("api", "--auth", "dev"), UNREACHABLE, "does not answer"),
        (("admin", "close"), UNREACHABLE, "does not answer"),
        (("api",), {"PLACE_PORT": "http"}, "PLACE_PORT must be a whole number, got 'http'"),
        (("api",), {"PLACE_AUTH": "firebase"}, "PLACE_FIREBASE_PROJECT_ID is required"),
        (("api", "--redis-url", "mysql://x"), {"PLACE_AUTH": "dev"}, "not a Redis URL"),
    ],
)
def test_expected_failures_are_one_line_without_traceback(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = place_command(*args, env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_arguments_are_refused_by_the_parser() -> None:
    result = place_command("admin", "resize", "wide", "10", env={})
    assert result.returncode == 2 and "invalid int value: 'wide'" in result.stderr


def test_admin_refuses_what_does_not_fit(cluster: Cluster) -> None:
    result = cluster.admin("resize", "0", "10")
    assert result.returncode == 1 and "got 0x10" in result.stderr
    result = cluster.admin("close")  # no ticker ever ran: no canvas
    assert result.returncode == 1 and "no canvas yet" in result.stderr


def test_place_dev_runs_everything_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLACE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "place", "dev", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "place dev did not become ready"
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0
    assert f"running at http://127.0.0.1:{port}/" in output
    assert "Traceback" not in output
    assert (tmp_path / "var" / "redis").is_dir()
    redis_port = int(re.search(r"started redis-server at redis://127.0.0.1:(\d+)/", output)[1])
    with pytest.raises(OSError):  # its redis-server is gone too
        socket.create_connection(("127.0.0.1", redis_port), timeout=1).close()
