"""`place admin rollback` on a scripted griefing raid, against a real Redis and a real store (a
directory): the history comes from a backup, the archive and the stream not archived yet."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from redis.asyncio import Redis

from place.admin import Admin
from place.canvas import Placer, Player, pixel_info
from place.errors import AdminError, PlaceError
from place.keys import Keys
from place.scripts import Scripts
from place.settings import Settings
from place.snapshot.writer import as_backup, read_canvas, write_backup
from place.store import Store, open_store
from place.ticker.keeper import StoreKeeper
from place.ticker.ticker import Ticker
from tests.integration.helpers import SETTINGS, place, player

KEYS = Keys()
WHITE, BLACK, RED, GREEN = 0, 1, 2, 3


def file_store(tmp_path: Path) -> Store:
    return open_store(Settings(), f"file://{tmp_path}/store")


async def canvas(redis: Redis) -> np.ndarray:
    return np.frombuffer(await redis.get(KEYS.canvas), np.uint8).copy()


async def redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def moment(redis: Redis) -> str:
    """An ISO time (ms) after every placement stored so far and before any later one, by
    Redis's clock (the one placements are stamped with)."""
    now = await redis_ms(redis)
    async with asyncio.timeout(5):
        while await redis_ms(redis) < now + 2:
            await asyncio.sleep(0.001)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (epoch + dt.timedelta(microseconds=(now + 1) * 1000 + 500)).isoformat()


async def paint(placer: Placer, who: Player, *pixels: tuple[int, int, int]) -> None:
    for x, y, c in pixels:
        assert (await place(placer, who, x, y, c))[0] is None


async def setup(redis: Redis, tmp_path: Path) -> tuple[Ticker, Store, Admin, Placer]:
    store = file_store(tmp_path)
    ticker = Ticker(SETTINGS, redis, store)
    assert await ticker.lock.acquire()
    await ticker.ensure_canvas()
    admin = Admin(redis, KEYS, actor="mod", store=store)
    await admin.cooldown(0)
    return ticker, store, admin, Placer(Scripts(redis), KEYS)


async def archive(ticker: Ticker) -> None:
    """What the active ticker does every PLACE_ARCHIVE_S: fold the stream, archive it, trim it."""
    assert ticker.store is not None
    await ticker.tick()
    keeper = StoreKeeper(
        ticker.settings, ticker.redis, ticker.scripts, ticker.store, ticker.lock.token
    )
    await keeper.archive_once()


async def test_a_griefing_raid_is_undone_exactly(redis: Redis, tmp_path: Path) -> None:
    ticker, store, admin, placer = await setup(redis, tmp_path)
    ann, bob, eve = [await player(redis, name) for name in ("ann", "bob", "eve")]

    # before the raid: ann and bob draw, eve places one pixel honestly; a backup; more drawing
    await paint(placer, ann, (1, 1, BLACK), (2, 1, BLACK), (5, 1, RED))
    await paint(placer, bob, (3, 1, GREEN), (4, 1, GREEN))
    await paint(placer, eve, (7, 7, RED))
    await archive(ticker)
    read = await read_canvas(redis, ticker.scripts, KEYS)
    assert read is not None
    await asyncio.to_thread(write_backup, store, as_backup(read))
    await paint(placer, ann, (6, 1, GREEN))
    await archive(ticker)
    since = await moment(redis)
    expected = await canvas(redis)

    # the raid, over the same area
    await paint(placer, eve, (1, 1, RED))  # over ann's black
    await paint(placer, eve, (3, 1, RED), (3, 1, BLACK))  # over bob's green, twice
    await paint(placer, eve, (0, 2, BLACK))  # a pixel nobody had painted: back to white
    await paint(placer, eve, (4, 1, RED))  # bob paints over it later: left alone
    await paint(placer, eve, (5, 1, GREEN))  # ann paints over it, eve again: back to ann's
    await paint(placer, eve, (6, 1, BLACK))  # over ann's placement made after the backup
    await archive(ticker)  # part of the raid is in the store's archive, the rest in the stream
    await paint(placer, bob, (4, 1, BLACK))
    await paint(placer, ann, (5, 1, BLACK))
    await paint(placer, eve, (5, 1, RED), (2, 1, GREEN))
    expected[4 + 1 * 10] = BLACK  # bob's, painted after eve's
    expected[5 + 1 * 10] = BLACK  # ann's second colour, before eve's last run on it

    dry = await admin.rollback("eve", since, dry_run=True)
    assert dry == (
        f"dry run: rolling eve back since {since[:19]}Z would restore 6 pixels within"
        " (0, 1)-(6, 2), 7x2 (9 of their placements in that time); nothing changed"
    )
    assert not np.array_equal(await canvas(redis), expected)  # nothing changed

    said = await admin.rollback("eve", since)
    assert said.startswith(f"rolled eve back since {since[:19]}Z: restored 6 pixels within")
    after = await canvas(redis)
    assert np.array_equal(after, expected), np.argwhere(after != expected)
    assert after[7 + 7 * 10] == RED  # eve's placement before --since stays

    # who placed the colour put back, when the history since the backup says (not before it)
    info = await pixel_info(redis, KEYS, 6, 1, 10)
    assert info["user"] == {"name": "ann"} and info["c"] == GREEN
    assert (await pixel_info(redis, KEYS, 5, 1, 10))["user"] == {"name": "ann"}
    assert (await pixel_info(redis, KEYS, 1, 1, 10))["user"] is None
    assert (await pixel_info(redis, KEYS, 0, 2, 10))["user"] is None
    assert (await pixel_info(redis, KEYS, 4, 1, 10))["user"] == {"name": "bob"}

    # the pixels went through the stream, as the admin's, so the next delta carries them
    last = (await redis.xrevrange(KEYS.placements, count=1))[0][1]
    assert last[b"u"] == b"mod" and len(last[b"r"]) == 6 * 9

    # again: nothing of eve's is on top any more
    assert (await admin.rollback("eve", since)) == (
        f"eve has no placement still on top since {since[:19]}Z: nothing to roll back"
    )


async def test_until_limits_the_window_and_later_painting_is_left_alone(
    redis: Redis, tmp_path: Path
) -> None:
    _, _, admin, placer = await setup(redis, tmp_path)
    eve, ann = await player(redis, "eve"), await player(redis, "ann")
    since = await moment(redis)
    await paint(placer, eve, (0, 0, RED), (1, 0, RED))
    until = await moment(redis)
    await paint(placer, eve, (2, 0, RED))  # after --until: stays
    await paint(placer, eve, (1, 0, BLACK))  # eve's own later placement on top: stays too
    await paint(placer, ann, (0, 0, GREEN))  # over eve's: left alone
    said = await admin.rollback("eve", since, until)
    assert said == (
        f"eve has no placement still on top since {since[:19]}Z until {until[:19]}Z:"
        " nothing to roll back"
    )
    await paint(placer, eve, (3, 0, RED))
    # without a store the stream alone is the history; eve's red on (1, 0) from before the new
    # --since is what her black covered
    no_store = Admin(redis, KEYS, actor="mod")
    assert "restored 3 pixels" in await no_store.rollback("eve", until)
    row = (await canvas(redis))[:4].tolist()
    assert row == [GREEN, RED, WHITE, WHITE]


async def test_a_rollback_survives_a_palette_change_and_a_centred_resize(
    redis: Redis, tmp_path: Path
) -> None:
    ticker, _, admin, placer = await setup(redis, tmp_path)
    ann, eve = await player(redis, "ann"), await player(redis, "eve")
    await paint(placer, ann, (1, 1, GREEN), (2, 2, BLACK))
    since = await moment(redis)
    await paint(placer, eve, (1, 1, RED), (2, 2, RED), (3, 3, RED))
    await archive(ticker)
    # red moves to the front; the canvas grows by 2 on every side: eve's pixels move to (x+2, y+2)
    await admin.palette("#ff0000,#ffffff,#000000,#00ff00")
    await admin.resize(14, 12, "centre")
    said = await admin.rollback("eve", since)
    assert "restored 3 pixels within (3, 3)-(5, 5), 3x3" in said
    pixels = (await canvas(redis)).reshape(12, 14)
    assert [pixels[3, 3], pixels[4, 4], pixels[5, 5]] == [3, 2, 1]  # green, black, white


async def test_bad_rollbacks_are_refused_in_one_line(redis: Redis, tmp_path: Path) -> None:
    _, _, admin, _ = await setup(redis, tmp_path)
    with pytest.raises(PlaceError, match=r"--since must be an ISO 8601 time"):
        await admin.rollback("eve", "yesterday")
    with pytest.raises(AdminError, match=r"--until 2020-01-01 is before --since 2021-01-01"):
        await admin.rollback("eve", "2021-01-01", "2020-01-01")
    with pytest.raises(AdminError, match="PLAYER must not be empty"):
        await admin.rollback(" ", "2021-01-01")
