"""The bad-input suite: generated inputs (hypothesis) against a real pod, its HTTP endpoints and
the `place` command line. Whatever comes, the answer is the contract's: an error code, a 400, a
close code, a one-line message; never a traceback, never a 500, never a changed canvas.

About 10,000 cases in a normal run (about two minutes); `PLACE_FUZZ_SCALE=10` runs ten times
as many of each.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import redis as redis_sync

from place.keys import Keys
from tests.e2e.cluster import Cluster
from tests.servers import PlaceProcess, RedisServer

SCALE = float(os.environ.get("PLACE_FUZZ_SCALE", "1") or 1)
WIDTH, HEIGHT, COLORS = 64, 48, 32
KEYS = Keys()

hypothesis.settings.register_profile(
    "fuzz",
    deadline=None,
    derandomize=False,
    suppress_health_check=[
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.data_too_large,
        hypothesis.HealthCheck.filter_too_much,
    ],
    database=None,
)


def examples(count: int) -> hypothesis.settings:
    """`count` generated cases (times PLACE_FUZZ_SCALE)."""
    return hypothesis.settings(
        hypothesis.settings.get_profile("fuzz"), max_examples=max(1, int(count * SCALE))
    )


class Site:
    """A ticker and a pod on a Redis of their own; the canvas is closed, so that even a well-formed
    placement changes nothing, and every check before `closed` (shape, bounds, colour) answers."""

    def __init__(self, tmp: Path) -> None:
        self.redis_server = RedisServer()
        self.cluster = Cluster(
            self.redis_server,
            tmp / "logs",
            PLACE_MSG_RATE="0",
            PLACE_SIGNINS_PER_ADDRESS_PER_MIN="1000000",
            PLACE_MAX_CONNECTIONS_PER_ADDRESS="100000",
            PLACE_WIDTH=str(WIDTH),
            PLACE_HEIGHT=str(HEIGHT),
        )
        self.cluster.ticker()
        self.pod: PlaceProcess = self.cluster.pod()
        done = self.cluster.admin("close")
        assert done.returncode == 0, done.stderr
        self._wait_closed()
        self.redis = redis_sync.Redis.from_url(self.cluster.redis_url)
        self.canvas = self.redis.get(KEYS.canvas)

    def _wait_closed(self, timeout: float = 10) -> None:
        """Until the pod has the closed canvas: it tells its players of the change with a
        `hello`, which a player connected before it would take for the answer to its message."""
        deadline = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(f"{self.pod.url}/api/config", timeout=5) as answer:
                if json.load(answer)["open"] is False:
                    return
            assert time.monotonic() < deadline, "the pod never had the closed canvas"
            time.sleep(0.05)

    def assert_untouched(self) -> None:
        assert self.redis.get(KEYS.canvas) == self.canvas, "bad input changed the canvas"
        log = self.pod.log()
        assert "Traceback" not in log and " ERROR " not in log, log[-3000:]

    def stop(self) -> None:
        self.cluster.stop()
        self.redis_server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = Site(tmp_path_factory.mktemp("fuzz"))
    yield site
    site.stop()


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    """An event loop of the module's own: hypothesis drives sync tests, each case runs on it."""
    with asyncio.Runner() as runner:
        yield runner
