"""Load and bookkeeping for the fault suite: players placing pixels through real pods while
something breaks, every answer recorded, and the final canvas checked against them.

A placement is either acknowledged (`placed`: stored, it must survive), refused with a definite
error (`cooldown`, `out_of_bounds`, ...: not stored), or ambiguous: `unavailable` after a timeout,
or no answer at all because the socket died (it may or may not have been stored). Each writer owns
its own pixels and places one at a time, so the order of its placements is known: at the end
every pixel must hold its last acknowledged colour, or the colour of an ambiguous placement made
after it, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import redis as redis_sync
from websockets.exceptions import WebSocketException

from place.keys import Keys
from tests.client import TestPlayer

KEYS = Keys()
ANSWER_WITHIN_S = 3.0  # the contract: every placement is answered within 3 s
GIVE_UP_AFTER_S = 6.0  # no answer this long: the socket is taken for dead


@dataclasses.dataclass
class Attempt:
    color: int
    outcome: str = "pending"  # placed, refused, ambiguous
    latency: float | None = None  # seconds to the answer, when one came


class Ledger:
    """Every placement of every writer, by pixel, in the order each writer made them."""

    def __init__(self) -> None:
        self.by_pixel: dict[int, list[Attempt]] = {}
        self.answers: list[tuple[float, float, str]] = []  # (sent at, latency, code) of each

    def attempt(self, pixel: int, color: int) -> Attempt:
        attempt = Attempt(color)
        self.by_pixel.setdefault(pixel, []).append(attempt)
        return attempt

    @property
    def acknowledged(self) -> int:
        return sum(a.outcome == "placed" for tries in self.by_pixel.values() for a in tries)

    def allowed(self, pixel: int, initial: int = 0) -> set[int]:
        """The colours the pixel may end with."""
        tries = self.by_pixel.get(pixel, [])
        last_placed = max((i for i, a in enumerate(tries) if a.outcome == "placed"), default=-1)
        allowed = {tries[last_placed].color if last_placed >= 0 else initial}
        allowed |= {a.color for a in tries[last_placed + 1 :] if a.outcome == "ambiguous"}
        return allowed

    def check(self, canvas: np.ndarray, initial: np.ndarray | None = None) -> None:
        """Every acknowledged placement is on `canvas`, and nothing that was refused."""
        wrong = {}
        for pixel in self.by_pixel:
            start = 0 if initial is None else int(initial[pixel])
            allowed = self.allowed(pixel, start)
            if int(canvas[pixel]) not in allowed:
                wrong[pixel] = (int(canvas[pixel]), sorted(allowed))
        assert not wrong, f"{len(wrong)} pixels lost an acknowledged placement: {wrong}"


class Writer:
    """A player placing pixels one after another in its own pixels, reconnecting (to the next
    pod in `urls`) whenever its socket dies or stops answering."""

    def __init__(
        self, name: str, urls: Sequence[str], pixels: Sequence[int], width: int, ledger: Ledger
    ) -> None:
        self.name = name
        self.urls = list(urls)
        self.pixels = [int(pixel) for pixel in pixels]
        self.width = width
        self.ledger = ledger
        self.player: TestPlayer | None = None
        self.turn = 0  # which url next
        self.count = 0
        self.reconnects = 0

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            if self.player is None and not await self._connect():
                await asyncio.sleep(0.2)
                continue
            await self._place_one()
        await self.close()

    async def _connect(self) -> bool:
        url = self.urls[self.turn % len(self.urls)]
        self.turn += 1
        try:
            player = await TestPlayer.join(url)
            hello = await player.sign_in(self.name)
        except (OSError, TimeoutError, WebSocketException):
            return False
        if hello.get("user") is None:
            await player.close()
            return False
        self.player = player
        self.reconnects += 1
        return True

    async def _place_one(self) -> None:
        assert self.player is not None
        pixel = self.pixels[self.count % len(self.pixels)]
        color = self.count % 31 + 1
        place_id = f"{self.name}-{self.count}"
        self.count += 1
        attempt = self.ledger.attempt(pixel, color)
        sent = time.monotonic()
        try:
            await self.player.send(
                {
                    "t": "place",
                    "id": place_id,
                    "x": pixel % self.width,
                    "y": pixel // self.width,
                    "c": color,
                }
            )
            answer = await self._answer(place_id)
        except (TimeoutError, WebSocketException, OSError):
            attempt.outcome = "ambiguous"  # no answer: the socket died with it
            await self.close()
            return
        attempt.latency = time.monotonic() - sent
        code = "placed" if answer["t"] == "placed" else answer["code"]
        self.ledger.answers.append((sent, attempt.latency, code))
        if code == "placed":
            attempt.outcome = "placed"
        elif code == "unavailable":
            attempt.outcome = "ambiguous"  # Redis may have stored it before the pod gave up
            await asyncio.sleep(0.05)
        else:
            attempt.outcome = "refused"

    async def _answer(self, place_id: str) -> dict:  # type: ignore[type-arg]
        assert self.player is not None
        async with asyncio.timeout(GIVE_UP_AFTER_S):
            while True:
                if self.player.connection.close_code is not None and self.player.texts.empty():
                    raise ConnectionError("closed")
                try:
                    message = await asyncio.wait_for(self.player.texts.get(), 0.5)
                except TimeoutError:
                    continue
                if message["t"] in ("placed", "error") and message.get("id") == place_id:
                    return message

    async def close(self) -> None:
        if self.player is not None:
            with contextlib.suppress(Exception):
                await self.player.close()
            self.player = None


def writers_for(
    urls: Sequence[str], count: int, width: int, height: int, ledger: Ledger
) -> list[Writer]:
    """`count` writers, each owning every count-th pixel, spread over the pods' urls."""
    pixels = np.arange(width * height)
    return [
        Writer(
            f"w{i}",
            [*urls[i % len(urls) :], *urls[: i % len(urls)]],
            pixels[i::count],
            width,
            ledger,
        )
        for i in range(count)
    ]


async def run_writers(writers: Sequence[Writer], seconds: float) -> None:
    until = time.monotonic() + seconds
    await asyncio.gather(*(writer.run(until) for writer in writers))


def redis_canvas(url: str) -> np.ndarray:
    raw = redis_sync.Redis.from_url(url).get(KEYS.canvas)
    assert raw is not None, "Redis holds no canvas"
    return np.frombuffer(raw, np.uint8)


async def settled_canvas(redis_url: str, pod_url: str, timeout: float = 20) -> np.ndarray:
    """The canvas once the ticker folded everything and a player of `pod_url` sees it: the same
    bytes as Redis holds (what every player sees, and what Redis keeps, agree)."""
    client = redis_sync.Redis.from_url(redis_url)
    viewer = await TestPlayer.join(pod_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            raw = client.get(KEYS.canvas)
            if raw is not None and viewer.canvas is not None and viewer.canvas.tobytes() == raw:
                stream_end = (
                    client.xinfo_stream(KEYS.placements)["last-generated-id"]
                    if (client.exists(KEYS.placements))
                    else b"0-0"
                )
                pos = client.hget(KEYS.ticker_state, "pos") or b"0-0"
                if _id(pos) >= _id(stream_end):
                    return np.frombuffer(raw, np.uint8)
            if time.monotonic() > deadline:
                state = client.hgetall(KEYS.ticker_state)
                differs = None
                if raw is not None and viewer.canvas is not None:
                    differs = int(np.count_nonzero(np.frombuffer(raw, np.uint8) != viewer.canvas))
                raise AssertionError(
                    f"the pods' canvas never settled on Redis's: ticker state {state},"
                    f" player seq {viewer.seq}, {differs} pixels differ"
                )
            await asyncio.sleep(0.1)
    finally:
        await viewer.close()


def _id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


async def until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for `condition()` to hold, with a deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
