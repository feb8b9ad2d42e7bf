"""The history viewer's endpoints on real pods: timelapse frames the real ticker wrote to the
store, listed and served with a year's cache, nothing read from Redis."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import httpx
import redis as redis_sync
from PIL import Image

from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.servers import RedisServer, S3Server, free_port


async def frames_after(http: httpx.AsyncClient, after_ms: int, timeout: float = 10) -> list[int]:
    """The frame list once it holds a frame taken after `after_ms`."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await http.get("/api/history")
        assert answer.status_code == 200, answer.text
        frames = answer.json()["frames"]
        if frames and frames[-1] > after_ms:
            return frames
        assert time.monotonic() < deadline, f"no frame after {after_ms}: {frames}"
        await asyncio.sleep(0.1)


def pixel_of(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((x, y))  # type: ignore[return-value]


async def test_frames_are_listed_and_served_from_the_store(tmp_path: Path) -> None:
    redis_server = RedisServer()  # its own: the test stops it
    cluster = Cluster(redis_server, tmp_path / "logs", PLACE_TIMELAPSE_S="1")
    try:
        cluster.ticker()
        pod = cluster.pod()
        ann = await TestPlayer.join(pod.ws_url)
        await ann.sign_in("ann")
        async with httpx.AsyncClient(base_url=pod.url) as http:
            before = await frames_after(http, 0)
            assert before == sorted(before)
            assert (await ann.place(3, 4, 29))["t"] == "placed"  # red
            placed_at = int(time.time() * 1000)
            frames = await frames_after(http, placed_at + 100)

            first = await http.get(f"/api/history/{frames[0]}.png")
            assert first.status_code == 200
            assert first.headers["content-type"] == "image/png"
            assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert pixel_of(first.content, 3, 4) == (255, 255, 255)
            last = await http.get(f"/api/history/{frames[-1]}.png")
            assert pixel_of(last.content, 3, 4) == (255, 69, 0)
            assert Image.open(io.BytesIO(last.content)).size == (64, 48)

            # a span, and at most N frames evenly spread (first and last kept)
            span = await http.get("/api/history", params={"from": frames[1], "to": frames[-2]})
            assert span.json()["frames"] == frames[1:-1]
            thinned = (await http.get("/api/history", params={"max": 2})).json()["frames"]
            assert thinned[0] == frames[0] and thinned[-1] >= frames[-1] and len(thinned) == 2

            # nothing from Redis: with Redis gone the frames are still served
            redis_sync.Redis.from_url(cluster.redis_url).shutdown(nosave=True)
            again = await http.get(f"/api/history/{frames[-1]}.png")
            assert again.status_code == 200 and again.content == last.content

            for path, params in (
                ("/api/history", {"max": "many"}),
                ("/api/history", {"max": "1"}),
                ("/api/history", {"from": "-5"}),
                ("/api/history", {"from": "20", "to": "10"}),
                ("/api/history/yesterday.png", {}),
                (f"/api/history/{frames[0]}.jpg", {}),
            ):
                answer = await http.get(path, params=params)
                assert answer.status_code == 400, (path, params, answer.text)
                assert answer.json()["error"]
            missing = await http.get(f"/api/history/{frames[-1] + 1}.png")
            assert missing.status_code == 404 and missing.json()["error"]
        await ann.close()
    finally:
        cluster.stop()
        redis_server.stop()


async def test_an_unreachable_store_answers_503(cluster: Cluster) -> None:
    cluster.ticker()
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    pod = cluster.pod(
        PLACE_STORE_URL="s3://no-bucket/event", PLACE_S3_ENDPOINT_URL=nowhere, **S3Server.ENV
    )
    async with httpx.AsyncClient(base_url=pod.url, timeout=30) as http:
        for path in ("/api/history", "/api/history/1764601200000.png"):
            answer = await http.get(path)
            assert answer.status_code == 503, answer.text
            assert "store is unavailable" in answer.json()["error"]
