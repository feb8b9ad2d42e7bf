"""Cluster-wide stats: every second each pod reports its connections and reads the totals.

The same report is the pod's check that Redis answers (for `/readyz`), and its answer is what
`GET /api/stats` serves, so that endpoint costs Redis nothing and is at most about 1 s stale.
A pod that stops reporting (killed, or cut off from Redis) stops counting after
`POD_GONE_AFTER_MS`: `ccu` drops its players within about 5 s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from place.api.hub import Hub
from place.keys import Keys
from place.metrics import Metrics
from place.scripts import Scripts

logger = logging.getLogger("place.stats")

FIELDS = ("ccu", "peak_ccu", "users", "visits", "placements", "peak_pps")
REPORT_EVERY_S = 1.0
# a report older than this is a gone pod's (a live one reports every second, and is unready
# after 2 s without a report): its players stop counting in `ccu` within about 5 s
POD_GONE_AFTER_MS = 3000
MEMORY_EVERY_REPORTS = 10  # Redis INFO memory, for /metrics, every 10 s


class StatsReporter:
    def __init__(
        self, redis: Redis, scripts: Scripts, keys: Keys, hub: Hub, metrics: Metrics | None = None
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.keys = keys
        self.hub = hub
        self.pod_id = uuid.uuid4().hex[:12]
        self.latest: dict[str, int] = dict.fromkeys(FIELDS, 0)
        # monotonic time of the last answer from Redis: a pod is made right after Redis answered
        # PING (make_pod), so /readyz gives the true reason before the first report too
        self.redis_ok_at = time.monotonic()
        self.visits = 0  # connections opened since the last report
        self.store: dict[str, str] = {}  # the active ticker's object-store state, for /metrics
        self.metrics = metrics  # its stored placements go in the pod's info (`place admin status`)
        self._counted = (time.monotonic(), 0)  # when, and how many placements stored by then
        self._host = socket.gethostname()
        self.pods = 0  # pods reporting (this one included), as of the last report
        self.redis_memory: dict[str, int] = {}  # used_memory and maxmemory, for /metrics
        self._reports = 0
        self._memory_readable = True

    async def run(self) -> None:
        while True:
            try:
                await self.report()
            except (RedisError, OSError) as error:
                logger.warning("stats report failed: %s", error)
            await asyncio.sleep(REPORT_EVERY_S)

    async def report(self) -> None:
        visits = self.visits
        started = time.perf_counter()
        result = await self.scripts.stats_report(
            keys=[self.keys.pods, self.keys.stats, self.keys.player_numbers, self.keys.pod_info],
            args=[self.pod_id, len(self.hub), visits, POD_GONE_AFTER_MS, self._info()],
        )
        if self.metrics is not None:
            self.metrics.redis_roundtrip.observe(time.perf_counter() - started)
        self.visits -= visits
        counts = [int(value) for value in result]
        self.latest = dict(zip(FIELDS, counts[: len(FIELDS)], strict=True))
        self.pods = counts[len(FIELDS)]
        store = await self.redis.hgetall(self.keys.store_status)
        self.store = {key.decode(): value.decode() for key, value in store.items()}
        self.redis_ok_at = time.monotonic()
        if self._memory_readable and self._reports % MEMORY_EVERY_REPORTS == 0:
            await self._read_memory()
        self._reports += 1

    async def _read_memory(self) -> None:
        """Redis's memory, for /metrics and the memory alert. A Redis that refuses INFO (some
        managed ones restrict it) is asked once; its memory is then watched from the outside."""
        try:
            info = await self.redis.info("memory")
        except ResponseError as error:
            logger.warning("Redis refuses INFO memory (%s): no place_redis_*memory metrics", error)
            self._memory_readable = False
            return
        self.redis_memory = {
            "used_memory": int(info.get("used_memory", 0)),
            "maxmemory": int(info.get("maxmemory", 0)),
        }

    def _info(self) -> bytes:
        """Who this pod is and how many placements a second it stored since the last report."""
        stored = self.metrics.placements["stored"] if self.metrics is not None else 0
        now = time.monotonic()
        then, before = self._counted
        pps = (stored - before) / (now - then) if now > then else 0.0
        self._counted = (now, stored)
        return orjson.dumps(
            {"host": self._host, "pid": os.getpid(), "placements": stored, "pps": round(pps, 1)}
        )

    async def withdraw(self) -> None:
        """Stop counting this pod's connections (on shutdown)."""
        await self.redis.hdel(self.keys.pods, self.pod_id)
        await self.redis.hdel(self.keys.pod_info, self.pod_id)
