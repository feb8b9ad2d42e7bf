"""The active ticker's object-store work against a real Redis and a real store (a directory here;
both backends pass the same store tests in test_store.py): backups, the archive and the stream it
trims, timelapse frames, and the automatic restore after Redis loses its data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
from redis.asyncio import Redis

from place.admin import Admin
from place.canvas import Placer
from place.keys import Keys
from place.scripts import Scripts
from place.settings import Settings
from place.snapshot.archive import decode_chunk
from place.snapshot.backup import LATEST, decode_backup, decode_pointer
from place.snapshot.frames import parse_frame_key
from place.snapshot.restore import choose_backup
from place.store import Store, open_store
from place.ticker.keeper import StoreKeeper
from place.ticker.ticker import Ticker
from tests.integration.helpers import SETTINGS, place, player

KEYS = Keys()


def file_store(tmp_path: Path) -> Store:
    return open_store(Settings(), f"file://{tmp_path}/store")


async def leader(redis: Redis, store: Store, settings: Settings = SETTINGS) -> Ticker:
    ticker = Ticker(settings, redis, store)
    assert await ticker.lock.acquire()
    await ticker.ensure_canvas()
    await ticker.tick()
    return ticker


def keeper(ticker: Ticker) -> StoreKeeper:
    assert ticker.store is not None
    return StoreKeeper(
        ticker.settings, ticker.redis, ticker.scripts, ticker.store, ticker.lock.token
    )


async def canvas(redis: Redis) -> np.ndarray:
    return np.frombuffer(await redis.get(KEYS.canvas), np.uint8).copy()


async def test_backups_are_whole_and_the_pointer_only_moves_forward(
    redis: Redis, tmp_path: Path
) -> None:
    store = file_store(tmp_path)
    ticker = await leader(redis, store)
    await Admin(redis, KEYS).cooldown(0)
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    await place(placer, ann, 3, 2, 1)
    older = keeper(ticker)
    await older.backup_once()
    await place(placer, ann, 4, 2, 2)
    await ticker.tick()
    newer = keeper(ticker)
    await newer.backup_once()

    key, backup = choose_backup(store, None)
    assert key == newer.status["last_backup_key"] != older.status["last_backup_key"]
    assert np.array_equal(backup.pixels, await canvas(redis))
    assert backup.config.width == 10
    assert backup.seq == int(await redis.hget(KEYS.ticker_state, "seq"))
    # a deposed ticker's older backup never moves the pointer back
    from place.snapshot.writer import write_backup

    stale = decode_backup(store.read(str(older.status["last_backup_key"]))[0])
    assert write_backup(store, stale) is False
    assert decode_pointer(store.read(LATEST)[0])["key"] == key


async def test_the_stream_is_trimmed_only_once_archived(redis: Redis, tmp_path: Path) -> None:
    store = file_store(tmp_path)
    ticker = await leader(redis, store)
    await Admin(redis, KEYS).cooldown(0)
    await ticker.tick()
    placer = Placer(Scripts(redis), KEYS)
    placed = []
    for index, name in enumerate(["ann", "bob", "cy"]):
        who = await player(redis, name)
        await place(placer, who, index, 1, index + 1)
        placed.append((name, index, 1, index + 1))
    await ticker.tick()
    assert await redis.xlen(KEYS.placements) == 3  # in a delta, not archived: kept

    await keeper(ticker).archive_once()
    assert await redis.xlen(KEYS.placements) <= 1  # archived and folded: trimmed
    chunks = [decode_chunk(store.read(item.key)[0]) for item in store.list("archive/")]
    rows = [row for chunk in chunks for row in chunk.rows]
    assert [(row.u, row.x, row.y, row.c) for row in rows] == placed
    assert chunks[0].config.palette == SETTINGS.palette

    # archived but not yet in a delta: kept for the tick
    await place(placer, await player(redis, "dee"), 5, 5, 1)
    await keeper(ticker).archive_once()
    assert await redis.xlen(KEYS.placements) >= 1
    entries_before = await redis.xlen(KEYS.placements)
    await ticker.tick()
    assert await redis.xlen(KEYS.placements) <= entries_before


async def test_a_store_outage_keeps_redis_bounded(redis: Redis, tmp_path: Path) -> None:
    settings = SETTINGS.replace(archive_backlog_s=0.001)  # everything is "too old" at once
    ticker = await leader(redis, file_store(tmp_path), settings)
    await Admin(redis, KEYS).cooldown(0)
    placer = Placer(Scripts(redis), KEYS)
    ann = await player(redis, "ann")
    for x in range(4):
        await place(placer, ann, x, 0, 1)
    # nobody archives them (the store is "down"): once older than the backlog allows, every
    # tick drops them (counted); the last one stays as the tick's position
    deadline = asyncio.get_running_loop().time() + 5
    while await redis.xlen(KEYS.placements) > 1:
        assert asyncio.get_running_loop().time() < deadline, "the stream was never trimmed"
        await ticker.tick()
    assert int(await redis.hget(KEYS.ticker_state, "archive_dropped")) >= 3


async def test_timelapse_frames_sort_by_time(redis: Redis, tmp_path: Path) -> None:
    store = file_store(tmp_path)
    ticker = await leader(redis, store)
    work = keeper(ticker)
    for _ in range(3):
        await work.frame_once()
    while work.frames:
        key, png = work.frames.popleft()
        work._create(key, png)
    frames = store.list("timelapse/")
    assert len(frames) >= 1 and all(parse_frame_key(item.key) for item in frames)
    assert store.read(frames[0].key)[0].startswith(b"\x89PNG")


async def test_redis_loses_everything_and_the_ticker_restores_it(
    redis: Redis, tmp_path: Path
) -> None:
    store = file_store(tmp_path)
    ticker = await leader(redis, store)
    await Admin(redis, KEYS).cooldown(0)
    await ticker.tick()
    placer = Placer(Scripts(redis), KEYS)
    ann = await player(redis, "ann")
    await place(placer, ann, 1, 1, 1)
    await ticker.tick()
    await keeper(ticker).backup_once()
    for x, c in [(2, 2), (3, 3), (2, 1)]:  # after the backup: only in the archive
        await place(placer, ann, x, 4, c)
    await Admin(redis, KEYS).wipe(8, 6, 2, 2, 2)
    await keeper(ticker).archive_once()
    await ticker.tick()
    before = await canvas(redis)
    seq_before = int(await redis.hget(KEYS.ticker_state, "seq"))

    await redis.flushall()
    successor = Ticker(SETTINGS, redis, store)
    assert await successor.lock.acquire()
    await successor.ensure_canvas()
    await successor.tick()
    assert np.array_equal(await canvas(redis), before)
    assert int(await redis.hget(KEYS.ticker_state, "seq")) > seq_before
    snapshot = await redis.hget(KEYS.snapshot, "frame")
    from place import protocol

    assert np.array_equal(protocol.decode_snapshot(snapshot).pixels, before)


async def test_a_corrupt_latest_backup_is_passed_over(redis: Redis, tmp_path: Path) -> None:
    store = file_store(tmp_path)
    ticker = await leader(redis, store)
    await Admin(redis, KEYS).cooldown(0)
    placer = Placer(Scripts(redis), KEYS)
    ann = await player(redis, "ann")
    await place(placer, ann, 1, 1, 1)
    await keeper(ticker).backup_once()
    await ticker.tick()
    await place(placer, ann, 2, 2, 2)
    work = keeper(ticker)
    await work.backup_once()
    await work.archive_once()
    before = await canvas(redis)
    latest = str(work.status["last_backup_key"])
    damaged = bytearray(store.read(latest)[0])
    damaged[-5] ^= 0xFF
    (tmp_path / "store" / latest).write_bytes(bytes(damaged))

    await redis.flushall()
    successor = Ticker(SETTINGS, redis, store)
    assert await successor.lock.acquire()
    await successor.ensure_canvas()
    assert np.array_equal(await canvas(redis), before)  # the older backup plus the archive
