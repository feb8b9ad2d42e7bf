"""Supervision of a pod's long-lived tasks: none dies silently.

Each task (the mirror following the ticker, the stats report, the resync loop, ...) runs inside a
keeper that restarts it when it fails or returns: the failure is logged with its traceback,
counted by task name (`restarts`, on `/metrics`), and the task is `down` until it runs again,
which turns `/readyz` to 503. Restarts back off exponentially with jitter (redis-py's backoff),
from the start again once a task has run for `STABLE_AFTER_S`. A task that needs Redis handles a
Redis failure itself (it resubscribes or retries); anything else, a bug or a message nobody
expected, reaches the keeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from place.redis_client import Backoff

logger = logging.getLogger("place.supervise")

STABLE_AFTER_S = 60.0


class Supervisor:
    def __init__(self, base_delay_s: float = 0.2, max_delay_s: float = 10.0) -> None:
        self.restarts = Counter[str]()
        self.down: set[str] = set()
        self._base = base_delay_s
        self._cap = max_delay_s
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run `run()` for ever under supervision; returns the keeper's task."""
        task = asyncio.create_task(self._keep(name, run), name=name)
        self._tasks.append(task)
        return task

    async def _keep(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        backoff = Backoff(self._base, self._cap)
        while True:
            started = time.monotonic()
            try:
                await run()
                logger.error("task %s ended by itself; restarting it", name)
            except Exception:
                logger.exception("task %s failed; restarting it", name)
            if time.monotonic() - started > STABLE_AFTER_S:
                backoff.reset()
            self.restarts[name] += 1
            self.down.add(name)
            try:
                await backoff.wait()
            finally:
                self.down.discard(name)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
