"""A websocket client that sends whatever frames it is told, right or wrong (RFC 6455 byte by
byte): fragments, reserved bits, bad UTF-8, control frames with big payloads, no mask. It reads
only when asked, so it can also be a client that stops reading."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def frame(
    opcode: int,
    payload: bytes,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    key: bytes | None = None,
) -> bytes:
    """One client frame, exactly as asked (even when that breaks the RFC)."""
    first = (0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0xF)
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        header = bytes((first, mask_bit | n))
    elif n < 65536:
        header = struct.pack(">BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack(">BBQ", first, mask_bit | 127, n)
    if not masked:
        return header + payload
    key = key if key is not None else os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + body


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, port: int, path: str = "/ws", receive_buffer: int | None = None
    ) -> RawSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:  # a small window: the server's writes pile up at once
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 16)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if not status.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"no upgrade: {status[:40]!r}")
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def text(self, payload: str | bytes) -> None:
        self.send(frame(OP_TEXT, payload.encode() if isinstance(payload, str) else payload))
        await self.writer.drain()

    async def next_frame(self, timeout: float = 5) -> tuple[int, bytes]:
        """(opcode, payload) of the next whole frame from the server (never masked)."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readexactly(2)
            n = head[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await self.reader.readexactly(8))[0]
            return head[0] & 0xF, await self.reader.readexactly(n)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
