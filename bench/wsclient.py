"""A minimal websocket client (RFC 6455) for load generation.

One ``asyncio.Protocol`` per connection and no task per connection, so one driver process holds
thousands of players at a few microseconds of CPU per received frame. It speaks only what the
benchmarks need: the HTTP/1.1 upgrade (no extensions, so no permessage-deflate), unmasked server
frames, masked client frames, fragmented messages, ping/pong and the closing handshake. It does
not check ``Sec-WebSocket-Accept``: the server is ours and on loopback.

Subclasses override ``on_open``, ``on_text``, ``on_binary`` and ``on_close``. ``data_received``
takes one ``time.monotonic()`` per chunk and hands it to the callbacks as ``t``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import struct
import time

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

_rand = random.Random(os.getpid())  # mask keys: unpredictability is not a concern on loopback
_monotonic = time.monotonic


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    n = len(payload)
    key = _rand.getrandbits(32).to_bytes(4, "big")
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
    if not n:
        return header + key
    keys = (key * ((n + 3) // 4))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")
    return header + key + masked


def unmask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    keys = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


class HandshakeError(Exception):
    """The server did not answer the upgrade with 101."""


class Client(asyncio.Protocol):
    """A websocket connection driven by callbacks; see the module docstring."""

    def __init__(self, host: str, port: int, path: str = "/ws") -> None:
        self.host, self.port = host, port
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.lost = False
        self._hs: bytearray | None = bytearray()
        self._buf = bytearray()
        self._need = 0  # bytes the buffered, incomplete frame needs before parsing again
        self._frag_op = 0
        self._frag: bytearray | None = None

    # asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self._request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"lost before upgrade: {exc}"))
        self.on_close(self.close_code if self.close_code is not None else 1006)

    def data_received(self, data: bytes) -> None:
        t = _monotonic()
        if self._hs is not None:
            hs = self._hs
            hs += data
            i = hs.find(b"\r\n\r\n")
            if i < 0:
                if len(hs) > 65536:
                    self._fail(HandshakeError("response head over 64 KiB"))
                return
            head = bytes(hs[:i])
            data = bytes(hs[i + 4 :])
            self._hs = None
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(HandshakeError(head.split(b"\r\n", 1)[0].decode(errors="replace")))
                return
            self.opened.set_result(None)
            self.on_open(t)
            if not data:
                return
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return
            data = buf
        n = len(data)
        pos = 0
        self._need = 0
        while n - pos >= 2:
            b0 = data[pos]
            ln = data[pos + 1]
            hl = 2
            masked = ln & 0x80
            ln &= 0x7F
            if ln == 126:
                if n - pos < 4:
                    break
                ln = (data[pos + 2] << 8) | data[pos + 3]
                hl = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(data[pos + 2 : pos + 10], "big")
                hl = 10
            if masked:
                hl += 4
            end = pos + hl + ln
            if end > n:
                self._need = end - pos
                break
            payload = bytes(data[pos + hl : end])
            if masked:
                payload = unmask(payload, bytes(data[pos + hl - 4 : pos + hl]))
            pos = end
            op = b0 & 0x0F
            if not b0 & 0x80 or op == OP_CONT:  # fragmented message
                if op != OP_CONT:
                    self._frag_op = op
                    self._frag = bytearray(payload)
                elif self._frag is not None:
                    self._frag += payload
                if not b0 & 0x80:
                    continue
                op, payload, self._frag = self._frag_op, bytes(self._frag or b""), None
            if op == OP_BINARY:
                self.on_binary(payload, t)
            elif op == OP_TEXT:
                self.on_text(payload, t)
            elif op == OP_PING:
                self._write(encode_frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._write(encode_frame(OP_CLOSE, payload[:2]))
                if self.transport is not None:
                    self.transport.close()
                return
        if pos == 0:
            if data is not buf:
                self._buf = bytearray(data)
        elif pos < n:
            self._buf = bytearray(data[pos:])
        elif buf:
            self._buf = bytearray()

    # sending -----------------------------------------------------------------------------------
    def _write(self, frame: bytes) -> None:
        tr = self.transport
        if tr is not None and not tr.is_closing():
            tr.write(frame)

    def send_text(self, payload: bytes) -> None:
        self._write(encode_frame(OP_TEXT, payload))

    def send_binary(self, payload: bytes) -> None:
        self._write(encode_frame(OP_BINARY, payload))

    def close(self, code: int = 1000) -> None:
        self._write(encode_frame(OP_CLOSE, code.to_bytes(2, "big")))
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # callbacks ---------------------------------------------------------------------------------
    def on_open(self, t: float) -> None:
        pass

    def on_text(self, payload: bytes, t: float) -> None:
        pass

    def on_binary(self, payload: bytes, t: float) -> None:
        pass

    def on_close(self, code: int) -> None:
        pass


async def connect(client: Client, timeout: float = 30.0) -> Client:
    """Open ``client``'s TCP connection and wait for the upgrade; raises on failure."""
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(
        loop.create_connection(lambda: client, client.host, client.port), timeout
    )
    await asyncio.wait_for(asyncio.shield(client.opened), timeout)
    return client
