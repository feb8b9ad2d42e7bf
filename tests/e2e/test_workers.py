"""`place api --workers N`: several processes on one port (SO_REUSEPORT), each a pod of its own,
behind one supervising process; real processes, a real Redis, real websockets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.servers import REPO, PlaceProcess, free_port


def worker_pids(supervisor: PlaceProcess) -> set[int]:
    """The supervisor's children: its workers."""
    pid = supervisor.process.pid
    children = f"/proc/{pid}/task/{pid}/children"
    try:
        with open(children) as file:
            return {int(each) for each in file.read().split()}
    except FileNotFoundError:
        return set()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(") ")[1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


async def start_pod(cluster: Cluster, workers: int) -> PlaceProcess:
    """A pod of `workers` processes, once every one of them is up (the first answers /readyz
    while the supervisor still starts the others)."""
    pod = cluster.pod(PLACE_WORKERS=str(workers))
    up = f"pod of {workers} workers listening"
    await until(lambda: up in pod.log(), 15, up)
    assert len(worker_pids(pod)) == workers
    return pod


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


def connections_by_worker(url: str) -> Counter[str]:
    """`place_connections` of one scrape of the pod's /metrics, by its `worker` label."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found: Counter[str] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == "place_connections":
            for sample in family.samples:
                found[sample.labels["worker"]] += int(sample.value)
    return found


async def test_workers_share_the_port_and_every_player_sees_every_pixel(cluster: Cluster) -> None:
    cluster.ticker()
    pod = await start_pod(cluster, 2)

    # the kernel spreads connections over the workers by a hash of the addresses: with 24
    # players (other source ports) both get some, but for a chance of 2 in 16 million
    players = [await TestPlayer.join(pod.ws_url, v2=bool(i % 2)) for i in range(24)]
    scrape = connections_by_worker(pod.url)
    assert set(scrape) == {"0", "1"} and all(scrape.values()), scrape
    assert sum(scrape.values()) == 24

    # a placement through either worker reaches every player on both
    for index, (x, color) in enumerate([(3, 5), (9, 7), (20, 2)]):
        painter = players[index * 7]
        await painter.sign_in(f"painter{index}")
        assert (await painter.place(x, 4, color))["t"] == "placed"
    for player in players:
        await player.wait_for(
            lambda p=player: (p.pixel(3, 4), p.pixel(9, 4), p.pixel(20, 4)) == (5, 7, 2),
            timeout=5,
        )

    # the players of both workers are counted once each in /api/stats (every pod reports)
    def counted() -> bool:
        return httpx.get(f"{pod.url}/api/stats", timeout=5).json()["ccu"] == 24

    await until(counted, 10, "/api/stats counting both workers' players")
    for player in players:
        await player.close()


async def test_a_worker_that_dies_is_replaced_and_its_players_come_back(cluster: Cluster) -> None:
    cluster.ticker()
    pod = await start_pod(cluster, 2)
    players = [await TestPlayer.join(pod.ws_url) for _ in range(12)]
    before = worker_pids(pod)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)

    await until(lambda: len(worker_pids(pod) - before) == 1, 10, "a new worker")
    replacement = (worker_pids(pod) - before).pop()
    assert "ended (status 137): replaced" in pod.log()

    # its players were cut off; they reconnect to the same port, and both workers take them
    cut = [player for player in players if player.connection.close_code is not None]
    await until(lambda: all(p.connection.close_code is not None for p in cut), 5, "cut off")
    again = [await TestPlayer.join(pod.ws_url) for _ in range(len(cut) + 24)]
    await until(lambda: all(alive(pid) for pid in (worker_pids(pod))), 5, "both alive")
    scrape = connections_by_worker(pod.url)
    assert scrape["0"] and scrape["1"], scrape
    assert replacement in worker_pids(pod) and victim not in worker_pids(pod)

    writer = again[0]
    await writer.sign_in("writer")
    assert (await writer.place(1, 1, 6))["t"] == "placed"
    for player in again:
        await player.wait_for(lambda p=player: p.pixel(1, 1) == 6, timeout=5)
    for player in [*players, *again]:
        await player.close()


async def test_sigterm_stops_every_worker_gracefully(cluster: Cluster) -> None:
    cluster.ticker()
    pod = await start_pod(cluster, 3)
    workers = worker_pids(pod)
    players = [await TestPlayer.join(pod.ws_url) for _ in range(9)]

    pod.signal(signal.SIGTERM)
    assert pod.wait(20) == 0
    assert not any(alive(pid) for pid in workers)
    # every player was told "service restart", so it reconnects to another pod
    assert {await player.close_code() for player in players} == {1012}


async def test_workers_shut_down_when_the_supervisor_is_killed(cluster: Cluster) -> None:
    cluster.ticker()
    pod = await start_pod(cluster, 2)
    workers = worker_pids(pod)
    player = await TestPlayer.join(pod.ws_url)

    pod.signal(signal.SIGKILL)
    pod.wait(10)
    # nobody is left holding the port: the workers saw their pipe close and shut down
    await until(lambda: not any(alive(pid) for pid in workers), 15, "workers gone")
    assert await player.close_code() == 1012
    assert "the supervising process is gone" in pod.log()


def test_a_setup_mistake_is_said_once_and_nothing_keeps_running(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        **os.environ,
        "PLACE_AUTH": "dev",
        "PLACE_PORT": str(port),
        "PLACE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "PLACE_STORE_URL": f"file://{tmp_path}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "place", "api", "--workers", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not answer" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_workers_out_of_range_are_refused_in_one_line() -> None:
    for value, said in (("0", "between 1 and 64"), ("two", "not a whole number")):
        result = subprocess.run(
            [sys.executable, "-m", "place", "api", "--workers", value],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=REPO,
        )
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and said in result.stderr, result.stderr
