"""`place snapshot list | backup | status | restore`: what an ops person runs at 3 a.m.

Each returns the text to print; an expected failure raises a `PlaceError` whose message is the
one line the CLI prints.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from redis.asyncio import Redis

from place.errors import PlaceError, SettingsError
from place.keys import Keys
from place.redis_client import connect_redis
from place.scripts import Scripts
from place.settings import Settings
from place.snapshot.backup import BadBackup, decode_backup
from place.snapshot.png import encode_png
from place.snapshot.progress import progress
from place.snapshot.restore import apply_restore, list_backups, plan_restore
from place.snapshot.writer import CanvasRead, as_backup, read_canvas, write_backup
from place.store import Store, StoreError


async def run(args: argparse.Namespace, settings: Settings, store: Store) -> str:
    if args.action == "list":
        return await asyncio.to_thread(list_text, store, not args.no_verify)
    redis = await connect_redis(settings.redis_url)
    try:
        keys, scripts = Keys(settings.key_prefix), Scripts(redis)
        if args.action == "backup":
            read = await read_canvas(redis, scripts, keys)
            if read is None:
                raise PlaceError("Redis holds no canvas to back up (is a ticker running?)")
            backup = as_backup(read)
            await asyncio.to_thread(write_backup, store, backup)
            return f"backed up seq {backup.seq} to {store.url}/{backup.key}"
        if args.action == "status":
            return await status_text(redis, keys, store)
        return await restore(args, redis, scripts, keys, store)
    finally:
        await redis.aclose()


def list_text(store: Store, verify: bool) -> str:
    backups = list_backups(store)
    if not backups:
        return f"no backups in {store.url}"
    lines = [f"{'time (UTC)':<24} {'size':>10} {'seq':>10}  checksum  key"]
    for key, at_ms, seq, size in progress(backups, "backups"):
        state = "unchecked"
        if verify:
            try:
                decode_backup(store.read(key)[0], key)
                state = "ok"
            except BadBackup:
                state = "CORRUPT"
        lines.append(f"{_iso(at_ms):<24} {size:>10,} {seq:>10}  {state:<9} {key}")
    return "\n".join(lines)


async def status_text(redis: Redis, keys: Keys, store: Store) -> str:
    status = {k.decode(): v.decode() for k, v in (await redis.hgetall(keys.store_status)).items()}
    state = await redis.hgetall(keys.ticker_state)
    length = await redis.xlen(keys.placements)
    now = int(time.time() * 1000)
    lines = [f"store: {store.url}"]
    try:
        backups = await asyncio.to_thread(list_backups, store)
        lines.append("store answers: yes")
        if backups:
            _, at_ms, seq, size = backups[-1]
            lines.append(
                f"latest backup: {_iso(at_ms)} ({(now - at_ms) / 1000:.0f} s ago), seq {seq},"
                f" {size:,} bytes, {len(backups)} in all"
            )
        else:
            lines.append("latest backup: none")
    except StoreError as error:
        lines.append(f"store answers: NO ({error})")
    updated = int(status.get("updated_at_ms", 0))
    if not updated or now - updated > 5000:
        lines.append("active ticker: not reporting (no ticker running, or it cannot reach Redis)")
    else:
        lines.append(
            f"uploads waiting: {status.get('frames_pending', 0)} timelapse frames,"
            f" {status.get('backup_pending', 0)} backup;"
            f" {status.get('frames_dropped', 0)} frames dropped"
        )
        lag = int(status.get("archive_lag_ms", 0))
        lines.append(f"archive: {length} stream entries waiting, oldest {lag / 1000:.0f} s old")
        if status.get("last_error"):
            when = int(status.get("last_error_at_ms", 0))
            lines.append(
                f"last store error: {(now - when) / 1000:.0f} s ago: {status['last_error']}"
            )
    dropped = int(state.get(b"archive_dropped", 0))
    if dropped:
        lines.append(f"archive gap: {dropped} stream entries dropped unarchived during outages")
    return "\n".join(lines)


async def restore(
    args: argparse.Namespace, redis: Redis, scripts: Scripts, keys: Keys, store: Store
) -> str:
    at_ms = None if args.latest else parse_time(args.at, "--at")
    plan = await asyncio.to_thread(plan_restore, store, at_ms)
    live = await read_canvas(redis, scripts, keys)
    changed, box = _difference(live, plan.pixels, plan.config.width, plan.config.height)
    what = (
        f"{plan.backup_key} (seq {plan.backup.seq}, {_iso(plan.backup.at_ms)})"
        f" + {plan.replayed} archived placements"
    )
    if args.before_png and live is not None:
        c = live.config
        _write(args.before_png, encode_png(live.pixels, c.width, c.height, c.palette))
    if args.after_png:
        c = plan.config
        _write(args.after_png, encode_png(plan.pixels, c.width, c.height, c.palette))
    summary = f"{changed} pixels would change" + (f", within {box}" if changed else "")
    if args.dry_run:
        return f"dry run: restoring {what}: {summary}; nothing changed"
    version = await apply_restore(redis, scripts, keys, plan)
    # the restored canvas is the newest backup now: a later automatic restore starts from it
    restored = await read_canvas(redis, scripts, keys)
    if restored is not None:
        await asyncio.to_thread(write_backup, store, as_backup(restored))
    return (
        f"restored {what}: {summary.replace('would change', 'changed')}"
        f" (config version {version}); every player gets it within a tick"
    )


def parse_time(text: str, flag: str) -> int:
    """ISO 8601 to Unix ms; UTC when it has no offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SettingsError(
            f"{flag} must be an ISO 8601 time like 2026-12-01T15:30:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # exact: float seconds times 1000 can land a millisecond short
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _difference(
    live: CanvasRead | None, pixels: np.ndarray, width: int, height: int
) -> tuple[int, str]:
    """How many pixels differ from the live canvas, and their bounding box."""
    after = pixels.reshape(height, width)
    if live is None or (live.config.width, live.config.height) != (width, height):
        mask = np.ones((height, width), dtype=bool)
    else:
        mask = live.pixels.reshape(height, width) != after
    count = int(mask.sum())
    if not count:
        return 0, ""
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    x0, x1, y0, y1 = int(columns[0]), int(columns[-1]), int(rows[0]), int(rows[-1])
    return count, f"({x0}, {y0})-({x1}, {y1}), {x1 - x0 + 1}x{y1 - y0 + 1}"


def _write(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as file:
            file.write(data)
    except OSError as error:
        raise PlaceError(f"cannot write {path}: {error.strerror}") from None


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
