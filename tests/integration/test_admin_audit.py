"""The admin audit log, in Redis and in the store, and `place admin status`, against a real Redis
and a real store (a directory)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from place.admin import Admin
from place.admin_audit import default_actor
from place.api.hub import Hub
from place.api.stats import StatsReporter
from place.errors import AdminError
from place.keys import Keys
from place.metrics import Metrics
from place.scripts import Scripts
from place.settings import Settings
from place.store import open_store
from place.ticker.schedule import beat
from place.ticker.ticker import Ticker
from tests.integration.helpers import SETTINGS, leading_ticker

KEYS = Keys()


async def test_every_change_and_refusal_is_logged_against_the_admin(
    redis: Redis, tmp_path: Path
) -> None:
    await leading_ticker(redis)
    store = open_store(Settings(), f"file://{tmp_path}/store")
    admin = Admin(redis, KEYS, actor="alice", store=store)
    await admin.cooldown(5)
    await admin.wipe(1, 1, 2, 2, 1)
    await admin.ban("eve", "2h", "spam")
    with pytest.raises(AdminError):
        await admin.resize(0, 10)
    await admin.bans()  # reading: not an action

    lines = (await admin.log()).splitlines()
    assert [line.split("\t")[1:4] for line in lines] == [
        ["alice", "cooldown", "seconds=5"],
        ["alice", "wipe", "x=1 y=1 width=2 height=2 color=1"],
        ["alice", "ban", "player=eve duration=2h reason=spam"],
        ["alice", "resize", "width=0 height=10 anchor=top-left"],
    ]
    assert lines[0].split("\t")[4].startswith("set the cooldown to 5 s")
    assert lines[3].split("\t")[4].startswith("REFUSED: a canvas is 1 to 65535 pixels a side")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", lines[0].split("\t")[0])

    # the wipe is the admin's in the placement stream (what the archive and exports show)
    wipe = (await redis.xrevrange(KEYS.placements, count=1))[0][1]
    assert wipe[b"u"] == b"alice"

    # each entry is an object in the store too, and the log outlives Redis losing it
    objects = [item.key for item in store.list("audit/")]
    assert len(objects) == 4 and all(key.endswith(".json") for key in objects)
    assert orjson.loads(store.read(objects[2])[0])["args"]["player"] == "eve"
    await redis.delete(KEYS.audit)
    assert (await admin.log()).splitlines() == lines
    since = lines[2].split("\t")[0]
    assert len((await admin.log(since)).splitlines()) >= 2


async def test_entries_wait_in_redis_while_the_store_is_down(redis: Redis, tmp_path: Path) -> None:
    await leading_ticker(redis)
    blocker = tmp_path / "store"
    blocker.write_text("not a directory")  # the store cannot write under it
    store = open_store(Settings(), f"file://{blocker}/audit-store")
    admin = Admin(redis, KEYS, actor="bob", store=store)
    said = await admin.cooldown(1)
    assert "audit log kept in Redis; the store did not take it yet" in said
    blocker.unlink()  # the store answers again: the next command copies what waited
    await admin.cooldown(2)
    assert len(store.list("audit/")) == 2


def test_the_default_admin_is_the_os_user_at_the_host() -> None:
    assert re.match(r"^[^@\s]+@[^@\s]+$", default_actor())


async def test_status_shows_the_whole_deployment(redis: Redis) -> None:
    active = await leading_ticker(redis)
    standby = Ticker(SETTINGS, redis)
    await beat(active)
    await beat(standby)
    hub, metrics = Hub(60), Metrics()
    metrics.placements["stored"] = 0
    pod = StatsReporter(redis, Scripts(redis), KEYS, hub, metrics)
    await pod.report()
    admin = Admin(redis, KEYS, actor="mod")
    await admin.ban("eve", reason="spam")
    await admin.close()

    data = orjson.loads(await admin.status(as_json=True))
    assert data["canvas"]["width"] == 10 and data["canvas"]["open"] is False
    assert data["tickers"]["active"]["id"] == active.lock.token[:8]
    assert [t["id"] for t in data["tickers"]["standbys"]] == [standby.lock.token[:8]]
    assert [p["id"] for p in data["pods"]] == [pod.pod_id]
    assert data["pods"][0]["connections"] == 0 and data["pods"][0]["pps"] == 0
    assert data["bans"] == [{"player": "eve", "reason": "spam", "until": None}]
    assert data["schedule"] == {"opens_at": None, "closes_at": None}
    assert data["backup"] is None

    text = await admin.status()
    assert "canvas: 10x8, 4 colours, cooldown 60 s, CLOSED" in text
    assert f"active ticker: {active.lock.token[:8]} on " in text
    assert "pods: 1, 0 connections, 0 placements/s" in text
    assert "bans in force: 1\n  eve\tspam\tnever" in text
