"""What `place admin` palette changes and rollbacks cost, on a real redis-server.

- palette: the one script that remaps every pixel and writes the palette blocks Redis for its
  whole run; measured for a reorder (every index changes) and an append (nothing to remap) at
  1000x1000 and at the largest canvas, 4096x4096;
- rollback: planning (numpy over the history) for a griefer's placements among many others, and
  applying one batch (the script restores up to ROLLBACK_BATCH pixels per call).

    .venv/bin/python -m bench.admin
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time

import numpy as np
from redis.asyncio import Redis

from place.admin import ROLLBACK_BATCH, Admin
from place.admin_rollback import History, plan_rollback
from place.config import LiveConfig
from place.keys import Keys
from place.settings import DEFAULT_PALETTE, Settings, parse_palette
from place.snapshot.archive import Row
from place.snapshot.writer import read_canvas
from place.ticker.ticker import Ticker
from tests.servers import RedisServer

KEYS = Keys()
RUNS = 5
PALETTE = parse_palette(DEFAULT_PALETTE)


async def canvas(url: str, side: int) -> tuple[Redis, Admin]:
    redis = Redis.from_url(url)
    await redis.flushall()
    ticker = Ticker(Settings(width=side, height=side, cooldown_s=0), redis)
    assert await ticker.lock.acquire()
    await ticker.ensure_canvas()
    rng = np.random.default_rng(1)
    await redis.set(KEYS.canvas, rng.integers(0, 32, side * side, dtype=np.uint8).tobytes())
    return redis, Admin(redis, KEYS, actor="bench")


async def palette(url: str, side: int) -> tuple[float, float, float]:
    """(the whole command for a reorder, Redis's share of it: the one script, the whole command
    for an appended colour)"""
    redis, admin = await canvas(url, side)
    reordered = ",".join(reversed(PALETTE))
    started = time.perf_counter()
    await admin.palette(reordered)
    whole_s = time.perf_counter() - started
    read = await read_canvas(redis, admin.scripts, KEYS)
    assert read is not None
    table = np.arange(256, dtype=np.uint8)
    table[:32] = np.arange(31, -1, -1)
    remapped = table[read.pixels].tobytes()
    started = time.perf_counter()
    await admin.scripts.admin_palette(
        keys=[KEYS.config, KEYS.canvas, KEYS.placements],
        args=[read.config.version, ",".join(PALETTE), 32, table.tobytes(), remapped, read.pos],
    )
    script_s = time.perf_counter() - started
    started = time.perf_counter()
    await admin.palette(",".join(PALETTE) + ",#123456")  # nothing to remap
    append_s = time.perf_counter() - started
    await redis.aclose()
    return whole_s, script_s, append_s


def rollback_plan(rows: int, griefer_share: float) -> tuple[float, int]:
    rng = np.random.default_rng(2)
    side = 1000
    history = []
    for i in range(rows):
        who = "eve" if rng.random() < griefer_share else f"p{i % 5000}"
        pixel = int(rng.integers(0, side * side))
        at = 1_700_000_000_000 + i
        color = int(rng.integers(0, 32))
        history.append(Row((at, 0), at, who, pixel % side, pixel // side, 1, 1, color))
    config = LiveConfig(side, side, PALETTE, 0, True)
    started = time.perf_counter()
    plan = plan_rollback(History(None, history, []), config, "eve", 1_700_000_000_000, None)
    return time.perf_counter() - started, len(plan)


async def rollback_apply(url: str, pixels: int) -> float:
    """One script call restoring `pixels` pixels the griefer holds (who records set to it)."""
    redis, admin = await canvas(url, 1000)
    eve = struct.pack(">Iq", 7, 1_700_000_000_000)
    chosen = np.random.default_rng(3).choice(1000 * 1000, pixels, replace=False).astype(np.uint32)
    who = bytearray(await redis.get(KEYS.who))
    for pixel in chosen.tolist():
        who[pixel * 12 : pixel * 12 + 12] = eve
    await redis.set(KEYS.who, bytes(who))
    packed = b"".join(struct.pack("<IB", pixel, 3) + eve + bytes(12) for pixel in chosen.tolist())
    version = int(await redis.hget(KEYS.config, "version"))
    started = time.perf_counter()
    restored, _ = await admin.scripts.admin_rollback(
        keys=[KEYS.config, KEYS.canvas, KEYS.who, KEYS.placements], args=[version, "bench", packed]
    )
    seconds = time.perf_counter() - started
    assert restored == pixels, restored
    await redis.aclose()
    return seconds


async def main() -> None:
    server = RedisServer()
    try:
        print(f"palette change (s, median of {RUNS} runs):")
        for side in (1000, 4096):
            runs = [await palette(server.url, side) for _ in range(RUNS)]
            whole_s, script_s, append_s = (statistics.median(r[i] for r in runs) for i in range(3))
            print(
                f"  {side}x{side}: reorder (every pixel remapped) {whole_s:.3f} in all, Redis busy"
                f" {script_s:.3f} (the one script); append a colour (nothing remapped)"
                f" {append_s:.3f} in all"
            )
        print("rollback planning (numpy, no I/O):")
        for rows in (100_000, 1_000_000):
            seconds, pixels = rollback_plan(rows, 0.05)
            print(f"  {rows:,} placements, 5 % the griefer's: {seconds:.2f} s, {pixels:,} pixels")
        seconds = statistics.median(
            [await rollback_apply(server.url, ROLLBACK_BATCH) for _ in range(RUNS)]
        )
        print(
            f"rollback applying: {ROLLBACK_BATCH:,} pixels in one script call (Redis busy, median):"
            f" {seconds:.3f} s"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
