"""`place admin`: moderation and live changes to the canvas, applied to every pod at once.

Each change is one atomic script; a configuration change bumps the config version, the ticker
publishes a snapshot with it on its next tick, and every pod sends its players `hello` and that
snapshot.
"""

from __future__ import annotations

import numpy as np
from redis.asyncio import Redis

from place.errors import AdminError
from place.keys import Keys
from place.scripts import Scripts
from place.settings import MAX_PIXELS, parse_palette


class Admin:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = Scripts(redis)

    async def resize(self, width: int, height: int) -> str:
        if width < 1 or height < 1 or width * height > MAX_PIXELS or max(width, height) > 65535:
            raise AdminError(
                f"a canvas is 1 to 65535 pixels a side and at most {MAX_PIXELS} pixels,"
                f" got {width}x{height}"
            )
        version = await self.scripts.admin_resize(
            keys=[self.keys.config, self.keys.canvas, self.keys.who], args=[width, height]
        )
        return self._changed(version, f"resized the canvas to {width}x{height}")

    async def palette(self, colors: str) -> str:
        try:
            palette = parse_palette(colors, "the palette")
        except Exception as error:
            raise AdminError(str(error)) from None
        canvas = await self.redis.get(self.keys.canvas)
        if canvas:
            used = int(np.frombuffer(canvas, np.uint8).max())
            if used >= len(palette):
                raise AdminError(
                    f"the canvas uses colour index {used}, but the new palette has only"
                    f" {len(palette)} colours; wipe those pixels first"
                )
        version = await self._set(palette=",".join(palette), colors=len(palette))
        return self._changed(version, f"set a palette of {len(palette)} colours")

    async def cooldown(self, seconds: float) -> str:
        if seconds < 0:
            raise AdminError(f"a cooldown is 0 or more seconds, got {seconds:g}")
        version = await self._set(cooldown_ms=round(seconds * 1000))
        return self._changed(version, f"set the cooldown to {seconds:g} s")

    async def set_open(self, is_open: bool) -> str:
        version = await self._set(open="1" if is_open else "0")
        return self._changed(version, "opened the canvas" if is_open else "closed the canvas")

    async def ban(self, player: str) -> str:
        added = await self.redis.sadd(self.keys.banned, player)
        return f"banned {player}" if added else f"{player} was banned already"

    async def unban(self, player: str) -> str:
        removed = await self.redis.srem(self.keys.banned, player)
        return f"unbanned {player}" if removed else f"{player} was not banned"

    async def wipe(self, x: int, y: int, width: int, height: int, color: int) -> str:
        result = await self.scripts.admin_wipe(
            keys=[self.keys.config, self.keys.canvas, self.keys.who, self.keys.placements],
            args=[x, y, width, height, color, "admin"],
        )
        if result == -1:
            raise AdminError("there is no canvas yet: start a ticker first")
        if result == -2:
            raise AdminError(
                f"the rectangle {width}x{height} at ({x}, {y}) or colour {color} does not fit"
                " the canvas and its palette"
            )
        return f"wiped {width}x{height} at ({x}, {y}) to colour {color}"

    async def _set(self, **fields: object) -> int:
        args = [item for pair in fields.items() for item in pair]
        return int(await self.scripts.admin_config(keys=[self.keys.config], args=args))

    @staticmethod
    def _changed(version: int, what: str) -> str:
        if version == -1:
            raise AdminError("there is no canvas yet: start a ticker first")
        return f"{what} (config version {version}); every pod follows within a tick"
