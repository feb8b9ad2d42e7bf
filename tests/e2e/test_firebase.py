"""Firebase sign-in against the real Firebase Auth emulator (firebase-tools, tests/firebase/)."""

from __future__ import annotations

import httpx

from tests.client import TestPlayer
from tests.e2e.cluster import Cluster
from tests.e2e.firebase import PROJECT, sign_up


async def test_a_player_signs_in_with_a_firebase_id_token(
    cluster: Cluster, firebase_auth: str
) -> None:
    cluster.ticker()
    pod = cluster.pod(
        PLACE_AUTH="firebase",
        PLACE_FIREBASE_PROJECT_ID=PROJECT,
        FIREBASE_AUTH_EMULATOR_HOST=firebase_auth,
    )
    uid, token = sign_up(firebase_auth, "ann@example.com", "Ann")
    player = await TestPlayer.join(pod.ws_url)

    await player.send({"t": "auth", "token": "not-a-token"})
    refused = await player.expect("error")
    assert refused["code"] == "unauthenticated" and "token" in refused["message"]

    hello = await player.sign_in(token)
    assert hello["user"] == {"id": uid, "name": "Ann"}
    assert (await player.place(4, 5, 6))["t"] == "placed"
    async with httpx.AsyncClient(base_url=pod.url) as http:
        pixel = (await http.get("/api/pixel", params={"x": 4, "y": 5})).json()
    assert pixel["user"] == {"name": "Ann"}

    assert cluster.admin("ban", uid).returncode == 0  # ops name a player by user.id
    assert (await player.place(4, 6, 6, place_id=2))["code"] == "banned"
    await player.close()
