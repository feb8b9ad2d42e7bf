"""Shared fixtures: one real redis-server for the whole session, emptied before each test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.e2e.cluster import Cluster
from tests.servers import RedisServer, S3Server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket on the session's S3 server; boto3 in this process is pointed at it."""
    bucket = f"place-{uuid.uuid4().hex[:12]}"
    s3_server.create_bucket(bucket)
    for name, value in S3Server.ENV.items():
        monkeypatch.setenv(name, value)
    return bucket


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
