"""A pod's long-lived tasks never die silently: a message on the ticker's channel that nobody
expected (garbage, or a notice missing its fields) makes the mirror fail; it is logged, counted
and restarted, `/readyz` says so meanwhile, and players get deltas again without reconnecting."""

from __future__ import annotations

import redis as redis_sync

from tests.client import TestPlayer
from tests.faults.conftest import OwnRedis
from tests.faults.load import KEYS, until


async def test_a_bad_message_on_the_channel_restarts_the_mirror_and_players_carry_on(
    own_redis: OwnRedis, make_cluster
) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(own_redis)
    cluster.ticker()
    pod = cluster.pod()
    painter = await TestPlayer.join(pod.ws_url)
    await painter.sign_in("ann")
    viewer = await TestPlayer.join(pod.ws_url)
    client = redis_sync.Redis.from_url(cluster.redis_url)

    for x, bad in enumerate((b"not json", b'{"t":"snapshot"}', b"E\x00\x01")):
        client.publish(KEYS.channel, bad)
        failures = x + 1
        await until(lambda n=failures: pod.log().count("task mirror failed") == n, 5, "a restart")
        assert (await painter.place(x, 1, 7, place_id=x))["t"] == "placed"
        await viewer.wait_for(lambda x=x: viewer.pixel(x, 1) == 7, timeout=5)
    assert pod.log().count("task mirror failed") == 3
    assert "Traceback" in pod.log()  # logged with its traceback, for whoever fixes it
    pod.wait_ready(timeout=5)
    await painter.close()
    await viewer.close()
