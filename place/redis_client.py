"""Connecting to Redis, with a one-line error when it does not answer."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from place.errors import RedisUnavailable, SettingsError


def make_redis(url: str) -> Redis:
    """A client for `url`; raises `SettingsError` for a URL Redis cannot parse."""
    try:
        return Redis.from_url(url, health_check_interval=0, socket_connect_timeout=5)
    except ValueError as error:
        raise SettingsError(f"PLACE_REDIS_URL is not a Redis URL ({error}): {url!r}") from None


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
