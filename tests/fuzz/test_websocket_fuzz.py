"""Websocket frames of every shape against a real pod: each text frame gets exactly the contract's
answer (computed here from the contract's rules, not by the pod's code), a binary frame gets
`bad_message`, a frame that breaks RFC 6455 closes the connection with a protocol close code
(never 1011, the server's own failure), and nothing changes the canvas or logs a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tests.faults.rawws import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    RawSocket,
    frame,
)
from tests.fuzz.conftest import COLORS, HEIGHT, WIDTH, Site, examples

MAX_MESSAGE = 4096  # the contract: a bigger message closes with 1009
JSON_INTEGER_MAX = 2**53
DEV_NAME = re.compile(r"^[\w .\-]{1,32}$")  # docs/settings.md: what dev auth takes as a name
PROTOCOL_CLOSES = {1002, 1007, 1009}

# --- what a player may send ---------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=-3, max_value=WIDTH + 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
coordinates = (
    st.integers(min_value=-2, max_value=WIDTH + 2)
    | st.integers(min_value=-(2**66), max_value=2**66)
    | st.sampled_from([JSON_INTEGER_MAX, JSON_INTEGER_MAX + 1, -JSON_INTEGER_MAX - 1, 2**63])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1.0, 0.5, -0.0])
    | json_values
)
colors = st.integers(min_value=-2, max_value=COLORS + 2) | coordinates
extra = st.dictionaries(
    st.text(max_size=6).filter(lambda k: k not in "txycid"), json_values, max_size=3
)


@st.composite
def place_messages(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {"t": "place"}
    for key, values in (("id", json_values), ("x", coordinates), ("y", coordinates), ("c", colors)):
        if draw(st.integers(0, 9)):  # a field is sometimes missing
            message[key] = draw(values)
    return {**draw(extra), **message}


messages = st.one_of(
    place_messages(),
    place_messages(),
    st.fixed_dictionaries({"t": st.just("auth"), "token": st.text(max_size=40) | json_values}),
    st.fixed_dictionaries({"t": st.just("resync")}, optional={"x": json_values}),
    st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    st.fixed_dictionaries({"t": json_values}),
    json_values,
)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


raw_texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "",
            "{",
            "}",
            "null",
            "NaN",
            '{"t":NaN}',
            '{"t":"place","x":1e999}',
            "1e999",
            '{"t":}',
            '{"t":"place","x":1,"y":1,"c":1,"x":"dup"}',
            '{"t":"place","x":00,"y":0,"c":0}',
        ]
    ),
    st.integers(1, 2000).map(deep),
    st.integers(1, 700).map(lambda n: '{"t":' * n + "1" + "}" * n),
    st.integers(4000, 5000).map(lambda n: '{"t":"place","pad":"' + "x" * n + '"}'),
)


def encode(message: Any) -> str:
    return json.dumps(message, ensure_ascii=False)


# --- what the contract says comes back ---------------------------------------------------------


def contract_answer(text: str) -> tuple[str, Any, Any]:
    """("error", code, id), ("hello", None, None), ("nothing", None, None) or ("close", 1009)."""
    if len(text.encode()) > MAX_MESSAGE:
        return ("close", 1009, None)
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ("error", "bad_message", None)
    if not isinstance(message, dict):
        return ("error", "bad_message", None)
    kind = message.get("t")
    if kind == "place":
        place_id = message.get("id")
        values = [message.get(name) for name in ("x", "y", "c")]
        if any(type(v) is not int or abs(v) > JSON_INTEGER_MAX for v in values):
            return ("error", "bad_message", place_id)
        x, y, c = values
        if not (0 <= x < WIDTH and 0 <= y < HEIGHT):
            return ("error", "out_of_bounds", place_id)
        if not 0 <= c < COLORS:
            return ("error", "bad_color", place_id)
        return ("error", "closed", place_id)  # the fuzz canvas is closed: nothing is stored
    if kind == "auth":
        token = message.get("token")
        if not isinstance(token, str) or not token:
            return ("error", "bad_message", None)
        if DEV_NAME.match(token.strip()):
            return ("hello", None, None)
        return ("error", "unauthenticated", None)
    if kind == "resync":
        return ("nothing", None, None)
    return ("error", "bad_message", None)


# --- a player over a raw socket ---------------------------------------------------------------


class Player:
    """One signed-in connection, reopened after every close; answers are read up to a probe."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.socket: RawSocket | None = None
        self.probes = 0

    async def ensure(self) -> RawSocket:
        if self.socket is None:
            self.socket = await RawSocket.open(self.site.pod.port)
            await self.socket.text('{"t":"auth","token":"fuzzer"}')
            answers, closed = await self.answers()
            assert closed is None and any(a.get("t") == "hello" and a["user"] for a in answers)
        return self.socket

    async def answers(self) -> tuple[list[dict[str, Any]], int | None]:
        """Every text frame up to the answer to a probe sent now, or the close code."""
        assert self.socket is not None
        self.probes += 1
        probe = f"probe-{self.probes}"
        # (when the socket is closed already, its close frame waits to be read)
        with contextlib.suppress(ConnectionError, OSError):
            await self.socket.text(encode({"t": "place", "id": probe, "x": -1, "y": 0, "c": 0}))
        found: list[dict[str, Any]] = []
        while True:
            try:
                opcode, payload = await self.socket.next_frame(timeout=10)
            except (asyncio.IncompleteReadError, ConnectionError):
                await self.drop()
                return found, 1006
            if opcode == OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                await self.drop()
                return found, code
            if opcode != OP_TEXT:
                continue  # snapshots, deltas, pongs
            answer = orjson.loads(payload)
            if answer.get("id") == probe:
                assert answer["code"] == "out_of_bounds", answer
                return found, None
            if answer.get("t") in ("error", "hello", "placed"):
                found.append(answer)

    async def drop(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None


_players: dict[int, Player] = {}


def player_for(site: Site) -> Player:
    return _players.setdefault(id(site), Player(site))


async def check_text(player: Player, text: str) -> None:
    socket = await player.ensure()
    expected = contract_answer(text)
    socket.send(frame(OP_TEXT, text.encode()))
    answers, closed = await player.answers()
    assert_answer(expected, answers, closed, text)


def assert_answer(
    expected: tuple[str, Any, Any], answers: list[dict[str, Any]], closed: int | None, sent: Any
) -> None:
    kind, code, place_id = expected
    if kind == "close":
        assert closed == code, (sent, answers, closed)
        return
    assert closed is None, (sent, closed)
    if kind == "nothing":
        assert answers == [], (sent, answers)
    elif kind == "hello":
        assert [a["t"] for a in answers] == ["hello"], (sent, answers)
    else:
        assert len(answers) == 1 and answers[0]["t"] == "error", (sent, answers)
        assert answers[0]["code"] == code, (sent, answers, code)
        assert answers[0]["id"] == place_id, (sent, answers, place_id)


# --- the tests ----------------------------------------------------------------------------------


@examples(3500)
@given(message=messages)
def test_every_json_message_gets_the_contracts_answer(site: Site, runner, message: Any) -> None:  # type: ignore[no-untyped-def]
    runner.run(check_text(player_for(site), encode(message)))


@examples(1500)
@given(text=raw_texts)
def test_every_text_frame_gets_the_contracts_answer(site: Site, runner, text: str) -> None:  # type: ignore[no-untyped-def]
    runner.run(check_text(player_for(site), text))


def fragments(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(len(data), c) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@st.composite
def raw_frames(draw: st.DrawFn) -> tuple[str, list[bytes], tuple[str, Any, Any]]:
    """(what, the bytes of one or more frames, the answer expected)."""
    kind = draw(
        st.sampled_from(
            ["fragmented", "binary", "fragmented_binary", "bad_utf8", "rsv", "unmasked",
             "opcode", "lone_continuation", "ping", "big_ping", "interleaved_ping", "close"]
        )
    )  # fmt: skip
    bad_message = ("error", "bad_message", None)
    if kind in ("fragmented", "interleaved_ping"):
        text = encode(draw(messages))
        data = text.encode()
        pieces = fragments(data, draw(st.lists(st.integers(0, len(data)), max_size=4)))
        out = [
            frame(OP_TEXT if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1)
            for i, piece in enumerate(pieces)
        ]
        if kind == "interleaved_ping" and len(out) > 1:  # control frames may come between
            out.insert(1, frame(OP_PING, draw(st.binary(max_size=125))))
        return kind, out, contract_answer(text)
    if kind == "binary":
        data = draw(st.binary(max_size=300) | st.binary(min_size=4000, max_size=4200))
        expected = ("close", 1009, None) if len(data) > MAX_MESSAGE else bad_message
        return kind, [frame(OP_BINARY, data)], expected
    if kind == "fragmented_binary":
        data = draw(st.binary(max_size=300))
        pieces = fragments(data, draw(st.lists(st.integers(0, len(data)), min_size=1, max_size=3)))
        out = [
            frame(OP_BINARY if i == 0 else OP_CONT, piece, fin=i == len(pieces) - 1)
            for i, piece in enumerate(pieces)
        ]
        return kind, out, bad_message
    if kind == "bad_utf8":
        good = draw(st.text(max_size=20)).encode()
        bad = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        )
        return kind, [frame(OP_TEXT, good + bad)], ("close", 1007, None)
    if kind == "rsv":
        rsv = draw(st.integers(1, 7))
        return kind, [frame(OP_TEXT, b'{"t":"resync"}', rsv=rsv)], ("close", 1002, None)
    if kind == "unmasked":
        return kind, [frame(OP_TEXT, b'{"t":"resync"}', masked=False)], ("close", 1002, None)
    if kind == "opcode":
        opcode = draw(st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]))
        return kind, [frame(opcode, draw(st.binary(max_size=20)))], ("close", 1002, None)
    if kind == "lone_continuation":
        return kind, [frame(OP_CONT, draw(st.binary(max_size=20)))], ("close", 1002, None)
    if kind == "ping":
        return kind, [frame(OP_PING, draw(st.binary(max_size=125)))], ("nothing", None, None)
    if kind == "big_ping":
        return (
            kind,
            [frame(OP_PING, draw(st.binary(min_size=126, max_size=300)))],
            (
                "close",
                1002,
                None,
            ),
        )
    # a close frame: the pod answers it and the connection ends, quietly
    code = draw(st.sampled_from([1000, 1001, 3000, 4999]))
    payload = code.to_bytes(2, "big") + draw(st.text(max_size=20)).encode()[:120]
    return kind, [frame(OP_CLOSE, payload)], ("close", code, None)


@examples(2000)
@given(case=raw_frames())
def test_frames_of_every_shape_are_answered_or_closed_by_the_rfc(site: Site, runner, case) -> None:  # type: ignore[no-untyped-def]
    kind, data, expected = case

    async def run() -> None:
        player = player_for(site)
        socket = await player.ensure()
        for piece in data:
            socket.send(piece)
        answers, closed = await player.answers()
        if expected[0] == "close":
            allowed = {expected[1]} | ({1000} if kind == "close" else set())
            assert closed in allowed | (PROTOCOL_CLOSES if kind != "close" else set()), (
                kind,
                closed,
                answers,
            )
            assert closed != 1011
            if closed is None:
                await player.drop()
        else:
            assert_answer(expected, answers, closed, (kind, data))

    runner.run(run())


def test_no_bad_input_changed_the_canvas_or_failed_the_pod(site: Site, runner) -> None:  # type: ignore[no-untyped-def]
    """Last in the module: everything above changed nothing, and the pod logged no error."""
    player = player_for(site)
    runner.run(player.drop())
    site.assert_untouched()
