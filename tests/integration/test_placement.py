"""Placement in one Lua call: every check in the contract's order, and the canvas, the stream and
the who record written together."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from redis.asyncio import Redis

from place.admin import Admin
from place.canvas import Placer, Player, pixel_info, register_player
from place.keys import Keys
from place.redis_client import make_redis
from place.scripts import Scripts
from place.status import ErrorCode
from place.ticker.coalesce import RECORD
from tests.integration.helpers import leading_ticker, place, player
from tests.servers import RedisServer

KEYS = Keys()


async def test_a_stored_placement_is_on_the_canvas_in_the_stream_and_in_the_who_record(
    redis: Redis,
) -> None:
    await leading_ticker(redis)
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    before = int(time.time() * 1000)
    code, next_at = await place(placer, ann, 3, 2, 2)
    assert code is None
    assert before + 60_000 <= next_at <= int(time.time() * 1000) + 60_000
    canvas = await redis.get(KEYS.canvas)
    assert canvas[2 * 10 + 3] == 2 and canvas.count(0) == 79
    ((_, fields),) = await redis.xrange(KEYS.placements)
    assert np.frombuffer(fields[b"r"], RECORD).tolist() == [(3, 2, 1, 1, 2)]
    assert fields[b"u"] == b"ann" and int(fields[b"t"]) == next_at - 60_000
    info = await pixel_info(redis, KEYS, 3, 2, width=10)
    assert info["c"] == 2 and info["user"] == {"name": "ann"}
    assert before <= info["at_ms"] <= next_at - 60_000
    nobody = await pixel_info(redis, KEYS, 0, 0, width=10)
    assert nobody == {"x": 0, "y": 0, "c": 0, "user": None, "at_ms": None}


async def test_checks_answer_in_the_contracts_order(redis: Redis) -> None:
    await leading_ticker(redis)
    admin = Admin(redis, KEYS)
    bob = await player(redis, "bob")
    placer = Placer(Scripts(redis), KEYS)
    assert (await place(placer, bob, 0, 0, 1))[0] is None  # now on cooldown
    await admin.ban("bob")
    await admin.set_open(False)
    # every check fails: the first in the contract's order answers, then the next, ...
    assert (await place(placer, bob, 10, 0, 9))[0] is ErrorCode.OUT_OF_BOUNDS
    assert (await place(placer, bob, 0, -1, 9))[0] is ErrorCode.OUT_OF_BOUNDS
    assert (await place(placer, bob, 2**40, 0, 9))[0] is ErrorCode.OUT_OF_BOUNDS
    assert (await place(placer, bob, 9, 7, 2**40))[0] is ErrorCode.BAD_COLOR
    assert (await place(placer, bob, 9, 7, -2))[0] is ErrorCode.BAD_COLOR
    assert (await place(placer, bob, 9, 7, 9))[0] is ErrorCode.BAD_COLOR
    assert (await place(placer, bob, 9, 7, 3))[0] is ErrorCode.CLOSED
    await admin.set_open(True)
    assert (await place(placer, bob, 9, 7, 3))[0] is ErrorCode.BANNED
    await admin.unban("bob")
    code, retry_at = await place(placer, bob, 9, 7, 3)
    assert code is ErrorCode.COOLDOWN and retry_at > time.time() * 1000 + 50_000
    await admin.cooldown(0)
    assert await place(placer, bob, 9, 7, 3) == (None, 0)
    canvas = await redis.get(KEYS.canvas)
    assert canvas[7 * 10 + 9] == 3 and sum(1 for b in canvas if b) == 2  # refusals changed nothing
    assert sum(len(f[b"r"]) // 9 for _, f in await redis.xrange(KEYS.placements)) == 2


async def test_one_batch_holds_many_players_each_answered_on_its_own(redis: Redis) -> None:
    await leading_ticker(redis)
    players = [await player(redis, f"p{i}") for i in range(30)]
    placer = Placer(Scripts(redis), KEYS)
    answers = await asyncio.gather(
        *(place(placer, p, i % 10, i // 10, 1) for i, p in enumerate(players)),
        place(placer, players[0], 5, 5, 2),  # the same player again in the same batch
    )
    assert [code for code, _ in answers[:30]] == [None] * 30
    assert answers[30][0] is ErrorCode.COOLDOWN
    assert placer.calls <= 2  # gathered into batches, not one call each


async def test_canvas_and_stream_never_disagree(redis: Redis) -> None:
    await leading_ticker(redis)
    await Admin(redis, KEYS).cooldown(0)
    players = [await player(redis, f"q{i}") for i in range(20)]
    placer = Placer(Scripts(redis), KEYS, max_batch=7)
    rng = np.random.default_rng(3)
    moves = [
        (
            players[int(rng.integers(20))],
            int(rng.integers(10)),
            int(rng.integers(8)),
            int(rng.integers(4)),
        )
        for _ in range(500)
    ]
    answers = await asyncio.gather(*(place(placer, p, x, y, c) for p, x, y, c in moves))
    assert all(code is None for code, _ in answers)
    replay = np.zeros(80, np.uint8)
    for _, fields in await redis.xrange(KEYS.placements):
        players = fields[b"u"].split(b"\n")
        records = np.frombuffer(fields[b"r"], RECORD)
        assert len(players) == len(records)
        for x, y, _, _, c in records.tolist():
            replay[y * 10 + x] = c
    assert await redis.get(KEYS.canvas) == replay.tobytes()
    stats = await redis.hgetall(KEYS.stats)
    assert int(stats[b"placements"]) == 500 and int(stats[b"peak_pps"]) >= 1


async def test_placements_are_answered_unavailable_when_redis_is_gone() -> None:
    from tests.servers import free_port

    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    placer = Placer(Scripts(gone), KEYS)
    ann = Player("ann", "ann", 1)
    assert await place(placer, ann, 0, 0, 1) == (ErrorCode.UNAVAILABLE, 0)
    await gone.aclose()


async def test_a_storm_of_sign_ins_queues_for_connections_instead_of_failing(
    redis: Redis, redis_server: RedisServer
) -> None:
    pod_redis = make_redis(redis_server.url)  # the pod's client, with its connection pool
    scripts = Scripts(pod_redis)
    players = await asyncio.gather(
        *(register_player(pod_redis, scripts, KEYS, f"p{i}", f"p{i}") for i in range(500))
    )
    assert sorted(p.number for p, _ in players) == list(range(1, 501))
    await pod_redis.aclose()
