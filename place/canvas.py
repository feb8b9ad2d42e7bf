"""The canvas in Redis, as pods use it: placing pixels, signing players in, reading a pixel.

Placements go through `Placer`, which stores the placements of many players in one Lua call
(`canvas_place.lua`): while one call is in flight the next batch gathers, so Redis sees a few large
calls instead of thousands of small ones, and nothing on the hot path waits on a timer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import struct
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.keys import Keys
from place.protocol import Place
from place.scripts import Scripts
from place.status import ErrorCode

logger = logging.getLogger("place.canvas")

MAX_BATCH = 1000
_PLACEMENT = struct.Struct("<IiiiB")  # player number, x, y, colour, admin: one batch argument
_I32_MAX = 2**31 - 1


def _i32(value: int) -> int:
    """Clamp to i32 without changing the answer: any negative is out of bounds or a bad colour
    like -1, anything larger than a canvas or palette like 2**31 - 1."""
    return -1 if value < 0 else min(value, _I32_MAX)


@dataclasses.dataclass(frozen=True, slots=True)
class Player:
    id: str  # stable identity: the Firebase uid, or the name under dev auth
    name: str  # what other players see
    number: int  # small integer kept in the who record
    admin: bool = False  # places without cooldown

    def public(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


# (code or None for stored; next_place_at_ms when stored, retry_at_ms for cooldown, the end of
# the ban for banned (0: never), else 0; the ban's reason for banned, else "")
PlaceCallback = Callable[[ErrorCode | None, int, str], None]


async def register_player(
    redis: Redis, scripts: Scripts, keys: Keys, player_id: str, name: str, admin: bool = False
) -> tuple[Player, int]:
    """Number the player (once) and remember its name; returns it and its next_place_at_ms
    (0 for an admin, who has no cooldown)."""
    number, next_at = await scripts.player_register(
        keys=[keys.player_numbers, keys.player_names, keys.player_seq, keys.cooldown(player_id)],
        args=[player_id, name],
    )
    return Player(player_id, name, int(number), admin), 0 if admin else int(next_at)


class Placer:
    """Stores placements in batches, one Lua call per batch, and answers each by callback."""

    def __init__(self, scripts: Scripts, keys: Keys, max_batch: int = MAX_BATCH) -> None:
        self._script = scripts.canvas_place
        self._keys = keys
        self._fixed_keys = [
            keys.config,
            keys.canvas,
            keys.placements,
            keys.who,
            keys.bans,
            keys.stats,
        ]
        self._max_batch = max_batch
        self._pending: list[tuple[Player, Place, PlaceCallback]] = []
        self._task: asyncio.Task[None] | None = None
        self.calls = 0
        self.stored = 0

    def submit(self, player: Player, place: Place, done: PlaceCallback) -> None:
        """Queue a placement; `done` is called once with the outcome."""
        self._pending.append((player, place, done))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def drain(self) -> None:
        """Wait until every submitted placement has been answered."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._store(batch)
        finally:
            self._task = None

    async def _store(self, batch: list[tuple[Player, Place, PlaceCallback]]) -> None:
        keys = list(self._fixed_keys)
        numbers = bytearray()
        players: list[str] = []
        for player, place, _ in batch:
            keys.append(self._keys.cooldown(player.id))
            numbers += _PLACEMENT.pack(
                player.number, _i32(place.x), _i32(place.y), _i32(place.c), player.admin
            )
            players.append(player.id)
        args = [len(batch), bytes(numbers), *players]
        self.calls += 1
        try:
            results = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as error:
            logger.warning("placement batch of %d failed: %s", len(batch), error)
            for _, _, done in batch:
                done(ErrorCode.UNAVAILABLE, 0, "")
            return
        for index, (_, _, done) in enumerate(batch):
            code = results[3 * index].decode()
            at = int(results[3 * index + 1])
            if code == "ok":
                self.stored += 1
                done(None, at, "")
            else:
                done(ErrorCode(code), at, results[3 * index + 2].decode())


async def pixel_info(redis: Redis, keys: Keys, x: int, y: int, width: int) -> dict[str, object]:
    """What `GET /api/pixel` answers: the colour, and who placed the pixel last and when."""
    pixel = y * width + x
    async with redis.pipeline(transaction=True) as pipe:
        pipe.execute_command("BITFIELD", keys.canvas, "GET", "u8", f"#{pixel}")
        pipe.execute_command(
            "BITFIELD", keys.who, "GET", "u32", pixel * 96, "GET", "i64", pixel * 96 + 32
        )
        (color,), (number, at_ms) = await pipe.execute()
    user = None
    if number:
        name = await redis.hget(keys.player_names, str(number))
        user = {"name": name.decode() if name else None}
    return {"x": x, "y": y, "c": color, "user": user, "at_ms": at_ms if number else None}
