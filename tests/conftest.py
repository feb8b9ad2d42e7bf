"""Shared fixtures: one real redis-server for the whole session, emptied before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.e2e.cluster import Cluster
from tests.servers import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def cluster(redis_server: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    """Real `place` processes (start them with `cluster.ticker()`, `cluster.pod()`), all
    stopped after the test; Redis is emptied first."""
    cluster = Cluster(redis_server, tmp_path / "logs")
    yield cluster
    cluster.stop()
