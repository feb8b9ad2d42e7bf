"""The floor under a pod's CPU per delivered frame: one bare ``socket.send`` per connection.

``python -m bench.floor [--connections N] [--size BYTES] [--rounds R] [--cpu C]``

A pod writes each delta to every player's socket; most of that cost is the kernel's (on loopback
the send also runs the receiving socket's TCP path). This measures the same work with nothing of
the pod around it: this process (pinned to ``--cpu``) accepts N loopback connections from a reader
process (pinned to another core, reading and dropping everything, as the bench's viewers do) and
sends one frame of ``--size`` bytes to each, ``--rounds`` times, twice a second; CPU per send is
this process's user + system time (``/proc``, as the pod's is measured) over the sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds() -> float:
    with open(f"/proc/{os.getpid()}/stat", "rb") as file:
        fields = file.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def _read_all(port: int, count: int) -> None:
    """The reader process: open `count` connections and drop whatever arrives."""

    class Drop(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            pass

    loop = asyncio.get_running_loop()
    for _ in range(count):
        await loop.create_connection(Drop, "127.0.0.1", port)
    print("connected", flush=True)
    await asyncio.Event().wait()


def measure(
    connections: int, size: int, rounds: int, cpu: int | None, reader_cpu: int | None
) -> dict[str, float]:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    command = [sys.executable, "-m", "bench.floor", "--read", str(port), str(connections)]
    if reader_cpu is not None:
        command = ["taskset", "-c", str(reader_cpu), *command]
    reader = subprocess.Popen(
        command, stdout=subprocess.PIPE, cwd=os.path.dirname(__file__) + "/.."
    )
    try:
        sockets = []
        for _ in range(connections):
            conn, _ = listener.accept()
            conn.setblocking(False)
            sockets.append(conn)
        assert reader.stdout is not None
        reader.stdout.readline()
        frame = bytes([0x82, 126, size >> 8 & 0xFF, size & 0xFF]) + os.urandom(size)
        busy = 0.0
        sent = 0
        for _ in range(rounds):
            before = _cpu_seconds()
            for conn in sockets:
                conn.send(frame)
            busy += _cpu_seconds() - before
            sent += len(sockets)
            time.sleep(0.5)
        return {
            "connections": connections,
            "size": len(frame),
            "sends": sent,
            "cpu_s": busy,
            "cpu_per_send_us": busy / sent * 1e6,
        }
    finally:
        reader.kill()
        reader.wait()
        for conn in sockets:
            conn.close()
        listener.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=2_000, help="frame payload bytes (default 2000)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--cpu", type=int, default=0, help="core of the sender (default 0)")
    ap.add_argument("--reader-cpu", type=int, default=1, help="core of the reader (default 1)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    ap.add_argument("--read", nargs=2, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.read:
        asyncio.run(_read_all(*a.read))
        return 0
    r = measure(a.connections, a.size, a.rounds, a.cpu, a.reader_cpu)
    if a.json:
        print(json.dumps(r))
        return 0
    print(
        f"bare socket.send of a {r['size']}-byte frame to {r['connections']} loopback"
        f" connections: {r['cpu_per_send_us']:.2f} us of CPU per send ({r['sends']} sends)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
