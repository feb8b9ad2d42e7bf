"""Restoring the canvas: a backup, plus the archived placements after it, up to a time.

Planning reads the store only (blocking: call it in a thread); applying writes Redis in one
atomic script (`canvas_restore.lua`). The same plan serves the ticker's automatic restore and
`place snapshot restore`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

import numpy as np
from redis.asyncio import Redis

from place.config import LiveConfig
from place.keys import Keys
from place.scripts import Scripts
from place.snapshot.archive import Row, decode_chunk, merge_rows, parse_chunk_key, parse_id
from place.snapshot.backup import (
    LATEST,
    PREFIX,
    Backup,
    BadBackup,
    decode_backup,
    decode_pointer,
    parse_backup_key,
)
from place.snapshot.progress import progress
from place.store import Store, StoreMissing

logger = logging.getLogger("place.restore")


class NothingToRestore(BadBackup):
    """The store holds no backup (at or before the time asked)."""


@dataclasses.dataclass(frozen=True, slots=True)
class RestorePlan:
    backup_key: str
    backup: Backup
    config: LiveConfig  # the backup's, or the newer one the replayed archive recorded
    pixels: np.ndarray  # the restored canvas
    replayed: int  # placements applied from the archive after the backup


def list_backups(store: Store) -> list[tuple[str, int, int, int]]:
    """(key, at_ms, seq, size) of every backup, oldest first."""
    found = []
    for item in store.list(PREFIX):
        parsed = parse_backup_key(item.key)
        if parsed is not None:
            found.append((item.key, parsed[0], parsed[1], item.size))
    return found


def choose_backup(store: Store, at_ms: int | None, key: str | None = None) -> tuple[str, Backup]:
    """The backup `key`, else the latest (from the pointer, else the newest key), or the newest
    at or before `at_ms`; `BadBackup` with a one-line reason when it is corrupt or missing."""
    if key is None and at_ms is None:
        try:
            key = str(decode_pointer(store.read(LATEST)[0])["key"])
        except (StoreMissing, BadBackup):
            key = None
    if key is None:
        candidates = [entry for entry in list_backups(store) if at_ms is None or entry[1] <= at_ms]
        if not candidates:
            where = "" if at_ms is None else " at or before that time"
            raise NothingToRestore(f"the store {store.url} holds no backup{where}")
        key = candidates[-1][0]
    try:
        data = store.read(key)[0]
    except StoreMissing:
        raise BadBackup(f"{key}, named by {LATEST}, is missing from {store.url}") from None
    return key, decode_backup(data, key)


def archived_rows(store: Store, after: str, until_ms: int | None) -> list[Row]:
    """The archived placements after stream entry `after`, up to `until_ms` (inclusive)."""
    start = parse_id(after)
    keys = []
    for item in store.list("archive/"):
        span = parse_chunk_key(item.key)
        if span is None or span[1] <= start:
            continue
        if until_ms is not None and span[0][0] > until_ms:
            continue
        keys.append(item.key)
    chunks = (decode_chunk(store.read(key)[0], key) for key in progress(keys, "archive"))
    rows = merge_rows(chunks)
    return [row for row in rows if row.id > start and (until_ms is None or row.t <= until_ms)]


def plan_restore(store: Store, at_ms: int | None = None, key: str | None = None) -> RestorePlan:
    """The canvas from a backup (`key`, or chosen by `choose_backup`) and the archived placements
    after it up to `at_ms` (None: all of them)."""
    key, backup = choose_backup(store, at_ms, key)
    config = backup.config
    pixels = backup.pixels.copy()
    rows = archived_rows(store, backup.pos, at_ms)
    replayed = apply_rows(pixels, config.width, config.height, rows)
    return RestorePlan(key, backup, config, pixels, replayed)


def apply_rows(pixels: np.ndarray, width: int, height: int, rows: Iterable[Row]) -> int:
    """Paint `rows` in order onto `pixels` (width*height), clipped to the canvas; returns how
    many rows were applied."""
    grid = pixels.reshape(height, width)
    count = 0
    for row in rows:
        if row.x < width and row.y < height:
            grid[row.y : row.y + row.h, row.x : row.x + row.w] = row.c
        count += 1
    return count


async def apply_restore(
    redis: Redis,
    scripts: Scripts,
    keys: Keys,
    plan: RestorePlan,
    *,
    token: str = "",
    seq: int = 0,
) -> int:
    """Write the plan to Redis: automatically (with the ticker's `token` and the new `seq`) or,
    without a token, as an ops restore of the live canvas. Returns the config version written,
    0 when a canvas appeared meanwhile (automatic only), -1 when the ticker was deposed."""
    config = plan.config
    fields = [item for pair in config.to_hash().items() if pair[0] != "version" for item in pair]
    return int(
        await scripts.canvas_restore(
            keys=[
                keys.config,
                keys.canvas,
                keys.who,
                keys.ticker_state,
                keys.placements,
                keys.ticker_lock,
            ],
            args=[
                "auto" if token else "manual",
                token,
                plan.pixels.tobytes(),
                seq,
                config.version + 1,
                *fields,
            ],
        )
    )


def restorable(store: Store) -> RestorePlan | None:
    """For the automatic restore: the newest backup that is sound, with the archive after it;
    None when the store holds no backup. A corrupt newest backup is logged and passed over."""
    backups = list_backups(store)
    try:
        latest = str(decode_pointer(store.read(LATEST)[0])["key"])
    except (StoreMissing, BadBackup):
        latest = None
    keys = [key for key, *_ in reversed(backups)]
    if latest in keys:
        keys.remove(latest)
        keys.insert(0, latest)
    for key in keys:
        try:
            return plan_restore(store, key=key)
        except BadBackup as error:
            logger.error("cannot restore from %s: %s; trying an older backup", key, error)
    return None
