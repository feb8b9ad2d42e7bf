"""Who gets in: origins, connections and sign-ins per client address, a full pod, dead clients,
and dev auth kept to loopback; all against real `place` processes and real websockets."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.client import TestPlayer
from tests.e2e.cluster import Cluster, place_command
from tests.servers import free_port

PROXY = {"PLACE_TRUSTED_PROXIES": "127.0.0.1"}  # the tests' loopback client plays the proxy


async def join(url: str, forwarded_for: str | None = None, **options: Any) -> TestPlayer:
    """A player through a proxy that says it connects for `forwarded_for`."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    connection = await connect(
        url, compression=None, max_size=None, open_timeout=5, additional_headers=headers, **options
    )
    player = TestPlayer(connection)
    await player.expect("hello")
    await player.wait_for(lambda: player.canvas is not None)
    return player


async def refused(url: str, forwarded_for: str | None = None, **options: Any) -> tuple[int, str]:
    """The HTTP status and body a handshake is refused with."""
    with pytest.raises(InvalidStatus) as refusal:
        await join(url, forwarded_for, **options)
    response = refusal.value.response
    return response.status_code, response.body.decode()


async def until_joined(url: str, forwarded_for: str, timeout: float = 5) -> TestPlayer:
    """Join as soon as the pod lets this address in again (it notices a close a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await join(url, forwarded_for)
        except InvalidStatus:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_only_listed_origins_may_connect(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_ALLOWED_ORIGINS="https://place.example, https://beta.place.example")
    status, body = await refused(pod.ws_url, origin=Origin("https://evil.example"))
    assert status == 403 and "origin" in body
    assert (await refused(pod.ws_url))[0] == 403  # no Origin at all: not a listed one either
    player = await join(pod.ws_url, origin=Origin("https://beta.place.example"))
    assert (await player.sign_in("ann"))["user"]["name"] == "ann"
    await player.close()
    async with httpx.AsyncClient(base_url=pod.url) as http:
        assert (await http.get("/api/config")).status_code == 200  # plain HTTP is not limited
        metrics = (await http.get("/metrics")).text
        assert 'place_refused_total{reason="origin"} 2.0' in metrics


async def test_the_connections_of_one_address_are_capped_others_unaffected(
    cluster: Cluster,
) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_MAX_CONNECTIONS_PER_ADDRESS="3", **PROXY)
    crowd = [await join(pod.ws_url, "198.51.100.7") for _ in range(3)]
    status, body = await refused(pod.ws_url, "198.51.100.7")
    assert status == 403 and "too many connections" in body
    # the hops left of the proxy's own are the client's to make up: they change nothing
    assert (await refused(pod.ws_url, "203.0.113.1, 198.51.100.7"))[0] == 403
    neighbour = await join(pod.ws_url, "198.51.100.8")
    assert (await neighbour.sign_in("bob"))["user"]["id"] == "bob"
    await crowd[0].close()
    crowd[0] = await until_joined(pod.ws_url, "198.51.100.7")  # a place freed: one more gets in
    for player in [*crowd, neighbour]:
        await player.close()


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_MAX_CONNECTIONS_PER_ADDRESS="2")  # no trusted proxy
    first = await join(pod.ws_url, "198.51.100.1")
    second = await join(pod.ws_url, "198.51.100.2")
    status, _ = await refused(pod.ws_url, "198.51.100.3")  # all three are 127.0.0.1
    assert status == 403
    await first.close()
    await second.close()


async def test_sign_ins_per_address_are_capped_others_unaffected(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_SIGNINS_PER_ADDRESS_PER_MIN="3", **PROXY)
    ann = await join(pod.ws_url, "198.51.100.7")
    for name in ("ann", "ann2", "ann3"):
        assert (await ann.sign_in(name))["user"]["id"] == name
    before = time.time() * 1000
    await ann.send({"t": "auth", "token": "ann4"})
    limited = await ann.expect("error")
    assert limited["code"] == "rate_limited"
    assert before + 10_000 < limited["retry_at_ms"] < before + 30_000  # one more in 20 s
    assert (await ann.place(1, 1, 1))["t"] == "placed"  # still signed in as ann3
    same_address = await join(pod.ws_url, "198.51.100.7")  # another tab: the same address
    await same_address.send({"t": "auth", "token": "ann5"})
    assert (await same_address.expect("error"))["code"] == "rate_limited"
    bob = await join(pod.ws_url, "198.51.100.8")
    assert (await bob.sign_in("bob"))["user"]["id"] == "bob"
    for player in (ann, same_address, bob):
        await player.close()


async def test_a_full_pod_answers_503_and_still_answers_probes(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_LIMIT_CONCURRENCY="2")
    players = [await join(pod.ws_url), await join(pod.ws_url, "198.51.100.9")]
    status, body = await refused(pod.ws_url)
    assert status == 503 and "full" in body
    async with httpx.AsyncClient(base_url=pod.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
    for player in players:
        await player.close()


async def test_a_client_that_answers_no_ping_is_closed(cluster: Cluster) -> None:
    cluster.ticker()
    pod = cluster.pod(PLACE_PING_TIMEOUT_S="1")
    awake = await join(pod.ws_url)  # answers pings by itself, as browsers do
    silent = await asyncio.to_thread(_silent_client, pod.port)
    started = time.monotonic()
    closed = await asyncio.to_thread(_read_until_closed, silent, 10)
    waited = time.monotonic() - started
    assert closed and 1 <= waited < 5  # a ping after 1 s, no pong within 1 s more: closed
    assert awake.connection.close_code is None  # the one that answers stays
    assert (await awake.sign_in("awake"))["user"]["id"] == "awake"
    await awake.close()


def _silent_client(port: int) -> socket.socket:
    """A websocket that completes the handshake and then never reads or answers anything."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def _read_until_closed(sock: socket.socket, timeout: float) -> bool:
    """Drain what the pod sends (hello, snapshot, pings) until it closes the connection."""
    deadline = time.monotonic() + timeout
    with sock:
        while time.monotonic() < deadline:
            try:
                if sock.recv(65536) == b"":
                    return True
            except TimeoutError:
                continue
            except ConnectionResetError:
                return True
    return False


def test_dev_auth_stays_on_loopback_unless_asked_for() -> None:
    unreachable = {"PLACE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLACE_")}
    result = place_command("dev", "--host", "0.0.0.0", env={**env, **unreachable})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "dev auth lets anyone sign in as anyone" in result.stderr.strip().splitlines()[-1]
    # asked for explicitly, it starts (and stops only at the unreachable Redis)
    result = place_command("api", "--host", "0.0.0.0", "--auth", "dev", env=unreachable)
    assert result.returncode == 1 and "does not answer" in result.stderr
    assert "dev auth" not in result.stderr
    result = place_command("api", "--host", "0.0.0.0", env=unreachable)  # firebase by default
    assert result.returncode == 1 and "PLACE_FIREBASE_PROJECT_ID is required" in result.stderr
