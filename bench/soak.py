"""Soak: steady load for a long time (10 minutes by default) against real processes, to show that
memory and latency stay flat: no leak in the pod, the ticker or Redis, no latency creeping up.

    python -m bench.soak                       # 10 minutes, the figures in docs/performance.md
    python -m bench.soak --duration 120        # a shorter look

It starts its own redis-server, one ticker and one pod (dev auth, no cooldown, 1000x1000), then
keeps up, in this process: viewers watching (a few reconnect every window: churn), writers
placing at a fixed rate, and viewers asking for `resync` now and then. Every window (30 s) it
prints the memory of each process and the latencies of that window:

- ack: from sending a placement to its `placed`;
- seen: from a `placed` to the delta carrying it at a viewer (the tick's wait plus fan-out).

At the end: the growth of each process's memory per minute after the warm-up (least squares over
the windows), and the first and last windows' latencies side by side. Everything stops by itself;
only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import redis as redis_sync
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import rss_kib
from place.dev import free_port, redis_server_command

REPO = Path(__file__).resolve().parent.parent
WIDTH = HEIGHT = 1000


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.acks: list[float] = []  # ack latencies of the current window
        self.seen: list[float] = []  # ack-to-delta latencies of the current window
        self.acked_at: dict[int, float] = {}  # (pixel << 8 | colour) -> when it was acked
        self.errors = 0
        self.rows: list[dict[str, Any]] = []

    # --- processes ----------------------------------------------------------------------------

    def start(self) -> None:
        redis_port, pod_port = free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.ws_url = f"ws://127.0.0.1:{pod_port}/ws"
        self.processes["redis"] = subprocess.Popen(
            redis_server_command(redis_port), stdout=subprocess.DEVNULL
        )
        env = {
            **os.environ,
            "PLACE_REDIS_URL": self.redis_url,
            "PLACE_STORE_URL": f"file://{self.workdir / 'store'}",
            "PLACE_AUTH": "dev",
            "PLACE_PORT": str(pod_port),
            "PLACE_WIDTH": str(WIDTH),
            "PLACE_HEIGHT": str(HEIGHT),
            "PLACE_COOLDOWN_S": "0",
            "PLACE_MSG_RATE": "0",
            "PLACE_MAX_CONNECTIONS_PER_ADDRESS": "100000",
            "PLACE_SIGNINS_PER_ADDRESS_PER_MIN": "100000",
        }
        for name in ("ticker", "api"):
            log = (self.workdir / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "place", name], env=env, stdout=log, stderr=log, cwd=REPO
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{pod_port}/readyz", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the pod did not get ready in 30 s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                process.kill()

    # --- load ---------------------------------------------------------------------------------

    async def viewer(self, index: int, until: float, observe: bool) -> None:
        rng = random.Random(index)
        while time.monotonic() < until:
            try:
                async with connect(self.ws_url, compression=None, max_size=None) as ws:
                    lifetime = time.monotonic() + rng.uniform(20, 300)  # churn
                    next_resync = time.monotonic() + rng.uniform(10, 60)
                    while time.monotonic() < min(until, lifetime):
                        try:
                            frame = await asyncio.wait_for(ws.recv(), 1)
                        except TimeoutError:
                            frame = None
                        if observe and isinstance(frame, bytes) and frame[0] == 2:
                            self.observe(frame)
                        if time.monotonic() > next_resync:
                            await ws.send('{"t":"resync"}')
                            next_resync = time.monotonic() + rng.uniform(30, 90)
            except (OSError, WebSocketException):
                self.errors += 1
                await asyncio.sleep(1)

    def observe(self, frame: bytes) -> None:
        now = time.monotonic()
        n = int.from_bytes(frame[8:12], "little")
        pixels = memoryview(frame)[12 : 12 + 4 * n].cast("I")
        colors = frame[12 + 4 * n :]
        for pixel, color in zip(pixels, colors, strict=True):
            acked = self.acked_at.pop(pixel << 8 | color, None)
            if acked is not None:
                self.seen.append(now - acked)

    async def writer(self, index: int, until: float, rate: float) -> None:
        rng = random.Random(1000 + index)
        pending: dict[int, tuple[float, int]] = {}
        try:
            async with connect(self.ws_url, compression=None, max_size=None) as ws:
                await ws.send(orjson.dumps({"t": "auth", "token": f"soak-{index}"}).decode())
                reader = asyncio.create_task(self._answers(ws, pending))
                count = 0
                start = time.monotonic()
                while time.monotonic() < until:
                    pixel, color = rng.randrange(WIDTH * HEIGHT), rng.randrange(1, 32)
                    count += 1
                    pending[count] = (time.monotonic(), pixel << 8 | color)
                    message = {"t": "place", "id": count, "x": pixel % WIDTH,
                               "y": pixel // WIDTH, "c": color}  # fmt: skip
                    await ws.send(orjson.dumps(message).decode())
                    await asyncio.sleep(max(0.0, start + count / rate - time.monotonic()))
                reader.cancel()
        except (OSError, WebSocketException):
            self.errors += 1

    async def _answers(self, ws: ClientConnection, pending: dict[int, tuple[float, int]]) -> None:
        async for frame in ws:
            if isinstance(frame, str) and '"id"' in frame:
                answer = orjson.loads(frame)
                sent = pending.pop(answer.get("id"), None)
                if sent is None:
                    continue
                now = time.monotonic()
                if answer["t"] == "placed":
                    self.acks.append(now - sent[0])
                    self.acked_at[sent[1]] = now
                else:
                    self.errors += 1

    # --- figures ------------------------------------------------------------------------------

    def sample(self, minute: float) -> dict[str, Any]:
        info = redis_sync.Redis.from_url(self.redis_url).info("memory")
        row = {
            "min": round(minute, 1),
            "pod_mb": rss_kib(self.processes["api"].pid, descendants=False) / 1024,
            "ticker_mb": rss_kib(self.processes["ticker"].pid, descendants=False) / 1024,
            "redis_mb": info["used_memory"] / 2**20,
            "ack_p50_ms": _pct(self.acks, 50) * 1e3,
            "ack_p99_ms": _pct(self.acks, 99) * 1e3,
            "seen_p50_ms": _pct(self.seen, 50) * 1e3,
            "seen_p99_ms": _pct(self.seen, 99) * 1e3,
            "placements": len(self.acks),
            "errors": self.errors,
        }
        self.acks, self.seen = [], []
        # a placement never seen (painted over within the tick) is forgotten after a window
        cutoff = time.monotonic() - self.args.window
        self.acked_at = {k: t for k, t in self.acked_at.items() if t > cutoff}
        return row

    async def run(self) -> None:
        a = self.args
        until = time.monotonic() + a.duration
        started = time.monotonic()
        tasks = [
            asyncio.create_task(self.viewer(i, until, observe=i == 0)) for i in range(a.viewers)
        ]
        tasks += [
            asyncio.create_task(self.writer(i, until, a.rate / a.writers)) for i in range(a.writers)
        ]
        print(_header(), flush=True)
        while time.monotonic() < until:
            await asyncio.sleep(min(a.window, max(0.0, until - time.monotonic())))
            row = self.sample((time.monotonic() - started) / 60)
            self.rows.append(row)
            print(_line(row), flush=True)
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited with {process.returncode}")
        await asyncio.gather(*tasks, return_exceptions=True)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


COLUMNS = ("min", "pod_mb", "ticker_mb", "redis_mb", "ack_p50_ms", "ack_p99_ms", "seen_p50_ms",
           "seen_p99_ms", "placements", "errors")  # fmt: skip


def _header() -> str:
    return "  ".join(f"{c:>11}" for c in COLUMNS)


def _line(row: dict[str, Any]) -> str:
    return "  ".join(
        f"{row[c]:>11.1f}" if isinstance(row[c], float) else f"{row[c]:>11}" for c in COLUMNS
    )


def slope_per_minute(rows: list[dict[str, Any]], key: str) -> float:
    xs, ys = [r["min"] for r in rows], [r[key] for r in rows]
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def summary(rows: list[dict[str, Any]], warmup: int = 2) -> str:
    steady = rows[warmup:] if len(rows) > warmup + 1 else rows
    lines = ["", "memory growth after warm-up (least squares), MB per minute:"]
    for key in ("pod_mb", "ticker_mb", "redis_mb"):
        lines.append(
            f"  {key:<10} {slope_per_minute(steady, key):+.2f}"
            f"   ({steady[0][key]:.1f} -> {steady[-1][key]:.1f})"
        )
    lines.append("latency, first steady window -> last window (ms):")
    for key in ("ack_p50_ms", "ack_p99_ms", "seen_p50_ms", "seen_p99_ms"):
        lines.append(f"  {key:<12} {steady[0][key]:.1f} -> {steady[-1][key]:.1f}")
    total = sum(r["placements"] for r in rows)
    lines.append(f"placements acknowledged: {total}; errors: {rows[-1]['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=600, help="seconds (at most 3600)")
    parser.add_argument("--window", type=float, default=30, help="seconds per sample")
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200, help="placements a second, in all")
    args = parser.parse_args(argv)
    args.duration = min(args.duration, 3600.0)  # bounded by design
    if shutil.which("redis-server") is None:
        parser.error("redis-server is not installed (make setup)")
    workdir = Path(tempfile.mkdtemp(prefix="place-soak-"))
    soak = Soak(args, workdir)
    print(
        f"soak: {args.duration:.0f} s, {args.viewers} viewers, {args.writers} writers at"
        f" {args.rate:.0f} placements/s, logs in {workdir}",
        flush=True,
    )
    try:
        soak.start()
        asyncio.run(soak.run())
    finally:
        soak.stop()
    print(summary(soak.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
