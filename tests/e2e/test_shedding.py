"""Moving players between pods without losing a placement: a pod far above the average sheds
players with 1012 (PLACE_SHED_ABOVE_AVERAGE), and a pod told to leave (SIGUSR1, Kubernetes'
preStop hook) moves every player off before it stops. Real pods behind a small load balancer
that, like a real one, probes /readyz and spreads new connections round robin over ready pods;
the players keep placing throughout and reconnect at once after 1012, as the page does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.servers import PlaceProcess

SHED_ENV = {
    "PLACE_SHED_ABOVE_AVERAGE": "1.5",
    "PLACE_SHED_PER_S": "4",
    "PLACE_MAX_CONNECTIONS_PER_ADDRESS": "1000",
    "PLACE_SIGNINS_PER_ADDRESS_PER_MIN": "10000",
}


class LoadBalancer:
    """TCP round robin over the pods whose /readyz answers 200 (probed every 0.25 s)."""

    def __init__(self, pods: list[PlaceProcess]) -> None:
        self.pods = list(pods)
        self.ready: list[PlaceProcess] = []
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def __aenter__(self) -> LoadBalancer:
        await self._probe_once()
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._probe())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe_once(self) -> None:
        ready = []
        async with httpx.AsyncClient(timeout=1) as http:
            for pod in self.pods:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{pod.url}/readyz")).status_code == 200:
                        ready.append(pod)
        self.ready = ready

    async def _probe(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            await self._probe_once()

    async def _forward(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        if not self.ready:
            client_w.close()
            return
        pod = self.ready[next(self._turn) % len(self.ready)]
        try:
            pod_r, pod_w = await asyncio.open_connection("127.0.0.1", pod.port)
        except OSError:
            client_w.close()
            return
        self._spawn(_pipe(client_r, pod_w))
        self._spawn(_pipe(pod_r, client_w))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


@dataclass
class Ledger:
    """What the players saw, to compare with the canvas and the stats afterwards."""

    acked: dict[tuple[int, int], int] = field(default_factory=dict)
    placed: int = 0
    moved: int = 0  # connections closed with 1012
    unanswered: int = 0  # placements in flight when their connection closed (then placed again)
    errors: list[dict[str, object]] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)


async def player(column: int, url: Callable[[], str], stop: asyncio.Event, ledger: Ledger) -> None:
    """Place pixels in one column, one at a time; after a close with 1012, reconnect at once and
    place the unanswered pixel again."""
    pending: tuple[int, int, int] | None = None
    n = 0
    while not stop.is_set():
        try:
            connection = await connect(url(), compression=None, max_size=None, open_timeout=5)
        except (OSError, InvalidStatus, TimeoutError):
            await asyncio.sleep(0.05)
            continue
        try:
            try:
                await asyncio.wait_for(_sign_in(connection, f"p{column}"), 10)
            except TimeoutError:
                continue  # (closed in `finally`) try again
            while not stop.is_set():
                if pending is None:
                    pending = (column, n % 48, n % 31 + 1)
                    n += 1
                x, y, c = pending
                place = {"t": "place", "id": n, "x": x, "y": y, "c": c}
                await connection.send(orjson.dumps(place).decode())
                try:
                    answer = await asyncio.wait_for(_answer(connection, n), 30)
                except TimeoutError:
                    answer = {"t": "error", "code": "no answer within 30 s", "id": n}
                if answer["t"] == "placed":
                    ledger.acked[(x, y)] = c
                    ledger.placed += 1
                else:
                    ledger.errors.append(answer)
                pending = None
                await asyncio.sleep(0.05)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            ledger.closes.append(code)
            ledger.moved += code == 1012
            ledger.unanswered += pending is not None
        finally:
            await connection.close()


async def _sign_in(connection: ClientConnection, name: str) -> None:
    await connection.send(orjson.dumps({"t": "auth", "token": name}).decode())
    while True:
        frame = await connection.recv()
        if isinstance(frame, str):
            message = orjson.loads(frame)
            if message["t"] == "hello" and message["user"]:
                return


async def _answer(connection: ClientConnection, place_id: int) -> dict[str, object]:
    while True:
        frame = await connection.recv()
        if isinstance(frame, str):
            message = orjson.loads(frame)
            if message["t"] in ("placed", "error") and message.get("id") == place_id:
                return message


async def connections(pod: PlaceProcess) -> int:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{pod.url}/metrics")).text
    return int(
        float(
            next(line for line in text.splitlines() if line.startswith("place_connections "))[18:]
        )
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def check_nothing_lost(pod: PlaceProcess, ledger: Ledger) -> None:
    """Every acknowledged placement is on the canvas, and every stored one was acknowledged."""
    assert ledger.errors == []
    viewer = await TestPlayer.join(pod.ws_url)

    def wrong() -> list[str]:
        return [
            f"({x}, {y}) is {viewer.pixel(x, y)}, acknowledged {c}"
            for (x, y), c in ledger.acked.items()
            if viewer.pixel(x, y) != c
        ]

    with contextlib.suppress(TimeoutError):  # the last placements reach it with the next tick
        await viewer.wait_for(lambda: not wrong(), timeout=3)
    assert wrong() == []
    await viewer.close()

    async def counted() -> bool:
        async with httpx.AsyncClient() as http:
            stats = (await http.get(f"{pod.url}/api/stats")).json()
        return stats["placements"] == ledger.placed

    assert await eventually(counted, 5), "a placement was stored but never acknowledged"


async def test_an_overloaded_pod_sheds_players_to_the_others_without_losing_a_placement(
    cluster: Cluster,
) -> None:
    cluster.ticker()
    crowded = cluster.pod(**SHED_ENV)
    ledger, stop = Ledger(), asyncio.Event()
    # everyone arrives while the crowded pod is alone (as before a scale-up) ...
    async with LoadBalancer([crowded]) as balancer:
        players = [
            asyncio.create_task(player(i, lambda: balancer.ws_url, stop, ledger)) for i in range(20)
        ]
        assert await eventually(lambda: _equals(connections(crowded), 20), 15)

        # ... then a second pod comes up: the crowded one sheds down to 1.5 x the average
        fresh = cluster.pod(**SHED_ENV)
        balancer.pods.append(fresh)

        async def balanced() -> bool:
            here, there = await connections(crowded), await connections(fresh)
            return here + there == 20 and here <= 15 and there >= 5

        moved = await eventually(balanced, 30)
        placed_before = ledger.placed
        await asyncio.sleep(1)  # and they go on placing on their new pod
        stop.set()
        await asyncio.gather(*players)
    assert moved, (await connections(crowded), await connections(fresh))
    assert ledger.moved >= 5 and set(ledger.closes) == {1012}
    assert ledger.placed > placed_before
    await check_nothing_lost(fresh, ledger)
    assert "shed" in crowded.log()


async def test_a_leaving_pod_moves_every_player_off_before_it_stops(cluster: Cluster) -> None:
    cluster.ticker()
    leaving = cluster.pod(PLACE_LEAVE_S="3", **SHED_ENV)
    staying = cluster.pod(**SHED_ENV)
    ledger, stop = Ledger(), asyncio.Event()
    async with LoadBalancer([leaving, staying]) as balancer:
        players = [
            asyncio.create_task(player(i, lambda: balancer.ws_url, stop, ledger)) for i in range(16)
        ]

        async def spread() -> bool:
            return await connections(leaving) >= 4 and await connections(staying) >= 4

        assert await eventually(spread, 15)
        on_leaving = await connections(leaving)
        leaving.signal(signal.SIGUSR1)  # what the preStop hook does
        started = time.monotonic()
        async with httpx.AsyncClient() as http:

            async def unready() -> bool:
                return (await http.get(f"{leaving.url}/readyz")).status_code == 503

            assert await eventually(unready, 2)
        assert await eventually(lambda: _equals(connections(leaving), 0), 10)
        took = time.monotonic() - started
        assert await eventually(lambda: _equals(connections(staying), 16), 10)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*players)
    # spread over PLACE_LEAVE_S (3 s), not all at once
    assert 1.5 < took < 6, took
    assert ledger.moved >= on_leaving and set(ledger.closes) == {1012}
    leaving.signal(signal.SIGTERM)
    assert leaving.wait(20) == 0
    await check_nothing_lost(staying, ledger)


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
