"""The Starlette application of a pod: `/ws`, the HTTP endpoints of the contract, and the page."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from place.api.history import history_routes
from place.api.pod import Pod
from place.api.scrape import LOCAL_QUERY, scrape_all
from place.canvas import pixel_info
from place.config import LiveConfig
from place.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from place.snapshot.png import encode_png

_PLACEHOLDER_PAGE = """<!doctype html><meta charset="utf-8"><title>our/place</title>
<h1>our/place</h1><p>The server runs. The page is not built: run <code>make frontend</code>.
<p><a href="/api/canvas.png">The canvas as PNG</a> · <a href="/api/stats">stats</a></p>
"""


class PodApp:
    """The outermost ASGI app: `/ws` goes straight to the pod, everything else to Starlette.

    A websocket stays open for hours, and every coroutine frame on its stack stays with it: going
    around Starlette's router and middleware saves memory per player (docs/performance.md). It
    also hands the pod uvicorn's own `send`, whose protocol object the hub writes to directly.
    """

    def __init__(self, pod: Pod, http: ASGIApp) -> None:
        self.pod = pod
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await self.pod.serve(scope, receive, send)
        else:
            await self.http(scope, receive, send)


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


def _unavailable(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=503)


def create_app(pod: Pod) -> ASGIApp:
    png = _CanvasPng()

    async def config(request: Request) -> Response:
        if pod.mirror.config is None:
            return _unavailable("no canvas yet")
        return JSONResponse(pod.mirror.config.public() | {"auth": pod.authenticator.public()})

    async def canvas_png(request: Request) -> Response:
        mirror = pod.mirror
        if mirror.config is None or mirror.canvas is None:
            return _unavailable("no canvas yet")
        body = await png.encoded(mirror.seq, mirror.config, mirror.canvas)
        return Response(body, media_type="image/png", headers={"Cache-Control": "no-cache"})

    async def pixel(request: Request) -> Response:
        config = pod.mirror.config
        if config is None:
            return _unavailable("no canvas yet")
        values = []
        for name in ("x", "y"):
            raw = request.query_params.get(name)
            if raw is None:
                return _bad_request(f"missing query parameter {name}")
            try:
                values.append(int(raw))
            except ValueError:
                return _bad_request(f"{name} must be a whole number, got {raw!r}")
        x, y = values
        if not (0 <= x < config.width and 0 <= y < config.height):
            return _bad_request(f"({x}, {y}) is outside the {config.width}x{config.height} canvas")
        try:
            return JSONResponse(await pixel_info(pod.redis, pod.keys, x, y, config.width))
        except (RedisError, OSError):
            return _unavailable("Redis does not answer")

    async def stats(request: Request) -> Response:
        return JSONResponse(pod.stats.latest)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        ready, reason = pod.ready()
        return JSONResponse({"ready": ready, "reason": reason}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        own = pod.metrics.render()
        if pod.siblings and request.url.query != LOCAL_QUERY:  # every worker of the pod
            own = await scrape_all(own, pod.worker, pod.siblings)
        return Response(own, media_type=METRICS_CONTENT_TYPE)

    routes = [
        Route("/api/config", config),
        Route("/api/canvas.png", canvas_png),
        Route("/api/pixel", pixel),
        Route("/api/stats", stats),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *history_routes(pod.settings),
        *_page_routes(pod.settings.static_dir),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pod.start()
        try:
            yield
        finally:
            await pod.stop()

    # gzip: the page's scripts and the JSON answers shrink to a third; the websocket bypasses it
    middleware = [Middleware(GZipMiddleware, minimum_size=1024)]
    return PodApp(pod, Starlette(routes=routes, middleware=middleware, lifespan=lifespan))


class _CanvasPng:
    """`GET /api/canvas.png`, encoded once per canvas (`seq` and config version) in a worker
    thread, however many ask at once: zlib over a 4096x4096 canvas takes over a second, which on
    the event loop would stall every player of the pod."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._body = b""
        self._encoding: tuple[tuple[int, int], asyncio.Future[bytes]] | None = None

    async def encoded(self, seq: int, config: LiveConfig, canvas: np.ndarray) -> bytes:
        key = (seq, config.version)
        if self._key == key:
            return self._body
        if self._encoding is None or self._encoding[0] != key:
            pixels = canvas.copy()  # the mirror changes its canvas in place meanwhile
            future = asyncio.ensure_future(
                asyncio.to_thread(encode_png, pixels, config.width, config.height, config.palette)
            )
            future.add_done_callback(functools.partial(self._done, key))
            self._encoding = (key, future)
        return await asyncio.shield(self._encoding[1])

    def _done(self, key: tuple[int, int], future: asyncio.Future[bytes]) -> None:
        if self._encoding is not None and self._encoding[1] is future:
            self._encoding = None
        newer = self._key is None or key >= self._key
        if newer and not future.cancelled() and future.exception() is None:
            self._key, self._body = key, future.result()


def _page_routes(static_dir: Path) -> list[Route | Mount]:
    """The built players' page at `/` and `/embed`, the event's stats at `/stats`, or a
    placeholder when the page is not built."""
    index, embed = static_dir / "index.html", static_dir / "embed.html"
    stats = static_dir / "stats.html"
    if not index.exists():

        async def placeholder(request: Request) -> Response:
            return HTMLResponse(_PLACEHOLDER_PAGE)

        return [Route("/", placeholder), Route("/embed", placeholder), Route("/stats", placeholder)]

    async def page(request: Request) -> Response:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def embed_page(request: Request) -> Response:
        return FileResponse(
            embed if embed.exists() else index, headers={"Cache-Control": "no-cache"}
        )

    async def stats_page(request: Request) -> Response:
        if not stats.exists():  # a build from before the stats page
            return HTMLResponse(_PLACEHOLDER_PAGE)
        return FileResponse(stats, headers={"Cache-Control": "no-cache"})

    return [
        Route("/", page),
        Route("/embed", embed_page),
        Route("/stats", stats_page),
        Mount("/assets", _ImmutableFiles(directory=static_dir / "assets"), name="assets"),
        Mount("/", StaticFiles(directory=static_dir), name="static"),
    ]


class _ImmutableFiles(StaticFiles):
    """Vite names every built asset after its content hash: it may be cached for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
