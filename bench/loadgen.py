"""Load generator: many websocket players in one asyncio process, several processes when needed.

Roles (see ``docs/bench.md``):

- viewer: watches; records the arrival time (``time.monotonic()``, the same clock in every
  process on Linux) of every delta frame by ``seq``; one viewer per process may keep the delta
  bytes so that pixels can be mapped to the ``seq`` that carried them. Counts the bytes it
  receives by frame type (websocket header included) and the pixels the deltas carry. With
  ``path`` ``/ws?v=2`` it gets compact deltas (0x03) and checksums (``sum``) instead.
- writer: signs in with ``{"t":"auth","token":name}`` (dev auth) and places pixels, either at a
  fixed rate (open loop) or keeping ``k`` placements in flight (closed loop); times every
  ``placed``. Where it places is the job's ``pattern``: ``sequential`` (default: pixels never
  repeat within a scenario), ``uniform`` (anywhere, any colour) or ``clustered`` (strokes in a
  few dozen artworks, as ``bench.canvases.clustered_tick`` draws them).
- storm player: connects only when told to go, then times ``hello``, snapshot and the signed-in
  ``hello``.

A worker process (``python -m bench.loadgen --job JOB.json --out OUT.json``) connects its share of
the players, prints ``READY {...}``, waits for ``GO t0 t1 drain`` on stdin (absolute monotonic
times), writes from ``t0`` to ``t1``, keeps listening until ``t1 + drain``, writes its results to
``OUT.json``, prints ``DONE`` and exits. Each worker reports its own CPU time
(``time.process_time()``) so that a saturated driver is never mistaken for a slow server.
``Driver`` is the parent's handle on such a process; ``merge`` joins their results.

Ad-hoc use against a running server:
``python -m bench.loadgen --url ws://127.0.0.1:8000/ws --viewers 200 --writers 10 --rate 1000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.wsclient import Client, connect

monotonic = time.monotonic

# per-process records, filled by the callbacks -------------------------------------------------
ARRIVALS: dict[int, list[float]] = {}  # delta seq -> arrival times at the viewers
DECODED: dict[int, bytes] = {}  # delta seq -> frame bytes, from the decoding viewer
SNAPSHOT_SIZES: list[int] = []
# bytes (websocket header included) and frames received by this process's viewers, by frame
# type: "1" snapshot, "2"/"3" delta, "catchup" a delta sent again after a snapshot (the pod's
# catch-up frames), or the "t" of a text frame; and pixels carried by new deltas. Counted in the
# window [t0, t1 + drain].
RECEIVED: Counter[str] = Counter()
FRAMES: Counter[str] = Counter()
PIXELS: Counter[str] = Counter()
COUNTING = [False]


def ws_header(size: int) -> int:
    """Bytes of an unmasked server frame's header for a payload of ``size`` bytes."""
    return 2 if size < 126 else (4 if size < 65536 else 10)


def delta_pixels(frame: bytes) -> tuple[int, list[int], bytes]:
    """Decode a delta frame (SPEC: 0x02, seq u32 at 4, n u32 at 8, n u32 indices, n u8 colours;
    or 0x03, the same compacted)."""
    if frame[:1] == b"\x03":
        from place.protocol import decode_compact_delta

        delta = decode_compact_delta(frame)
        return delta.seq, delta.pixels.tolist(), delta.colors.tobytes()
    if frame[0] != 2 or len(frame) < 12:
        raise ValueError(f"not a delta frame: byte 0 is {frame[0]:#x}, length {len(frame)}")
    seq = int.from_bytes(frame[4:8], "little")
    n = int.from_bytes(frame[8:12], "little")
    if len(frame) != 12 + 5 * n:
        raise ValueError(f"delta seq {seq}: n={n} needs {12 + 5 * n} bytes, got {len(frame)}")
    idx = (
        memoryview(frame)[12 : 12 + 4 * n].cast("I").tolist()
        if sys.byteorder == "little"
        else [int.from_bytes(frame[12 + 4 * i : 16 + 4 * i], "little") for i in range(n)]
    )
    return seq, idx, frame[12 + 4 * n :]


def snapshot_header(frame: bytes) -> tuple[int, int, int]:
    """``(seq, width, height)`` of a snapshot frame: 0x01, seq u32 at 4, u16 w at 8, u16 h at 10."""
    if frame[0] != 1 or len(frame) < 12:
        raise ValueError(f"not a snapshot frame: byte 0 is {frame[0]:#x}, length {len(frame)}")
    return (
        int.from_bytes(frame[4:8], "little"),
        int.from_bytes(frame[8:10], "little"),
        int.from_bytes(frame[10:12], "little"),
    )


class Viewer(Client):
    def __init__(self, host: str, port: int, path: str, decode: bool = False) -> None:
        super().__init__(host, port, path)
        self.decode = decode
        self.last_seq = 0
        self.gaps = 0
        self.stale = 0
        self.snapshots = 0
        self.texts = 0
        self.t_open = 0.0
        self.t_hello = 0.0
        self.t_snapshot = 0.0
        self.top = 0  # highest delta seq received

    def on_open(self, t: float) -> None:
        self.t_open = t

    def on_binary(self, p: bytes, t: float) -> None:
        kind = p[0]
        if COUNTING[0]:
            bucket = str(kind)
            if kind != 1:
                seq = int.from_bytes(p[4:8], "little")
                if seq <= self.top:
                    bucket = "catchup"
                else:
                    PIXELS[bucket] += int.from_bytes(p[8:12], "little")
                    self.top = seq
            RECEIVED[bucket] += len(p) + ws_header(len(p))
            FRAMES[bucket] += 1
        elif kind != 1:
            self.top = max(self.top, int.from_bytes(p[4:8], "little"))
        if kind == 2 or kind == 3:
            seq = int.from_bytes(p[4:8], "little")
            lst = ARRIVALS.get(seq)
            if lst is None:
                ARRIVALS[seq] = lst = []
            lst.append(t)
            last = self.last_seq
            if last and seq != last + 1:
                if seq <= last:
                    self.stale += 1
                else:
                    self.gaps += 1
            if seq > last:
                self.last_seq = seq
            if self.decode:
                DECODED[seq] = p
        elif kind == 1:
            self.snapshots += 1
            self.last_seq = int.from_bytes(p[4:8], "little")
            if not self.t_snapshot:
                self.t_snapshot = t
                if self.decode or len(SNAPSHOT_SIZES) < 8:
                    SNAPSHOT_SIZES.append(len(p))

    def on_text(self, p: bytes, t: float) -> None:
        self.texts += 1
        if COUNTING[0]:
            kind = p[6 : p.find(b'"', 6)].decode() if p.startswith(b'{"t":"') else "text"
            RECEIVED[kind] += len(p) + ws_header(len(p))
            FRAMES[kind] += 1
        if not self.t_hello:
            self.t_hello = t


class StormPlayer(Viewer):
    """Connects on ``GO``; times hello and snapshot, then signs in and times the second hello."""

    def __init__(self, host: str, port: int, path: str, name: str | None) -> None:
        super().__init__(host, port, path)
        self.name = name
        self.t_auth = 0.0
        self.t_auth_sent = 0.0
        self.auth_answer = "none"
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _check(self, t: float) -> None:
        if self.t_hello and self.t_snapshot and not self.t_auth_sent:
            if self.name is None:
                self._finish()
                return
            self.t_auth_sent = t
            self.send_text(orjson.dumps({"t": "auth", "token": self.name}))

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def on_binary(self, p: bytes, t: float) -> None:
        super().on_binary(p, t)
        self._check(t)

    def on_text(self, p: bytes, t: float) -> None:
        first = not self.t_hello
        super().on_text(p, t)
        if not first and self.t_auth_sent and not self.t_auth:
            m = orjson.loads(p)
            if m.get("t") == "hello" and m.get("user"):
                self.t_auth = t
                self.auth_answer = "hello"
                self._finish()
            elif m.get("t") == "error":
                self.t_auth = -t
                self.auth_answer = f"error {m.get('code')}"
                self._finish()
        self._check(t)

    def on_close(self, code: int) -> None:
        self.close_code = code
        self._finish()


class Writer(Client):
    """A signed-in player placing pixels; ``place`` sends one and records its send time."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        name: str,
        gidx: int,
        wtotal: int,
        px_start: int,
        salt: int,
        pattern: str = "sequential",
    ) -> None:
        super().__init__(host, port, path)
        self.name = name
        self.gidx = gidx
        self.wtotal = wtotal
        self.px_start = px_start
        self.salt = salt
        self.pattern = pattern
        self.rng = random.Random(salt * 1_000_003 + gidx)
        self.stroke: list[tuple[int, int]] = []  # clustered: (pixel, colour) still to draw
        self.artworks: list[tuple[int, int, int, int, list[int]]] = []
        self.authed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.width = 0
        self.size = 0
        self.ncolors = 2
        self.t_send: list[float] = []
        self.t_ack: list[float] = []  # 0.0 until answered; negative: answered with an error
        self.px: list[int] = []
        self.errors: Counter[str] = Counter()
        self.closed_loop_until = 0.0  # closed loop: send the next on every answer until then
        self.cooldown_until = 0.0  # cooldown mode: the next when the cooldown allows, until then
        self.answers = 0

    def on_open(self, t: float) -> None:
        self.send_text(orjson.dumps({"t": "auth", "token": self.name}))

    def _next(self, i: int) -> tuple[int, int]:
        """The pixel and colour of this writer's ``i``-th placement, by its pattern."""
        if self.pattern == "uniform":
            return self.rng.randrange(self.size), self.rng.randrange(self.ncolors)
        if self.pattern == "clustered":
            if not self.stroke:
                self.stroke = self._new_stroke()
            return self.stroke.pop()
        px = (self.px_start + i * self.wtotal + self.gidx) % self.size
        return px, 1 + ((px >> 12) + self.salt) % (self.ncolors - 1)

    def _new_stroke(self) -> list[tuple[int, int]]:
        """A stroke as people draw: 1-16 pixels along a row (or a column), one colour, inside
        one of 40 artworks that every writer of the scenario shares (seeded by ``salt``)."""
        width, height = self.width, self.size // self.width
        if not self.artworks:
            shared = random.Random(self.salt)
            for _ in range(40):
                w, h = shared.randrange(24, 120), shared.randrange(24, 120)
                x0, y0 = shared.randrange(max(1, width - w)), shared.randrange(max(1, height - h))
                inks = [shared.randrange(self.ncolors) for _ in range(4)]
                self.artworks.append((x0, y0, w, h, inks))
        x0, y0, w, h, inks = self.artworks[self.rng.randrange(len(self.artworks))]
        x, y = x0 + self.rng.randrange(w), y0 + self.rng.randrange(h)
        length = 1
        while length < 16 and self.rng.random() < 0.75:  # geometric, mean 4
            length += 1
        c = inks[self.rng.randrange(4)]
        dx, dy = (1, 0) if self.rng.random() < 0.7 else (0, 1)
        pixels = [
            ((y + k * dy) * width + x + k * dx, c)
            for k in range(length)
            if x + k * dx < width and y + k * dy < height
        ]
        return pixels[::-1]  # popped from the end: drawn in order

    def _place_if_due(self) -> None:
        now = monotonic()
        if now < self.cooldown_until and self.transport is not None:
            self.place(now)

    def place(self, t: float) -> None:
        i = len(self.t_send)
        px, c = self._next(i)
        self.send_text(
            b'{"t":"place","id":%d,"x":%d,"y":%d,"c":%d}'
            % (i, px % self.width, px // self.width, c)
        )
        self.t_send.append(t)
        self.t_ack.append(0.0)
        self.px.append(px)

    def on_text(self, p: bytes, t: float) -> None:
        m = orjson.loads(p)
        typ = m.get("t")
        if typ == "placed" or typ == "error":
            i = m.get("id")
            if typ == "error":
                self.errors[m.get("code", "?")] += 1
            if type(i) is int and 0 <= i < len(self.t_ack):
                self.t_ack[i] = t if typ == "placed" else -t
                self.answers += 1
                if t < self.closed_loop_until:
                    self.place(monotonic())
                elif t < self.cooldown_until:  # as a player does: again when allowed
                    at_ms = m.get("next_place_at_ms") or m.get("retry_at_ms") or 0
                    delay = max(0.0, at_ms / 1000 - time.time()) + self.rng.random() * 0.02
                    asyncio.get_running_loop().call_later(delay, self._place_if_due)
            elif typ == "error" and not self.authed.done():
                self.authed.set_exception(RuntimeError(f"auth answered {p[:200]!r}"))
        elif typ == "hello":
            self.width = m["width"]
            self.size = m["width"] * m["height"]
            self.ncolors = max(2, len(m["palette"]))
            if m.get("user") and not self.authed.done():
                self.authed.set_result(None)

    def on_close(self, code: int) -> None:
        if not self.authed.done():
            self.authed.set_exception(ConnectionError(f"closed {code} before auth"))


# worker ----------------------------------------------------------------------------------------
def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:120]


async def _connect_all(
    clients: list[Client], concurrency: int, timeout: float, errors: Counter[str]
) -> list[Client]:
    sem = asyncio.Semaphore(max(1, concurrency))
    ok: list[Client] = []

    async def one(c: Client) -> None:
        async with sem:
            try:
                await connect(c, timeout)
                if isinstance(c, Writer):
                    await asyncio.wait_for(asyncio.shield(c.authed), timeout)
                ok.append(c)
            except (TimeoutError, OSError, ConnectionError, RuntimeError, ValueError) as e:
                errors[_err(e)] += 1
                c.abort()

    await asyncio.gather(*(one(c) for c in clients))
    return ok


async def _read_line(reader: asyncio.StreamReader) -> str:
    line = await reader.readline()
    if not line:
        raise SystemExit("parent closed stdin")
    return line.decode().strip()


async def _sleep_until(t: float) -> None:
    d = t - monotonic()
    if d > 0:
        await asyncio.sleep(d)


async def _rate_loop(writers: list[Writer], rate: float, t0: float, t1: float) -> None:
    """Open loop: each writer sends ``rate/len(writers)`` per second, phases staggered."""
    if not writers or rate <= 0:
        return
    per = rate / len(writers)
    phase = [j / len(writers) for j in range(len(writers))]
    await _sleep_until(t0)
    while True:
        now = monotonic()
        if now >= t1:
            return
        el = (now - t0) * per
        for w, ph in zip(writers, phase, strict=False):
            due = int(el + ph)
            while len(w.t_send) < due:
                w.place(now)
        await asyncio.sleep(0.002)


async def worker(
    job: dict[str, Any], out: Path, control: asyncio.StreamReader | None, say: Any
) -> dict[str, Any]:
    cpu_start = time.process_time()
    t_start = monotonic()
    host, ports, path = job.get("host", "127.0.0.1"), job["ports"], job.get("path", "/ws")
    timeout = float(job.get("timeout", 60))
    conc = int(job.get("connect_concurrency", 200))
    errors: Counter[str] = Counter()

    viewers: list[Viewer] = [
        Viewer(host, ports[i % len(ports)], path, decode=(i == 0 and job.get("decode", False)))
        for i in range(int(job.get("viewers", 0)))
    ]
    nw = int(job.get("writers", 0))
    woff = int(job.get("writer_offset", 0))
    wtotal = int(job.get("writers_total", nw))
    prefix = job.get("name_prefix", f"w{os.getpid()}-")
    writers: list[Writer] = [
        Writer(
            host,
            ports[j % len(ports)],
            path,
            f"{prefix}{woff + j}",
            woff + j,
            wtotal,
            int(job.get("px_start", 0)),
            int(job.get("salt", 0)),
            job.get("pattern", "sequential"),
        )
        for j in range(nw)
    ]
    viewers = await _connect_all(viewers, conc, timeout, errors)  # type: ignore[assignment]
    writers = await _connect_all(writers, conc, timeout, errors)  # type: ignore[assignment]
    connect_s = monotonic() - t_start
    cpu_ready = time.process_time()
    say(
        "READY "
        + orjson.dumps(
            {
                "viewers": len(viewers),
                "writers": len(writers),
                "errors": dict(errors),
                "connect_s": connect_s,
                "cpu_s": cpu_ready - cpu_start,
                "pid": os.getpid(),
            }
        ).decode()
    )

    if control is None:
        t0 = monotonic() + 0.2
        t1, drain = t0 + float(job.get("duration", 10)), float(job.get("drain", 1.5))
    else:
        parts = (await _read_line(control)).split()
        if parts[0] != "GO":
            raise SystemExit(f"expected GO, got {parts!r}")
        t0, t1, drain = float(parts[1]), float(parts[2]), float(parts[3])
    await _sleep_until(t0)
    cpu_t0 = time.process_time()
    COUNTING[0] = True

    storm: list[StormPlayer] = []
    storm_errors: Counter[str] = Counter()
    tasks = []
    n_storm = int(job.get("storm", 0))
    if n_storm:
        soff = int(job.get("storm_offset", 0))
        auth = job.get("storm_auth", True)
        storm = [
            StormPlayer(host, ports[i % len(ports)], path, f"{prefix}s{soff + i}" if auth else None)
            for i in range(n_storm)
        ]

        async def storm_one(p: StormPlayer) -> None:
            try:
                await connect(p, max(1.0, t1 - monotonic()))
                await asyncio.wait_for(asyncio.shield(p.done), max(0.1, t1 - monotonic()))
            except (TimeoutError, OSError, ConnectionError, ValueError) as e:
                storm_errors[_err(e)] += 1

        tasks.append(asyncio.gather(*(storm_one(p) for p in storm)))

    mode = job.get("mode", "rate")
    if writers and mode == "rate":
        tasks.append(_rate_loop(writers, float(job.get("rate", 0)), t0, t1))
    elif writers and mode == "inflight":
        now = monotonic()
        for w in writers:
            w.closed_loop_until = t1
            for _ in range(int(job.get("inflight", 1))):
                w.place(now)
    elif writers and mode == "cooldown":  # each places again as soon as its cooldown allows
        loop = asyncio.get_running_loop()
        for j, w in enumerate(writers):
            w.cooldown_until = t1
            loop.call_later(j / len(writers) * float(job.get("spread_s", 0.5)), w._place_if_due)
    if tasks:
        await asyncio.gather(*tasks)
    # a storm ends when every player is done (or at t1); everything else runs until t1
    await _sleep_until((min(t1, monotonic()) if storm else t1) + drain)
    COUNTING[0] = False
    cpu_end = time.process_time()
    t_end = monotonic()

    wcols: dict[str, list[Any]] = {"t_send": [], "t_ack": [], "px": []}
    werr: Counter[str] = Counter()
    for w in writers:
        wcols["t_send"] += w.t_send
        wcols["t_ack"] += w.t_ack
        wcols["px"] += w.px
        werr.update(w.errors)
    decoded = {}
    for _seq, frame in DECODED.items():
        s, idx, _ = delta_pixels(frame)
        decoded[s] = idx
    closes: Counter[str] = Counter()
    for v in [*viewers, *writers]:
        if v.lost:
            closes[str(v.close_code if v.close_code is not None else 1006)] += 1
    res: dict[str, Any] = {
        "pid": os.getpid(),
        "job": {k: v for k, v in job.items() if k != "ports"},
        "viewers": len(viewers),
        "writers": len(writers),
        "connect_errors": dict(errors),
        "connect_s": connect_s,
        "cpu": {
            "connect_s": cpu_ready - cpu_start,
            "window_s": cpu_end - cpu_t0,
            "window_wall_s": t_end - t0,
            "util": (cpu_end - cpu_t0) / max(1e-9, t_end - t0),
        },
        "arrivals": {str(k): v for k, v in ARRIVALS.items()},
        "decoded": {str(k): v for k, v in decoded.items()},
        "gaps": sum(v.gaps for v in viewers),
        "stale": sum(v.stale for v in viewers),
        "snapshots": sum(v.snapshots for v in viewers),
        "snapshot_sizes": SNAPSHOT_SIZES,
        "received_bytes": dict(RECEIVED),
        "received_frames": dict(FRAMES),
        "delta_pixels": dict(PIXELS),
        "closed": dict(closes),
        "writer_cols": wcols,
        "writer_errors": dict(werr),
    }
    if storm:
        res["storm"] = {
            "n": len(storm),
            "errors": dict(storm_errors),
            "t_open": [p.t_open for p in storm],
            "t_hello": [p.t_hello for p in storm],
            "t_snapshot": [p.t_snapshot for p in storm],
            "t_auth": [p.t_auth for p in storm],
            "closed": dict(Counter(str(p.close_code) for p in storm if p.lost)),
            "auth_answers": dict(Counter(p.auth_answer for p in storm)),
        }
    out.write_bytes(orjson.dumps(res))
    say("DONE")
    return res


async def _worker_main(job_path: Path, out: Path) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    await worker(orjson.loads(job_path.read_bytes()), out, reader, say)


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# parent side -------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent


class Driver:
    """A worker process owned by the parent (``bench.run``)."""

    def __init__(
        self, name: str, job: dict[str, Any], workdir: Path, cpus: str | None = None
    ) -> None:
        self.name, self.job, self.cpus = name, job, cpus
        self.job_path = workdir / f"{name}.job.json"
        self.out_path = workdir / f"{name}.out.json"
        self.err_path = workdir / f"{name}.stderr"
        self.proc: asyncio.subprocess.Process | None = None
        self.ready_info: dict[str, Any] = {}

    async def start(self) -> None:
        self.job_path.write_bytes(orjson.dumps(self.job))
        self.out_path.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--job",
            str(self.job_path),
            "--out",
            str(self.out_path),
        ]
        if self.cpus is not None:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        self.proc = await asyncio.create_subprocess_exec(
            *cmd,
            cwd=str(REPO),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.err_path.open("wb"),
        )

    async def _line(self, prefix: str, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = monotonic() + timeout
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise TimeoutError(f"driver {self.name}: no {prefix} within {timeout:.0f} s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not line:
                tail = self.err_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"driver {self.name} exited before {prefix}: {tail}")
            s = line.decode().strip()
            if s.startswith(prefix):
                return s[len(prefix) :].strip()

    async def ready(self, timeout: float = 120) -> dict[str, Any]:
        self.ready_info = orjson.loads(await self._line("READY", timeout))
        return self.ready_info

    def go(self, t0: float, t1: float, drain: float) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(f"GO {t0!r} {t1!r} {drain!r}\n".encode())

    async def result(self, timeout: float = 120) -> dict[str, Any]:
        await self._line("DONE", timeout)
        res = orjson.loads(self.out_path.read_bytes())
        res["name"] = self.name
        res["cpus"] = self.cpus
        assert self.proc is not None
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.kill()
        return res

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Join worker results: arrivals by seq, writer columns, counters; CPU per driver kept."""
    arrivals: dict[int, list[float]] = {}
    decoded: dict[int, list[int]] = {}
    cols: dict[str, list[Any]] = {"t_send": [], "t_ack": [], "px": []}
    werr: Counter[str] = Counter()
    cerr: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    received: Counter[str] = Counter()
    pixels: Counter[str] = Counter()
    storm: dict[str, Any] = {
        "n": 0,
        "errors": Counter(),
        "t_open": [],
        "t_hello": [],
        "t_snapshot": [],
        "t_auth": [],
        "closed": Counter(),
        "auth_answers": Counter(),
    }
    for r in results:
        for k, v in r["arrivals"].items():
            arrivals.setdefault(int(k), []).extend(v)
        for k, v in r["decoded"].items():
            decoded.setdefault(int(k), v)
        for k in cols:
            cols[k] += r["writer_cols"][k]
        werr.update(r["writer_errors"])
        cerr.update(r["connect_errors"])
        closed.update(r["closed"])
        received.update(r.get("received_bytes", {}))
        pixels.update(r.get("delta_pixels", {}))
        if "storm" in r:
            s = r["storm"]
            storm["n"] += s["n"]
            storm["errors"].update(s["errors"])
            storm["closed"].update(s["closed"])
            storm["auth_answers"].update(s.get("auth_answers", {}))
            for k in ("t_open", "t_hello", "t_snapshot", "t_auth"):
                storm[k] += s[k]
    return {
        "arrivals": arrivals,
        "decoded": decoded,
        "writer_cols": cols,
        "writer_errors": dict(werr),
        "connect_errors": dict(cerr),
        "closed": dict(closed),
        "viewers": sum(r["viewers"] for r in results),
        "writers": sum(r["writers"] for r in results),
        "gaps": sum(r["gaps"] for r in results),
        "stale": sum(r["stale"] for r in results),
        "snapshot_sizes": [s for r in results for s in r["snapshot_sizes"]],
        "received_bytes": dict(received),
        "delta_pixels": dict(pixels),
        "storm": storm if storm["n"] else None,
        "drivers": [
            {
                "name": r["name"],
                "pid": r["pid"],
                "cpus": r["cpus"],
                "viewers": r["viewers"],
                "writers": r["writers"],
                "storm": r.get("storm", {}).get("n", 0),
                **r["cpu"],
            }
            for r in results
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.loadgen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--job", type=Path, help="worker mode: job file written by bench.run")
    ap.add_argument("--out", type=Path, help="worker mode: where to write the results")
    ap.add_argument("--url", default="ws://127.0.0.1:8000/ws", help="ad-hoc mode: server")
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--writers", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0, help="placements/s over all writers")
    ap.add_argument(
        "--inflight",
        type=int,
        default=0,
        help="closed loop: placements in flight per writer (overrides --rate)",
    )
    ap.add_argument("--duration", type=float, default=10)
    a = ap.parse_args(argv)
    if a.job:
        if not a.out:
            ap.error("--job needs --out")
        _run(_worker_main(a.job, a.out))
        sys.stdout.flush()
        os._exit(0)
    u = urlsplit(a.url)
    if u.scheme != "ws" or not u.hostname:
        ap.error(f"--url must be ws://host:port/path, got {a.url!r}")
    a.duration = min(a.duration, 300.0)  # bounded by design
    job = {
        "host": u.hostname,
        "ports": [u.port or 80],
        "path": u.path or "/ws",
        "viewers": a.viewers,
        "decode": True,
        "writers": a.writers,
        "rate": a.rate,
        "mode": "inflight" if a.inflight else "rate",
        "inflight": a.inflight,
        "duration": a.duration,
    }
    out = Path(f"/tmp/loadgen-{os.getpid()}.json")
    res = _run(worker(job, out, None, print))
    res["name"], res["cpus"] = "adhoc", None
    from bench.stats import summarize_adhoc

    print(summarize_adhoc(merge([res])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
