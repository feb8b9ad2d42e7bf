"""Benchmarks of our/place against real processes on loopback (``make bench``).

Every scenario starts its own ``redis-server`` (no persistence), ``place ticker`` and ``place api``
pods with dev auth, cooldown 0 and no message rate limit, waits for ``/readyz``, drives them with
``bench.loadgen`` worker processes, and stops them. Server and driver processes are pinned to
different cores with ``taskset`` when the machine has two or more. Prints one table (figure,
today's code beside the new one where a scenario runs both, target, PASS/FAIL) and writes
everything to ``bench/results/<timestamp>.json``.

Scenarios: egress, latency, fanout, storm, throughput, ticker, event, page (see ``docs/bench.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

import redis.asyncio as aredis

from bench import servers
from bench.canvases import clustered_tick, image_like, uniform_tick
from bench.loadgen import REPO, Driver, merge, ws_header
from bench.servers import NEW, Code, Proc, Stack
from bench.stats import dist_ms, histogram_window, metric_family, parse_prometheus, pct
from bench.wsclient import Client, connect
from place import protocol

NOISE: list[tuple[str, float]] = []  # (phase, CPU of processes not ours, in cores)
# today's code: the last commit before performance round two (docs/performance.md)
BASELINE = "45ec89f"
SCENARIOS = ["egress", "latency", "fanout", "storm", "throughput", "ticker", "event", "page"]
monotonic = time.monotonic


@dataclass
class Ctx:
    quick: bool
    workdir: Path
    server_cpus: str | None  # the pod under test
    driver_cpus: str | None  # drivers, redis, ticker, helper pods
    viewers_per_proc: int
    fanout_n: list[int]
    tick_ms: int
    ticker_tick_ms: int
    profile: str | None = None  # py-spy executable when --profile
    today: Code | None = None  # today's code (a worktree of --baseline), run beside the new one
    sizes: list[int] = field(default_factory=lambda: [1000, 2000])  # canvas sides to run at
    rows: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def row(
        self,
        scenario: str,
        figure: str,
        value: float | str,
        unit: str = "",
        target: str = "",
        ok: bool | None = None,
        note: str = "",
        today: float | str | None = None,
    ) -> None:
        self.rows.append(
            {
                "scenario": scenario,
                "figure": figure,
                "today": today,
                "value": value,
                "unit": unit,
                "target": target,
                "ok": ok,
                "note": note,
            }
        )

    def codes(self) -> list[Code]:
        """The code to measure: the new one, and today's beside it when there is a baseline."""
        return [self.today, NEW] if self.today is not None else [NEW]

    def stack(
        self,
        name: str,
        pods: int = 1,
        tick_ms: int | None = None,
        pod_cpus: list[str | None] | None = None,
        helpers: str | bool | None = True,
        code: Code = NEW,
        side: int = 1000,
        canvas: np.ndarray | None = None,
        env: dict[str, str] | None = None,
        pod_env: dict[int, dict[str, str]] | None = None,
        pod_nice: dict[int, int] | None = None,
    ) -> Stack:
        h = self.driver_cpus if helpers is True else (None if helpers is False else helpers)
        return Stack(
            self.workdir / f"{name}-{code.name}",
            pods=pods,
            tick_ms=tick_ms or self.tick_ms,
            pod_cpus=pod_cpus if pod_cpus is not None else [self.server_cpus],
            ticker_cpus=h,
            redis_cpus=h,
            code=code,
            width=side,
            height=side,
            canvas=canvas,
            env_extra=env or {},
            pod_env=pod_env or {},
            pod_nice=pod_nice or {},
        )


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def sleep_until(t: float) -> None:
    d = t - monotonic()
    if d > 0:
        await asyncio.sleep(d)


# phases ------------------------------------------------------------------------------------------
@dataclass
class Phase:
    merged: dict[str, Any]
    ready: list[dict[str, Any]]
    t0: float
    t1: float
    t_end: float
    cpu: dict[str, float]  # server process -> CPU seconds in [t0, t_end]
    extra: dict[str, Any]
    cores: dict[int, dict[str, float]]  # core -> busy/softirq/steal seconds in [t0, t_end]
    results: list[dict[str, Any]] = field(default_factory=list)  # each driver's, unmerged


async def run_phase(
    ctx: Ctx,
    name: str,
    jobs: list[dict[str, Any]],
    duration: float,
    drain: float,
    probes: list[Proc],
    before_go: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    during: Callable[[float, float], Awaitable[dict[str, Any]]] | None = None,
) -> Phase:
    """Start one worker per job, wait for READY, GO at a common t0, collect and merge."""
    wd = ctx.workdir / "drivers"
    wd.mkdir(parents=True, exist_ok=True)
    drivers = [Driver(f"{name}-{i}", job, wd, ctx.driver_cpus) for i, job in enumerate(jobs)]
    try:
        await asyncio.gather(*(d.start() for d in drivers))
        ready = list(await asyncio.gather(*(d.ready(timeout=180) for d in drivers)))
        extra = await before_go() if before_go else {}
        t0 = monotonic() + 0.3
        t1 = t0 + duration
        for d in drivers:
            d.go(t0, t1, drain)
        await sleep_until(t0)
        spy = _start_profile(ctx, name, probes, t1 + drain - monotonic())
        cpu0 = {p.name: p.cpu() for p in probes}
        core0 = servers.core_times()
        me0 = time.process_time()
        if during is not None:
            extra.update(await during(t0, t1))
        await sleep_until(t1 + drain)
        t_end = monotonic()
        cpu1 = {p.name: p.cpu() for p in probes}
        core1 = servers.core_times()
        me1 = time.process_time()
        results = list(
            await asyncio.gather(*(d.result(timeout=duration + drain + 120) for d in drivers))
        )
    finally:
        for d in drivers:
            d.kill()
    merged = merge(results)
    if spy is not None:
        prof = merged["profile"] = await _finish_profile(ctx, name, *spy)
        ctx.profiles[name] = prof
        if prof.get("samples"):
            ctx.row(
                "profile",
                f"{name}: {prof['pod']} busy samples",
                prof["samples"],
                "samples",
                note="by package: "
                + ", ".join(f"{f} {p}%" for f, p in prof["package_self_pct"][:6])
                + "; functions: "
                + "; ".join(f"{f} {p}%" for f, p in prof["self_pct"][:5]),
            )
    cores = {c: {k: core1[c][k] - core0[c][k] for k in core1[c]} for c in core1}
    known = (
        sum(cpu1[k] - cpu0[k] for k in cpu0)
        + (me1 - me0)
        + sum(d["window_s"] for d in merged["drivers"])
    )
    busy = sum(c["busy"] for c in cores.values())
    merged["foreign_cpu_util"] = max(0.0, busy - known) / max(1e-9, t_end - t0)
    merged["machine_busy_util"] = busy / max(1e-9, t_end - t0)
    NOISE.append((name, merged["foreign_cpu_util"]))
    return Phase(
        merged, ready, t0, t1, t_end, {k: cpu1[k] - cpu0[k] for k in cpu0}, extra, cores, results
    )


def _start_profile(
    ctx: Ctx, name: str, probes: list[Proc], seconds: float
) -> tuple[asyncio.Future[Any], Path, Proc] | None:
    """``--profile``: py-spy on the pod under test (the first pod) for the measurement window."""
    pods = [p for p in probes if p.name.startswith("api")]
    if not ctx.profile or not pods:
        return None
    out = ctx.workdir / f"profile-{name}-{pods[0].name}.txt"
    cmd = [
        ctx.profile,
        "record",
        "-p",
        str(pods[0].pid),
        "-d",
        str(max(1, int(seconds))),
        "-r",
        "100",
        "--format",
        "raw",
        "-o",
        str(out),
    ]
    fut = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
    )
    return fut, out, pods[0]


async def _finish_profile(
    ctx: Ctx, name: str, fut: asyncio.Future[Any], out: Path, pod: Proc
) -> dict[str, Any]:
    proc = await fut
    try:
        await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        proc.kill()
    return summarize_profile(out, pod.name)


_FRAME = re.compile(r"^(.*) \((.*?):\d+\)$")
_IDLE = ("select (selectors.py)", "EpollSelector.select (selectors.py)", "poll (selectors.py)")


def summarize_profile(path: Path, pod: str, top: int = 12) -> dict[str, Any]:
    """py-spy collapsed stacks -> share of busy samples per function (self and inclusive) and
    per package (self: the package of the innermost frame). Samples idle in epoll are left out
    and counted apart."""
    selfs: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkgs: Counter[str] = Counter()
    total = idle = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"error": f"no profile at {path}"}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = []
        pkg = "?"
        for f in stack.split(";"):
            m = _FRAME.match(f)
            if m:
                fn, file = m.group(1), m.group(2)
                frames.append(f"{fn} ({file.rsplit('/', 1)[-1]})")
                pkg = file.split("/", 1)[0] if "/" in file else file
            else:
                frames.append(f)
        if frames[-1] in _IDLE:
            idle += n
            continue
        total += n
        selfs[frames[-1]] += n
        pkgs[pkg] += n
        for f in set(frames):
            incl[f] += n

    def share(c: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * k / max(1, total), 1)) for f, k in c.most_common(top)]

    return {
        "pod": pod,
        "file": str(path),
        "samples": total,
        "idle_samples": idle,
        "self_pct": share(selfs),
        "inclusive_pct": share(incl),
        "package_self_pct": share(pkgs),
    }


def split(n: int, per: int) -> list[int]:
    k = max(1, math.ceil(n / max(1, per)))
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def job(ports: list[int], **kw: Any) -> dict[str, Any]:
    base = {
        "host": "127.0.0.1",
        "ports": ports,
        "path": "/ws",
        "timeout": 60,
        "connect_concurrency": 200,
        "viewers": 0,
        "writers": 0,
    }
    base.update(kw)
    return base


class Subscriber:
    """Timestamps every Redis pub/sub message (PSUBSCRIBE *) to know when a delta was published."""

    def __init__(self, port: int) -> None:
        self.r = aredis.Redis(host="127.0.0.1", port=port)
        self.msgs: list[tuple[float, bytes, bytes]] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.ps = self.r.pubsub()
        await self.ps.psubscribe("*")
        self.task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            m = await self.ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if m is not None:
                self.msgs.append((monotonic(), m["channel"], m["data"]))

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.ps.aclose()
        await self.r.aclose()

    def channels(self) -> Counter[str]:
        return Counter(c.decode(errors="replace") for _, c, _ in self.msgs)

    def deltas(self) -> dict[int, dict[str, Any]]:
        """seq -> first message that parses as a delta: receive time, tick_us, published, n."""
        out: dict[int, dict[str, Any]] = {}
        for t, _, data in self.msgs:
            d = parse_bus_delta(data)
            if d is not None and d["seq"] not in out:
                d["t"] = t
                out[d["seq"]] = d
        return out

    def delta_times(self) -> dict[int, float]:
        return {seq: d["t"] for seq, d in self.deltas().items()}


def parse_bus_delta(data: bytes) -> dict[str, Any] | None:
    """A pub/sub payload that is (or wraps) a delta frame: seq, n, and what the wrapper says.

    Knows the bare delta frame and the server's bus formats ``b"D" | f64 published (Unix s) |
    u32 tick_us | frame`` and ``b"E" | f64 | u32 tick_us | u32 len(frame) | frame | compact
    frame``; anything else (notices) gives None.
    """
    if isinstance(data, str):
        data = data.encode()
    info: dict[str, Any] = {}
    if data[:1] == b"D" and len(data) >= 25 and data[13] == 2:
        published, tick_us = struct.unpack_from("<dI", data, 1)
        info = {"published_unix": published, "tick_us": tick_us}
        data = data[13:]
    elif data[:1] == b"E" and len(data) >= 29 and data[17] == 2:  # the 0x02 frame, then 0x03
        published, tick_us, size = struct.unpack_from("<dII", data, 1)
        info = {"published_unix": published, "tick_us": tick_us, "compact_bytes": len(data)}
        data = data[17 : 17 + size]
        info["compact_bytes"] -= 17 + size
    if len(data) >= 12 and data[0] == 2 and data[1:4] == b"\0\0\0":
        n = int.from_bytes(data[8:12], "little")
        if len(data) == 12 + 5 * n:
            return {"seq": int.from_bytes(data[4:8], "little"), "n": n, **info}
    return None


def driver_rows(ctx: Ctx, scen: str, ph: Phase, label: str = "") -> None:
    """One row: each driver's CPU (a saturated driver would show ~100 %), and foreign load."""
    ds = ph.merged["drivers"]
    each = ", ".join(f"{d['util'] * 100:.0f}" for d in ds)
    foreign = ph.merged.get("foreign_cpu_util", 0.0)
    ctx.row(
        scen,
        f"drivers' CPU{label}",
        max(d["util"] for d in ds) * 100,
        "% of a core",
        note=f"{len(ds)} driver process(es) on cpu {ds[0]['cpus'] or 'any'}: {each} %; "
        f"processes not ours used {foreign * 100:.0f} % of a core meanwhile",
    )


# scenarios ---------------------------------------------------------------------------------------
async def s_latency(ctx: Ctx) -> dict[str, Any]:
    scen = "latency"
    viewers, writers, rate = 200, 10, 1000.0
    duration = 4.0 if ctx.quick else 10.0
    with ctx.stack(scen) as st:
        pod = st.api[0]
        sub = Subscriber(st.redis_port)
        await sub.start()
        try:
            ph = await run_phase(
                ctx,
                scen,
                [
                    job(
                        [pod.port],
                        viewers=viewers,
                        decode=True,
                        writers=writers,
                        rate=rate,
                        mode="rate",
                        name_prefix="lat",
                        salt=3,
                    )
                ],
                duration,
                ctx.tick_ms / 1000 + 1.0,
                st.procs(),
            )
        finally:
            await sub.stop()
        placement = st.placement()
    m = ph.merged
    arrivals = {s: np.asarray(v) for s, v in m["arrivals"].items()}
    pubs = sub.delta_times()
    after_pub = [a - pubs[seq] for seq, a in arrivals.items() if seq in pubs]
    fan = dist_ms(np.concatenate(after_pub) if after_pub else [])
    px_seq: dict[int, int] = {}
    for seq in sorted(m["decoded"]):
        for px in m["decoded"][seq]:
            px_seq.setdefault(px, seq)
    c = m["writer_cols"]
    ts, ta, pxs = np.asarray(c["t_send"]), np.asarray(c["t_ack"]), c["px"]
    acked = ta > 0
    lat: list[np.ndarray] = []
    unmatched = 0
    by_seq: dict[int, list[float]] = {}
    for i, px in enumerate(pxs):
        if not acked[i]:
            continue
        seq = px_seq.get(px)
        if seq is None or seq not in arrivals:
            unmatched += 1
            continue
        by_seq.setdefault(seq, []).append(ts[i])
    for seq, sends in by_seq.items():
        lat.append((arrivals[seq][None, :] - np.asarray(sends)[:, None]).ravel())
    d = dist_ms(np.concatenate(lat) if lat else [])
    ack = dist_ms((ta - ts)[acked])
    target = ctx.tick_ms + 100
    ctx.row(scen, "place -> pixel at viewer p50", d["p50"], "ms")
    ctx.row(
        scen,
        "place -> pixel at viewer p99",
        d["p99"],
        "ms",
        f"<= {target} ms",
        d["p99"] <= target,
        f"{viewers} viewers, {writers} writers, {rate:.0f}/s",
    )
    ctx.row(scen, "place -> pixel at viewer max", d["max"], "ms")
    ctx.row(
        scen,
        "of which publication -> viewer p50/p99",
        f"{fan['p50']:.1f}/{fan['p99']:.1f}",
        "ms",
        note="the rest is the wait for the tick (by design)",
    )
    ctx.row(scen, "ack p50", ack["p50"], "ms")
    ctx.row(scen, "ack p99", ack["p99"], "ms")
    sent = len(ts)
    ctx.row(
        scen,
        "placements sent / acked / unmatched",
        f"{sent}/{int(acked.sum())}/{unmatched}",
        note=f"errors {m['writer_errors'] or 0}, viewer gaps {m['gaps']}",
    )
    driver_rows(ctx, scen, ph)
    return {
        "latency_ms": d,
        "publication_to_viewer_ms": fan,
        "ack_ms": ack,
        "sent": sent,
        "acked": int(acked.sum()),
        "unmatched": unmatched,
        "errors": m["writer_errors"],
        "gaps": m["gaps"],
        "connect_errors": m["connect_errors"],
        "closed": m["closed"],
        "server_cpu_s": ph.cpu,
        "drivers": m["drivers"],
        "where": placement,
        "window_s": ph.t_end - ph.t0,
    }


async def _touch(port: int, n: int = 10) -> None:
    """Open and close ``n`` connections so lazily built state exists before a baseline RSS."""
    cs = [Client("127.0.0.1", port) for _ in range(n)]
    for c in cs:
        with contextlib.suppress(TimeoutError, OSError, ConnectionError):
            await connect(c, 10)
    await asyncio.sleep(0.5)
    for c in cs:
        c.close()
    await asyncio.sleep(0.5)


FANOUT_PATTERN = "uniform"  # the writers' placements: frames of a realistic size, both formats


async def _fanout_one(
    ctx: Ctx,
    n: int,
    code: Code,
    path: str,
    side: int = 1000,
    canvas: Any = None,
    workers: int = 1,
) -> dict[str, Any]:
    """One fan-out run: ``n`` viewers of ``path`` on the pod under test, 20 writers at 2,000/s on
    a second pod. With ``workers`` > 1 the pod under test runs that many worker processes on
    its port (``PLACE_WORKERS``) and may use every core."""
    scen = "fanout"
    duration = 5.0 if ctx.quick else 10.0
    rate = 2000.0
    tag = f"{scen}-{n}-{side}" + (f"-w{workers}" if workers > 1 else "")
    # api0: the pod under test (viewers only); api1: takes the writers, on the helper core
    with ctx.stack(
        tag,
        pods=2,
        pod_cpus=[ctx.server_cpus if workers == 1 else None, ctx.driver_cpus],
        code=code,
        side=side,
        canvas=canvas,
        pod_env={0: {"PLACE_WORKERS": str(workers)}},
        # sharing cores with the drivers (which stand in for the players' own machines), the
        # workers yield to them: a driver's read waits for no burst of writes
        pod_nice={0: 10} if workers > 1 else None,
    ) as st:
        pod, wpod = st.api
        await _touch(pod.port)
        rss0 = pod.rss_kib()
        sub = Subscriber(st.redis_port)
        await sub.start()
        jobs = [
            job([pod.port], viewers=k, connect_concurrency=100, path=path)
            for k in split(n, ctx.viewers_per_proc)
        ]
        jobs.append(
            job(
                [wpod.port],
                writers=20,
                rate=rate,
                mode="rate",
                name_prefix=f"fo{n}-",
                salt=5,
                pattern=FANOUT_PATTERN,
            )
        )
        idle: dict[str, Any] = {}

        async def before_go(pod: Proc = pod, idle: dict[str, Any] = idle) -> dict[str, Any]:
            await asyncio.sleep(2.0)
            c0, t0 = pod.cpu(), monotonic()
            await asyncio.sleep(2.0)
            idle["cpu_per_s"] = (pod.cpu() - c0) / (monotonic() - t0)
            idle["rss_kib"] = pod.rss_kib()
            return {}

        try:
            ph = await run_phase(
                ctx,
                f"{tag}-{code.name}",
                jobs,
                duration,
                ctx.tick_ms / 1000 + 1.5,
                st.procs(),
                before_go,
            )
        finally:
            await sub.stop()
        rss_after = pod.rss_kib()
        placement = st.placement()
    m = ph.merged
    connected = sum(r["viewers"] for r in ph.ready[:-1])
    pubs = sub.delta_times()
    spreads, frames, method = [], [], Counter()
    delivered = 0
    for seq, arr in m["arrivals"].items():
        a = np.asarray(arr)
        a = a[(a >= ph.t0) & (a <= ph.t_end)]
        if not a.size:
            continue
        pub = pubs.get(seq)
        method["pubsub" if pub is not None else "earliest viewer"] += 1
        if pub is None:
            pub = float(a.min())
        spreads.append(float(a.max()) - pub)
        frames.append(a - pub)
        delivered += a.size
    cpu = ph.cpu[pod.name]
    core = ph.cores.get(int(ctx.server_cpus)) if ctx.server_cpus else None
    viewer_results = ph.results[:-1]
    received = sum(sum(r.get("received_bytes", {}).values()) for r in viewer_results)
    return {
        "code": code.name,
        "path": path,
        "side": side,
        "connected": connected,
        "deltas": len(spreads),
        "spread_ms": dist_ms(spreads),
        "frame_delay_ms": dist_ms(np.concatenate(frames) if frames else []),
        "publication": dict(method),
        "delivered": delivered,
        "expected": connected * len(spreads),
        "pod_cpu_s": cpu,
        "cpu_per_frame_us": cpu / delivered * 1e6 if delivered else math.nan,
        "core": core,
        "bytes_per_viewer_per_s": received / max(1, connected) / (ph.t_end - ph.t0),
        "rss0_kib": rss0,
        "rss_idle_kib": idle["rss_kib"],
        "rss_after_kib": rss_after,
        "rss_per_conn_kib": (idle["rss_kib"] - rss0) / connected if connected else math.nan,
        "idle_cpu_per_s": idle["cpu_per_s"],
        "server_cpu_s": ph.cpu,
        "cores": ph.cores,
        "drivers": m["drivers"],
        "foreign_cpu_util": m.get("foreign_cpu_util", 0.0),
        "gaps": m["gaps"],
        "connect_errors": m["connect_errors"],
        "closed": m["closed"],
        "connect_s": [r["connect_s"] for r in ph.ready],
        "pubsub_channels": dict(sub.channels()),
        "where": placement,
        "writer_errors": m["writer_errors"],
        "placed": int((np.asarray(m["writer_cols"]["t_ack"]) > 0).sum()),
    }


async def s_fanout(ctx: Ctx) -> dict[str, Any]:
    """Today's code with plain viewers (the only kind it has) beside the new code with /ws?v=2
    viewers (what the page asks for), at each size."""
    scen = "fanout"
    out: dict[str, Any] = {}
    for n in ctx.fanout_n:
        runs: dict[str, dict[str, Any]] = {}
        for code in ctx.codes():
            path = "/ws?v=2" if code is NEW else "/ws"
            log(f"fanout: {n} viewers of {path}, {code.name} code")
            runs[code.name] = await _fanout_one(ctx, n, code, path)
        out[str(n)] = runs
        _fanout_rows(ctx, scen, f"{n} viewers", runs, n == max(ctx.fanout_n))
    _floor_row(ctx, scen, max(ctx.fanout_n), out)
    if (os.cpu_count() or 1) >= 2:
        n = max(ctx.fanout_n)
        log(f"fanout: {n} viewers of /ws?v=2, new code, a pod of 2 workers on any core")
        one, two = out[str(n)]["new"], await _fanout_one(ctx, n, NEW, "/ws?v=2", workers=2)
        out[f"{n}-workers2"] = two
        _workers_rows(ctx, scen, n, one, two)
    return out


def _floor_row(ctx: Ctx, scen: str, n: int, out: dict[str, Any]) -> None:
    """The kernel's share: a bare `socket.send` of a frame of the same size to `n` loopback
    connections, on the pod's core (`bench/floor.py`)."""
    new = out[str(n)]["new"]
    size = max(16, round(new["bytes_per_viewer_per_s"] * ctx.tick_ms / 1000))
    command = [sys.executable, "-m", "bench.floor", "--json", "--connections", str(n)]
    command += ["--size", str(size), "--rounds", "6" if ctx.quick else "12"]
    if ctx.server_cpus and ctx.driver_cpus:
        command += ["--cpu", ctx.server_cpus, "--reader-cpu", ctx.driver_cpus.split(",")[0]]
    log(f"fanout: the kernel's floor, a bare send of {size} bytes to {n} connections")
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    if done.returncode != 0:
        ctx.row(scen, f"{n} viewers: floor, bare socket.send", "failed", note=done.stderr[-200:])
        return
    floor = json.loads(done.stdout.strip().splitlines()[-1])
    out[f"{n}-floor"] = floor
    ctx.row(
        scen,
        f"{n} viewers: floor, bare socket.send per frame",
        floor["cpu_per_send_us"],
        "us",
        note=f"{floor['sends']} sends of {floor['size']} bytes, no pod around them: the pod "
        f"adds {new['cpu_per_frame_us'] - floor['cpu_per_send_us']:.1f} us a frame to this",
    )


def _workers_rows(ctx: Ctx, scen: str, n: int, one: dict[str, Any], two: dict[str, Any]) -> None:
    """What a second worker process buys (issue 12: SO_REUSEPORT workers): `today` here is the
    one-worker run of the new code, pinned to one core."""
    cores = os.cpu_count() or 1
    note = (
        f"2 workers (PLACE_WORKERS=2) free on the machine's {cores} cores, which also run the"
        " drivers, Redis, the ticker and the writers' pod; beside: 1 worker pinned to one core"
    )
    ctx.row(
        scen,
        f"{n} viewers, 2 workers: spread publish -> last viewer p99",
        two["spread_ms"]["p99"],
        "ms",
        "<= 90 ms",
        two["spread_ms"]["p99"] <= 90,
        note,
        today=one["spread_ms"]["p99"],
    )
    ctx.row(
        scen,
        f"{n} viewers, 2 workers: spread p50",
        two["spread_ms"]["p50"],
        "ms",
        today=one["spread_ms"]["p50"],
    )
    ctx.row(
        scen,
        f"{n} viewers, 2 workers: pod CPU per delivered frame",
        two["cpu_per_frame_us"],
        "us",
        note=f"{two['pod_cpu_s']:.2f} s CPU (both workers and the supervisor) / "
        f"{two['delivered']} frames",
        today=one["cpu_per_frame_us"],
    )


def _fanout_rows(
    ctx: Ctx, scen: str, tag: str, runs: dict[str, dict[str, Any]], at_top: bool
) -> None:
    r, t = runs["new"], runs.get("today")

    def was(key: str, sub: str | None = None) -> Any:
        if t is None:
            return None
        return t[key][sub] if sub else t[key]

    ctx.row(
        scen,
        f"{tag}: spread publish -> last viewer p50",
        r["spread_ms"]["p50"],
        "ms",
        today=was("spread_ms", "p50"),
    )
    ctx.row(
        scen,
        f"{tag}: spread publish -> last viewer p99",
        r["spread_ms"]["p99"],
        "ms",
        "<= 90 ms" if at_top else "",
        (r["spread_ms"]["p99"] <= 90) if at_top else None,
        f"{r['deltas']} deltas, publication from {r['publication']}; today: plain /ws "
        "viewers, new: /ws?v=2",
        today=was("spread_ms", "p99"),
    )
    core = r["core"]
    core_note = (
        f"; core {ctx.server_cpus} busy (every process on it) {core['busy']:.2f} s (softirq "
        f"{core['softirq']:.2f}, steal {core['steal']:.2f}) = "
        f"{core['busy'] / max(1, r['delivered']) * 1e6:.1f} us/frame"
        if core
        else ""
    )
    ctx.row(
        scen,
        f"{tag}: pod CPU per delivered frame",
        r["cpu_per_frame_us"],
        "us",
        "<= 8 us",
        r["cpu_per_frame_us"] <= 8,
        f"{r['pod_cpu_s']:.2f} s CPU / {r['delivered']} frames (expected {r['expected']}), "
        f"idle {r['idle_cpu_per_s'] * 100:.1f} % core{core_note}",
        today=was("cpu_per_frame_us"),
    )
    ctx.row(
        scen,
        f"{tag}: bytes per viewer per second",
        r["bytes_per_viewer_per_s"],
        "B/s",
        note=f"{FANOUT_PATTERN} placements at 2,000/s",
        today=was("bytes_per_viewer_per_s"),
    )
    ctx.row(
        scen,
        f"{tag}: RSS per idle connection",
        r["rss_per_conn_kib"],
        "KiB",
        "<= 16 KiB",
        r["rss_per_conn_kib"] <= 16,
        f"{r['rss0_kib']} KiB at 0 -> {r['rss_idle_kib']} KiB at {r['connected']}",
        today=was("rss_per_conn_kib"),
    )
    for name, run in runs.items():
        if run["connect_errors"] or run["gaps"] or run["closed"]:
            ctx.row(
                scen,
                f"{tag}: problems ({name})",
                "see note",
                note=f"connect errors {run['connect_errors']}, gaps {run['gaps']}, "
                f"closed {run['closed']}",
            )
    drivers = ", ".join(f"{d['util'] * 100:.0f}" for d in r["drivers"])
    ctx.row(
        scen,
        f"{tag}: drivers' CPU",
        max(d["util"] for d in r["drivers"]) * 100,
        "% of a core",
        note=f"{len(r['drivers'])} driver process(es): {drivers} %; processes not ours used "
        f"{r['foreign_cpu_util'] * 100:.0f} % of a core meanwhile",
    )


def _throughput_calc(ph: Phase, warm: float) -> dict[str, Any]:
    c = ph.merged["writer_cols"]
    ts, ta = np.asarray(c["t_send"]), np.asarray(c["t_ack"])
    a0, a1 = ph.t0 + warm, ph.t1
    win = (ta >= a0) & (ta <= a1)
    rate = float(win.sum()) / (a1 - a0)
    ack = dist_ms((ta - ts)[win])
    answered = ta != 0
    total_acked = int((ta > 0).sum())
    return {
        "acked_per_s": rate,
        "ack_ms": ack,
        "sent": int(ts.size),
        "acked": total_acked,
        "errors": ph.merged["writer_errors"],
        "unanswered": int((~answered).sum()),
        "server_cpu_s": ph.cpu,
        "cores": ph.cores,
        "drivers": ph.merged["drivers"],
        "cpu_per_placement_us": {
            k: v / total_acked * 1e6 if total_acked else math.nan for k, v in ph.cpu.items()
        },
    }


async def s_throughput(ctx: Ctx) -> dict[str, Any]:
    scen = "throughput"
    steps = [(32, 4)] if ctx.quick else [(32, 1), (32, 2), (32, 4), (64, 4), (64, 8)]
    duration, warm = (4.0, 1.0) if ctx.quick else (6.0, 1.0)
    out: dict[str, Any] = {"one_pod": [], "two_pods": None, "today": []}
    for code in ctx.codes():
        runs = out["one_pod"] if code is NEW else out["today"]
        with ctx.stack(scen, code=code) as st:
            pod = st.api[0]
            for i, (w, k) in enumerate(steps):
                log(f"throughput ({code.name}): one pod, {w} writers x {k} in flight")
                usec0 = st.command_usec()
                ph = await run_phase(
                    ctx,
                    f"{scen}1-{i}-{code.name}",
                    [
                        job(
                            [pod.port],
                            writers=w,
                            mode="inflight",
                            inflight=k,
                            name_prefix=f"tp{i}-",
                            px_start=i * 200_000,
                            salt=7 + i,
                        )
                    ],
                    duration,
                    1.0,
                    st.procs(),
                )
                usec1 = st.command_usec()
                r = _throughput_calc(ph, warm)
                acked = max(1, r["acked"])
                r.update(
                    {
                        "writers": w,
                        "inflight": k,
                        "pod_us_per_placement": r["cpu_per_placement_us"][pod.name],
                        "redis_evalsha_us_per_placement": (
                            usec1.get("evalsha", 0) - usec0.get("evalsha", 0)
                        )
                        / acked,
                        "redis_us_per_placement": sum(
                            usec1[c] - usec0.get(c, 0) for c in usec1 if c not in ("info",)
                        )
                        / acked,
                    }
                )
                runs.append(r)
            out[f"where_one_{code.name}"] = st.placement()
    today = {(r["writers"], r["inflight"]): r for r in out["today"]}
    for r in out["one_pod"]:
        w, k = r["writers"], r["inflight"]
        t = today.get((w, k))
        ref = (w, k) == (32, 4)
        ctx.row(
            scen,
            f"1 pod, {w} writers x {k} in flight",
            r["acked_per_s"],
            "acked/s",
            note=f"ack p50 {r['ack_ms']['p50']:.1f} p99 {r['ack_ms']['p99']:.1f} ms, "
            f"errors {r['errors'] or 0}, driver "
            f"{max(d['util'] for d in r['drivers']) * 100:.0f} %"
            + (f"; today: ack p99 {t['ack_ms']['p99']:.1f} ms" if t else ""),
            today=t["acked_per_s"] if t else None,
        )
        ctx.row(
            scen,
            f"  pod CPU per acknowledged placement ({w}x{k})",
            r["pod_us_per_placement"],
            "us",
            "<= 12 us" if ref else "",
            r["pod_us_per_placement"] <= 12 if ref else None,
            "the pod's own CPU time (utime+stime) over the window / placements acked",
            today=t["pod_us_per_placement"] if t else None,
        )
        ctx.row(
            scen,
            f"  Redis time per placement ({w}x{k})",
            r["redis_evalsha_us_per_placement"],
            "us",
            "<= 5 us" if ref else "",
            r["redis_evalsha_us_per_placement"] <= 5 if ref else None,
            "INFO commandstats: usec of EVALSHA (every script: placements, ticker, stats) / "
            f"placements acked; every command: {r['redis_us_per_placement']:.1f} us",
            today=t["redis_evalsha_us_per_placement"] if t else None,
        )
    ok = [r for r in out["one_pod"] if r["ack_ms"]["p99"] < 20]
    best = max(ok, key=lambda r: r["acked_per_s"]) if ok else None
    top = max(out["one_pod"], key=lambda r: r["acked_per_s"])
    today_ok = [r for r in out["today"] if r["ack_ms"]["p99"] < 20]
    ctx.row(
        scen,
        "1 pod: best acked/s with p99 ack < 20 ms",
        best["acked_per_s"] if best else 0.0,
        "acked/s",
        ">= 15,000 with p99 < 20 ms",
        bool(best and best["acked_per_s"] >= 15000),
        f"{best['writers']}x{best['inflight']}, p99 {best['ack_ms']['p99']:.1f} ms"
        if best
        else "no step had p99 < 20 ms",
        today=max((r["acked_per_s"] for r in today_ok), default=None),
    )
    ctx.row(
        scen,
        "1 pod: most acked/s (any p99)",
        top["acked_per_s"],
        "acked/s",
        note=f"{top['writers']}x{top['inflight']}, p99 {top['ack_ms']['p99']:.1f} ms",
        today=max((r["acked_per_s"] for r in out["today"]), default=None),
    )
    out["best_one_pod"] = best
    # two pods: one per core; redis, ticker and drivers float
    w, k = (best or top)["writers"], (best or top)["inflight"]
    w = max(w, 2)
    log(f"throughput: two pods, {w} writers x {k} in flight")
    with ctx.stack(
        f"{scen}-2pods", pods=2, pod_cpus=["0", "1"] if ctx.server_cpus else [None], helpers=False
    ) as st:
        ports = [p.port for p in st.api]
        ph = await run_phase(
            ctx,
            f"{scen}2",
            [job(ports, writers=w, mode="inflight", inflight=k, name_prefix="tp2-", salt=11)],
            duration,
            1.0,
            st.procs(),
        )
        r = _throughput_calc(ph, warm)
        r.update({"writers": w, "inflight": k, "where": st.placement()})
    out["two_pods"] = r
    ctx.row(
        scen,
        f"2 pods, {w} writers x {k} in flight",
        r["acked_per_s"],
        "acked/s",
        note=f"ack p99 {r['ack_ms']['p99']:.1f} ms; pods on cpu 0 and 1, redis/ticker/"
        f"drivers unpinned; errors {r['errors'] or 0}",
    )
    driver_rows(ctx, scen, ph, " (2 pods)")
    return out


# storm ------------------------------------------------------------------------------------------
def _tcp_local_ports(pid: int, remote_port: int) -> set[int]:
    """Local ports of ``pid``'s TCP connections to 127.0.0.1:``remote_port`` (from /proc)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                t = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[9] in inodes and int(f[2].rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


READ_VERBS = {
    b"GET",
    b"GETRANGE",
    b"SUBSTR",
    b"GETBIT",
    b"BITFIELD",
    b"BITFIELD_RO",
    b"DUMP",
    b"GETEX",
    b"GETDEL",
    b"MGET",
    b"HGETALL",
    b"HGET",
    b"LRANGE",
    b"XRANGE",
}


class Monitor:
    """Redis MONITOR: commands per client port, and those naming a given key."""

    def __init__(self, port: int, key: bytes | None) -> None:
        self.port, self.key = port, key
        self.lines: list[tuple[int | None, bytes, bool]] = []  # (client port, verb, names key)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(b"MONITOR\r\n")
        await self.reader.readline()
        self.task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        qkey = b'"' + self.key + b'"' if self.key else None
        last_client: int | None = None
        while True:
            line = await self.reader.readline()
            if not line:
                return
            i = line.find(b"[")
            j = line.find(b"]", i)
            who = line[i + 1 : j].split()
            k = line.find(b'"', j)
            verb = line[k + 1 : line.find(b'"', k + 1)].upper()
            client: int | None
            if len(who) > 1 and who[1] == b"lua":
                client = last_client
            else:
                try:
                    client = int(who[1].rsplit(b":", 1)[1]) if len(who) > 1 else None
                except ValueError:
                    client = None
                last_client = client
            self.lines.append((client, verb, bool(qkey and qkey in line[j:])))

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.writer.close()


def _canvas_key(r: Any, cells: int) -> tuple[bytes | None, int]:
    """The canvas key: a string of one byte per pixel, else the largest string key."""
    best, size = None, 0
    for key in r.scan_iter(count=1000):
        if r.type(key) == b"string":
            n = r.strlen(key)
            if n == cells:
                return key, n
            if n > size:
                best, size = key, n
    return (best, size) if size >= cells // 16 else (None, size)


async def _storm_one(ctx: Ctx, code: Code, side: int) -> dict[str, Any]:
    """2,000 players connect at once to a pod whose canvas is a finished-looking one (restored
    from a backup of ``bench.canvases.image_like``) that a few thousand placements then changed."""
    scen = "storm"
    n_players = 2000
    with ctx.stack(f"{scen}-{side}", code=code, side=side, canvas=image_like(side, side)) as st:
        pod = st.api[0]
        log(f"storm ({code.name}, {side}^2): prefill")
        await run_phase(
            ctx,
            f"{scen}-{side}-{code.name}-prefill",
            [
                job(
                    [pod.port],
                    writers=8,
                    mode="inflight",
                    inflight=8,
                    name_prefix="pre",
                    salt=1,
                    pattern="uniform",
                )
            ],
            1.5,
            ctx.tick_ms / 1000 + 0.5,
            [],
        )
        r = st.redis()
        key, key_size = _canvas_key(r, side * side)
        cs_a = st.commandstats()
        await asyncio.sleep(2.0)
        cs_b = st.commandstats()
        bg = {k: cs_b.get(k, 0) - cs_a.get(k, 0) for k in cs_b}
        bg = {k: v / 2.0 for k, v in bg.items() if v > 0}
        mon = Monitor(st.redis_port, key)
        pod_ports = _tcp_local_ports(pod.pid, st.redis_port)
        cs0: dict[str, int] = {}
        rss0 = pod.rss_kib()

        async def before_go() -> dict[str, Any]:
            await mon.start()
            cs0.update(st.commandstats())
            return {}

        jobs = [
            job(
                [pod.port],
                storm=k,
                storm_offset=i * 10_000,
                storm_auth=True,
                name_prefix="storm",
                path="/ws?v=2" if code is NEW else "/ws",
            )
            for i, k in enumerate(split(n_players, 1000))
        ]
        log(f"storm ({code.name}, {side}^2): {n_players} players connect at once")
        try:
            ph = await run_phase(
                ctx, f"{scen}-{side}-{code.name}", jobs, 20.0, 0.3, st.procs(), before_go
            )
        finally:
            await mon.stop()
        cs1 = st.commandstats()
        pod_ports |= _tcp_local_ports(pod.pid, st.redis_port)
        rss1 = pod.rss_kib()
        placement = st.placement()
    s = ph.merged["storm"] or {}
    th, tsn, ta = (
        np.asarray(s.get(k, []), dtype=float) for k in ("t_hello", "t_snapshot", "t_auth")
    )
    both = (th > 0) & (tsn > 0)
    t_view = np.maximum(th, tsn)[both] - ph.t0
    authed = ta > 0
    t_all = float(t_view.max()) if both.all() and both.size else math.inf
    t_auth_all = float((ta[authed] - ph.t0).max()) if authed.all() and authed.size else math.inf
    wall = ph.t_end - ph.t0
    diff = {k: cs1.get(k, 0) - cs0.get(k, 0) for k in cs1}
    diff = {k: v for k, v in sorted(diff.items(), key=lambda kv: -kv[1]) if v > 0}
    net = {k: round(v - bg.get(k, 0) * wall) for k, v in diff.items()}
    by_pod = Counter(v.decode() for c, v, _ in mon.lines if c in pod_ports)
    key_hits = Counter(
        ("pod " if c in pod_ports else "other ") + v.decode() for c, v, hit in mon.lines if hit
    )
    canvas_reads = sum(1 for c, v, hit in mon.lines if hit and c in pod_ports and v in READ_VERBS)
    received = sum(sum(r.get("received_bytes", {}).values()) for r in ph.results)
    return {
        "code": code.name,
        "side": side,
        "players": n_players,
        "t_all_hello_snapshot_s": t_all,
        "t_hello_snapshot_ms": dist_ms(t_view),
        "p50_s": pct(t_view, 50),
        "t_all_auth_s": t_auth_all,
        "complete": int(both.sum()),
        "authed": int(authed.sum()),
        "errors": s.get("errors"),
        "closed": s.get("closed"),
        "redis_commands": diff,
        "redis_commands_net_of_background": net,
        "background_per_s": bg,
        "pod_commands_monitor": dict(by_pod),
        "canvas_key": key.decode(errors="replace") if key else None,
        "canvas_key_bytes": key_size,
        "canvas_key_commands": dict(key_hits),
        "canvas_reads": canvas_reads,
        "auth_answers": s.get("auth_answers"),
        "snapshot_sizes": ph.merged["snapshot_sizes"][:4],
        "bytes_per_player": received / n_players,
        "server_cpu_s": ph.cpu,
        "rss_kib": [rss0, rss1],
        "drivers": ph.merged["drivers"],
        "where": placement,
        "driver_util": max(d["util"] for d in ph.merged["drivers"]),
    }


async def s_storm(ctx: Ctx) -> dict[str, Any]:
    scen = "storm"
    out: dict[str, Any] = {}
    for side in ctx.sizes:
        runs = {code.name: await _storm_one(ctx, code, side) for code in ctx.codes()}
        out[str(side)] = runs
        r, t = runs["new"], runs.get("today")
        n = r["players"]
        ok = bool(
            r["complete"] == n and r["t_all_hello_snapshot_s"] < 3.0 and not r["canvas_reads"]
        )
        first = side == ctx.sizes[0]
        ctx.row(
            scen,
            f"{side}^2: {n} connect at once, all have hello + canvas",
            r["t_all_hello_snapshot_s"],
            "s",
            "< 3 s, no canvas read" if first else "",
            ok if first else None,
            f"p50 {r['p50_s']:.2f} s, {r['complete']}/{n} complete, errors {r['errors'] or 0}, "
            f"driver {r['driver_util'] * 100:.0f} %",
            today=t["t_all_hello_snapshot_s"] if t else None,
        )
        ctx.row(
            scen,
            f"{side}^2: bytes to each player on connecting",
            r["bytes_per_player"] / 1e6,
            "MB",
            note="hello, snapshot (and the deltas after it), sign-in answer; today /ws, new "
            "/ws?v=2; first snapshots "
            + ", ".join(f"{b / 1e6:.2f}" for b in r["snapshot_sizes"][:2])
            + " MB",
            today=t["bytes_per_player"] / 1e6 if t else None,
        )
        ctx.row(
            scen,
            f"{side}^2: ... then all signed in (auth -> hello)",
            r["t_all_auth_s"],
            "s",
            note=f"{r['authed']}/{n} signed in; answers to auth: {r['auth_answers']}",
            today=t["t_all_auth_s"] if t else None,
        )
        ctx.row(
            scen,
            f"{side}^2: canvas-key reads by the pod during the storm",
            r["canvas_reads"],
            note=f"key {r['canvas_key']!r} ({r['canvas_key_bytes']} B): "
            f"{r['canvas_key_commands'] or 'not touched'}; Redis commands from the pod "
            f"(MONITOR): {sum(r['pod_commands_monitor'].values())}",
            today=t["canvas_reads"] if t else None,
        )
        ctx.row(
            scen,
            f"{side}^2: pod RSS before/after",
            f"{r['rss_kib'][0]}/{r['rss_kib'][1]}",
            "KiB",
            today=f"{t['rss_kib'][0]}/{t['rss_kib'][1]}" if t else None,
        )
    return out


async def _hello(port: int) -> dict[str, Any] | None:
    class H(Client):
        def on_text(self, p: bytes, t: float) -> None:
            if not got.done():
                got.set_result(json.loads(p))

    got: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    c = H("127.0.0.1", port)
    try:
        await connect(c, 10)
        return await asyncio.wait_for(got, 10)
    except (TimeoutError, OSError, ConnectionError):
        return None
    finally:
        c.close()


# ticker -----------------------------------------------------------------------------------------
TICK_METRIC = "place_tick_duration_seconds"


async def _ticker_one(ctx: Ctx, code: Code, side: int, steps: list[int]) -> dict[str, Any]:
    scen = "ticker"
    tick_s = ctx.ticker_tick_ms / 1000
    ticks = 5 if ctx.quick else 15
    out: dict[str, Any] = {"tick_ms": ctx.ticker_tick_ms, "steps": [], "side": side}
    names = servers.script_names(code.tree / "place" / "lua" if code.tree else None)
    canvas = image_like(side, side)
    with ctx.stack(
        f"{scen}-{side}", tick_ms=ctx.ticker_tick_ms, code=code, side=side, canvas=canvas
    ) as st:
        pod = st.api[0]
        assert st.ticker is not None
        sub = Subscriber(st.redis_port)
        await sub.start()
        try:
            for i, n in enumerate(steps):
                log(f"ticker ({code.name}, {side}^2): {n} placements per tick")
                rate = n / tick_s
                w = 8 if rate <= 2000 else 32
                m0 = parse_prometheus(st.metrics(pod))
                rc = st.redis()
                rc.config_set("slowlog-log-slower-than", 1000)
                rc.config_set("slowlog-max-len", 4096)
                rc.slowlog_reset()
                ph = await run_phase(
                    ctx,
                    f"{scen}-{side}-{code.name}-{n}",
                    [
                        job(
                            [pod.port],
                            writers=w,
                            mode="rate",
                            rate=rate,
                            name_prefix=f"tk{i}-",
                            px_start=i * 150_000,
                            salt=13 + i,
                            pattern="uniform",
                        )
                    ],
                    ticks * tick_s,
                    tick_s + 1.0,
                    st.procs(),
                )
                m1 = parse_prometheus(st.metrics(pod))
                slow = servers.slowlog_summary(rc.slowlog_get(4096), names)
                deltas = sorted(
                    (d for d in sub.deltas().values() if ph.t0 <= d["t"] <= ph.t_end),
                    key=lambda d: d["seq"],
                )
                full = deltas[1:-1] if len(deltas) > 3 else deltas  # first/last ticks: partial
                sizes = [d["n"] for d in full]
                tick_ms = [d["tick_us"] / 1e3 for d in full if "tick_us" in d]
                h = histogram_window(m0, m1, TICK_METRIC)
                nticks = (ph.t_end - ph.t0) / tick_s
                r = {
                    "target_per_tick": n,
                    "rate": rate,
                    "writers": w,
                    "placements_per_tick_mean": float(np.mean(sizes)) if sizes else 0.0,
                    "bus_tick_ms": {
                        "n": len(tick_ms),
                        "p50": pct(tick_ms, 50),
                        "p99": pct(tick_ms, 99),
                        "max": max(tick_ms) if tick_ms else math.nan,
                    },
                    "metric": h,
                    "metric_family": metric_family(m1, TICK_METRIC),
                    "ticker_cpu_per_tick_ms": ph.cpu[st.ticker.name] / nticks * 1e3,
                    "redis_cpu_per_tick_ms": ph.cpu["redis"] / nticks * 1e3,
                    "acked": int((np.asarray(ph.merged["writer_cols"]["t_ack"]) > 0).sum()),
                    "errors": ph.merged["writer_errors"],
                    "drivers": ph.merged["drivers"],
                    "redis_slowlog_over_1ms": slow,
                }
                out["steps"].append(r)
                if tick_ms:
                    val = max(tick_ms)
                    how = (
                        "tick_us on the bus (whole tick, commit included): "
                        f"p50 {pct(tick_ms, 50):.2f} "
                        f"max {val:.2f} ms over {len(tick_ms)} ticks"
                    )
                elif h and h.get("count"):
                    val = h.get("p99_le_ms", h["mean_ms"])
                    how = f"/metrics histogram: mean {h['mean_ms']:.2f} ms"
                else:
                    val = math.nan
                    how = f"no tick time on the bus or {TICK_METRIC} on /metrics"
                if h and h.get("count"):
                    how += f"; /metrics mean {h['mean_ms']:.2f} ms"
                r["worst_tick_ms"] = val
                r["how"] = (
                    f"{how}; ticker CPU {r['ticker_cpu_per_tick_ms']:.1f} ms/tick, redis "
                    f"{r['redis_cpu_per_tick_ms']:.1f} ms/tick (all clients); Redis calls "
                    "over 1 ms: "
                    + (
                        ", ".join(
                            f"{k} {v['count']}x max {v['max_ms']:.1f}"
                            for k, v in list(slow.items())[:4]
                        )
                        or "none"
                    )
                )
        finally:
            await sub.stop()
        out["where"] = st.placement()
    return out


async def s_ticker(ctx: Ctx) -> dict[str, Any]:
    """Tick time at each load, today's code beside the new one, at each canvas size (the first
    size at every step, the others at 4,000 a tick)."""
    scen = "ticker"
    out: dict[str, Any] = {}
    for side in ctx.sizes:
        if side == ctx.sizes[0]:
            steps = [1000, 4000] if ctx.quick else [100, 1000, 4000, 8000]
        else:
            steps = [4000]
        runs = {code.name: await _ticker_one(ctx, code, side, steps) for code in ctx.codes()}
        out[str(side)] = runs
        today = {r["target_per_tick"]: r for r in runs["today"]["steps"]} if "today" in runs else {}
        for r in runs["new"]["steps"]:
            n, val = r["target_per_tick"], r["worst_tick_ms"]
            t = today.get(n)
            is4k = n == 4000 and side == ctx.sizes[0]
            ctx.row(
                scen,
                f"{side}^2, {n}/tick ({r['placements_per_tick_mean']:.0f} seen): worst tick",
                val,
                "ms",
                "<= 20 ms at 4,000" if is4k else "",
                (val <= 20) if is4k and not math.isnan(val) else None,
                r["how"],
                today=t["worst_tick_ms"] if t else None,
            )
    return out


# egress ----------------------------------------------------------------------------------------
CURVE_N = [100, 250, 500, 1000, 2000, 4000, 8000]
QUIET_PER_S, BUSY_PER_S = 10.0, 8000.0  # placements/s: a canvas at night; the modelled peak
EGRESS_RESYNC_S = 5  # the periodic resync during the live phases (the contract's is 60 s)


def _frame_bytes(payload: bytes) -> int:
    return len(payload) + ws_header(len(payload))


def _tick(pattern: str, rng: np.random.Generator, n: int, side: int) -> tuple[Any, Any]:
    if pattern == "uniform":
        return uniform_tick(rng, n, side * side)
    return clustered_tick(rng, n, side, side)


def delta_curve(sides: list[int], ticks: int = 8) -> list[dict[str, Any]]:
    """Bytes per delivered pixel (websocket header included) of both delta formats, by pixels
    per tick, from the real encoders on generated ticks; and the ticker's encode time."""
    out = []
    for side in sides:
        for pattern in ("uniform", "clustered"):
            rng = np.random.default_rng(side + len(pattern))
            for n in CURVE_N:
                plain = compact = 0
                encode_s = []
                for seq in range(ticks):
                    pixels, colors = _tick(pattern, rng, n, side)
                    plain += _frame_bytes(protocol.encode_delta(seq, pixels, colors))
                    t = time.perf_counter()
                    frame = protocol.encode_compact_delta(seq, pixels, colors)
                    encode_s.append(time.perf_counter() - t)
                    compact += _frame_bytes(frame)
                out.append(
                    {
                        "side": side,
                        "pattern": pattern,
                        "n": n,
                        "plain_bytes_per_px": plain / (n * ticks),
                        "compact_bytes_per_px": compact / (n * ticks),
                        "encode_us_median": float(np.median(encode_s)) * 1e6,
                    }
                )
    return out


def snapshot_levels(sides: list[int], levels: tuple[int, ...] = (1, 3, 6, 9)) -> list[dict]:
    """Bytes and CPU of a snapshot of a generated detailed canvas, by zlib level."""
    out = []
    for side in sides:
        pixels = image_like(side, side).tobytes()
        for level in levels:
            times = []
            for _ in range(3):
                t = time.process_time()
                frame = protocol.encode_snapshot(1, side, side, pixels, level)
                times.append(time.process_time() - t)
            out.append(
                {"side": side, "level": level, "bytes": len(frame), "cpu_ms": min(times) * 1e3}
            )
    return out


def _per_viewer(result: dict[str, Any], viewers: int, window: float) -> dict[str, float]:
    """One driver's counts as bytes per viewer: per second of deltas, and per resync."""
    b = result.get("received_bytes", {})
    f = result.get("received_frames", {})
    px = result.get("delta_pixels", {})
    deltas = b.get("2", 0) + b.get("3", 0)
    pixels = px.get("2", 0) + px.get("3", 0)
    resyncs = f.get("1", 0) + f.get("sum", 0)  # every EGRESS_RESYNC_S, per viewer
    resync_bytes = b.get("1", 0) + b.get("catchup", 0) + b.get("sum", 0)
    return {
        "delta_bytes_per_s": deltas / viewers / window,
        "bytes_per_px": deltas / pixels if pixels else math.nan,
        "pixels_per_s": pixels / viewers / window,
        "resyncs": resyncs / viewers,
        "bytes_per_resync": resync_bytes / resyncs if resyncs else math.nan,
        "other_bytes_per_s": (sum(b.values()) - deltas - resync_bytes) / viewers / window,
    }


async def s_egress(ctx: Ctx) -> dict[str, Any]:
    """Bytes every viewer receives: both delta formats by pixels per tick, the snapshot's zlib
    level, and per viewer per minute at each canvas size, quiet and busy, old and new."""
    scen = "egress"
    curve = delta_curve(ctx.sizes, ticks=3 if ctx.quick else 8)
    for r in curve:
        if r["side"] != ctx.sizes[0]:
            continue
        at4k = r["n"] == 4000
        limit = 2.2 if r["pattern"] == "uniform" else 1.5
        ctx.row(
            scen,
            f"{r['pattern']} {r['n']}/tick, {r['side']}^2: bytes per delivered pixel",
            r["compact_bytes_per_px"],
            "B/px",
            f"<= {limit} at 4,000" if at4k else "",
            r["compact_bytes_per_px"] <= limit if at4k else None,
            f"generated ticks, the real encoders; ticker encodes 0x03 in "
            f"{r['encode_us_median']:.0f} us",
            today=r["plain_bytes_per_px"],
        )
    levels = snapshot_levels(ctx.sizes)
    for r in levels:
        ctx.row(
            scen,
            f"snapshot {r['side']}^2 (generated detailed canvas) at zlib level {r['level']}",
            r["bytes"] / 1e6,
            "MB",
            note=f"{r['cpu_ms']:.0f} ms CPU to encode",
            today=(r["bytes"] / 1e6) if r["level"] == protocol.SNAPSHOT_LEVEL else None,
        )
    live: dict[str, Any] = {}
    duration = 4.0 if ctx.quick else 8.0
    for side in ctx.sizes:
        canvas = image_like(side, side)
        for code in ctx.codes():
            env = {"PLACE_RESYNC_S": str(EGRESS_RESYNC_S)}
            with ctx.stack(f"{scen}-{side}", code=code, side=side, canvas=canvas, env=env) as st:
                pod = st.api[0]
                formats = {"v1": "/ws"} if code is not NEW else {"v1": "/ws", "v2": "/ws?v=2"}
                for load, rate, pattern in (
                    ("quiet", QUIET_PER_S, "uniform"),
                    ("busy", BUSY_PER_S, "uniform"),
                    ("busy-clustered", BUSY_PER_S, "clustered"),
                ):
                    log(f"egress: {side}^2 {code.name} {load}")
                    jobs = [job([pod.port], viewers=2, path=path) for path in formats.values()]
                    jobs.append(
                        job(
                            [pod.port],
                            writers=4 if rate < 100 else 32,
                            rate=rate,
                            mode="rate",
                            pattern=pattern,
                            name_prefix=f"eg{side}{load}",
                            salt=21,
                        )
                    )
                    ph = await run_phase(
                        ctx,
                        f"{scen}-{side}-{code.name}-{load}",
                        jobs,
                        max(duration, 2.5 * EGRESS_RESYNC_S),
                        ctx.tick_ms / 1000 + 0.5,
                        st.procs(),
                    )
                    window = ph.t_end - ph.t0
                    for name, result in zip(formats, ph.results, strict=False):
                        live[f"{side}/{code.name}/{load}/{name}"] = _per_viewer(result, 2, window)
    out = {"curve": curve, "snapshot_levels": levels, "live": live}
    _egress_rows(ctx, scen, live)
    return out


def _egress_rows(ctx: Ctx, scen: str, live: dict[str, dict[str, float]]) -> None:
    old_code = ctx.today.name if ctx.today is not None else "new"
    for side in ctx.sizes:
        for load in ("busy", "busy-clustered"):
            old, new = live.get(f"{side}/{old_code}/{load}/v1"), live.get(f"{side}/new/{load}/v2")
            if not old or not new:
                continue
            limit = 2.2 if load == "busy" else 1.5
            pattern = "uniform" if load == "busy" else "clustered"
            ctx.row(
                scen,
                f"live {side}^2, {pattern} 4,000/tick: bytes per delivered pixel",
                new["bytes_per_px"],
                "B/px",
                f"<= {limit}" if side == ctx.sizes[0] else "",
                new["bytes_per_px"] <= limit if side == ctx.sizes[0] else None,
                f"one /ws and one /ws?v=2 viewer of the same pod, {new['pixels_per_s']:.0f} "
                "pixels/s delivered",
                today=old["bytes_per_px"],
            )
        for load in ("quiet", "busy"):
            old, new = live.get(f"{side}/{old_code}/{load}/v1"), live.get(f"{side}/new/{load}/v2")
            if not old or not new:
                continue
            per_min = {
                k: v["delta_bytes_per_s"] * 60 + v["bytes_per_resync"]
                for k, v in (("old", old), ("new", new))
            }
            rate = QUIET_PER_S if load == "quiet" else BUSY_PER_S
            ctx.row(
                scen,
                f"per viewer per minute, {side}^2, {load} ({rate:.0f} placements/s)",
                per_min["new"] / 1e6,
                "MB",
                note=f"deltas {old['delta_bytes_per_s'] * 60 / 1e6:.3f} -> "
                f"{new['delta_bytes_per_s'] * 60 / 1e6:.3f} MB, the resync every 60 s "
                f"{old['bytes_per_resync'] / 1e6:.3f} MB (snapshot) -> "
                f"{new['bytes_per_resync']:.0f} B (sum)",
                today=per_min["old"] / 1e6,
            )


# event rehearsal --------------------------------------------------------------------------------
EVENT_VIEWERS, EVENT_PLAYERS, EVENT_COOLDOWN_S = 10_000, 2_000, 0.5  # 2,000 x 2/s = 4,000/s
MODEL_PEAK_PER_S = 8_000  # the event this project is modelled on: 45,000 players, 8,000/s


def _latencies(m: dict[str, Any]) -> tuple[np.ndarray, int]:
    """place -> pixel at every viewer: for each acknowledged placement (a sample of 20,000), the
    first delta (as the decoding viewer got them) that holds its pixel and arrived after it was
    sent; the arrival of that delta at every viewer minus the send. Pixels repeat (uniform
    placements), so a pixel maps to every seq that carried it (another placement of the same
    pixel within the same half second would be taken for this one: rare at 4,000/s)."""
    seqs_of: dict[int, list[int]] = {}
    for seq in sorted(m["decoded"]):
        for px in m["decoded"][seq]:
            seqs_of.setdefault(px, []).append(seq)
    first_arrival = {seq: float(np.min(a)) for seq, a in m["arrivals"].items() if len(a)}
    c = m["writer_cols"]
    out: list[np.ndarray] = []
    unmatched = 0
    every = max(1, len(c["px"]) // 20_000)  # a sample of 20,000 placements is plenty
    for px, ts, ta in list(zip(c["px"], c["t_send"], c["t_ack"], strict=True))[::every]:
        if ta <= 0:
            continue
        seq = next((q for q in seqs_of.get(px, ()) if first_arrival.get(q, -1.0) >= ts), None)
        if seq is None:
            unmatched += 1
            continue
        out.append(np.asarray(m["arrivals"][seq]) - ts)
    return (np.concatenate(out) if out else np.empty(0)), unmatched


async def s_event(ctx: Ctx) -> dict[str, Any]:
    """The rehearsal: 10,000 /ws?v=2 viewers and 2,000 signed-in players on one pod, each player
    placing again as soon as a 0.5 s cooldown allows (4,000/s), uniform pixels, 60 s."""
    scen = "event"
    duration = 15.0 if ctx.quick else 60.0
    viewers = EVENT_VIEWERS // 5 if ctx.quick else EVENT_VIEWERS
    side = ctx.sizes[0]
    env = {"PLACE_COOLDOWN_S": str(EVENT_COOLDOWN_S), "PLACE_MSG_RATE": "0"}
    with ctx.stack(scen, side=side, canvas=image_like(side, side), env=env) as st:
        pod = st.api[0]
        sub = Subscriber(st.redis_port)
        await sub.start()
        jobs = [
            job([pod.port], viewers=k, connect_concurrency=100, path="/ws?v=2", decode=i == 0)
            for i, k in enumerate(split(viewers, ctx.viewers_per_proc))
        ]
        per_driver = split(EVENT_PLAYERS, 1000)
        jobs += [
            job(
                [pod.port],
                writers=k,
                writer_offset=sum(per_driver[:i]),
                writers_total=EVENT_PLAYERS,
                mode="cooldown",
                pattern="uniform",
                name_prefix="player-",
                salt=31,
            )
            for i, k in enumerate(per_driver)
        ]
        r = st.redis()
        mem0 = r.info("memory")["used_memory"]
        usec0 = st.command_usec()
        log(f"event: {viewers} viewers, {EVENT_PLAYERS} players, {duration:.0f} s")
        try:
            ph = await run_phase(ctx, scen, jobs, duration, ctx.tick_ms / 1000 + 1.5, st.procs())
        finally:
            await sub.stop()
        usec1 = st.command_usec()
        mem1 = r.info("memory")["used_memory"]
        placement = st.placement()
        names = {p.name: p for p in st.procs()}
    m = ph.merged
    window = ph.t_end - ph.t0
    c = m["writer_cols"]
    ts, ta = np.asarray(c["t_send"]), np.asarray(c["t_ack"])
    acked = ta > 0
    ack = dist_ms((ta - ts)[acked])
    lat, unmatched = _latencies(m)
    latency = dist_ms(lat)
    pubs = sub.delta_times()
    spreads = []
    delivered = 0
    for seq, arr in m["arrivals"].items():
        a = np.asarray(arr)
        a = a[(a >= ph.t0) & (a <= ph.t_end)]
        if a.size and seq in pubs:
            spreads.append(float(a.max()) - pubs[seq])
            delivered += a.size
    spread = dist_ms(spreads)
    viewer_results = ph.results[: len(jobs) - len(per_driver)]
    received = sum(sum(v.get("received_bytes", {}).values()) for v in viewer_results)
    bytes_per_viewer_s = received / max(1, viewers) / window
    rate = float(acked.sum()) / duration
    cpu = {name: ph.cpu[name] / window for name in names}
    redis_us = (usec1.get("evalsha", 0) - usec0.get("evalsha", 0)) / max(1, int(acked.sum()))
    pod_us_frame = ph.cpu[pod.name] / max(1, delivered) * 1e6  # an upper bound: acks included
    ctx.row(
        scen,
        f"{viewers} viewers + {EVENT_PLAYERS} players, {side}^2: acked placements/s",
        rate,
        "/s",
        f">= {0.95 * EVENT_PLAYERS / EVENT_COOLDOWN_S:,.0f}",
        rate >= 0.95 * EVENT_PLAYERS / EVENT_COOLDOWN_S,
        f"cooldown {EVENT_COOLDOWN_S} s, every player again as soon as allowed; answers: "
        f"{int(acked.sum())} placed, errors {m['writer_errors'] or 0}",
    )
    ctx.row(scen, "ack p50 / p99", f"{ack['p50']:.1f} / {ack['p99']:.1f}", "ms")
    ctx.row(
        scen,
        "place -> pixel at every viewer p50 / p99 / max",
        f"{latency['p50']:.0f} / {latency['p99']:.0f} / {latency['max']:.0f}",
        "ms",
        f"p99 <= {ctx.tick_ms + 100} ms",
        latency["p99"] <= ctx.tick_ms + 100,
        f"{latency['n']} placement x viewer pairs; {unmatched} placements not matched",
    )
    ctx.row(
        scen,
        "spread publish -> last viewer p50 / p99",
        f"{spread['p50']:.0f} / {spread['p99']:.0f}",
        "ms",
        "p99 <= 90 ms",
        spread["p99"] <= 90,
        f"{len(spreads)} deltas",
    )
    ctx.row(
        scen,
        "CPU of each process",
        ", ".join(f"{k} {v * 100:.0f}" for k, v in cpu.items()),
        "% of a core",
        note=f"pod: {pod_us_frame:.1f} us per delivered frame with the placements included",
    )
    ctx.row(
        scen,
        "Redis memory: used_memory before -> after",
        f"{mem0 / 1e6:.0f} -> {mem1 / 1e6:.0f}",
        "MB",
        note=f"Redis time per placement {redis_us:.1f} us (EVALSHA usec / acked)",
    )
    ctx.row(scen, "bytes per viewer per second", bytes_per_viewer_s, "B/s")
    driver_rows(ctx, scen, ph)
    capacity = _capacity(cpu[pod.name], viewers, redis_us, bytes_per_viewer_s)
    for players, line in capacity.items():
        ctx.row(
            scen,
            f"capacity implied for {players:,} players",
            line["pods"],
            "pods",
            note=line["note"],
        )
    return {
        "viewers": viewers,
        "players": EVENT_PLAYERS,
        "side": side,
        "window_s": window,
        "acked_per_s": rate,
        "ack_ms": ack,
        "latency_ms": latency,
        "unmatched": unmatched,
        "spread_ms": spread,
        "cpu_share": cpu,
        "redis_used_memory": [mem0, mem1],
        "redis_us_per_placement": redis_us,
        "bytes_per_viewer_per_s": bytes_per_viewer_s,
        "capacity": capacity,
        "errors": m["writer_errors"],
        "gaps": m["gaps"],
        "connect_errors": m["connect_errors"],
        "drivers": m["drivers"],
        "where": placement,
    }


def _capacity(
    pod_share: float, viewers: int, redis_us: float, bytes_per_viewer_s: float
) -> dict[int, dict[str, Any]]:
    """What the rehearsal implies for 45,000 and 1,000,000 players: every player a viewer, and
    placements at the modelled peak (8,000/s for 45,000; scaled with players for 1,000,000).
    A pod is planned at 70 % of a core; its cost per viewer is the rehearsal's, placements
    included (at 4,000/s they were a small part of it)."""
    out = {}
    per_viewer = pod_share / viewers  # cores per viewer, the placements' share included
    for players in (45_000, 1_000_000):
        per_s = MODEL_PEAK_PER_S * players / 45_000
        cores = per_viewer * players  # the viewers' frames dominate a pod's CPU
        pods = math.ceil(cores / 0.7)
        redis_core = per_s * redis_us / 1e6
        out[players] = {
            "pods": pods,
            "placements_per_s": per_s,
            "redis_cores": redis_core,
            "egress_gbit_s": players * bytes_per_viewer_s * 8 / 1e9,
            "note": f"{cores:.1f} pod cores at the rehearsal's cost per viewer; "
            f"{per_s:,.0f} placements/s = {redis_core:.2f} of a Redis core; egress "
            f"{players * bytes_per_viewer_s * 8 / 1e9:.2f} Gbit/s",
        }
    return out


# page ------------------------------------------------------------------------------------------
async def s_page(ctx: Ctx) -> dict[str, Any]:
    """The players' page in Chromium at each canvas size (``bench.page``)."""
    from bench import page

    scen = "page"
    out: dict[str, Any] = {}
    for side in ctx.sizes:
        log(f"page: {side}^2 in Chromium")
        r = await asyncio.to_thread(page.measure, side, ctx.workdir, 60 if ctx.quick else 200)
        out[str(side)] = r
        ctx.row(
            scen,
            f"{side}^2: first paint / canvas drawn / live",
            f"{r['first_paint_ms']:.0f} / {r['first_canvas_draw_ms']:.0f} / {r['live_ms']:.0f}",
            "ms",
            note="cold cache, loopback, Chromium headless with software compositing",
        )
        ctx.row(
            scen,
            f"{side}^2: page memory (renderer PSS; JS heap)",
            r["renderer_pss_mb"],
            "MB",
            note=f"JS heap {r['js_heap_used_mb']:.1f} MB (typed arrays outside it); Chromium's "
            "own processes: "
            + ", ".join(f"{k} {v:.0f}" for k, v in r["chromium_pss_mb"].items() if k != "renderer")
            + " MB",
        )
        plain, compact = r["0x02"], r["0x03"]
        ok = compact["decode_ms"] < 1 and compact["canvas_matches"] and plain["canvas_matches"]
        ctx.row(
            scen,
            f"{side}^2: decode a {page.N_PIXELS:,}-pixel delta in the page",
            compact["decode_ms"],
            "ms",
            "< 1 ms" if side == ctx.sizes[0] else "",
            ok if side == ctx.sizes[0] else None,
            f"0x03 of {compact['bytes_per_frame']:.0f} B vs 0x02 of "
            f"{plain['bytes_per_frame']:.0f} B; decode + apply {plain['decode_apply_ms']:.2f} -> "
            f"{compact['decode_apply_ms']:.2f} ms; the page's canvas = Python's after every "
            f"frame: {compact['canvas_matches'] and plain['canvas_matches']}",
            today=plain["decode_ms"],
        )
    return out


RUNNERS: dict[str, Callable[[Ctx], Awaitable[dict[str, Any]]]] = {
    "latency": s_latency,
    "fanout": s_fanout,
    "throughput": s_throughput,
    "storm": s_storm,
    "ticker": s_ticker,
    "egress": s_egress,
    "event": s_event,
    "page": s_page,
}


# output ----------------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}")
    return str(v)


def table(rows: list[dict[str, Any]]) -> str:
    """One line a figure: today's code (when measured beside it), the new one, the target and
    PASS/FAIL for the new one."""
    head = ["scenario", "figure", "today", "new", "unit", "target", "result", "note"]
    body = [
        [
            r["scenario"],
            r["figure"],
            "" if r.get("today") is None else _fmt(r["today"]),
            _fmt(r["value"]),
            r["unit"],
            r["target"],
            "" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL"),
            r["note"],
        ]
        for r in rows
    ]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    widths[-1] = len(head[-1])
    fmt = "  ".join(f"{{:{'>' if i in (2, 3) else '<'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*b) for b in body]
    return "\n".join(line.rstrip() for line in lines)


def wait_quiet(limit_s: float, threshold: float = 0.25) -> None:
    """Wait (at most ``limit_s``) until processes not ours use under ``threshold`` of a core."""
    deadline = monotonic() + limit_s
    while True:
        busy = servers.busy_processes(1.0, exclude=os.getpid())
        load = sum(c for _, _, c in busy)
        if load < threshold:
            return
        if monotonic() >= deadline:
            log(
                f"machine still busy ({load * 100:.0f} % of a core: "
                f"{', '.join(f'{n} pid {p}' for p, n, _ in busy[:3])}); going on"
            )
            return
        time.sleep(2.0)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_start": os.getloadavg(),
        "nofile": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE),
    }


async def amain(a: argparse.Namespace) -> int:
    ncpu = len(os.sched_getaffinity(0))
    pin = not a.no_pin and ncpu >= 2 and shutil.which("taskset") is not None
    cpus = sorted(os.sched_getaffinity(0))
    ctx = Ctx(
        quick=a.quick,
        workdir=Path(a.workdir),
        server_cpus=str(cpus[0]) if pin else None,
        driver_cpus=str(cpus[1]) if pin else None,
        viewers_per_proc=a.viewers_per_proc,
        fanout_n=a.fanout_n or ([1000] if a.quick else [1000, 5000, 10000]),
        tick_ms=a.tick_ms,
        ticker_tick_ms=a.ticker_tick_ms,
    )
    if a.profile:
        ctx.profile = shutil.which("py-spy") or shutil.which(
            "py-spy", path=str(Path(sys.executable).parent)
        )
        if not ctx.profile:
            log("--profile: py-spy not found (pip install py-spy); running without it")
    if a.baseline != "none":
        ctx.today = servers.code_at(a.baseline, ctx.workdir / f"today-{a.baseline}")
    if a.size:
        ctx.sizes = a.size
    elif a.quick:
        ctx.sizes = [1000]
    if pin:
        os.sched_setaffinity(0, {cpus[1]})  # this process (pub/sub timing) stays off the pod's core
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    busy = servers.busy_processes(1.0, exclude=os.getpid())
    others = sum(c for _, _, c in busy)
    if others > 0.2:
        log(
            f"warning: the machine is not idle: other processes use {others * 100:.0f} % of a "
            f"core ({', '.join(f'{n} pid {p} {c * 100:.0f} %' for p, n, c in busy[:3])}); "
            "figures will be worse than the server's own"
        )
    names = a.scenario or SCENARIOS
    started = dt.datetime.now(dt.UTC)
    t_start = monotonic()
    failures: dict[str, str] = {}
    for name in names:
        if a.wait_quiet > 0:
            await asyncio.to_thread(wait_quiet, a.wait_quiet)
        log(f"scenario {name}")
        t = monotonic()
        try:
            ctx.results[name] = await RUNNERS[name](ctx)
        except (servers.StackError, TimeoutError, RuntimeError, OSError) as e:
            failures[name] = f"{type(e).__name__}: {e}"
            ctx.row(name, "did not run", "error", ok=False, note=str(e)[:300])
            log(f"scenario {name} failed: {e}")
        ctx.results.setdefault(name, {})
        if isinstance(ctx.results[name], dict):
            ctx.results[name]["elapsed_s"] = monotonic() - t
    where = (
        f"pinning: pod under test on cpu {ctx.server_cpus}; drivers, redis, ticker, helper "
        f"pods and this process on cpu {ctx.driver_cpus}"
        if pin
        else "pinning: none"
    )
    text = table(ctx.rows)
    print(text)
    print(
        f"\nmachine: {ncpu} cores ({machine()['cpu_model']}); {where}; "
        f"two-pod throughput: pods on cpu 0 and 1, the rest unpinned"
    )
    noisy = [(n, u) for n, u in NOISE if u > 0.1]
    if noisy or others > 0.2:
        print(
            f"NOISE: processes not started by this run used CPU: {others * 100:.0f} % of a "
            f"core before the run ({', '.join(f'{n} pid {p}' for p, n, c in busy[:3])}); "
            f"during phases: " + ", ".join(f"{n} {u * 100:.0f} %" for n, u in noisy)
        )
    print(f"elapsed {monotonic() - t_start:.0f} s{' (quick)' if a.quick else ''}")
    doc = {
        "started": started.isoformat(),
        "quick": a.quick,
        "machine": machine(),
        "pinning": {"pod_under_test": ctx.server_cpus, "drivers_redis_ticker": ctx.driver_cpus}
        if pin
        else None,
        "settings": {
            "PLACE_TICK_MS": ctx.tick_ms,
            "ticker_scenario_tick_ms": ctx.ticker_tick_ms,
            "PLACE_AUTH": "dev",
            "PLACE_COOLDOWN_S": 0,
            "PLACE_MSG_RATE": 0,
        },
        "command": " ".join(sys.argv),
        "rows": ctx.rows,
        "results": ctx.results,
        "failures": failures,
        "elapsed_s": monotonic() - t_start,
        "foreign_load_before": [{"pid": p, "name": n, "cores": c} for p, n, c in busy[:10]],
        "foreign_load_by_phase": dict(NOISE),
    }
    outdir = Path(a.out)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{started.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if a.quick else ''}.json"
    path.write_text(json.dumps(doc, indent=1, default=_json_default))
    print(f"results: {path}")
    return 1 if failures else 0


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode(errors="replace")
    return str(o)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); default: all",
    )
    ap.add_argument("--quick", action="store_true", help="short smoke version (< 3 minutes)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    ap.add_argument(
        "--fanout-n",
        type=int,
        action="append",
        help="viewer counts for fanout (repeatable); default 1000 5000 10000",
    )
    ap.add_argument(
        "--viewers-per-proc",
        type=int,
        default=2500,
        help="viewers per driver process (default 2500)",
    )
    ap.add_argument(
        "--baseline",
        default=BASELINE,
        metavar="REF",
        help="git ref of today's code, measured beside this checkout's where a scenario "
        f"compares the two (default {BASELINE}, the code before performance round two; "
        "'none': only this checkout)",
    )
    ap.add_argument(
        "--size",
        type=int,
        action="append",
        help="canvas side to run the scenarios at (repeatable); default 1000 and 2000 "
        "(--quick: 1000)",
    )
    ap.add_argument("--tick-ms", type=int, default=500, help="PLACE_TICK_MS (default 500)")
    ap.add_argument(
        "--ticker-tick-ms",
        type=int,
        default=1000,
        help="PLACE_TICK_MS for the ticker scenario, so that 8,000 placements per "
        "tick need only 8,000/s (default 1000)",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="record py-spy (if installed) on the pod under test during each measurement "
        "window; top functions go to the JSON and the profile files to --workdir",
    )
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each scenario wait up to S seconds for other processes to use under a "
        "quarter of a core (shared machines; default 0: do not wait)",
    )
    ap.add_argument("--place-bin", default=servers.PLACE_BIN, help="the `place` command")
    ap.add_argument(
        "--workdir",
        default=f"/tmp/place-bench-{os.getpid()}",
        help="logs, job files, the file store (default /tmp/place-bench-PID)",
    )
    ap.add_argument(
        "--out",
        default=str(REPO / "bench" / "results"),
        help="where the JSON goes (default bench/results)",
    )
    a = ap.parse_args(argv)
    servers.PLACE_BIN = a.place_bin
    try:
        import uvloop
    except ImportError:
        return asyncio.run(amain(a))
    return uvloop.run(amain(a))


if __name__ == "__main__":
    sys.exit(main())
