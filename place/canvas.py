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
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from place.keys import Keys
from place.protocol import Place
from place.redis_client import read
from place.scripts import Scripts, bulk
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
# the same outcome, given with what the caller submitted: answer(to, place, code, at, reason)
Answer = Callable[[Any, Place, ErrorCode | None, int, str], None]
_Pending = tuple[float, Player, Place, Answer, Any]  # deadline (monotonic), ..., to
_PACKED_PLAYERS_MAX = 50_000  # players whose cooldown key and id are kept packed (`Placer`)


def _callback(
    done: PlaceCallback, place: Place, code: ErrorCode | None, at: int, reason: str
) -> None:
    done(code, at, reason)


def _nothing() -> None:
    pass


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
    """Stores placements in batches, one Lua call per batch, and answers each by callback.

    `flush()` (if given) is called after each run of answers given together (a batch's, the
    placements that ran out of time, one refused as the queue is full), before anything else
    runs: a pod writes a batch's answers to one player in one write (`Pod._answer_place`).
    """

    def __init__(
        self,
        scripts: Scripts,
        keys: Keys,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        deadline_s: float = PLACE_DEADLINE_S,
        flush: Callable[[], None] | None = None,
    ) -> None:
        self._script = scripts.dedicated("canvas_place")  # its own connection: place.scripts
        self._keys = keys
        fixed = [keys.config, keys.canvas, keys.placements, keys.who, keys.bans, keys.stats]
        self._fixed_keys = b"".join(bulk(key) for key in fixed)
        self._fixed_count = len(fixed)
        # player id -> its cooldown key and its id, packed for the script call (see _store)
        self._packed: dict[str, tuple[bytes, bytes]] = {}
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._deadline_s = deadline_s
        self._flush = flush or _nothing
        # oldest first, so the first of a batch is the first due
        self._pending: collections.deque[_Pending] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the task's
        self._expired = False  # the call in flight ran past its deadline (see _call)
        self.calls = 0
        self.stored = 0
        self.overflowed = 0  # answered `unavailable` because the queue was full
        self.timed_out = 0  # answered `unavailable` because Redis did not answer in time

    def submit(self, player: Player, place: Place, done: PlaceCallback) -> None:
        """Queue a placement; `done(code, at, reason)` is called once with the outcome."""
        self.submit_to(player, place, _callback, done)

    def submit_to(self, player: Player, place: Place, answer: Answer, to: Any) -> None:
        """Queue a placement; `answer(to, place, code, at, reason)` is called once with the
        outcome (no closure per placement: the pod passes one method and the connection)."""
        pending = self._pending
        if len(pending) >= self._max_pending:
            self.overflowed += 1
            answer(to, place, ErrorCode.UNAVAILABLE, 0, "")
            self._flush()
            return
        pending.append((time.monotonic() + self._deadline_s, player, place, answer, to))
        if self._task is None:
            loop = self._loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run())

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
        pending = self._pending
        count = min(len(pending), self._max_batch)
        too_late = time.monotonic() + MIN_CALL_S
        if pending[0][0] >= too_late:  # the oldest has time: so has every other (FIFO)
            return [pending.popleft() for _ in range(count)]
        batch: list[_Pending] = []
        try:
            while pending and len(batch) < self._max_batch:
                item = pending.popleft()
                if item[0] < too_late:
                    self.timed_out += 1
                    item[3](item[4], item[2], ErrorCode.UNAVAILABLE, 0, "")
                else:
                    batch.append(item)
        finally:
            self._flush()
        return batch

    def _pack_player(self, player_id: str) -> tuple[bytes, bytes]:
        if len(self._packed) >= _PACKED_PLAYERS_MAX:
            self._packed.clear()
        packed = self._packed[player_id] = (bulk(self._keys.cooldown(player_id)), bulk(player_id))
        return packed

    async def _store(self, batch: list[_Pending]) -> None:
        # the call's keys and arguments packed by hand: each player's cooldown key and id once
        # (kept), the batch's numbers in one argument
        packed, pack = self._packed, _PLACEMENT.pack
        keys, players = [self._fixed_keys], []
        numbers = bytearray()
        for _, player, (_, x, y, c), _, _ in batch:
            key, player_id = packed.get(player.id) or self._pack_player(player.id)
            keys.append(key)
            players.append(player_id)
            numbers += pack(
                player.number,
                x if 0 <= x <= _I32_MAX else _i32(x),
                y if 0 <= y <= _I32_MAX else _i32(y),
                c if 0 <= c <= _I32_MAX else _i32(c),
                player.admin,
            )
        count = len(batch)
        body = b"".join((*keys, bulk(count), bulk(numbers), *players))
        self.calls += 1
        try:
            # the oldest placement of the batch is the first due
            results = await self._call(
                batch[0][0], self._fixed_count + count, self._fixed_count + 2 * count + 2, body
            )
        except (RedisError, OSError, TimeoutError) as error:
            if isinstance(error, TimeoutError | RedisTimeoutError):
                self.timed_out += len(batch)
            logger.warning(
                "placement batch of %d failed: %s", len(batch), error or type(error).__name__
            )
            try:
                for _, _, place, answer, to in batch:
                    answer(to, place, ErrorCode.UNAVAILABLE, 0, "")
            finally:
                self._flush()
            return
        stored = 0
        replies = iter(results)  # 3 per placement: code, at, reason
        try:
            for (_, _, place, answer, to), code, at, reason in zip(
                batch, replies, replies, replies, strict=False
            ):
                if code == b"ok":
                    stored += 1
                    answer(to, place, None, at, "")
                else:
                    answer(to, place, ErrorCode(code.decode()), int(at), reason.decode())
        finally:
            self.stored += stored
            self._flush()

    async def _call(self, deadline: float, numkeys: int, count: int, body: bytes) -> Any:
        """The script call, cancelled at `deadline` (monotonic), or after the client's socket
        timeout if that comes first, and then `TimeoutError`: what `asyncio.timeout` does, with
        the loop and the task at hand (it looks both up: three `getpid` system calls a batch on
        Python 3.11)."""
        loop, task = self._loop, self._task
        assert loop is not None and task is not None
        self._expired = False
        delay = deadline - time.monotonic()
        if self._script.timeout is not None:
            delay = min(delay, self._script.timeout)
        timer = loop.call_later(delay, self._expire, task)
        try:
            return await self._script.call_packed(numkeys, count, body)
        except asyncio.CancelledError:
            if self._expired and task.uncancel() == 0:  # ours, not a cancel from outside
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()

    def _expire(self, task: asyncio.Task[None]) -> None:
        self._expired = True
        task.cancel()


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
