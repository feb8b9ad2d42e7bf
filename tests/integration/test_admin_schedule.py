"""The schedule (`open --at`, `close --at`) kept in Redis and applied by whichever ticker is
active, by Redis's clock; tickers' heartbeats; against a real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from redis.asyncio import Redis

from place.admin import Admin
from place.config import LiveConfig
from place.errors import AdminError, PlaceError
from place.keys import Keys
from place.ticker.schedule import beat
from place.ticker.ticker import Ticker
from tests.integration.helpers import SETTINGS, leading_ticker

KEYS = Keys()


async def redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


async def config(redis: Redis) -> LiveConfig:
    return LiveConfig.from_hash(await redis.hgetall(KEYS.config))


async def test_an_opening_set_ahead_is_applied_by_the_active_ticker_only(redis: Redis) -> None:
    active = await leading_ticker(redis)
    standby = Ticker(SETTINGS, redis)
    admin = Admin(redis, KEYS, actor="mod")
    await admin.close()
    at = await redis_ms(redis) + 300
    said = await admin.open(iso(at))
    assert said.startswith(f"the canvas opens by itself at {iso(at)[:19]}Z, in 0s")
    state = await config(redis)
    assert (state.open, state.opens_at_ms) == (False, at)
    assert state.public()["opens_at_ms"] == at  # every player's hello carries it

    async with asyncio.timeout(5):
        while await redis_ms(redis) < at:
            assert await beat(standby) is False  # a standby never applies it
            assert await beat(active) is True
            assert not (await config(redis)).open
            await asyncio.sleep(0.02)
    assert await beat(standby) is False and not (await config(redis)).open
    assert await beat(active) is True
    opened = await config(redis)
    assert (opened.open, opened.opens_at_ms, opened.version) == (True, 0, state.version + 1)
    assert "opens_at_ms" not in opened.public()
    last = (await admin.audit.entries())[-1]
    assert (last.who, last.action, last.result) == (
        "schedule",
        "open",
        "the canvas opened on schedule",
    )


async def test_an_opening_and_a_closing_both_due_apply_in_time_order(redis: Redis) -> None:
    ticker = await leading_ticker(redis)
    admin = Admin(redis, KEYS)
    now = await redis_ms(redis)
    await admin.close()
    await admin.open(iso(now + 100))
    await admin.close(iso(now + 200))  # the event: opens, then closes; the ticker was away
    async with asyncio.timeout(5):
        while await redis_ms(redis) < now + 200:
            await asyncio.sleep(0.01)
    await beat(ticker)
    state = await config(redis)
    assert (state.open, state.opens_at_ms, state.closes_at_ms) == (False, 0, 0)


async def test_schedules_are_checked_and_can_be_cancelled(redis: Redis) -> None:
    await leading_ticker(redis)
    admin = Admin(redis, KEYS)
    with pytest.raises(AdminError, match=r"--at 2020-01-01T00:00:00Z is not in the future"):
        await admin.open("2020-01-01T00:00:00Z")
    with pytest.raises(PlaceError, match=r"--at must be an ISO 8601 time"):
        await admin.close("tomorrow")
    later = await redis_ms(redis) + 3_600_000
    said = await admin.close(iso(later))
    assert said.startswith(f"the canvas closes by itself at {iso(later)[:19]}Z, in 1h")
    said = await admin.open(iso(later + 60_000))
    assert "; it is open already (run `place admin close` first to make it change)" in said
    assert (await admin.close(cancel=True)).startswith(
        f"cancelled the closing set for {iso(later)[:19]}Z"
    )
    assert (await admin.close(cancel=True)).startswith("no closing was scheduled")
    await admin.open()  # opening now drops the pending opening
    assert (await config(redis)).opens_at_ms == 0
