"""Connecting to Redis: bounded waits, a one-line error when it does not answer, and backoff.

Every command has a bound. A stalled Redis (a SIGSTOP, a hung host, a half-open TCP connection)
makes a command fail with `TimeoutError` after `socket_timeout` instead of waiting for ever, and
a new connection gives up after `CONNECT_TIMEOUT_S`. A connection idle for `HEALTH_CHECK_S` is
pinged before use (redis-py's `health_check_interval`), the pub/sub one included.

Commands are not retried by the client: a placement batch whose answer never came may have been
stored, and running it again would answer `cooldown` for a stored placement. Idempotent reads
retry with `IDEMPOTENT` (redis-py's `Retry`, exponential backoff with jitter); long-lived loops
wait between attempts with `Backoff`, the same backoff, reset after a success.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from place.errors import RedisUnavailable, SettingsError

MAX_CONNECTIONS = 64
POOL_WAIT_S = 20
CONNECT_TIMEOUT_S = 1.0
HEALTH_CHECK_S = 1.0
# how long one command may wait for its answer, by role: a pod answers players and must stay
# within the contract's times; the ticker reads a whole canvas; an ops command may resize one
POD_TIMEOUT_S = 2.0
TICKER_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 60.0

# idempotent reads (a snapshot, recent deltas, a pixel): two more tries after a lost connection
# (a pooled connection that died with a Redis restart), up to 100 then 200 ms apart. Not after a
# timeout: Redis is stalled then, and another try would only double the wait.
IDEMPOTENT = Retry(
    ExponentialWithJitterBackoff(cap=0.5, base=0.05),
    retries=2,
    supported_errors=(RedisConnectionError, ConnectionError),  # type: ignore[arg-type]
)

T = TypeVar("T")


async def read(call: Callable[[], Awaitable[T]]) -> T:
    """`await call()`, retried by `IDEMPOTENT`; for reads only (a write might run twice)."""
    return await IDEMPOTENT.call_with_retry(call, _failed)


async def _failed(error: Exception) -> None:
    """The failure before a retry: the backoff waits; the next try takes a new connection."""


class Backoff:
    """Waits between attempts of a long-lived loop after a failure: redis-py's exponential
    backoff with jitter (`base` doubling, at most `cap`), from the start again after `reset()`."""

    def __init__(self, base: float = 0.1, cap: float = 5.0) -> None:
        self._backoff = ExponentialWithJitterBackoff(cap=cap, base=base)
        self.failures = 0

    def delay(self) -> float:
        self.failures += 1
        return self._backoff.compute(self.failures)

    async def wait(self) -> None:
        await asyncio.sleep(self.delay())

    def reset(self) -> None:
        self.failures = 0


def make_redis(url: str, socket_timeout: float = COMMAND_TIMEOUT_S) -> Redis:
    """A client for `url`; raises `SettingsError` for a URL Redis cannot parse.

    The pool waits for a free connection instead of failing: a storm of sign-ins must queue,
    not be answered `unavailable` (redis-py's default pool raises at 100 connections).
    """
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=socket_timeout,
            health_check_interval=HEALTH_CHECK_S,
        )
    except ValueError as error:
        raise SettingsError(f"PLACE_REDIS_URL is not a Redis URL ({error}): {url!r}") from None
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


async def connect_redis(url: str, socket_timeout: float = COMMAND_TIMEOUT_S) -> Redis:
    """A client that has answered PING; raises `RedisUnavailable` otherwise."""
    redis = make_redis(url, socket_timeout)
    try:
        await redis.ping()
    except (RedisError, OSError) as error:
        await redis.aclose()
        raise RedisUnavailable(f"Redis at {_safe(url)} does not answer: {error}") from None
    return redis


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
