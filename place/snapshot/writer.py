"""Reading the canvas for the store and writing backups: shared by the active ticker (every
`PLACE_BACKUP_S`) and `place snapshot backup` (now)."""

from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np
from redis.asyncio import Redis

from place.config import LiveConfig
from place.keys import Keys
from place.scripts import Scripts
from place.snapshot.backup import (
    LATEST,
    Backup,
    BadBackup,
    decode_pointer,
    encode_backup,
    encode_pointer,
)
from place.store import Store, StoreConflict, StoreMissing


@dataclasses.dataclass(frozen=True, slots=True)
class CanvasRead:
    config: LiveConfig
    pixels: np.ndarray
    seq: int
    pos: str  # the last stream entry the canvas includes
    at_ms: int


async def read_canvas(redis: Redis, scripts: Scripts, keys: Keys) -> CanvasRead | None:
    """The canvas with everything a backup records, in one atomic read; None without a canvas."""
    read = await scripts.store_read(
        keys=[keys.config, keys.canvas, keys.ticker_state, keys.placements]
    )
    if not read:
        return None
    config_flat, canvas, seq, pos = read
    config = LiveConfig.from_hash(dict(zip(config_flat[::2], config_flat[1::2], strict=True)))
    pixels = np.frombuffer(canvas or b"", dtype=np.uint8)
    return CanvasRead(
        config, pixels, int(seq), pos.decode() if isinstance(pos, bytes) else pos, _now_ms()
    )


def as_backup(read: CanvasRead) -> Backup:
    return Backup(read.seq, read.pos, read.at_ms, read.config, read.pixels)


def write_backup(store: Store, backup: Backup) -> bool:
    """Write the backup object, then point `latest` at it unless a newer one is there already.

    Blocking (call it in a thread). The object is created, never overwritten; the pointer is
    swapped only if unchanged since read, so a deposed ticker cannot move it back to an older
    backup. Returns whether the pointer now names this backup.
    """
    data = encode_backup(backup)
    with contextlib.suppress(StoreConflict):  # the same seq and millisecond: written already
        store.create(backup.key, data)
    while True:
        try:
            current, version = store.read(LATEST)
            pointer = decode_pointer(current)
        except StoreMissing:
            pointer, version = None, None
        except BadBackup:
            pointer, version = None, store.read(LATEST)[1]
        # seq only rises, across failovers and restores: it orders backups, then the clock
        if pointer is not None and (pointer.get("seq"), pointer.get("at_ms")) >= (
            backup.seq,
            backup.at_ms,
        ):
            return False
        try:
            store.replace(LATEST, encode_pointer(backup), version)
            return True
        except StoreConflict:
            continue  # someone moved it meanwhile: look again


def _now_ms() -> int:
    return int(time.time() * 1000)
