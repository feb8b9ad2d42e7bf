"""Rolling a griefer back: every pixel where the player's placement is still on top gets back the
colour it had before that player's run of placements on it since TIME.

The history is the store's (the newest sound backup at or before TIME, then the archived
placements after it) plus the placement stream's entries not archived yet. Palette and size
changes made since are in the admin audit log with the stream position they happened at, so older
placements are carried forward to today's palette and coordinates. Planning is numpy over every
placement since the backup; applying is `admin_rollback.lua`, which restores a pixel only while
the player's planned placement is still on top of it (so whatever was painted since is left
alone) and writes the restored pixels to the stream, which the ticker turns into an ordinary delta.
"""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from collections.abc import Iterable, Sequence

import numpy as np
from redis.asyncio import Redis

from place.admin_audit import Entry
from place.config import LiveConfig
from place.keys import Keys
from place.snapshot.archive import Row, parse_id, rows_from_entries
from place.snapshot.backup import Backup, BadBackup, decode_backup
from place.snapshot.restore import archived_rows, list_backups
from place.store import Store, StoreMissing

STREAM_PAGE = 5_000  # stream entries read per XRANGE
_PIXEL = struct.Struct("<IB")  # pixel index, colour to put back
_WHO = struct.Struct(">Iq")  # a who record as BITFIELD writes it: player number, ms


def id_key(entry_id: tuple[int, int]) -> int:
    """A stream id as one sortable int64."""
    return (entry_id[0] << 20) | min(entry_id[1], (1 << 20) - 1)


@dataclasses.dataclass(frozen=True, slots=True)
class Transform:
    """A palette or size change, from the audit log: placements up to `pos` (a stream id) were
    made before it, a backup of a config version below `version` was taken before it."""

    pos: int  # id_key of the last stream entry before the change
    version: int
    table: np.ndarray | None = None  # palette: old index -> new index (256)
    resize: tuple[int, int, int, int] | None = None  # dx, dy, new width, new height


def transforms_from(entries: Iterable[Entry]) -> list[Transform]:
    found = []
    for entry in entries:
        details = entry.details
        if not entry.ok or "pos" not in details or "version" not in details:
            continue
        pos, version = id_key(parse_id(str(details["pos"]))), int(details["version"])
        if entry.action == "palette" and "remap" in details:
            table = np.arange(256, dtype=np.uint8)
            remap = [int(v) for v in details["remap"]]
            table[: len(remap)] = remap
            found.append(Transform(pos, version, table=table))
        elif entry.action == "resize" and "to" in details:
            dx, dy = (int(v) for v in details.get("offset", (0, 0)))
            width, height = (int(v) for v in details["to"])
            found.append(Transform(pos, version, resize=(dx, dy, width, height)))
    return sorted(found, key=lambda t: (t.pos, t.version))


@dataclasses.dataclass(frozen=True, slots=True)
class History:
    baseline: Backup | None  # the canvas before the rows (None: the blank canvas, colour 0)
    rows: list[Row]
    transforms: list[Transform]


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    pixels: np.ndarray  # uint32 indices into today's canvas
    colors: np.ndarray  # uint8: the colour to put back
    top_ms: np.ndarray  # int64: when the player's placement on top was stored
    back_players: list[str]  # who placed the colour put back ("" for nobody)
    back_ms: np.ndarray  # int64: when
    width: int
    height: int
    placements: int  # the player's placements in the window

    def __len__(self) -> int:
        return int(self.pixels.size)

    def bounding_box(self) -> str:
        if not self.pixels.size:
            return ""
        xs, ys = self.pixels % self.width, self.pixels // self.width
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
        return f"({x0}, {y0})-({x1}, {y1}), {x1 - x0 + 1}x{y1 - y0 + 1}"

    def packed(self, player: int, numbers: dict[str, int], start: int, stop: int) -> bytes:
        """Pixels start..stop for `admin_rollback.lua`: `player` is the number of the player
        rolled back, `numbers` those of the players whose colours come back."""
        out = bytearray()
        for i in range(start, stop):
            number = numbers.get(self.back_players[i], 0)
            out += _PIXEL.pack(int(self.pixels[i]), int(self.colors[i]))
            out += _WHO.pack(player, int(self.top_ms[i]))
            out += _WHO.pack(number, int(self.back_ms[i]) if number else 0)
        return bytes(out)


def plan_rollback(
    history: History,
    config: LiveConfig,
    player: str,
    since_ms: int,
    until_ms: int | None,
) -> Plan:
    """Which pixels go back to which colour. Pure numpy over the history."""
    width, height = config.width, config.height
    rows = history.rows
    n = len(rows)
    ids = np.fromiter((id_key(r.id) for r in rows), dtype=np.int64, count=n)
    xs = np.fromiter((r.x for r in rows), dtype=np.int64, count=n)
    ys = np.fromiter((r.y for r in rows), dtype=np.int64, count=n)
    ws = np.fromiter((r.w for r in rows), dtype=np.int64, count=n)
    hs = np.fromiter((r.h for r in rows), dtype=np.int64, count=n)
    cs = np.fromiter((r.c for r in rows), dtype=np.int64, count=n)
    ts = np.fromiter((r.t for r in rows), dtype=np.int64, count=n)
    users = [r.u for r in rows]

    # the canvas before the rows (without a backup: the new canvas, all colour 0), and the rows,
    # carried through every later palette or size change
    backup = history.baseline
    base: np.ndarray | int = 0
    base_version = 0
    if backup is not None:
        base = backup.pixels.astype(np.int64).reshape(backup.config.height, backup.config.width)
        base_version = backup.config.version
    for change in history.transforms:
        before = ids <= change.pos
        if change.table is not None:
            cs[before] = change.table[cs[before]]
            if base_version < change.version:
                base = change.table[base]
        if change.resize is not None:
            dx, dy, new_w, new_h = change.resize
            xs[before] += dx
            ys[before] += dy
            if base_version < change.version and isinstance(base, np.ndarray):
                base = _moved(base, dx, dy, new_w, new_h)
    if not isinstance(base, np.ndarray):
        base = np.full((height, width), int(base), dtype=np.int64)
    elif base.shape != (height, width):  # no change on record explains it: top-left, as resize
        base = _moved(base, 0, 0, width, height)
    if not n:
        return _nothing(width, height)

    # clip every rectangle to today's canvas; what falls outside is gone
    x0, y0 = np.maximum(xs, 0), np.maximum(ys, 0)
    x1, y1 = np.minimum(xs + ws, width), np.minimum(ys + hs, height)
    keep = (x1 > x0) & (y1 > y0)

    # one event per pixel touched, in history order
    single = keep & (x1 - x0 == 1) & (y1 - y0 == 1)
    order = [np.flatnonzero(single)]
    pixel = [y0[single] * width + x0[single]]
    for i in np.flatnonzero(keep & ~single):
        grid = (np.arange(y0[i], y1[i])[:, None] * width + np.arange(x0[i], x1[i])).ravel()
        pixel.append(grid)
        order.append(np.full(grid.size, i))
    event_row = np.concatenate(order)
    event_pixel = np.concatenate(pixel)
    sort = np.lexsort((event_row, event_pixel))
    event_row, event_pixel = event_row[sort], event_pixel[sort]

    hi = until_ms if until_ms is not None else np.iinfo(np.int64).max
    mine = np.fromiter((u == player for u in users), dtype=bool, count=n)
    in_window = mine & (ts >= since_ms) & (ts <= hi) & (ws == 1) & (hs == 1)
    griefing = in_window[event_row]

    count = event_row.size
    last = np.ones(count, dtype=bool)
    last[:-1] = event_pixel[1:] != event_pixel[:-1]
    first = np.ones(count, dtype=bool)
    first[1:] = event_pixel[1:] != event_pixel[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(count), 0))
    # the latest event that is not the player's (in the window), at or before each event
    breaker = np.maximum.accumulate(np.where(griefing, -1, np.arange(count)))

    tops = np.flatnonzero(last & griefing)
    before = breaker[tops]
    known = before >= group_start[tops]
    before_row = event_row[np.where(known, before, 0)]
    target_pixels = event_pixel[tops]
    colors = np.where(known, cs[before_row], base.ravel()[target_pixels])
    # whoever placed the colour put back (nobody for a wipe or the canvas before the history)
    wiped = (ws[before_row] != 1) | (hs[before_row] != 1)
    back_players = [
        users[r] if k and not w else ""
        for r, k, w in zip(before_row.tolist(), known.tolist(), wiped.tolist(), strict=True)
    ]
    return Plan(
        pixels=target_pixels.astype(np.uint32),
        colors=colors.astype(np.uint8),
        top_ms=ts[event_row[tops]],
        back_players=back_players,
        back_ms=np.where(known & ~wiped, ts[before_row], 0).astype(np.int64),
        width=width,
        height=height,
        placements=int(in_window.sum()),
    )


def _nothing(width: int, height: int) -> Plan:
    empty = np.zeros(0, dtype=np.int64)
    return Plan(empty.astype(np.uint32), empty.astype(np.uint8), empty, [], empty, width, height, 0)


def _moved(grid: np.ndarray, dx: int, dy: int, width: int, height: int) -> np.ndarray:
    """`grid` placed at (dx, dy) of a new `width` x `height` canvas of colour 0, cropped."""
    out = np.zeros((height, width), dtype=grid.dtype)
    old_h, old_w = grid.shape
    sx0, sy0 = max(0, -dx), max(0, -dy)
    sx1, sy1 = min(old_w, width - dx), min(old_h, height - dy)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 + dy : sy1 + dy, sx0 + dx : sx1 + dx] = grid[sy0:sy1, sx0:sx1]
    return out


# --- reading the history -------------------------------------------------------------------


def store_history(store: Store, since_ms: int) -> tuple[Backup | None, list[Row]]:
    """The newest sound backup at or before `since_ms` and the archived rows after it (blocking:
    call it in a thread). Without one, every archived row from the start of the event."""
    baseline = None
    for key, at_ms, _seq, _size in reversed(list_backups(store)):
        if at_ms > since_ms:
            continue
        try:
            baseline = decode_backup(store.read(key)[0], key)
            break
        except (BadBackup, StoreMissing):
            continue
    after = baseline.pos if baseline is not None else "0-0"
    return baseline, archived_rows(store, after, None)


async def stream_rows(redis: Redis, keys: Keys, after: tuple[int, int]) -> list[Row]:
    """The placement stream's entries after `after`, as rows."""
    rows: list[Row] = []
    start = f"({after[0]}-{after[1]}"
    while True:
        entries = await redis.xrange(keys.placements, min=start, max="+", count=STREAM_PAGE)
        if not entries:
            return rows
        rows.extend(rows_from_entries(entries))
        last = entries[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else last)
        if len(entries) < STREAM_PAGE:
            return rows


async def load_history(
    redis: Redis, keys: Keys, store: Store | None, since_ms: int, audit: Sequence[Entry]
) -> History:
    baseline: Backup | None = None
    rows: list[Row] = []
    if store is not None:
        baseline, rows = await asyncio.to_thread(store_history, store, since_ms)
    after = rows[-1].id if rows else parse_id(baseline.pos) if baseline is not None else (0, 0)
    rows += await stream_rows(redis, keys, after)
    return History(baseline, rows, transforms_from(audit))
