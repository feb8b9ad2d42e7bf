"""The active ticker's work with the object store: backups, timelapse frames, the archive.

Each runs in its own task beside the ticks, and every store call runs in a thread: a slow or dead
store never delays a tick or a placement. Uploads retry with exponential backoff and jitter until
they succeed or this ticker stops leading. What is waiting is bounded:
- backups: only the newest waits (an older one is worth nothing once a newer exists);
- timelapse frames: at most `MAX_PENDING_FRAMES`, the oldest dropped first (counted);
- the archive waits in the Redis stream itself, which `ticker_commit.lua` bounds to
  `PLACE_ARCHIVE_BACKLOG_S` of placements (older ones are dropped unarchived, counted).
The state of all three is written to Redis (`Keys.store_status`) for `/metrics`, the logs and
`place snapshot status`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.config import LiveConfig
from place.keys import Keys
from place.scripts import Scripts
from place.settings import Settings
from place.snapshot.archive import chunk_key, encode_chunk, rows_from_entries
from place.snapshot.frames import frame_key
from place.snapshot.png import encode_png
from place.snapshot.writer import as_backup, read_canvas, write_backup
from place.store import Store, StoreConflict, StoreError
from place.ticker.lock import Deposed

logger = logging.getLogger("place.store")

MAX_PENDING_FRAMES = 60
ARCHIVE_ENTRIES_PER_CHUNK = 2_000  # stream entries: up to 1,000 placements each
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


class StoreKeeper:
    def __init__(
        self, settings: Settings, redis: Redis, scripts: Scripts, store: Store, token: str
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.scripts = scripts
        self.keys = Keys(settings.key_prefix)
        self.store = store
        self.token = token
        self.frames: collections.deque[tuple[str, bytes]] = collections.deque()
        self.frames_ready = asyncio.Event()
        self.status: dict[str, int | str] = {
            "frames_pending": 0,
            "frames_dropped": 0,
            "backup_pending": 0,
            "failures": 0,
            "last_error": "",
            "last_error_at_ms": 0,
        }
        self._failing = False

    async def run(self) -> None:
        """Every job, until cancelled (when this ticker stops leading)."""
        jobs = [
            self._every(self.settings.backup_s, self.backup_once),
            self._every(self.settings.timelapse_s, self.frame_once),
            self._every(self.settings.archive_s, self.archive_once),
            self._upload_frames(),
            self._report(),
        ]
        tasks = [asyncio.create_task(job) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, interval_s: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await job()
            except (RedisError, OSError) as error:
                logger.warning("store job %s: Redis failed (%s)", job.__name__, error)
            except Deposed:
                raise
            except Exception:  # a bug must not end backups for the rest of the event
                logger.exception(
                    "store job %s failed; it runs again in %g s", job.__name__, interval_s
                )

    # --- backups -----------------------------------------------------------------------------

    async def backup_once(self) -> None:
        """Back the canvas up; while the store fails, retry with backoff, each time with a fresh
        read of the canvas: only the newest backup ever waits."""
        delay = BACKOFF_FIRST_S
        while True:
            read = await read_canvas(self.redis, self.scripts, self.keys)
            if read is None:
                return
            backup = as_backup(read)
            try:
                await asyncio.to_thread(write_backup, self.store, backup)
                self._succeeded()
                break
            except StoreError as error:
                self._failed(f"backup {backup.key}", error)
                self.status["backup_pending"] = 1
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(BACKOFF_MAX_S, delay * 2)
        self.status |= {
            "backup_pending": 0,
            "last_backup_key": backup.key,
            "last_backup_at_ms": backup.at_ms,
            "last_backup_seq": backup.seq,
        }

    # --- timelapse ---------------------------------------------------------------------------

    async def frame_once(self) -> None:
        read = await read_canvas(self.redis, self.scripts, self.keys)
        if read is None:
            return
        config = read.config
        png = await asyncio.to_thread(
            encode_png, read.pixels, config.width, config.height, config.palette
        )
        self.frames.append((frame_key(read.at_ms), png))
        while len(self.frames) > MAX_PENDING_FRAMES:
            self.frames.popleft()
            self.status["frames_dropped"] = int(self.status["frames_dropped"]) + 1
        self.status["frames_pending"] = len(self.frames)
        self.frames_ready.set()

    async def _upload_frames(self) -> None:
        while True:
            await self.frames_ready.wait()
            while self.frames:
                key, png = self.frames[0]
                await self._retrying(f"frame {key}", lambda k=key, p=png: self._create(k, p))
                if self.frames and self.frames[0][0] == key:
                    self.frames.popleft()
                self.status["frames_pending"] = len(self.frames)
                self.status["last_frame_at_ms"] = _now_ms()
            self.frames_ready.clear()

    # --- archive -----------------------------------------------------------------------------

    async def archive_once(self) -> None:
        """Upload every placement not archived yet, in chunks, then let the stream be trimmed."""
        while True:
            archived = await self.redis.hget(self.keys.ticker_state, "archived") or b"0-0"
            entries = await self.redis.xrange(
                self.keys.placements,
                min=b"(" + archived,
                max="+",
                count=ARCHIVE_ENTRIES_PER_CHUNK,
            )
            rows = rows_from_entries(entries)
            if not entries:
                self.status["archive_lag_ms"] = 0
                return
            self.status["archive_lag_ms"] = max(0, _now_ms() - rows[0].t) if rows else 0
            last_id = entries[-1][0]
            if rows:
                config = await self._config()
                data = await asyncio.to_thread(encode_chunk, rows, config, _now_ms())
                key = chunk_key(rows[0].id, rows[-1].id)
                await self._retrying(f"archive {key}", lambda k=key, d=data: self._create(k, d))
                self.status["last_archive_at_ms"] = _now_ms()
            committed = await self.scripts.archive_commit(
                keys=[self.keys.ticker_lock, self.keys.ticker_state, self.keys.placements],
                args=[self.token, last_id],
            )
            if not committed:
                raise Deposed
            if len(entries) < ARCHIVE_ENTRIES_PER_CHUNK:
                self.status["archive_lag_ms"] = 0
                return

    async def _config(self) -> LiveConfig:
        return LiveConfig.from_hash(await self.redis.hgetall(self.keys.config))

    # --- plumbing ----------------------------------------------------------------------------

    def _create(self, key: str, data: bytes) -> None:
        """Create an object; one that exists already (written before a failover) is done."""
        with contextlib.suppress(StoreConflict):
            self.store.create(key, data)

    async def _retrying(self, what: str, write: Callable[[], object]) -> None:
        """Run a blocking store write in a thread until it succeeds: backoff with full jitter."""
        delay = BACKOFF_FIRST_S
        while True:
            try:
                await asyncio.to_thread(write)
                self._succeeded()
                return
            except StoreError as error:
                self._failed(what, error)
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(BACKOFF_MAX_S, delay * 2)

    def _succeeded(self) -> None:
        if self._failing:
            self._failing = False
            logger.info(
                "the store answers again; catching up (%s failures)", self.status["failures"]
            )

    def _failed(self, what: str, error: StoreError) -> None:
        """Count and report a failed write: in the log on the first failure and every tenth."""
        self._failing = True
        failures = int(self.status["failures"]) + 1
        self.status |= {
            "failures": failures,
            "last_error": str(error)[:300],
            "last_error_at_ms": _now_ms(),
        }
        if failures == 1 or failures % 10 == 0:
            logger.warning(
                "store: %s failed (%s); retrying with backoff (%d failures)", what, error, failures
            )

    async def _report(self) -> None:
        """The keeper's state in Redis, every second, for pods and `place snapshot status`."""
        while True:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.hset(
                    self.keys.store_status,
                    mapping={**self.status, "store": self.store.url, "updated_at_ms": _now_ms()},
                )
            await asyncio.sleep(1)


def _now_ms() -> int:
    return int(time.time() * 1000)
