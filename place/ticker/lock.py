"""The ticker's lock in Redis: who is active, renewed while alive, lost when not.

The lock alone does not stop a paused ticker from publishing after it lost the lock: every
write of a tick (`ticker_commit.lua`) checks the token in the same atomic step (fencing).
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from place.scripts import Scripts

LOCK_TTL_MS = 3000  # a standby takes over at most this long (plus one poll) after a death
RENEW_EVERY_S = 1.0
POLL_EVERY_S = 0.5


class Deposed(Exception):
    """This ticker lost its lock: it must stop publishing and writing at once."""


class Lock:
    def __init__(self, redis: Redis, scripts: Scripts, key: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self.key = key
        self.token = uuid.uuid4().hex

    async def acquire(self) -> bool:
        return bool(await self._redis.set(self.key, self.token, nx=True, px=LOCK_TTL_MS))

    async def renew(self) -> bool:
        return bool(await self._scripts.lock_renew(keys=[self.key], args=[self.token, LOCK_TTL_MS]))

    async def release(self) -> None:
        await self._scripts.lock_release(keys=[self.key], args=[self.token])
