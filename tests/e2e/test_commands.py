"""The commands as an ops person meets them: --help, one-line errors (`place dev`: test_dev.py)."""

from __future__ import annotations

import socket
import time

import pytest
import redis as redis_sync

from place.keys import Keys
from tests.e2e.cluster import Cluster, place_command
from tests.servers import RedisServer, free_port

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


def test_a_bad_argument_is_one_line_and_exit_status_1() -> None:
    result = place_command("admin", "resize", "wide", "10", env={})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "place admin resize: argument width: 'wide' is not a whole number;"
        " see place admin resize --help\n"
    )


def test_place_api_on_a_busy_port_stops_at_once(redis_server: RedisServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PLACE_REDIS_URL": redis_server.url, "PLACE_AUTH": "dev"}
        result = place_command("api", "--port", str(port), env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"place api: port {port} on 127.0.0.1 is in use (is another place running?);"
        " choose another with --port or PLACE_PORT\n"
    )


def test_admin_refuses_what_does_not_fit(cluster: Cluster) -> None:
    result = cluster.admin("resize", "0", "10")
    assert result.returncode == 1 and "got 0x10" in result.stderr
    result = cluster.admin("close")  # no ticker ever ran: no canvas
    assert result.returncode == 1 and "no canvas yet" in result.stderr


def test_wipe_says_which_part_does_not_fit(cluster: Cluster) -> None:
    cluster.ticker()
    config_key = Keys(cluster.env.get("PLACE_KEY_PREFIX", "place")).config
    redis = redis_sync.Redis.from_url(cluster.redis_url)
    deadline = time.monotonic() + 15
    while not redis.exists(config_key):  # the ticker makes the 64x48 canvas
        assert time.monotonic() < deadline, "no canvas"
        time.sleep(0.05)
    redis.close()
    for args, message in (
        (("0", "0", "0", "5"), "a rectangle is at least 1x1 pixels, got 0x5"),
        (
            ("60", "0", "10", "10"),
            "the rectangle 10x10 at (60, 0) reaches outside the 64x48 canvas:"
            " its last column 69 is past 63",
        ),
        (
            ("0", "40", "64", "10"),
            "the rectangle 64x10 at (0, 40) reaches outside the 64x48 canvas:"
            " its last row 49 is past 47",
        ),
        (("-1", "0", "2", "2"), "starts outside the canvas (x and y must be 0 or more)"),
        (("0", "0", "2", "2", "--color", "32"), "colour 32 is not in the palette of 32 colours"),
    ):
        result = cluster.admin("wipe", *args)
        assert result.returncode == 1, result
        assert result.stderr.startswith("place admin: ") and message in result.stderr
        assert result.stderr.count("\n") == 1
    done = cluster.admin("wipe", "60", "40", "4", "8", "--color", "31")
    assert done.returncode == 0 and done.stdout.startswith("wiped 4x8 at (60, 40) to colour 31")
