"""Building blocks for tests against a real Redis: a leading ticker, players, a placer."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from place.canvas import Placer, Player, register_player
from place.keys import Keys
from place.protocol import Place
from place.scripts import Scripts
from place.settings import Settings
from place.status import ErrorCode
from place.ticker.ticker import Ticker

SETTINGS = Settings(
    width=10,
    height=8,
    palette=("#ffffff", "#000000", "#ff0000", "#00ff00"),
    cooldown_s=60,
    tick_ms=100,
    resync_s=60,
)


async def leading_ticker(redis: Redis, settings: Settings = SETTINGS) -> Ticker:
    """A ticker that holds the lock and has created the canvas (no background loop)."""
    ticker = Ticker(settings, redis)
    assert await ticker.lock.acquire()
    await ticker.ensure_canvas()
    return ticker


async def player(redis: Redis, name: str) -> Player:
    registered, _ = await register_player(redis, Scripts(redis), Keys(), name, name)
    return registered


async def place(
    placer: Placer, who: Player, x: int, y: int, c: int
) -> tuple[ErrorCode | None, int]:
    """Submit one placement and wait for its answer."""
    answer: asyncio.Future[tuple[ErrorCode | None, int]] = asyncio.Future()
    placer.submit(who, Place(None, x, y, c), lambda code, at, _: answer.set_result((code, at)))
    return await answer
