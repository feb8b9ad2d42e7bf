"""What an operator watches: each pod's /metrics read with prometheus-client's own parser, with
players on two pods; /api/stats summed over the pods, a killed pod's players gone within seconds;
and the stats page."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from playwright.sync_api import Browser
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from websockets.sync.client import connect

from place.metrics import Metrics
from tests.client import TestPlayer
from tests.deploy.promql import metric_names, promql_expressions
from tests.e2e.cluster import Cluster
from tests.servers import PlaceProcess

COUNTERS = {
    "place_connections_opened",
    "place_placements",
    "place_errors",
    "place_frames_delivered",
    "place_frames_dropped",
    "place_slow_players",
    "place_bytes_sent",
    "place_redis_placement_calls",
    "place_refused",
    "place_players_shed",
    "place_task_restarts",
    "process_cpu_seconds",
}
GAUGES = {
    "place_connections",
    "place_connection_limit",
    "place_seq",
    "place_ready",
    "place_ticker_silence_seconds",
    "place_redis_used_memory_bytes",
    "place_redis_maxmemory_bytes",
    "place_store_frames_pending",
    "place_store_frames_dropped",
    "place_store_backup_pending",
    "place_store_archive_lag_seconds",
    "place_store_failures",
    "place_store_last_backup_age_seconds",
    "process_resident_memory_bytes",
    "process_open_fds",
}
HISTOGRAMS = {
    "place_delta_latency_seconds",
    "place_delta_fanout_seconds",
    "place_tick_duration_seconds",
    "place_redis_roundtrip_seconds",
}


class Scrape:
    """One /metrics answer, parsed by prometheus-client."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.samples: list[Sample] = []
        for family in text_string_to_metric_families(text):
            assert family.name not in self.types, f"{family.name} twice"
            self.types[family.name] = family.type
            self.samples += family.samples

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
        return found[0]


async def scrape(pod: PlaceProcess) -> Scrape:
    async with httpx.AsyncClient(base_url=pod.url) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(answer.text)


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10, every: float = 0.1
) -> Any:
    """The first truthy result of `check`, polled until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(every)


def test_each_pod_object_has_a_registry_of_its_own() -> None:
    one, two = Metrics(), Metrics()
    one.delta_fanout.observe(0.01)
    one.placements["stored"] += 3
    assert "place_delta_fanout_seconds_count 1.0" in one.render().decode()
    assert "place_delta_fanout_seconds_count 0.0" in two.render().decode()


async def test_metrics_parse_with_the_right_types_and_count_each_pods_own_players(
    cluster: Cluster,
) -> None:
    cluster.ticker()
    pod_a, pod_b = cluster.pod(), cluster.pod()
    on_a = [await TestPlayer.join(pod_a.ws_url) for _ in range(3)]
    on_b = [await TestPlayer.join(pod_b.ws_url) for _ in range(2)]
    ann, bob = on_a[0], on_b[0]
    await ann.sign_in("ann")
    await bob.sign_in("bob")
    assert (await ann.place(1, 1, 3, place_id=1))["t"] == "placed"
    assert (await ann.place(2, 1, 4, place_id=2))["t"] == "placed"
    assert (await ann.place(99, 1, 4, place_id=3))["code"] == "out_of_bounds"
    assert (await bob.place(3, 1, 5, place_id=4))["t"] == "placed"
    await on_b[1].wait_for(lambda: on_b[1].pixel(3, 1) == 5 and on_b[1].pixel(2, 1) == 4)

    async def memory_read(pod: PlaceProcess) -> Scrape | None:
        metrics = await scrape(pod)
        return metrics if metrics.value("place_redis_used_memory_bytes") > 0 else None

    a = await eventually(lambda: memory_read(pod_a))
    b = await eventually(lambda: memory_read(pod_b))
    assert a is not None and b is not None
    for metrics in (a, b):
        for name in COUNTERS:
            assert metrics.types.get(name) == "counter", name
        for name in GAUGES:
            assert metrics.types.get(name) == "gauge", name
        for name in HISTOGRAMS:
            assert metrics.types.get(name) == "histogram", name
            assert metrics.value(f"{name}_bucket", le="+Inf") == metrics.value(f"{name}_count")
        assert metrics.value("place_ready") == 1
        assert 0 <= metrics.value("place_ticker_silence_seconds") < 5
        assert metrics.value("place_delta_fanout_seconds_count") >= 1  # a delta reached players
        assert metrics.value("place_redis_roundtrip_seconds_count") >= 1
        assert metrics.value("place_bytes_sent_total") > 0
        assert metrics.value("process_resident_memory_bytes") > 10_000_000
    # each pod counts its own
    assert a.value("place_connections") == 3 and b.value("place_connections") == 2
    assert a.value("place_connections_opened_total") == 3
    assert a.value("place_placements_total", result="stored") == 2
    assert a.value("place_placements_total", result="out_of_bounds") == 1
    assert b.value("place_placements_total", result="stored") == 1
    assert a.value("place_redis_placement_calls_total") >= 1

    # counters only rise: another placement and its delta add bytes and frames
    assert (await bob.place(4, 1, 6, place_id=5))["t"] == "placed"
    await ann.wait_for(lambda: ann.pixel(4, 1) == 6)
    later = await scrape(pod_a)
    for name in ("place_bytes_sent_total", "place_frames_delivered_total"):
        assert later.value(name) > a.value(name), name

    # every series the alert rules, the dashboard and the adapter name is on /metrics
    exposed = {sample.name for sample in later.samples}
    for where, expr in promql_expressions():
        for name in metric_names(expr):
            if name.startswith(("place_", "process_")):
                assert name in exposed, f"{where} uses {name}, which no pod exposes"
    for player in on_a + on_b:
        await player.close()


async def test_stats_sum_every_pod_and_forget_a_killed_one_within_seconds(
    cluster: Cluster,
) -> None:
    cluster.ticker()
    pod_a, pod_b = cluster.pod(), cluster.pod()
    on_a = [await TestPlayer.join(pod_a.ws_url) for _ in range(3)]
    on_b = [await TestPlayer.join(pod_b.ws_url) for _ in range(2)]
    await on_a[0].sign_in("ann")
    await on_b[0].sign_in("bob")
    assert (await on_b[0].place(1, 2, 3))["t"] == "placed"

    async with httpx.AsyncClient() as http:

        async def stats(pod: PlaceProcess) -> dict[str, int]:
            return (await http.get(f"{pod.url}/api/stats")).json()

        async def both_see(ccu: int) -> bool:
            return [(await stats(pod))["ccu"] for pod in (pod_a, pod_b)] == [ccu, ccu]

        assert await eventually(lambda: both_see(5)), (await stats(pod_a), await stats(pod_b))
        summed = await stats(pod_a)
        assert summed["peak_ccu"] == 5 and summed["users"] == 2 and summed["visits"] == 5
        assert summed["placements"] == 1 and summed["peak_pps"] == 1

        pod_b.signal(signal.SIGKILL)  # no goodbye: its report just stops
        killed_at = time.monotonic()

        async def forgotten() -> bool:
            return (await stats(pod_a))["ccu"] == 3

        assert await eventually(forgotten, timeout=15)
        gone_after = time.monotonic() - killed_at
        assert gone_after < 6, f"the killed pod's players counted for {gone_after:.1f} s"
        assert (await stats(pod_a))["peak_ccu"] == 5
    for player in on_a:
        await player.close()


def test_the_stats_page_shows_the_event(cluster: Cluster, browser: Browser) -> None:
    cluster.ticker()
    pod = cluster.pod()
    with connect(pod.ws_url) as ann, connect(pod.ws_url) as watcher:
        ann.send(orjson.dumps({"t": "auth", "token": "ann"}).decode())
        for i in range(3):
            ann.send(orjson.dumps({"t": "place", "id": i, "x": i, "y": 0, "c": 2}).decode())
        answers = []
        while len(answers) < 3:
            frame = ann.recv(timeout=5)
            if isinstance(frame, str) and orjson.loads(frame)["t"] in ("placed", "error"):
                answers.append(orjson.loads(frame)["t"])
        assert answers == ["placed"] * 3
        context = browser.new_context(viewport={"width": 900, "height": 700})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{pod.url}/stats")
        # the page polls /api/stats and opens no websocket: two players online
        page.wait_for_function(
            "document.querySelector('[data-stat=online]')?.textContent?.trim() === '2'",
            timeout=10_000,
        )
        assert page.locator("[data-stat=placements]").inner_text().strip() == "3"
        assert page.locator("[data-stat=users]").inner_text().strip() == "1"
        assert page.locator("[data-stat=peak]").inner_text().strip() == "2"
        assert page.locator("[data-stat=pps]").inner_text().strip() != ""
        assert page.title().startswith("our/place")
        assert errors == []
        context.close()
        assert watcher.recv(timeout=5)  # still connected throughout
