"""Connecting to Redis, with a one-line error when it does not answer."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from place.errors import RedisUnavailable, SettingsError

MAX_CONNECTIONS = 64
POOL_WAIT_S = 20


def make_redis(url: str) -> Redis:
    """A client for `url`; raises `SettingsError` for a URL Redis cannot parse.

    The pool waits for a free connection instead of failing: a storm of sign-ins must queue,
    not be answered `unavailable` (redis-py's default pool raises at 100 connections).
    """
    try:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_S, socket_connect_timeout=5
        )
    except ValueError as error:
        raise SettingsError(f"PLACE_REDIS_URL is not a Redis URL ({error}): {url!r}") from None
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections


async def connect_redis(url: str) -> Redis:
    """A client that has answered PING; raises `RedisUnavailable` otherwise."""
    redis = make_redis(url)
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
