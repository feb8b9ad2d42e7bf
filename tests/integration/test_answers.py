"""A pod's answers to placements taken straight from the socket: one write per player and batch,
in the order the player asked, each frame the contract's, every one counted; and the placement
script found again after Redis lost it."""

from __future__ import annotations

import orjson
from redis.asyncio import Redis

from place import protocol
from place.api.auth import make_authenticator
from place.api.frames import text_frame
from place.api.hub import Connection, FastReader
from place.api.pod import Pod
from place.canvas import Placer
from place.keys import Keys
from place.scripts import Scripts
from place.settings import Settings
from place.status import MAX_CLIENT_MESSAGE_BYTES, ErrorCode
from tests.integration.helpers import leading_ticker, place, player
from tests.unit.test_hub import FakeProtocol, Inner, client_frame

KEYS = Keys()


def frames_of(data: bytes) -> list[bytes]:
    """The payloads of the server's (unmasked, short) text frames in `data`."""
    payloads = []
    while data:
        assert data[0] == 0x81 and data[1] < 126
        payloads.append(data[2 : 2 + data[1]])
        data = data[2 + data[1] :]
    return payloads


async def test_a_batchs_answers_reach_each_player_in_one_write_in_order(redis: Redis) -> None:
    await leading_ticker(redis)  # 10 x 8, 4 colours, 60 s cooldown
    settings = Settings.from_env({"PLACE_AUTH": "dev"})
    pod = Pod(settings, redis, make_authenticator(settings, "dev"))
    sockets = {}
    for name in ("ann", "bob"):
        connection = Connection(FakeProtocol(), None, resync_at=0)
        connection.player = await player(redis, name)
        sockets[name] = (connection, FastReader(Inner(), connection, pod._take, 2**12))
    asks = {
        "ann": [
            b'{"t":"place","id":1,"x":1,"y":1,"c":2}',
            b'{"t":"place","id":"two","x":10,"y":1,"c":2}',  # out of bounds
            b'{"t":"place","id":[3],"x":2,"y":1,"c":2}',  # her cooldown began with id 1
            b'{"c":1,"y":2,"x":2,"id":4,"t":"place"}',  # any key order
        ],
        "bob": [b'{"t":"place","x":3,"y":3,"c":9}'],  # bad colour, no id
    }
    for name, texts in asks.items():
        sockets[name][1].data_received(b"".join(client_frame(1, text) for text in texts))
    await pod.placer.drain()

    ann, bob = (sockets[name][0]._transport.written for name in ("ann", "bob"))  # type: ignore[attr-defined]
    assert len(ann) == 1 and len(bob) == 1  # one write each for the whole batch
    answers = [orjson.loads(payload) for payload in frames_of(ann[0])]
    assert [(a["t"], a["id"], a.get("code")) for a in answers] == [
        ("placed", 1, None),
        ("error", "two", "out_of_bounds"),
        ("error", [3], "cooldown"),
        ("error", 4, "cooldown"),
    ]
    next_at = answers[0]["next_place_at_ms"]
    assert answers[2]["retry_at_ms"] == answers[3]["retry_at_ms"] == next_at
    # byte for byte the frames the contract's encoders make
    assert ann[0].startswith(
        text_frame(protocol.encode_placed(protocol.Place(1, 1, 1, 2), next_at))
    )
    assert bob[0] == text_frame(protocol.encode_error(None, ErrorCode.BAD_COLOR))
    assert sockets["ann"][0].next_place_at_ms == next_at
    assert pod.metrics.placements == {
        "stored": 1,
        "out_of_bounds": 1,
        "cooldown": 2,
        "bad_color": 1,
    }
    assert pod.metrics.errors == {"out_of_bounds": 1, "cooldown": 2, "bad_color": 1}
    assert (await redis.get(KEYS.canvas))[1 * 10 + 1] == 2


async def test_bad_and_other_messages_are_left_to_the_slow_way(redis: Redis) -> None:
    """What is not a valid placement is not taken from the socket: it goes to uvicorn's queue, in
    order, and the pod's loop answers it with the full parser's message (tests/fuzz)."""
    await leading_ticker(redis)
    settings = Settings.from_env({"PLACE_AUTH": "dev"})
    pod = Pod(settings, redis, make_authenticator(settings, "dev"))
    connection = Connection(FakeProtocol(), None, resync_at=0)
    connection.player = await player(redis, "ann")
    inner = Inner()
    reader = FastReader(inner, connection, pod._take, MAX_CLIENT_MESSAGE_BYTES)
    texts = [b'{"t":"place","id":1,"x":1.5,"y":1,"c":2}', b'{"t":"resync"}', b"[]"]
    sent = b"".join(client_frame(1, text) for text in texts)
    reader.data_received(sent)
    assert inner.data == sent and connection.queued == 3 and pod.placer.pending == 0


async def test_the_placement_script_is_loaded_again_after_redis_lost_it(redis: Redis) -> None:
    await leading_ticker(redis)
    ann, bob = await player(redis, "ann"), await player(redis, "bob")
    placer = Placer(Scripts(redis), KEYS)
    assert (await place(placer, ann, 1, 1, 1))[0] is None
    await redis.script_flush()  # as a restarted Redis without persistence
    assert (await place(placer, bob, 2, 2, 2))[0] is None
    assert (await place(placer, ann, 3, 3, 3))[0] is ErrorCode.COOLDOWN
    assert await redis.script_exists(placer._script._script.sha) == [True]
    assert placer.calls == 3
