"""A test player over a real websocket, keeping the canvas the way a browser does."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import Counter
from typing import Any

import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from place import protocol


class TestPlayer:
    __test__ = False  # not a test class, despite the name

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.texts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.canvas: np.ndarray | None = None
        self.width = self.height = 0
        self.seq = 0
        self.snapshots: list[int] = []  # seq of every snapshot received
        self.deltas: list[int] = []  # seq of every delta received (0x02 or 0x03)
        self.kinds: Counter[int] = Counter()  # binary frames received, by their first byte
        self.sums: list[tuple[int, bool]] = []  # (seq, whether our canvas matched) of every sum
        self.changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def join(cls, url: str, v2: bool = False) -> TestPlayer:
        """Connect and wait for the canvas; `v2`: ask for compact deltas and checksums, as the
        page does (`/ws?v=2`)."""
        if v2:
            url += "&v=2" if "?" in url else "?v=2"
        player = cls(await connect(url, compression=None, max_size=None, open_timeout=5))
        await player.expect("hello")
        await player.wait_for(lambda: player.canvas is not None)
        return player

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.connection:
                if isinstance(frame, str):
                    message = orjson.loads(frame)
                    if message.get("t") == "sum":
                        await self._check_sum(message["seq"], message["crc32"])
                    await self.texts.put(message)
                    self.changed.set()
                    continue
                self.kinds[frame[0]] += 1
                if frame[0] == protocol.SNAPSHOT:
                    snapshot = protocol.decode_snapshot(frame)
                    self.canvas = snapshot.pixels.copy()
                    self.width, self.height, self.seq = (
                        snapshot.width,
                        snapshot.height,
                        snapshot.seq,
                    )
                    self.snapshots.append(snapshot.seq)
                else:
                    delta = protocol.decode_any_delta(frame)
                    self.deltas.append(delta.seq)
                    if delta.seq > self.seq and self.canvas is not None:
                        self.canvas[delta.pixels] = delta.colors
                        self.seq = delta.seq
                self.changed.set()

    async def _check_sum(self, seq: int, crc32: int) -> None:
        """A checksum of the canvas at `seq`: ask for the canvas when ours differs (as the page
        does), or when we are behind it (a delta went missing)."""
        matches = self.canvas is not None and seq == self.seq and zlib.crc32(self.canvas) == crc32
        self.sums.append((seq, matches))
        if not matches and (self.canvas is None or seq >= self.seq):
            await self.send({"t": "resync"})

    async def send(self, message: dict[str, Any] | bytes | str) -> None:
        if isinstance(message, dict):
            message = orjson.dumps(message).decode()
        await self.connection.send(message)

    async def expect(self, kind: str, timeout: float = 5) -> dict[str, Any]:
        """The next text message of type `kind` (others before it are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.texts.get()
                if message["t"] == kind:
                    return message

    async def sign_in(self, name: str) -> dict[str, Any]:
        await self.send({"t": "auth", "token": name})
        return await self.expect("hello")

    async def place(self, x: int, y: int, c: int, place_id: Any = 1) -> dict[str, Any]:
        """Place and return the answer (`placed` or `error`) with this id."""
        await self.send({"t": "place", "id": place_id, "x": x, "y": y, "c": c})
        async with asyncio.timeout(5):
            while True:
                message = await self.texts.get()
                if message["t"] in ("placed", "error") and message.get("id") == place_id:
                    return message

    def pixel(self, x: int, y: int) -> int:
        assert self.canvas is not None
        return int(self.canvas[y * self.width + x])

    async def wait_for(self, condition: Any, timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def close_code(self, timeout: float = 10) -> int | None:
        async with asyncio.timeout(timeout):
            await self.connection.wait_closed()
        return self.connection.close_code

    async def close(self) -> None:
        await self.connection.close()
        self._reader.cancel()
