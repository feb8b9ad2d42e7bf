"""Running a pod under uvicorn, and stopping it gracefully.

On SIGTERM (or Ctrl-C): `/readyz` turns 503 and every pending placement is answered; then uvicorn
stops accepting, closes every websocket with 1012 (service restart) so players reconnect to
another pod, waits a bounded time for the rest, and the process exits 0. A second signal forces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from place.api.addresses import parse_networks
from place.api.app import create_app
from place.api.auth import FirebaseAuth, make_authenticator
from place.api.pod import Pod
from place.redis_client import connect_redis
from place.settings import Settings
from place.status import MAX_CLIENT_MESSAGE_BYTES

logger = logging.getLogger("place.api")

GRACEFUL_SHUTDOWN_S = 10
HTTP_HEADROOM = 1000  # HTTP connections a pod full of websockets still takes


class PodServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, pod: Pod) -> None:
        super().__init__(config)
        self.pod = pod
        self._draining: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        if self._draining is not None:
            self.force_exit = True
            return
        logger.info("shutting down: not ready, answering pending placements, closing with 1012")
        self._draining = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        await self.pod.drain()
        self.should_exit = True


def uvicorn_config(app: object, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=MAX_CLIENT_MESSAGE_BYTES,
        ws_per_message_deflate=False,  # snapshots are zlib already; deflate doubles memory
        # a ping every PLACE_PING_TIMEOUT_S; no pong within as long again: closed (1011)
        ws_ping_interval=settings.ping_timeout_s,
        ws_ping_timeout=settings.ping_timeout_s,
        # plain HTTP gets 503 beyond this (websocket upgrades bypass it: the door counts them
        # against PLACE_LIMIT_CONCURRENCY), so probes and /metrics still answer on a full pod
        limit_concurrency=settings.limit_concurrency + HTTP_HEADROOM,
        # X-Forwarded-For is believed from PLACE_TRUSTED_PROXIES only (place.api.addresses);
        # uvicorn's own handling would believe any peer on 127.0.0.1
        proxy_headers=False,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


async def make_pod(settings: Settings, default_auth: str) -> Pod:
    authenticator = make_authenticator(settings, default_auth)  # bad settings: before Redis
    parse_networks(settings.trusted_proxies)
    redis = await connect_redis(settings.redis_url)
    if isinstance(authenticator, FirebaseAuth):
        authenticator.cache.share(redis)  # a token verified by one pod is known to all
    return Pod(settings, redis, authenticator)


async def run_api(settings: Settings, default_auth: str = "firebase") -> None:
    """`place api`: serve until SIGTERM or Ctrl-C."""
    pod = await make_pod(settings, default_auth)
    server = PodServer(uvicorn_config(create_app(pod), settings), pod)
    logger.info("pod listening on http://%s:%d", settings.host, settings.port)
    try:
        await server.serve()
    finally:
        await pod.redis.aclose()
