"""The Starlette application of a pod: `/ws`, the HTTP endpoints of the contract, and the page."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from place.api.pod import Pod
from place.canvas import pixel_info
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
    png_cache: dict[str, object] = {}

    async def config(request: Request) -> Response:
        if pod.mirror.config is None:
            return _unavailable("no canvas yet")
        return JSONResponse(pod.mirror.config.public() | {"auth": pod.authenticator.public()})

    async def canvas_png(request: Request) -> Response:
        mirror = pod.mirror
        if mirror.config is None or mirror.canvas is None:
            return _unavailable("no canvas yet")
        key = (mirror.seq, mirror.config.version)
        if png_cache.get("key") != key:
            c = mirror.config
            png_cache["body"] = encode_png(mirror.canvas, c.width, c.height, c.palette)
            png_cache["key"] = key
        return Response(
            png_cache["body"], media_type="image/png", headers={"Cache-Control": "no-cache"}
        )

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
        hub, door = pod.hub, pod.door
        gauges = {
            "place_connections": (len(hub), "Websocket connections open on this pod."),
            "place_seq": (pod.mirror.seq, "The seq of this pod's canvas."),
            "place_frames_delivered": (hub.frames_delivered, "Delta frames written to players."),
            "place_frames_dropped": (hub.frames_dropped, "Deltas skipped for slow players."),
            "place_redis_placement_calls": (pod.placer.calls, "Placement batches sent to Redis."),
            **_store_gauges(pod.stats.store),
            "place_refused_origin": (door.refused["origin"], "Handshakes refused: origin."),
            "place_refused_full": (door.refused["full"], "Handshakes refused: pod full (503)."),
            "place_refused_address": (
                door.refused["address"],
                "Handshakes refused: too many connections from one address.",
            ),
            "place_refused_sign_in": (
                door.refused["sign_in"],
                "Sign-ins refused: too many from one address in a minute.",
            ),
        }
        return Response(pod.metrics.render(gauges), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/api/config", config),
        Route("/api/canvas.png", canvas_png),
        Route("/api/pixel", pixel),
        Route("/api/stats", stats),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
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


def _store_gauges(status: dict[str, str]) -> dict[str, tuple[float, str]]:
    """The active ticker's object-store state, as it reported it to Redis."""
    now_ms = time.time() * 1000
    backup_at = float(status.get("last_backup_at_ms", 0))
    return {
        "place_store_frames_pending": (
            float(status.get("frames_pending", 0)),
            "Timelapse frames waiting for the store.",
        ),
        "place_store_frames_dropped": (
            float(status.get("frames_dropped", 0)),
            "Timelapse frames dropped while the store was down (this leader).",
        ),
        "place_store_backup_pending": (
            float(status.get("backup_pending", 0)),
            "1 while a backup waits for the store.",
        ),
        "place_store_archive_lag_seconds": (
            float(status.get("archive_lag_ms", 0)) / 1000,
            "Age of the oldest placement not yet archived.",
        ),
        "place_store_failures": (
            float(status.get("failures", 0)),
            "Failed store writes (retried) since this ticker became active.",
        ),
        "place_store_last_backup_age_seconds": (
            (now_ms - backup_at) / 1000 if backup_at else -1.0,
            "Seconds since the last backup (-1: none yet by this ticker).",
        ),
    }


def _page_routes(static_dir: Path) -> list[Route | Mount]:
    """The built players' page at `/` and `/embed`, or a placeholder when it is not built."""
    index, embed = static_dir / "index.html", static_dir / "embed.html"
    if not index.exists():

        async def placeholder(request: Request) -> Response:
            return HTMLResponse(_PLACEHOLDER_PAGE)

        return [Route("/", placeholder), Route("/embed", placeholder)]

    async def page(request: Request) -> Response:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    async def embed_page(request: Request) -> Response:
        return FileResponse(
            embed if embed.exists() else index, headers={"Cache-Control": "no-cache"}
        )

    return [
        Route("/", page),
        Route("/embed", embed_page),
        Mount("/assets", _ImmutableFiles(directory=static_dir / "assets"), name="assets"),
        Mount("/", StaticFiles(directory=static_dir), name="static"),
    ]


class _ImmutableFiles(StaticFiles):
    """Vite names every built asset after its content hash: it may be cached for a year."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
