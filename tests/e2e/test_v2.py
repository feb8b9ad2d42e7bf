"""`/ws?v=2` against real processes: compact deltas (0x03) and checksums (`sum`) for the players
that ask for them, today's frames byte for byte for the others, the same canvas for both."""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis as redis_sync
from playwright.sync_api import Browser, Page, WebSocket

from place import protocol
from place.keys import Keys
from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.e2e.conftest import Site, _make_site, wait_live


async def _place_many(writer: TestPlayer, count: int, width: int, height: int) -> np.ndarray:
    """Place `count` pixels, some twice in one tick, and return the canvas they make."""
    rng = random.Random(12)
    assert writer.canvas is not None
    expected = writer.canvas.copy()
    for i in range(count):
        # a few pixels again and again (the last placement in a tick wins), the rest anywhere
        x, y = (i % 3, 0) if i % 5 == 0 else (rng.randrange(width), rng.randrange(height))
        c = rng.randrange(32)
        answer = await writer.place(x, y, c, place_id=i)
        assert answer["t"] == "placed", answer
        expected[y * width + x] = c
    return expected


async def test_old_and_new_clients_on_one_pod_see_identical_canvases(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_RESYNC_S="1", PLACE_MSG_RATE="0")
    old = await TestPlayer.join(pod.ws_url)
    new = await TestPlayer.join(pod.ws_url, v2=True)
    writer = await TestPlayer.join(pod.ws_url)
    await writer.sign_in("writer")

    expected = await _place_many(writer, 300, old.width, old.height)
    for player in (old, new):
        await player.wait_for(lambda p=player: np.array_equal(p.canvas, expected), timeout=10)
    assert np.array_equal(old.canvas, new.canvas)
    assert old.seq == new.seq

    # each got its own format only: the old one today's snapshots and 0x02 deltas, a snapshot
    # every second; the new one 0x03 deltas and one snapshot (on connecting), then checksums
    await new.wait_for(lambda: len(new.sums) >= 2, timeout=5)
    assert set(old.kinds) == {protocol.SNAPSHOT, protocol.DELTA}
    assert len(old.snapshots) >= 2 and not old.sums
    assert set(new.kinds) == {protocol.SNAPSHOT, protocol.COMPACT_DELTA}
    assert new.snapshots == new.snapshots[:1] and all(matched for _, matched in new.sums)
    assert sorted(set(old.deltas)) == sorted(set(new.deltas))
    for player in (old, new, writer):
        await player.close()


async def test_the_old_format_is_unchanged_byte_for_byte(cluster: Cluster) -> None:
    """A plain /ws client gets the ticker's own 0x02 frame, exactly as the deltas Redis keeps."""
    cluster.ticker()
    pod = cluster.pod()
    old = await TestPlayer.join(pod.ws_url)
    writer = await TestPlayer.join(pod.ws_url)
    await writer.sign_in("writer")
    frames: list[bytes] = []
    reader = old._reader
    reader.cancel()  # read the raw frames ourselves from here on
    assert (await writer.place(3, 4, 5))["t"] == "placed"
    async with asyncio.timeout(5):
        while not frames:
            frame = await old.connection.recv()
            if isinstance(frame, bytes) and frame[0] == protocol.DELTA:
                frames.append(frame)
    seq = protocol.frame_seq(frames[0])
    stored = redis_sync.Redis.from_url(cluster.redis_url).xrange(
        Keys().deltas, min=f"{seq}-1", max=f"{seq}-1"
    )
    assert frames[0] == stored[0][1][b"frame"]
    assert frames[0] == protocol.encode_delta(seq, np.array([4 * 64 + 3]), np.array([5]))
    await old.close()
    await writer.close()


async def test_a_v2_client_whose_canvas_differs_asks_and_gets_it_back(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_RESYNC_S="1")
    player = await TestPlayer.join(pod.ws_url, v2=True)
    writer = await TestPlayer.join(pod.ws_url)
    await writer.sign_in("writer")
    assert (await writer.place(1, 1, 9))["t"] == "placed"
    await player.wait_for(lambda: player.pixel(1, 1) == 9)
    truth = player.canvas.copy()

    sums_before = len(player.sums)
    player.canvas[5] ^= 1  # a pixel gone wrong (a lost write, a bug): only the checksum knows
    # the canvas it asked for: a snapshot, and the deltas after it if the pod has a newer seq
    await player.wait_for(
        lambda: len(player.snapshots) == 2 and np.array_equal(player.canvas, truth), timeout=5
    )
    assert [matched for _, matched in player.sums[sums_before:]] == [False]
    assert zlib.crc32(player.canvas) == zlib.crc32(truth)
    await player.close()
    await writer.close()


async def test_players_joining_while_the_canvas_changes_get_it_whole(cluster: Cluster) -> None:
    """Players that join while the canvas changes get the pod's latest encoded snapshot and the
    deltas after it, in their own format, and end up with the same canvas as everyone."""
    cluster.ticker()
    pod = cluster.pod(PLACE_MSG_RATE="0")
    writer = await TestPlayer.join(pod.ws_url)
    await writer.sign_in("writer")
    joined: list[TestPlayer] = []
    for i in range(12):
        for j in range(10):
            assert (await writer.place((i * 10 + j) % 64, i, j % 32, place_id=j))["t"] == "placed"
        joined.append(await TestPlayer.join(pod.ws_url, v2=i % 2 == 1))
    await writer.wait_for(lambda: writer.pixel(55, 11) == 9)  # the last placement
    for player in joined:
        await player.wait_for(lambda p=player: np.array_equal(p.canvas, writer.canvas))
        await player.close()
    await writer.close()


# --- the page --------------------------------------------------------------------------------


@pytest.fixture
def resync_site(tmp_path: Path) -> Iterator[Site]:
    """A game whose pods send the periodic resync every second (a snapshot or a checksum)."""
    yield from _make_site(
        tmp_path / "logs",
        PLACE_COOLDOWN_S="0",
        PLACE_WIDTH="64",
        PLACE_HEIGHT="48",
        PLACE_RESYNC_S="1",
        PLACE_MSG_RATE="0",
    )


def test_the_page_asks_for_v2_and_keeps_its_canvas_by_checksum(
    resync_site: Site, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    sockets: list[WebSocket] = []
    received: list[int | str] = []  # first byte of each binary frame, `t` of each text frame
    sent: list[str] = []

    def watch(socket: WebSocket) -> None:
        sockets.append(socket)
        socket.on("framereceived", lambda p: received.append(_kind(p)))
        socket.on("framesent", lambda p: sent.append(p if isinstance(p, str) else "binary"))

    page.on("websocket", watch)
    page.goto(resync_site.url)
    wait_live(page)
    assert sockets[0].url.endswith("/ws?v=2")

    async def place_and_compare() -> int:
        player = await TestPlayer.join(resync_site.pod.ws_url)  # an old-format client
        await player.sign_in("old-timer")
        for i in range(40):
            assert (await player.place(i % 64, i % 48, i % 32, place_id=i))["t"] == "placed"
        await player.wait_for(lambda: player.pixel(39, 39) == 7)
        crc = zlib.crc32(player.canvas)
        await player.close()
        return crc

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's loop
        crc = thread.submit(asyncio.run, place_and_compare()).result(timeout=30)
    page.wait_for_function(f"window.__place.client.state.checksum() === {crc}", timeout=5000)
    page.wait_for_function("window.__place.client.state.seq > 1")
    assert protocol.COMPACT_DELTA in received and protocol.DELTA not in received
    assert received.count(protocol.SNAPSHOT) == 1  # on connecting; then checksums
    assert _wait(lambda: "sum" in received, page)

    # a pixel gone wrong in the page: the next checksum finds it and the page asks for the canvas
    page.evaluate("() => { window.__place.client.state.indices[7] ^= 1; }")
    assert _wait(lambda: any('"resync"' in s for s in sent), page)
    page.wait_for_function(f"window.__place.client.state.checksum() === {crc}", timeout=5000)
    assert received.count(protocol.SNAPSHOT) == 2
    context.close()


def _kind(payload: str | bytes) -> int | str:
    if isinstance(payload, str):
        return orjson.loads(payload).get("t", "?")
    return payload[0]


def _wait(condition: Callable[[], bool], page: Page, timeout_s: float = 5) -> bool:
    """Let the page run (Playwright delivers its events meanwhile) until `condition` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(50)
    return True
