"""Firebase sign-in against the real Firebase Auth emulator (firebase-tools, tests/firebase/):
tokens refused and accepted, names, admins, bans on every pod, expiry on an open connection."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
import uuid
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.e2e.firebase import PROJECT, sign_up
from tests.servers import free_port

PASSWORD = "secret-pw"


def firebase_env(emulator: str, **env: str) -> dict[str, str]:
    return {
        "PLACE_AUTH": "firebase",
        "PLACE_FIREBASE_PROJECT_ID": PROJECT,
        "FIREBASE_AUTH_EMULATOR_HOST": emulator,
        **env,
    }


def email() -> str:
    return f"{uuid.uuid4().hex[:10]}.smith@example.com"


def sign_up_nameless(emulator: str, address: str) -> tuple[str, str]:
    """An account without a display name, as a bare email sign-up makes it: (uid, ID token)."""
    answer = httpx.post(
        f"http://{emulator}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any",
        json={"email": address, "password": PASSWORD, "returnSecureToken": True},
    ).json()
    return answer["localId"], answer["idToken"]


def sign_in(emulator: str, address: str) -> str:
    """A fresh ID token, as the page gets one when the player signs in again."""
    answer = httpx.post(
        f"http://{emulator}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any",
        json={"email": address, "password": PASSWORD, "returnSecureToken": True},
    ).json()
    return answer["idToken"]


def update_account(emulator: str, uid: str, **fields: Any) -> None:
    """What the Admin SDK does to an account (custom claims, disabling), through the REST API."""
    answer = httpx.post(
        f"http://{emulator}/identitytoolkit.googleapis.com/v1/projects/{PROJECT}/accounts:update",
        headers={"Authorization": "Bearer owner"},
        json={"localId": uid, **fields},
    )
    assert answer.status_code == 200, answer.text


def unsigned_token(uid: str, **claims: Any) -> str:
    """An ID token as the emulator makes them (alg "none", no signature), with our claims."""
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "auth_time": now,
        "user_id": uid,
        "sub": uid,
        "iat": now,
        "exp": now + 3600,
        "firebase": {"identities": {}, "sign_in_provider": "password"},
        **claims,
    }
    parts = [{"alg": "none", "typ": "JWT"}, payload]
    encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
    return b".".join(encoded).decode() + "."


async def refusal(player: TestPlayer, token: str) -> dict[str, Any]:
    await player.send({"t": "auth", "token": token})
    return await player.expect("error")


class Recorder:
    """A watcher that keeps every frame it receives, text and binary, to look into later."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[bytes] = []
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def join(cls, url: str) -> Recorder:
        return cls(await connect(url, compression=None, max_size=None, open_timeout=5))

    async def _read(self) -> None:
        async for frame in self.connection:
            self.frames.append(frame.encode() if isinstance(frame, str) else frame)

    async def close(self) -> None:
        await self.connection.close()
        await self._task


async def test_a_player_signs_up_signs_in_and_places_under_the_display_name_only(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    pod = cluster.pod(**firebase_env(firebase_auth))
    address = email()
    uid, _ = sign_up(firebase_auth, address, "Ann")
    token = sign_in(firebase_auth, address)
    watcher = await Recorder.join(pod.ws_url)
    player = await TestPlayer.join(pod.ws_url)
    other = await TestPlayer.join(pod.ws_url)
    await other.sign_in(sign_up(firebase_auth, email(), "Bob")[1])

    hello = await player.sign_in(token)
    assert hello["user"] == {"id": uid, "name": "Ann"}
    assert (await player.place(4, 5, 6))["t"] == "placed"
    await other.wait_for(lambda: other.pixel(4, 5) == 6)
    async with httpx.AsyncClient(base_url=pod.url) as http:
        pixel = (await http.get("/api/pixel", params={"x": 4, "y": 5})).json()
        stats = (await http.get("/api/stats")).text
    assert pixel["user"] == {"name": "Ann"}
    await watcher.close()
    local_part = address.split("@")[0].encode()
    seen = [*watcher.frames, orjson.dumps(hello), orjson.dumps(pixel), stats.encode()]
    assert len(watcher.frames) >= 3  # hello, snapshot, the delta with Ann's pixel
    for frame in seen:
        assert local_part not in frame and b"example.com" not in frame
    await player.close()
    await other.close()


async def test_a_player_without_a_display_name_gets_a_neutral_one(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    pod = cluster.pod(**firebase_env(firebase_auth))
    address = email()
    uid, token = sign_up_nameless(firebase_auth, address)
    player = await TestPlayer.join(pod.ws_url)
    name = (await player.sign_in(token))["user"]["name"]
    assert name.startswith("player-") and len(name) == 13
    assert address.split(".")[0] not in name and uid not in name
    await player.place(1, 1, 3)
    async with httpx.AsyncClient(base_url=pod.url) as http:
        pixel = (await http.get("/api/pixel", params={"x": 1, "y": 1})).json()
    assert pixel["user"] == {"name": name}
    await player.close()


async def test_bad_tokens_are_refused_and_the_player_can_still_watch(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    pod = cluster.pod(**firebase_env(firebase_auth))
    uid, _ = sign_up(firebase_auth, email(), "Eve")
    disabled_uid, disabled_token = sign_up(firebase_auth, email(), "Dan")
    update_account(firebase_auth, disabled_uid, disableUser=True)
    player = await TestPlayer.join(pod.ws_url)

    malformed = await refusal(player, "not-a-token")
    assert malformed["code"] == "unauthenticated" and "malformed" in malformed["message"]
    an_hour_ago = int(time.time()) - 3600
    expired = await refusal(player, unsigned_token(uid, iat=an_hour_ago, exp=an_hour_ago + 60))
    assert expired["code"] == "unauthenticated" and "expired" in expired["message"]
    other_project = unsigned_token(
        uid, aud="someone-else", iss="https://securetoken.google.com/someone-else"
    )
    wrong = await refusal(player, other_project)
    assert wrong["code"] == "unauthenticated" and "another Firebase project" in wrong["message"]
    disabled = await refusal(player, disabled_token)
    assert disabled["code"] == "unauthenticated" and "disabled" in disabled["message"]

    assert (await player.place(2, 2, 2))["code"] == "unauthenticated"
    await player.wait_for(lambda: player.canvas is not None)  # still watching
    await player.close()


async def test_an_unreachable_identity_provider_is_unavailable_but_known_tokens_still_work(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    healthy = cluster.pod(**firebase_env(firebase_auth))
    cut_off = cluster.pod(**firebase_env(f"127.0.0.1:{free_port()}"))  # nothing listens
    uid, known = sign_up(firebase_auth, email(), "Kim")
    _, fresh = sign_up(firebase_auth, email(), "Lee")

    on_healthy = await TestPlayer.join(healthy.ws_url)
    assert (await on_healthy.sign_in(known))["user"]["id"] == uid
    player = await TestPlayer.join(cut_off.ws_url)
    assert (await refusal(player, fresh))["code"] == "unavailable"
    # a token one pod verified is known to every pod: a pod restart's players sign in elsewhere
    # without asking the identity provider again
    assert (await player.sign_in(known))["user"] == {"id": uid, "name": "Kim"}
    await player.close()
    await on_healthy.close()


async def test_admins_place_without_cooldown(cluster: Cluster, firebase_auth: str) -> None:
    cluster.ticker()
    listed_uid, listed_token = sign_up(firebase_auth, email(), "Listed")
    pod = cluster.pod(**firebase_env(firebase_auth, PLACE_ADMIN_UIDS=f"someone,{listed_uid}"))
    assert cluster.admin("cooldown", "60").returncode == 0
    address = email()
    claimed_uid, _ = sign_up(firebase_auth, address, "Claimed")
    update_account(firebase_auth, claimed_uid, customAttributes='{"admin": true}')
    claimed_token = sign_in(firebase_auth, address)  # a new token carries the new claim
    _, plain_token = sign_up(firebase_auth, email(), "Plain")

    for row, token in enumerate((claimed_token, listed_token)):
        admin = await TestPlayer.join(pod.ws_url)
        hello = await admin.sign_in(token)
        assert hello["cooldown_ms"] == 60_000 and hello["next_place_at_ms"] == 0
        for x in range(3):
            placed = await admin.place(x, row, 5, place_id=x)
            assert placed["t"] == "placed" and placed["next_place_at_ms"] == 0
        await admin.close()
        again = await TestPlayer.join(pod.ws_url)  # on a new connection too
        assert (await again.sign_in(token))["next_place_at_ms"] == 0
        await again.close()

    plain = await TestPlayer.join(pod.ws_url)
    await plain.sign_in(plain_token)
    assert (await plain.place(0, 5, 1))["t"] == "placed"
    assert (await plain.place(1, 5, 1, place_id=2))["code"] == "cooldown"
    await plain.close()


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_ban_with_reason_and_end_holds_on_every_pod_until_lifted(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    pods = [cluster.pod(**firebase_env(firebase_auth)) for _ in range(2)]
    uid, token = sign_up(firebase_auth, email(), "Griefer")
    players = [await TestPlayer.join(pod.ws_url) for pod in pods]
    for player in players:
        await player.sign_in(token)

    before = int(time.time() * 1000)
    banned = cluster.admin("ban", uid, "--for", "2h", "--reason", "drew over the flag")
    assert banned.returncode == 0 and "drew over the flag" in banned.stdout
    ends = set()
    for number, player in enumerate(players):  # one connection on each pod
        answer = await player.place(3, 3, 3, place_id=number)
        assert (answer["code"], answer["message"]) == ("banned", "drew over the flag")
        ends.add(answer["retry_at_ms"])
    (until,) = ends
    assert before + 7_200_000 <= until <= before + 7_205_000
    listing = cluster.admin("bans").stdout.strip().splitlines()
    assert listing == [f"{uid}\tdrew over the flag\t{_iso(until)}"]

    assert cluster.admin("ban", uid).returncode == 0  # replaced: for ever, no reason
    for player in players:
        answer = await player.place(3, 3, 3, place_id="forever")
        assert answer["code"] == "banned" and "retry_at_ms" not in answer
        assert answer["message"] == "You are banned from placing pixels."
    assert cluster.admin("bans").stdout.strip() == f"{uid}\t-\tnever"

    assert cluster.admin("unban", uid).returncode == 0
    for number, player in enumerate(players):
        assert (await player.place(3, 3 + number, 3, place_id="after"))["t"] == "placed"
    assert cluster.admin("bans").stdout.strip() == "no bans"
    for player in players:
        await player.close()


async def test_a_timed_ban_ends_by_itself(cluster: Cluster, firebase_auth: str) -> None:
    cluster.ticker()
    pod = cluster.pod(**firebase_env(firebase_auth))
    uid, token = sign_up(firebase_auth, email(), "Brief")
    player = await TestPlayer.join(pod.ws_url)
    await player.sign_in(token)
    assert cluster.admin("ban", uid, "--for", "2s", "--reason", "cool off").returncode == 0
    first = await player.place(0, 0, 1, place_id=0)
    assert first["code"] == "banned" and first["message"] == "cool off"
    ends = first["retry_at_ms"]
    deadline = time.monotonic() + 10
    attempt = 0
    while (answer := await player.place(0, 0, 1, place_id=attempt))["t"] != "placed":
        assert answer["code"] == "banned" and time.monotonic() < deadline
        attempt += 1
        await asyncio.sleep(0.1)
    assert time.time() * 1000 >= ends - 50  # not before its end (Redis's clock is this one)
    assert cluster.admin("bans").stdout.strip() == "no bans"
    await player.close()


def test_ban_arguments_are_checked(cluster: Cluster) -> None:
    for args, message in (
        (("ban", ""), "PLAYER must not be empty"),
        (("ban", " "), "PLAYER must not be empty"),
        (("unban", ""), "PLAYER must not be empty"),
        (("ban", "eve", "--for", "2x"), "got '2x'"),
        (("ban", "eve", "--for", "0s"), "got '0s'"),
        (("ban", "eve", "--reason", "x" * 201), "at most 200 characters"),
    ):
        result = cluster.admin(*args)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert message in result.stderr
    assert cluster.admin("bans").stdout.strip() == "no bans"


async def test_an_expired_token_gets_token_expired_until_a_fresh_one_comes(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    pod = cluster.pod(**firebase_env(firebase_auth))
    address = email()
    uid, _ = sign_up(firebase_auth, address, "Ann")
    player = await TestPlayer.join(pod.ws_url)
    short = unsigned_token(uid, name="Ann", exp=int(time.time()) + 3)
    assert (await player.sign_in(short))["user"]["id"] == uid
    assert (await player.place(0, 0, 1, place_id=0))["t"] == "placed"
    deadline = time.monotonic() + 10
    attempt = 1
    while (answer := await player.place(0, 0, 1, place_id=attempt))["t"] == "placed":
        assert time.monotonic() < deadline
        attempt += 1
        await asyncio.sleep(0.2)
    assert answer["code"] == "token_expired" and answer["id"] == attempt
    assert (await player.place(1, 0, 1, place_id="again"))["code"] == "token_expired"

    hello = await player.sign_in(sign_in(firebase_auth, address))  # the page refreshed it
    assert hello["user"] == {"id": uid, "name": "Ann"}
    assert (await player.place(1, 0, 1, place_id="fresh"))["t"] == "placed"
    await player.close()
