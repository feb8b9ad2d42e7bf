"""Cluster-wide stats: every second each pod reports its connections and reads the totals.

The same report is the pod's check that Redis answers (for `/readyz`), and its answer is what
`GET /api/stats` serves, so that endpoint costs Redis nothing and is at most about 1 s stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.api.hub import Hub
from place.keys import Keys
from place.scripts import Scripts

logger = logging.getLogger("place.stats")

FIELDS = ("ccu", "peak_ccu", "users", "visits", "placements", "peak_pps")
REPORT_EVERY_S = 1.0
POD_GONE_AFTER_MS = 5000


class StatsReporter:
    def __init__(self, redis: Redis, scripts: Scripts, keys: Keys, hub: Hub) -> None:
        self.redis = redis
        self.scripts = scripts
        self.keys = keys
        self.hub = hub
        self.pod_id = uuid.uuid4().hex[:12]
        self.latest: dict[str, int] = dict.fromkeys(FIELDS, 0)
        self.redis_ok_at = float("-inf")  # monotonic time of the last answer from Redis
        self.visits = 0  # connections opened since the last report
        self.store: dict[str, str] = {}  # the active ticker's object-store state, for /metrics

    async def run(self) -> None:
        while True:
            try:
                await self.report()
            except (RedisError, OSError) as error:
                logger.warning("stats report failed: %s", error)
            await asyncio.sleep(REPORT_EVERY_S)

    async def report(self) -> None:
        visits = self.visits
        result = await self.scripts.stats_report(
            keys=[self.keys.pods, self.keys.stats, self.keys.player_numbers],
            args=[self.pod_id, len(self.hub), visits, POD_GONE_AFTER_MS],
        )
        self.visits -= visits
        self.latest = dict(zip(FIELDS, (int(value) for value in result), strict=True))
        store = await self.redis.hgetall(self.keys.store_status)
        self.store = {key.decode(): value.decode() for key, value in store.items()}
        self.redis_ok_at = time.monotonic()

    async def withdraw(self) -> None:
        """Stop counting this pod's connections (on shutdown)."""
        await self.redis.hdel(self.keys.pods, self.pod_id)
