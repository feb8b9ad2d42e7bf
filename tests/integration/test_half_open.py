"""A half-open connection to Redis (the far end silently gone: no reset, no close, nothing comes
back): the pod's mirror notices that its channel went silent, resubscribes on a new connection,
and its canvas follows the ticker again by itself."""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis

from place.api.hub import Hub
from place.api.mirror import Mirror
from place.canvas import Placer
from place.keys import Keys
from place.metrics import Metrics
from place.redis_client import POD_TIMEOUT_S, make_redis
from place.scripts import Scripts
from tests.integration.helpers import leading_ticker, place, player
from tests.servers import RedisServer

KEYS = Keys()


class BlackholeProxy:
    """A TCP proxy to Redis whose open connections can be cut off silently: bytes stop flowing
    both ways, yet neither end is closed. New connections go through as before."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.live: list[asyncio.Event] = []
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def blackhole(self) -> None:
        for flowing in self.live:
            flowing.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        flowing = asyncio.Event()
        flowing.set()
        self.live.append(flowing)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    if not flowing.is_set():
                        await asyncio.Event().wait()  # swallowed for ever
                    dst.write(data)
                    await dst.drain()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                end.close()
                with contextlib.suppress(OSError):
                    await end.wait_closed()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_the_mirror_resubscribes_when_its_channel_goes_half_open(
    redis: Redis, redis_server: RedisServer
) -> None:
    ticker = await leading_ticker(redis)
    await ticker.tick()
    ann = await player(redis, "ann")
    placer = Placer(Scripts(redis), KEYS)

    proxy = BlackholeProxy(redis_server.port)
    port = await proxy.start()
    pod_redis = make_redis(f"redis://127.0.0.1:{port}/0", POD_TIMEOUT_S)
    mirror = Mirror(pod_redis, KEYS, Hub(60), Metrics(), lambda connection: b"")
    following = asyncio.create_task(mirror.run())
    try:
        async with asyncio.timeout(5):
            while not mirror.loaded:
                await asyncio.sleep(0.01)
        assert (await place(placer, ann, 1, 1, 1))[0] is None
        await ticker.tick()
        async with asyncio.timeout(5):
            while mirror.seq < 2:
                await asyncio.sleep(0.01)

        proxy.blackhole()
        await asyncio.sleep(0.2)
        await redis.hset(KEYS.config, "cooldown_ms", 0)
        assert (await place(placer, ann, 5, 5, 2))[0] is None
        await ticker.tick()
        seq = int(await redis.hget(KEYS.ticker_state, "seq"))
        async with asyncio.timeout(10):  # the ticker goes on; the pod follows by itself
            while mirror.seq < seq:
                assert await ticker.lock.renew()
                await ticker.tick()
                await asyncio.sleep(0.2)
        assert mirror.canvas is not None and mirror.canvas[5 * 10 + 5] == 2
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await pod_redis.aclose()
        await proxy.close()
