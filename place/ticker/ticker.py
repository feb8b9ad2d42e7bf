"""The active ticker's work: every tick, turn new placements into a delta and publish it.

Each tick reads, in one atomic step (`ticker_read.lua`), the placements since the saved stream
position and, when a snapshot is due, the canvas; it then publishes and saves the new position and
`seq` in one fenced step (`ticker_commit.lua`). Position and `seq` live in Redis, so a new leader
continues the sequence with no gap, no duplicate and no lost placement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from place import protocol
from place.config import LiveConfig
from place.keys import Keys
from place.redis_client import Backoff
from place.scripts import Scripts
from place.settings import Settings
from place.snapshot.restore import apply_restore, restorable
from place.store import Store, StoreUnavailable
from place.ticker.coalesce import coalesce
from place.ticker.keeper import StoreKeeper
from place.ticker.lock import LOCK_TTL_MS, POLL_EVERY_S, RENEW_EVERY_S, Deposed, Lock
from place.ticker.schedule import beat

logger = logging.getLogger("place.ticker")

MAX_ENTRIES_PER_TICK = 2_000  # stream entries (a pod's batch of up to 1,000 placements each)
# a tick that changes more pixels than this (a big wipe, a long backlog) is published as a snapshot
# notice: the pods fetch the snapshot from Redis, instead of a delta of 5 bytes a pixel written to
# every socket (and, past 32 MB, Redis dropping every pod's subscription)
BIG_DELTA_PIXELS = 100_000


class Ticker:
    def __init__(self, settings: Settings, redis: Redis, store: Store | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self.store = store
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis)
        self.lock = Lock(redis, self.scripts, self.keys.ticker_lock)
        self.tick_s = settings.tick_ms / 1000
        self.max_deltas = int(2 * settings.resync_s / self.tick_s) + 100
        self._snapshot_due = 0.0
        self.last_tick_us = 0
        self.failures = 0  # unexpected errors survived (logged with their traceback)
        # the snapshot's zlib runs here, not on the loop nor behind the store's uploads (which
        # share the default executor and may wait out a store outage)
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot")

    async def run(self) -> None:
        """Stand by until the lock is ours, lead until it is lost, forever."""
        logger.info("ticker %s standing by", self.lock.token[:8])
        backoff = Backoff(POLL_EVERY_S / 2, 5.0)  # after a failure: exponential, with jitter
        while True:
            try:
                await beat(self)  # a standby's heartbeat, for `place admin status`
                if not await self.lock.acquire():
                    backoff.reset()
                    await asyncio.sleep(POLL_EVERY_S)
                    continue
                logger.info("ticker %s is active", self.lock.token[:8])
                await self._lead()
            except Deposed:
                logger.warning("ticker %s lost its lock; standing by", self.lock.token[:8])
            except (RedisError, OSError) as error:
                # the position and seq are in Redis: whoever leads next continues from there
                logger.warning("ticker %s: Redis failed (%s); retrying", self.lock.token[:8], error)
                await backoff.wait()
            except Exception:
                # a bug, or data nobody expected: never a silent death; stand by and try again
                logger.exception("ticker %s failed; standing by", self.lock.token[:8])
                self.failures += 1
                with contextlib.suppress(RedisError, OSError):
                    await self.lock.release()
                await backoff.wait()

    async def close(self) -> None:
        """Give the lock up so that a standby takes over at once, not after the lock expires."""
        self._encoder.shutdown(wait=False)
        await self.lock.release()

    async def _lead(self) -> None:
        renewing = asyncio.create_task(self._renew())
        keeping: asyncio.Task[None] | None = None
        try:
            await self.ensure_canvas(renewing)
            if self.store is not None:
                keeper = StoreKeeper(
                    self.settings, self.redis, self.scripts, self.store, self.lock.token
                )
                keeping = asyncio.create_task(keeper.run(), name="store")
            self._snapshot_due = 0.0  # a new leader writes a snapshot on its first tick
            loop = asyncio.get_running_loop()
            next_tick = loop.time()
            while not renewing.done() and not (keeping and keeping.done()):
                await beat(self)  # heartbeat; applies `place admin open/close --at` when due
                await self.tick()
                next_tick += self.tick_s
                delay = next_tick - loop.time()
                if delay < 0:  # behind: skip ahead rather than tick in a burst
                    next_tick = loop.time()
                    delay = 0
                await asyncio.sleep(delay)
            if keeping is not None and keeping.done():
                keeping.result()  # Deposed, found while archiving
            renewing.result()
        finally:
            renewing.cancel()
            if keeping is not None:
                keeping.cancel()
                await asyncio.gather(keeping, return_exceptions=True)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            if not await self.lock.renew():
                raise Deposed

    async def ensure_canvas(self, renewing: asyncio.Task[None] | None = None) -> None:
        """Make sure Redis holds a canvas (only the active ticker does): restored from the store's
        latest backup and archive when Redis lost it, new from the settings when the store has
        nothing."""
        if await self.redis.exists(self.keys.config):
            return
        if self.store is not None and await self._restore(renewing):
            return
        config = LiveConfig.from_settings(self.settings)
        fields = [item for pair in config.to_hash().items() for item in pair]
        created = await self.scripts.canvas_create(
            keys=[self.keys.ticker_lock, self.keys.config, self.keys.canvas, self.keys.who],
            args=[self.lock.token, config.width * config.height, *fields],
        )
        if created == -1:
            raise Deposed
        if created == 1:
            logger.info("created a %dx%d canvas", config.width, config.height)

    async def _restore(self, renewing: asyncio.Task[None] | None) -> bool:
        """Restore from the store; False when it holds no backup. While the store does not
        answer, wait and retry: a blank canvas over a backup we cannot read would lose the event."""
        assert self.store is not None
        delay = 1.0
        while True:
            if renewing is not None and renewing.done():
                raise Deposed
            try:
                plan = await asyncio.to_thread(restorable, self.store)
                break
            except StoreUnavailable as error:
                logger.error(
                    "Redis has no canvas and the store does not answer (%s); not creating a"
                    " blank canvas over a backup; retrying in %.0f s",
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)
        if plan is None:
            return False
        elapsed_ticks = max(0, time.time() * 1000 - plan.backup.at_ms) / self.settings.tick_ms
        # seq rises by at most one a tick: this is above anything published since the backup
        seq = plan.backup.seq + 2 * int(elapsed_ticks) + 100
        version = await apply_restore(
            self.redis, self.scripts, self.keys, plan, token=self.lock.token, seq=seq
        )
        if version == -1:
            raise Deposed
        if version > 0:
            logger.warning(
                "Redis had no canvas: restored %s (seq %d) and %d archived placements after it;"
                " seq continues at %d",
                plan.backup_key,
                plan.backup.seq,
                plan.replayed,
                seq,
            )
        return True

    async def tick(self) -> None:
        """One tick: read, coalesce, publish, save the position; fenced by the lock."""
        started = time.perf_counter()
        snapshot_due = time.monotonic() >= self._snapshot_due
        read = await self.scripts.ticker_read(
            keys=[
                self.keys.ticker_lock,
                self.keys.ticker_state,
                self.keys.placements,
                self.keys.config,
                self.keys.canvas,
            ],
            args=[self.lock.token, MAX_ENTRIES_PER_TICK, "1" if snapshot_due else "0"],
        )
        if read[0] == b"deposed":
            raise Deposed
        seq, _pos, last_id, records, config_flat, canvas, snapshot_version = read
        config = LiveConfig.from_hash(dict(zip(config_flat[::2], config_flat[1::2], strict=True)))

        new_seq = seq
        delta = compact = b""
        snapshot = b""
        messages: list[bytes] = []
        config_changed = canvas is not None and snapshot_version != str(config.version).encode()
        if records and not config_changed:
            pixels, colors = coalesce(records, config.width, config.height)
            if pixels.size > BIG_DELTA_PIXELS:
                if canvas is None:  # read again, with the canvas, and publish a snapshot
                    self._snapshot_due = 0.0
                    return await self.tick()
                new_seq += 1  # folded into the snapshot, whose seq has no delta of its own
            elif pixels.size:
                new_seq += 1
                delta = protocol.encode_delta(new_seq, pixels, colors)
                # made once here for every pod and every /ws?v=2 player; pods forward it as is
                compact = protocol.encode_compact_delta(new_seq, pixels, colors)
        elif config_changed:
            # the placements of this tick are folded into the snapshot of the new configuration
            new_seq += 1
        if canvas is not None:
            # zlib in a thread of its own (it lets go of the GIL): the ticker's lock renewal and
            # its store jobs go on meanwhile (44 ms at 2000x2000, level 1: docs/performance.md)
            snapshot = await asyncio.get_running_loop().run_in_executor(
                self._encoder,
                protocol.encode_snapshot,
                new_seq,
                config.width,
                config.height,
                canvas,
            )
            self._snapshot_due = time.monotonic() + self.settings.resync_s

        # what the bus carries is the previous tick's whole duration, commit and publish included
        tick_us = self.last_tick_us
        if delta:
            messages.append(protocol.encode_bus_delta(delta, time.time(), tick_us, compact))
        if snapshot:
            messages.append(
                protocol.encode_notice(
                    "snapshot",
                    seq=new_seq,
                    config_version=config.version,
                    crc32=zlib.crc32(canvas),
                )
            )
        if not messages:
            messages.append(protocol.encode_notice("tick", seq=seq, tick_us=tick_us))

        committed = await self.scripts.ticker_commit(
            keys=[
                self.keys.ticker_lock,
                self.keys.ticker_state,
                self.keys.deltas,
                self.keys.snapshot,
                self.keys.placements,
            ],
            args=[
                self.lock.token,
                seq,
                new_seq,
                last_id,
                config.version,
                self.keys.channel,
                delta,
                self.max_deltas,
                snapshot,
                orjson.dumps(config.to_json()) if snapshot else b"",
                int(self.settings.archive_backlog_s * 1000),
                *messages,
            ],
        )
        if not committed:
            raise Deposed
        self.last_tick_us = int((time.perf_counter() - started) * 1e6)


async def run_ticker(settings: Settings) -> None:
    """`place ticker`: run until cancelled; give the lock up on the way out."""
    from place.redis_client import TICKER_TIMEOUT_S, connect_redis
    from place.store import open_store

    store = open_store(settings)
    # a store that does not answer at start is a setup mistake: say so now, not at the first backup
    await asyncio.to_thread(store.list, "backups/latest")
    redis = await connect_redis(settings.redis_url, TICKER_TIMEOUT_S)
    ticker = Ticker(settings, redis, store)
    try:
        await ticker.run()
    finally:
        with contextlib.suppress(RedisError, OSError):
            await asyncio.shield(ticker.close())
        await redis.aclose()


__all__ = ["LOCK_TTL_MS", "Deposed", "Ticker", "run_ticker"]
