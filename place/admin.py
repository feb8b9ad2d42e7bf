"""`place admin`: moderation and live changes to the canvas, applied to every pod at once.

Each change is one atomic script; a configuration change bumps the config version, the ticker
publishes a snapshot with it on its next tick, and every pod sends its players `hello` and that
snapshot.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import orjson
from redis.asyncio import Redis

from place.errors import AdminError
from place.keys import Keys
from place.scripts import Scripts
from place.settings import MAX_PIXELS, parse_palette

MAX_REASON = 200  # the reason goes to the player with every refused placement
MAX_DURATION_MS = 10 * 365 * 86_400_000
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


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

    async def ban(self, player: str, duration: str | None = None, reason: str = "") -> str:
        """Ban for `duration` (like 90s, 15m, 2h, 3d; None: for ever); the reason is what the
        player is told. Banning a banned player replaces the ban."""
        player = _player(player)
        duration_ms = parse_duration(duration) if duration is not None else 0
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON:
            raise AdminError(f"a reason is at most {MAX_REASON} characters, got {len(reason)}")
        until_ms, replaced = await self.scripts.admin_ban(
            keys=[self.keys.bans], args=[player, reason, duration_ms]
        )
        ends = f"until {_iso(int(until_ms))}" if until_ms else "for ever"
        why = f": {reason}" if reason else " (no reason given)"
        done = "replaced the ban of" if replaced else "banned"
        return f"{done} {player} {ends}{why}"

    async def unban(self, player: str) -> str:
        player = _player(player)
        removed = await self.redis.hdel(self.keys.bans, player)
        return f"unbanned {player}" if removed else f"{player} was not banned"

    async def bans(self) -> str:
        """The bans in force, one line each, tab-separated: player, reason, end (ISO UTC or
        never); ended bans are removed on the way."""
        flat = await self.scripts.admin_bans(keys=[self.keys.bans])
        lines = []
        for player, raw in sorted(zip(flat[::2], flat[1::2], strict=True)):
            try:
                ban = orjson.loads(raw)
            except orjson.JSONDecodeError:
                ban = None
            if not isinstance(ban, dict):  # written by hand? it holds for ever
                ban = {"reason": f"(unreadable: {raw[:40]!r})"}
            until_ms = ban.get("until_ms")
            ends = _iso(int(until_ms)) if until_ms else "never"
            lines.append(f"{player.decode()}\t{ban.get('reason') or '-'}\t{ends}")
        return "\n".join(lines) if lines else "no bans"

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


def parse_duration(value: str) -> int:
    """`90s`, `15m`, `2h`, `3d` in ms; anything else is refused in one line naming it."""
    match = _DURATION.match(value.strip())
    ms = int(match[1]) * _UNIT_MS[match[2]] if match else 0
    if not 0 < ms <= MAX_DURATION_MS:
        raise AdminError(
            f"--for must be a duration like 90s, 15m, 2h or 3d (at most 3650d), got {value!r}"
        )
    return ms


def _player(player: str) -> str:
    player = player.strip()
    if not player:
        raise AdminError("PLAYER must not be empty: it is the player's user.id")
    return player


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
