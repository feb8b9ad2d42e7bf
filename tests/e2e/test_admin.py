"""Running the event with `place admin`, as real processes: two pods with players connected, two
tickers, the command line as an organiser types it. Every change reaches every player within a
tick, the canvas is what the command promised, and players go on placing."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import orjson
import redis as redis_sync
from playwright.sync_api import expect

from place.admin_palette import plan_remap
from place.keys import Keys
from place.settings import DEFAULT_PALETTE, parse_palette
from tests.client import TestPlayer
from tests.e2e.cluster import Cluster, place_command
from tests.e2e.conftest import Site

KEYS = Keys()
PALETTE = parse_palette(DEFAULT_PALETTE)
WITHIN_S = 1.0  # a tick is 100 ms here; fan-out and the test's own polling on top
ADMIN = {"PLACE_ADMIN_NAME": "ops-alice"}


def admin(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """`place admin ...` as the organiser types it, under their name."""
    return place_command("admin", *args, env={**cluster.env, **ADMIN})


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout.strip()


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1
    assert result.stderr.startswith("place admin: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def redis_ms(redis: redis_sync.Redis) -> int:
    seconds, micros = redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def iso_ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def moment(redis: redis_sync.Redis) -> str:
    """An ISO time after every placement stored so far and before any later one (Redis clock)."""
    now = redis_ms(redis)
    deadline = time.monotonic() + 5
    while redis_ms(redis) < now + 2:
        assert time.monotonic() < deadline
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (epoch + dt.timedelta(microseconds=(now + 1) * 1000 + 500)).isoformat()


async def latest_hello(player: TestPlayer, condition, timeout: float = WITHIN_S) -> dict:  # type: ignore[no-untyped-def]
    """The first hello from now on that meets `condition`."""
    async with asyncio.timeout(timeout):
        while True:
            hello = await player.expect("hello", timeout=timeout)
            if condition(hello):
                return hello


async def players_on_two_pods(cluster: Cluster) -> tuple[TestPlayer, TestPlayer, TestPlayer]:
    cluster.ticker()
    cluster.ticker()
    pod_a, pod_b = cluster.pod(PLACE_MSG_RATE="0"), cluster.pod(PLACE_MSG_RATE="0")
    ann, bob = await TestPlayer.join(pod_a.ws_url), await TestPlayer.join(pod_b.ws_url)
    eve = await TestPlayer.join(pod_b.ws_url)
    for player, name in ((ann, "ann"), (bob, "bob"), (eve, "eve")):
        await player.sign_in(name)
    return ann, bob, eve


async def test_each_command_reaches_every_player_on_two_pods(cluster: Cluster) -> None:
    ann, bob, eve = await players_on_two_pods(cluster)
    everyone = (ann, bob, eve)
    redis = redis_sync.Redis.from_url(cluster.redis_url)
    for i in range(10):
        assert (await ann.place(10 + i, 10, 1 + i, place_id=i))["t"] == "placed"
    await bob.wait_for(lambda: bob.pixel(19, 10) == 10)

    # resize from the centre: everyone gets the bigger canvas, the drawing moved by (3, 2)
    before = bob.canvas.reshape(48, 64).copy()
    said = ok(admin(cluster, "resize", "70", "52", "--anchor", "centre"))
    assert said.startswith(
        "resized the canvas from 64x48 to 70x52, existing pixels moved by (3, 2)"
    )
    started = time.monotonic()
    for player in everyone:
        await player.wait_for(lambda p=player: (p.width, p.height) == (70, 52), timeout=WITHIN_S)
    assert time.monotonic() - started < WITHIN_S
    expected = np.zeros((52, 70), np.uint8)
    expected[2:50, 3:67] = before
    for player in everyone:
        assert np.array_equal(player.canvas.reshape(52, 70), expected)
    assert (await bob.place(69, 51, 5, place_id="corner"))["t"] == "placed"
    await ann.wait_for(lambda: ann.pixel(69, 51) == 5, timeout=WITHIN_S)

    # the palette reversed: every pixel keeps its look on every player's screen
    looks = np.array(PALETTE)[ann.canvas]
    reversed_palette = tuple(reversed(PALETTE))
    said = ok(admin(cluster, "palette", ",".join(reversed_palette)))
    assert "every colour kept its look" in said
    for player in everyone:
        hello = await latest_hello(player, lambda h: h["palette"] == list(reversed_palette))
        shown = np.array(hello["palette"])
        await player.wait_for(
            lambda p=player, shown=shown: np.array_equal(shown[p.canvas], looks),
            timeout=WITHIN_S,
        )
    assert (await ann.place(0, 0, 0, place_id="white-is-last"))["t"] == "placed"
    await bob.wait_for(lambda: bob.pixel(0, 0) == 0, timeout=WITHIN_S)

    # cooldown, close and open: hello says so, placements are refused and accepted again
    ok(admin(cluster, "cooldown", "1"))
    await latest_hello(eve, lambda h: h["cooldown_ms"] == 1000)
    ok(admin(cluster, "cooldown", "0"))
    ok(admin(cluster, "close"))
    for player in everyone:
        await latest_hello(player, lambda h: h["open"] is False)
    assert (await eve.place(1, 1, 1, place_id="shut"))["code"] == "closed"
    ok(admin(cluster, "open"))
    await latest_hello(eve, lambda h: h["open"] is True)

    # wipe: a rectangle of one colour, as a delta
    ok(admin(cluster, "wipe", "0", "40", "6", "4", "--color", "3"))
    for player in everyone:
        await player.wait_for(
            lambda p=player: all(p.pixel(x, y) == 3 for x in range(6) for y in range(40, 44)),
            timeout=WITHIN_S,
        )

    # a griefer over ann's drawing, one pixel twice; bob paints over one of them afterwards
    since = moment(redis)
    row = [ann.pixel(13 + i, 12) for i in range(4)]
    for i in range(4):
        assert (await eve.place(13 + i, 12, 31, place_id=f"grief{i}"))["t"] == "placed"
    assert (await eve.place(14, 12, 30, place_id="again"))["t"] == "placed"
    assert (await bob.place(16, 12, 7, place_id="later"))["t"] == "placed"
    await ann.wait_for(lambda: ann.pixel(16, 12) == 7, timeout=WITHIN_S)
    dry = ok(admin(cluster, "rollback", "eve", "--since", since, "--dry-run"))
    assert dry.startswith("dry run: rolling eve back since ") and "would restore 3 pixels" in dry
    assert "within (13, 12)-(15, 12), 3x1" in dry
    snapshots = [len(p.snapshots) for p in everyone]
    said = ok(admin(cluster, "rollback", "eve", "--since", since))
    assert "restored 3 pixels" in said
    for player in everyone:
        await player.wait_for(
            lambda p=player: [p.pixel(13 + i, 12) for i in range(4)] == [*row[:3], 7],
            timeout=WITHIN_S,
        )
    assert [len(p.snapshots) for p in everyone] == snapshots  # an ordinary delta, no snapshot
    assert (await eve.place(20, 20, 2, place_id="after"))["t"] == "placed"

    # status: the config, both tickers, both pods with their players
    text = ok(admin(cluster, "status"))
    assert "canvas: 70x52, 32 colours, cooldown 0 s, OPEN" in text
    data = orjson.loads(ok(admin(cluster, "status", "--json")))
    assert data["tickers"]["active"] is not None and len(data["tickers"]["standbys"]) == 1
    assert sorted(p["connections"] for p in data["pods"]) == [1, 2]
    assert data["canvas"]["palette"] == list(reversed_palette)

    # the audit log: every change, against the admin who ran it
    lines = ok(admin(cluster, "log", "--since", since)).splitlines()
    assert [line.split("\t")[1:3] for line in lines] == [
        ["ops-alice", "rollback"],
        ["ops-alice", "rollback"],
    ]
    every = [line.split("\t")[2] for line in ok(admin(cluster, "log")).splitlines()]
    assert every == [
        "resize", "palette", "cooldown", "cooldown", "close", "open", "wipe",
        "rollback", "rollback",
    ]  # fmt: skip
    wipes = [
        fields
        for _, fields in redis.xrange(KEYS.placements)
        if len(fields[b"r"]) == 9 and fields[b"r"][4:8] == b"\x06\x00\x04\x00"
    ]
    assert all(fields[b"u"] == b"ops-alice" for fields in wipes)

    # mistakes: one line, nothing changed
    refused(admin(cluster, "rollback", "eve", "--since", "last tuesday"), "--since must be")
    refused(admin(cluster, "palette", "#ffffff", "--map", "#000000"), "--map must look like")
    refused(admin(cluster, "open", "--at", "2001-01-01T00:00:00"), "is not in the future")
    for seconds in ("1e309", "nan", "-1", "700000"):  # the fuzz suite found 1e309's traceback
        refused(admin(cluster, "cooldown", seconds), "a cooldown is 0 to 604,800 seconds")
    for player in everyone:
        await player.close()


async def test_palette_changes_while_players_draw(cluster: Cluster) -> None:
    """A reorder, then a removal, while players on both pods draw: every acknowledged pixel keeps
    its look or gets its mapped colour, nothing is outside the palette, nothing is lost, and every
    player ends with the canvas Redis holds."""
    ann, bob, eve = await players_on_two_pods(cluster)
    drawers = (ann, bob, eve)
    acknowledged: dict[tuple[int, int], int] = {}
    stop = asyncio.Event()

    async def draw(index: int, player: TestPlayer) -> None:
        rng = np.random.default_rng(index)
        for n in range(64 * 14):
            if stop.is_set():
                return
            x, y, c = n % 64, index * 16 + n // 64, int(rng.integers(1, 32))  # never white
            answer = await player.place(x, y, c, place_id=n)
            if answer["t"] == "placed":
                acknowledged[(x, y)] = c
            else:
                assert answer["code"] == "bad_color", answer  # a colour that was just removed

    drawing = [asyncio.create_task(draw(i, p)) for i, p in enumerate(drawers)]
    while len(acknowledged) < 30:
        await asyncio.sleep(0.01)
    reordered = (PALETTE[0], *reversed(PALETTE[1:]))
    ok(await asyncio.to_thread(admin, cluster, "palette", ",".join(reordered)))
    while len(acknowledged) < 150:
        await asyncio.sleep(0.01)
    shrunk = reordered[:20]  # twelve colours go; the pink one to teal
    said = ok(
        await asyncio.to_thread(
            admin, cluster, "palette", ",".join(shrunk), "--map", "#ff99aa=#00ccc0"
        )
    )
    assert "#ff99aa -> #00ccc0 (as mapped)" in said
    while len(acknowledged) < 250:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*drawing)

    redis = redis_sync.Redis.from_url(cluster.redis_url)
    canvas = np.frombuffer(redis.get(KEYS.canvas), np.uint8)
    assert int(canvas.max()) < len(shrunk)
    for player in drawers:
        await player.wait_for(lambda p=player: np.array_equal(p.canvas, canvas), timeout=WITHIN_S)
    to_reordered = plan_remap(PALETTE, reordered).table
    to_shrunk = plan_remap(reordered, shrunk, {"#ff99aa": "#00ccc0"}).table
    for (x, y), c in acknowledged.items():
        look = shrunk[canvas[y * 64 + x]]
        possible = {shrunk[to_shrunk[to_reordered[c]]], shrunk[to_shrunk[c]]}
        if c < len(shrunk):
            possible.add(shrunk[c])
        lost = look == "#ffffff" and "#ffffff" not in possible
        assert not lost, f"the placement at ({x}, {y}) was lost"
        assert look in possible, (x, y, c, look)
    for player in drawers:
        await player.close()


async def test_a_scheduled_opening_survives_the_active_tickers_death(cluster: Cluster) -> None:
    tickers = [cluster.ticker(), cluster.ticker()]
    pod_a, pod_b = cluster.pod(), cluster.pod()
    ann, bob = await TestPlayer.join(pod_a.ws_url), await TestPlayer.join(pod_b.ws_url)
    await ann.sign_in("ann")
    await bob.sign_in("bob")
    redis = redis_sync.Redis.from_url(cluster.redis_url)
    ok(admin(cluster, "close"))
    at_ms = redis_ms(redis) + 2000
    said = ok(admin(cluster, "open", "--at", iso_ms(at_ms)))
    assert said.startswith("the canvas opens by itself at ")
    for player in (ann, bob):  # the page's countdown has its end
        hello = await latest_hello(player, lambda h: h.get("opens_at_ms") == at_ms)
        assert hello["open"] is False
    assert (await ann.place(1, 1, 1, place_id="early"))["code"] == "closed"

    token = redis.get(KEYS.ticker_lock).decode()
    active = next(t for t in tickers if f"ticker {token[:8]} is active" in t.log())
    active.process.send_signal(signal.SIGKILL)

    # the standby takes over (within about 3.5 s) and opens the canvas by itself
    for player in (ann, bob):
        hello = await latest_hello(player, lambda h: h["open"] is True, timeout=8)
        assert "opens_at_ms" not in hello
    assert redis_ms(redis) >= at_ms
    assert (await bob.place(2, 2, 2, place_id="open"))["t"] == "placed"
    await ann.wait_for(lambda: ann.pixel(2, 2) == 2, timeout=WITHIN_S)
    log = ok(admin(cluster, "log")).splitlines()
    assert log[-1].split("\t")[1:3] == ["schedule", "open"]
    status = orjson.loads(ok(admin(cluster, "status", "--json")))
    assert status["schedule"] == {"opens_at": None, "closes_at": None}
    assert status["tickers"]["active"]["id"] != token[:8]
    await ann.close()
    await bob.close()


def test_the_page_counts_down_to_the_opening_then_says_closed_after(
    own_site: Site, open_page, artifacts: Path
) -> None:
    """In Debian's Chromium: a watcher sees the countdown to the opening tick down, the canvas
    open by itself, the countdown to the closing, and "The canvas is closed." after it."""
    page = open_page(f"{own_site.url}/?x=10&y=10&zoom=8")
    redis = redis_sync.Redis.from_url(own_site.cluster.redis_url)
    own_site.admin("close")
    expect(page.get_by_text("The canvas is closed.")).to_be_visible()

    opens_at = redis_ms(redis) + 4000
    own_site.admin("open", "--at", iso_ms(opens_at))
    timer = page.get_by_role("timer").filter(has_text=re.compile(r"^The canvas opens in 0:0\d$"))
    expect(timer).to_be_visible()
    first = timer.inner_text()
    page.screenshot(path=artifacts / "page-countdown.png")
    expect(timer).not_to_have_text(first)  # it counts down
    page.wait_for_function("window.__place.client.open === true", timeout=10_000)
    assert redis_ms(redis) >= opens_at
    expect(page.get_by_text("The canvas opens in")).to_have_count(0)

    closes_at = redis_ms(redis) + 3000
    own_site.admin("close", "--at", iso_ms(closes_at))
    expect(page.get_by_role("timer").filter(has_text="The canvas closes in 0:0")).to_be_visible()
    expect(page.get_by_text("The canvas is closed.")).to_be_visible(timeout=10_000)
    assert page.evaluate("window.__place.client.open") is False
