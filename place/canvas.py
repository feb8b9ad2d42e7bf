"""The canvas in Redis, as pods use it: placing pixels, signing players in, reading a pixel.

Placements go through `Placer`, which stores the placements of many players in one Lua call
(`canvas_place.lua`): while one call is in flight the next batch gathers, so Redis sees a few large
calls instead of thousands of small ones, and nothing on the hot path waits on a timer.

Every placement is answered within `PLACE_DEADLINE_S` of its submission, whatever Redis does: a
call that has not answered by the deadline of its oldest placement is abandoned and its batch
answered `unavailable` (it may still have been stored: the answer never came), and a placement
whose deadline passed while it waited is answered `unavailable` without being sent. At most
`MAX_PENDING` placements wait; one more is answered `unavailable` at once.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import struct
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from place.keys import Keys
from place.protocol import Place
from place.redis_client import read
from place.scripts import Scripts
from place.status import ErrorCode

logger = logging.getLogger("place.canvas")

MAX_BATCH = 1000
MAX_PENDING = 10_000  # placements waiting for the call in flight (ten batches)
PLACE_DEADLINE_S = 2.5  # the contract answers every placement within 3 s
MIN_CALL_S = 0.05  # a placement with less time left than this is not sent any more
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
_Pending = tuple[float, Player, Place, PlaceCallback]  # deadline (monotonic), ...


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

    def __init__(
        self,
        scripts: Scripts,
        keys: Keys,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        deadline_s: float = PLACE_DEADLINE_S,
    ) -> None:
        self._script = scripts.dedicated("canvas_place")  # its own connection: place.scripts
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
        self._max_pending = max_pending
        self._deadline_s = deadline_s
        # oldest first, so the first of a batch is the first due
        self._pending: collections.deque[_Pending] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self.calls = 0
        self.stored = 0
        self.overflowed = 0  # answered `unavailable` because the queue was full
        self.timed_out = 0  # answered `unavailable` because Redis did not answer in time

    def submit(self, player: Player, place: Place, done: PlaceCallback) -> None:
        """Queue a placement; `done` is called once with the outcome."""
        if len(self._pending) >= self._max_pending:
            self.overflowed += 1
            done(ErrorCode.UNAVAILABLE, 0, "")
            return
        self._pending.append((time.monotonic() + self._deadline_s, player, place, done))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self) -> None:
        """Wait until every submitted placement has been answered."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._pending:
                batch = self._next_batch()
                if batch:
                    await self._store(batch)
        finally:
            self._task = None

    def _next_batch(self) -> list[_Pending]:
        """Up to `max_batch` placements that still have time; the others answered now."""
        batch: list[_Pending] = []
        too_late = time.monotonic() + MIN_CALL_S
        while self._pending and len(batch) < self._max_batch:
            item = self._pending.popleft()
            if item[0] < too_late:
                self.timed_out += 1
                item[3](ErrorCode.UNAVAILABLE, 0, "")
            else:
                batch.append(item)
        return batch

    async def _store(self, batch: list[_Pending]) -> None:
        keys = list(self._fixed_keys)
        numbers = bytearray()
        players: list[str] = []
        for _, player, place, _ in batch:
            keys.append(self._keys.cooldown(player.id))
            numbers += _PLACEMENT.pack(
                player.number, _i32(place.x), _i32(place.y), _i32(place.c), player.admin
            )
            players.append(player.id)
        args = [len(batch), bytes(numbers), *players]
        self.calls += 1
        try:
            # the oldest placement of the batch is the first due
            results = await asyncio.wait_for(
                self._script(keys=keys, args=args), batch[0][0] - time.monotonic()
            )
        except (RedisError, OSError, TimeoutError) as error:
            if isinstance(error, TimeoutError | RedisTimeoutError):
                self.timed_out += len(batch)
            logger.warning(
                "placement batch of %d failed: %s", len(batch), error or type(error).__name__
            )
            for *_, done in batch:
                done(ErrorCode.UNAVAILABLE, 0, "")
            return
        for index, (*_, done) in enumerate(batch):
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

    async def both() -> list[list[int]]:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.execute_command("BITFIELD", keys.canvas, "GET", "u8", f"#{pixel}")
            pipe.execute_command(
                "BITFIELD", keys.who, "GET", "u32", pixel * 96, "GET", "i64", pixel * 96 + 32
            )
            return await pipe.execute()  # type: ignore[no-any-return]

    (color,), (number, at_ms) = await read(both)
    user = None
    if number:
        name = await read(lambda: redis.hget(keys.player_names, str(number)))
        user = {"name": name.decode() if name else None}
    return {"x": x, "y": y, "c": color, "user": user, "at_ms": at_ms if number else None}
