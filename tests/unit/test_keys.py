"""Every Redis key of one event hashes to one Redis Cluster slot, so that every multi-key script
(a placement batch touches the canvas, the stream, the who record and the players' cooldowns)
runs on Redis Cluster."""

from __future__ import annotations

import inspect

from redis.crc import key_slot

from place.keys import Keys


def every_key(keys: Keys) -> list[str]:
    names = [
        getattr(keys, name)
        for name, member in inspect.getmembers(Keys)
        if isinstance(member, property)
    ]
    return [*names, keys.cooldown("ann"), keys.cooldown("{bob}"), keys.token("ab" * 32)]


def test_every_key_of_an_event_is_in_one_cluster_slot() -> None:
    for prefix in ("place", "event-2", "{odd}"):
        keys = every_key(Keys(prefix))
        slots = {key_slot(key.encode()) for key in keys}
        assert len(slots) == 1, {key: key_slot(key.encode()) for key in keys}


def test_two_events_on_one_redis_keep_apart() -> None:
    assert not set(every_key(Keys("a"))) & set(every_key(Keys("b")))
    assert Keys().canvas == "{place}:canvas"
