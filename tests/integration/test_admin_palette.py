"""Palette changes that never change how a pixel looks, and centred resizes, against a real Redis:
the remap and the config write are one script, so placements racing them are either remapped
or checked against the new palette, and none that was acknowledged is lost."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest
from redis.asyncio import Redis

from place.admin import Admin
from place.admin_palette import plan_remap
from place.canvas import Placer, pixel_info
from place.config import LiveConfig
from place.errors import AdminError
from place.keys import Keys
from place.scripts import Scripts
from place.settings import Settings
from place.snapshot.writer import read_canvas
from place.status import ErrorCode
from tests.integration.helpers import leading_ticker, place, player

KEYS = Keys()
EIGHT = ("#ffffff", "#000000", "#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff4500", "#be0039")
SETTINGS = Settings(width=40, height=30, palette=EIGHT, cooldown_s=0, tick_ms=100)


async def looks(redis: Redis) -> np.ndarray:
    """The colour (#rrggbb) of every pixel, by the live palette."""
    config = LiveConfig.from_hash(await redis.hgetall(KEYS.config))
    pixels = np.frombuffer(await redis.get(KEYS.canvas), np.uint8)
    assert int(pixels.max()) < len(config.palette), "a pixel outside the palette"
    return np.array(config.palette)[pixels]


async def test_reorder_keeps_every_look_and_removal_maps_or_takes_the_nearest(
    redis: Redis,
) -> None:
    await leading_ticker(redis, SETTINGS)
    admin = Admin(redis, KEYS, actor="mod")
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    for i, color in enumerate(range(1, 8)):
        assert (await place(placer, ann, i, 0, color))[0] is None
    before = await looks(redis)

    said = await admin.palette(",".join(reversed(EIGHT)))
    assert said.startswith("set a palette of 8 colours; every colour kept its look (config")
    assert np.array_equal(await looks(redis), before)

    # orange-red and crimson go: one to the colour asked for, the other to its nearest (red)
    kept = "#0000ff,#ffffff,#ff0000,#00ff00,#000000,#ffff00"
    said = await admin.palette(kept, ["#be0039=#000000"])
    assert "#be0039 -> #000000 (as mapped)" in said and "#ff4500 -> #ff0000 (nearest)" in said
    after = await looks(redis)
    expected = before.copy()
    expected[expected == "#be0039"] = "#000000"
    expected[expected == "#ff4500"] = "#ff0000"
    assert np.array_equal(after, expected)
    assert (await pixel_info(redis, KEYS, 0, 0, 40))["user"] == {"name": "ann"}  # who stays

    # appending colours changes no index: the canvas is left as it is
    canvas = await redis.get(KEYS.canvas)
    await admin.palette(kept + ",#123456")
    assert await redis.get(KEYS.canvas) == canvas


async def test_bad_palettes_are_refused_and_change_nothing(redis: Redis) -> None:
    await leading_ticker(redis, SETTINGS)
    admin = Admin(redis, KEYS)
    config = await redis.hgetall(KEYS.config)
    refusals = [
        (("#ffffff,#zzzzzz",), "colours must look like #rrggbb, got '#zzzzzz'"),
        (("#ffffff", ["#ff4500"]), "--map must look like '#ff4500=#be0039'"),
        (("#ffffff", ["#ffffff=#000000"]), "#ffffff stays in the new palette"),
        (("#ffffff", ["#123456=#ffffff"]), "#123456 is not in the current palette"),
        (("#ffffff", ["#000000=#ff0000"]), "#ff0000 is not in the new palette"),
    ]
    for args, message in refusals:
        with pytest.raises(AdminError, match=message):
            await admin.palette(*args)
    assert await redis.hgetall(KEYS.config) == config


async def test_placements_racing_palette_changes_are_kept_or_refused(redis: Redis) -> None:
    """Players draw on pixels of their own while the palette is reordered, then shrunk: every
    acknowledged placement shows its colour under the palette it was checked against, or that
    colour's mapping; no pixel is outside the palette; none is lost (left white); the only
    refusals are colours the shrunk palette no longer has."""
    await leading_ticker(redis, SETTINGS)
    admin = Admin(redis, KEYS, actor="mod")
    players = [await player(redis, f"p{i}") for i in range(8)]
    placers = [Placer(Scripts(redis), KEYS) for _ in players]
    acknowledged: dict[tuple[int, int], int] = {}
    refusals: set[tuple[ErrorCode | None, int]] = set()
    stop = asyncio.Event()

    async def draw(index: int) -> None:
        rng = random.Random(index)
        for n in range(120):  # three rows of its own
            if stop.is_set() and n >= 20:
                return
            x, y, c = n % 40, index * 3 + n // 40, rng.randrange(1, 8)  # never white
            code, _ = await place(placers[index], players[index], x, y, c)
            if code is None:
                acknowledged[(x, y)] = c
            else:
                refusals.add((code, c))

    drawing = [asyncio.create_task(draw(i)) for i in range(len(players))]
    async with asyncio.timeout(10):
        while len(acknowledged) < 40:
            await asyncio.sleep(0.001)
    reordered = ("#ffffff", *reversed(EIGHT[1:]))
    await admin.palette(",".join(reordered))
    shrunk = ("#ffffff", "#000000", "#0000ff", "#ff0000", "#00ff00")  # three colours go
    await admin.palette(",".join(shrunk))
    stop.set()
    await asyncio.gather(*drawing)

    # a placement made under EIGHT, under `reordered`, or under `shrunk`: the look it got then,
    # carried through the changes after it
    to_reordered = plan_remap(EIGHT, reordered).table
    to_shrunk = plan_remap(reordered, shrunk).table
    shown = await looks(redis)
    assert len(acknowledged) > 100
    for (x, y), c in acknowledged.items():
        look = shown[y * 40 + x]
        possible = {shrunk[to_shrunk[to_reordered[c]]], shrunk[to_shrunk[c]]}
        if c < len(shrunk):
            possible.add(shrunk[c])
        lost = look == "#ffffff" and "#ffffff" not in possible
        assert not lost, f"the placement at ({x}, {y}) was lost"
        assert look in possible, (x, y, c, look)
    assert all(code is ErrorCode.BAD_COLOR and c >= len(shrunk) for code, c in refusals)


async def test_what_is_stored_between_the_read_and_the_change_is_remapped_too(
    redis: Redis,
) -> None:
    """The command remaps the canvas as it read it; the script applies again, remapped, every
    placement (and wipe) stored after that read, in the same step as the new palette."""
    await leading_ticker(redis, SETTINGS)
    admin = Admin(redis, KEYS, actor="mod")
    scripts = Scripts(redis)
    ann = await player(redis, "ann")
    placer = Placer(scripts, KEYS)
    assert (await place(placer, ann, 1, 1, 5))[0] is None
    read = await read_canvas(redis, scripts, KEYS)  # what the command read
    assert read is not None
    assert (await place(placer, ann, 3, 3, 2))[0] is None  # stored after the read
    await admin.wipe(0, 5, 4, 2, 1)
    assert (await place(placer, ann, 1, 5, 7))[0] is None  # over the wipe
    reordered = tuple(reversed(EIGHT))
    table = plan_remap(EIGHT, reordered).table
    stale = await scripts.admin_palette(
        keys=[KEYS.config, KEYS.canvas, KEYS.placements],
        args=[
            read.config.version - 1,  # a config read before another change
            ",".join(reordered),
            8,
            table.tobytes(),
            table[read.pixels].tobytes(),
            read.pos,
        ],
    )
    assert stale == [-3]  # the config moved since that read: the command reads again
    version, _ = await scripts.admin_palette(
        keys=[KEYS.config, KEYS.canvas, KEYS.placements],
        args=[
            read.config.version,
            ",".join(reordered),
            8,
            table.tobytes(),
            table[read.pixels].tobytes(),
            read.pos,
        ],
    )
    assert version == read.config.version + 1
    shown = (await looks(redis)).reshape(30, 40)
    assert shown[1, 1] == EIGHT[5] and shown[3, 3] == EIGHT[2]
    assert shown[5, 0] == shown[6, 3] == EIGHT[1] and shown[5, 1] == EIGHT[7]


async def test_a_centred_resize_moves_pixels_and_who_placed_them(redis: Redis) -> None:
    await leading_ticker(redis, SETTINGS)
    admin = Admin(redis, KEYS, actor="mod")
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)
    for x, y in ((0, 0), (39, 29), (20, 15)):
        assert (await place(placer, ann, x, y, 1))[0] is None
    said = await admin.resize(44, 35, "centre")
    assert said.startswith(
        "resized the canvas from 40x30 to 44x35, existing pixels moved by (2, 2)"
    )
    grid = np.frombuffer(await redis.get(KEYS.canvas), np.uint8).reshape(35, 44)
    assert sorted(map(tuple, np.argwhere(grid == 1).tolist())) == [(2, 2), (17, 22), (31, 41)]
    assert (await pixel_info(redis, KEYS, 41, 31, 44))["user"] == {"name": "ann"}

    # shrinking from the centre crops every side; the odd pixel goes on the right and bottom
    await admin.resize(21, 16, "centre")  # dx = -11, dy = -9 (44 - 21 = 23, 35 - 16 = 19)
    grid = np.frombuffer(await redis.get(KEYS.canvas), np.uint8).reshape(16, 21)
    assert np.argwhere(grid == 1).tolist() == [[8, 11]]  # (22, 17) moved by (-11, -9)
    # top-left as before
    await admin.resize(25, 20)
    grid = np.frombuffer(await redis.get(KEYS.canvas), np.uint8).reshape(20, 25)
    assert np.argwhere(grid == 1).tolist() == [[8, 11]]
    with pytest.raises(AdminError, match="--anchor must be top-left or centre, got 'middle'"):
        await admin.resize(30, 30, "middle")
