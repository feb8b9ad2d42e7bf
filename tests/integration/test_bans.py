"""Bans and admins inside the one placement script: a ban's reason and end, a timed ban ending
by Redis's clock, admins without cooldown; against a real Redis."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from place.admin import Admin
from place.canvas import Placer, Player, register_player
from place.keys import Keys
from place.protocol import Place
from place.scripts import Scripts
from place.status import ErrorCode
from tests.integration.helpers import leading_ticker, place, player

KEYS = Keys()


async def answer(placer: Placer, who: Player, x: int, y: int) -> tuple[ErrorCode | None, int, str]:
    """The whole answer to one placement: code, time, reason."""
    done: asyncio.Future[tuple[ErrorCode | None, int, str]] = asyncio.Future()
    placer.submit(who, Place(None, x, y, 1), lambda *outcome: done.set_result(outcome))
    return await done


async def test_a_ban_carries_its_reason_and_end_and_a_timed_one_ends_by_itself(
    redis: Redis,
) -> None:
    await leading_ticker(redis)
    admin = Admin(redis, KEYS)
    await admin.cooldown(0)
    eve, ann = await player(redis, "eve"), await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    before = int(time.time() * 1000)
    said = await admin.ban("eve", "1s", "  spam \n bot  ")
    assert said.startswith("banned eve until ") and said.endswith(": spam bot")
    code, until, reason = await answer(placer, eve, 0, 0)
    assert (code, reason) == (ErrorCode.BANNED, "spam bot")
    assert before + 1000 <= until <= int(time.time() * 1000) + 1000
    assert await answer(placer, ann, 0, 0) == (None, 0, "")  # others place as before
    assert (await admin.bans()).split("\t")[:2] == ["eve", "spam bot"]

    deadline = time.monotonic() + 5
    while (outcome := await answer(placer, eve, 1, 1))[0] is ErrorCode.BANNED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert outcome == (None, 0, "") and time.time() * 1000 >= until - 5
    assert not await redis.hexists(KEYS.bans, "eve")  # the ended ban was cleaned up
    assert await admin.bans() == "no bans"


async def test_bans_are_listed_in_force_only(redis: Redis) -> None:
    admin = Admin(redis, KEYS)
    await admin.ban("zed", reason="for ever")
    await admin.ban("amy", "3d")
    await redis.hset(KEYS.bans, "old", '{"reason": "", "until_ms": 1000, "at_ms": 1}')
    lines = (await admin.bans()).splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["amy", "-"], ["zed", "for ever"]]
    assert lines[0].split("\t")[2].endswith("Z") and lines[1].split("\t")[2] == "never"
    assert not await redis.hexists(KEYS.bans, "old")
    assert (await admin.ban("amy", "1h")).startswith("replaced the ban of amy until")
    assert await admin.unban("amy") == "unbanned amy"
    assert await admin.unban("amy") == "amy was not banned"


async def test_an_admin_places_without_cooldown_and_starts_none(redis: Redis) -> None:
    await leading_ticker(redis)  # 60 s cooldown
    scripts = Scripts(redis)
    mod, _ = await register_player(redis, scripts, KEYS, "mod", "Mod", admin=True)
    placer = Placer(scripts, KEYS)
    answers = await asyncio.gather(*(place(placer, mod, x, 0, 1) for x in range(5)))
    assert answers == [(None, 0)] * 5  # one batch, five placements, no cooldown
    assert await redis.get(KEYS.cooldown("mod")) is None
    # the same player without the admin right (the claim was removed) has a cooldown again
    plain, next_at = await register_player(redis, scripts, KEYS, "mod", "Mod")
    assert next_at == 0 and plain.number == mod.number
    code, at = await place(placer, plain, 9, 7, 1)
    assert code is None and at > time.time() * 1000 + 50_000
    assert (await place(placer, plain, 9, 6, 1))[0] is ErrorCode.COOLDOWN
    assert (await place(placer, mod, 9, 5, 1)) == (None, 0)  # as admin again: no wait
    canvas = await redis.get(KEYS.canvas)
    assert sum(1 for b in canvas if b) == 7


async def test_an_unreadable_ban_holds_for_its_player_only(redis: Redis) -> None:
    await leading_ticker(redis)
    await Admin(redis, KEYS).cooldown(0)
    await redis.hset(KEYS.bans, "eve", "not json")
    eve, ann = await player(redis, "eve"), await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    answers = await asyncio.gather(answer(placer, eve, 0, 0), answer(placer, ann, 1, 0))
    assert answers == [(ErrorCode.BANNED, 0, ""), (None, 0, "")]  # the batch went through
    assert (await Admin(redis, KEYS).bans()).startswith("eve\t(unreadable")
