"""A stalled Redis (SIGSTOP: the process lives, its sockets accept, nothing answers): every
placement is still answered within the contract's 3 s, the queue of waiting placements stays
bounded, and placements go through again as soon as Redis does."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from place.canvas import MAX_PENDING, PLACE_DEADLINE_S, Placer, Player
from place.keys import Keys
from place.protocol import Place
from place.redis_client import POD_TIMEOUT_S, make_redis
from place.scripts import Scripts
from place.status import ErrorCode
from tests.integration.helpers import leading_ticker, player
from tests.servers import RedisServer

KEYS = Keys()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    os.kill(server.process.pid, signal.SIGCONT)  # whatever the test did
    server.stop()


class Answers:
    """Every answer a placer gave, with the time it came."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[ErrorCode | None, float]] = {}
        self.event = asyncio.Event()

    def callback(self, key: int):  # type: ignore[no-untyped-def]
        def done(code: ErrorCode | None, at: int, reason: str) -> None:
            assert key not in self.got, f"placement {key} answered twice"
            self.got[key] = (code, time.monotonic())
            self.event.set()

        return done

    async def wait(self, count: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.got) < count:
                self.event.clear()
                await self.event.wait()


async def test_every_placement_is_answered_within_3_s_while_redis_is_stopped(
    own_redis: RedisServer,
) -> None:
    redis = make_redis(own_redis.url, POD_TIMEOUT_S)
    await leading_ticker(redis)
    ann = await player(redis, "ann")
    admin = Player("root", "root", ann.number, admin=True)  # no cooldown
    placer = Placer(Scripts(redis), KEYS)
    answers = Answers()

    os.kill(own_redis.process.pid, signal.SIGSTOP)
    submitted: dict[int, float] = {}
    for i in range(40):  # a first batch stalls in flight, the rest queue behind it
        submitted[i] = time.monotonic()
        placer.submit(admin, Place(i, i % 10, 0, 1), answers.callback(i))
        await asyncio.sleep(0.1)
    await answers.wait(40, timeout=10)
    late = {i: answers.got[i][1] - submitted[i] for i in submitted}
    assert max(late.values()) < 3.0, late
    assert {code for code, _ in answers.got.values()} == {ErrorCode.UNAVAILABLE}

    os.kill(own_redis.process.pid, signal.SIGCONT)
    again = Answers()
    deadline = time.monotonic() + 10
    attempt = 100
    while True:  # the first call after the stall may still fail: the pod retries as a player would
        placer.submit(admin, Place(attempt, 1, 1, 2), again.callback(attempt))
        await again.wait(len(again.got) + 1, timeout=5)
        if again.got[attempt][0] is None:
            break
        assert time.monotonic() < deadline, again.got
        attempt += 1
        await asyncio.sleep(0.1)
    await redis.aclose()


async def test_the_queue_of_waiting_placements_is_bounded(own_redis: RedisServer) -> None:
    redis = make_redis(own_redis.url, POD_TIMEOUT_S)
    await leading_ticker(redis)
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    answers = Answers()
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    total = MAX_PENDING + 500
    started = time.monotonic()
    for i in range(total):
        placer.submit(ann, Place(i, 0, 0, 1), answers.callback(i))
    # over the bound: answered `unavailable` at once, before Redis could have said anything
    overflow = [i for i, (code, _) in answers.got.items() if code is ErrorCode.UNAVAILABLE]
    assert len(overflow) >= 500 and time.monotonic() - started < PLACE_DEADLINE_S
    assert placer.pending <= MAX_PENDING
    await answers.wait(total, timeout=10)
    os.kill(own_redis.process.pid, signal.SIGCONT)
    await redis.aclose()


async def test_a_read_after_a_redis_restart_takes_a_new_connection(own_redis: RedisServer) -> None:
    """The pool's connections all died with the old Redis process: a read (here `GET
    /api/pixel`'s) is tried again on a new connection instead of failing once per dead one."""
    import subprocess

    from place.canvas import pixel_info
    from place.dev import redis_server_command
    from tests.servers import _wait_for_port

    redis = make_redis(own_redis.url, POD_TIMEOUT_S)
    await leading_ticker(redis)
    assert (await pixel_info(redis, KEYS, 1, 1, 10))["c"] == 0  # a pooled connection now
    own_redis.process.kill()
    own_redis.process.wait()
    own_redis.process = subprocess.Popen(
        redis_server_command(own_redis.port), stdout=subprocess.DEVNULL
    )
    _wait_for_port(own_redis.port, own_redis.process)
    fresh = make_redis(own_redis.url)
    await leading_ticker(fresh)  # a canvas again (this Redis kept nothing)
    assert (await pixel_info(redis, KEYS, 1, 1, 10))["c"] == 0
    await fresh.aclose()
    await redis.aclose()
