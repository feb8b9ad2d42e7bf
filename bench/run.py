"""Benchmarks of our/place against real processes on loopback (``make bench``).

Every scenario starts its own ``redis-server`` (no persistence), ``place ticker`` and ``place api``
pods with dev auth, cooldown 0 and no message rate limit, waits for ``/readyz``, drives them with
``bench.loadgen`` worker processes, and stops them. Server and driver processes are pinned to
different cores with ``taskset`` when the machine has two or more. Prints one table (figure,
target, PASS/FAIL) and writes everything to ``bench/results/<timestamp>.json``.

Scenarios: latency, fanout, throughput, storm, ticker (see ``docs/bench.md``).
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
from bench.loadgen import REPO, Driver, merge
from bench.servers import Proc, Stack
from bench.stats import dist_ms, histogram_window, metric_family, parse_prometheus, pct
from bench.wsclient import Client, connect

NOISE: list[tuple[str, float]] = []  # (phase, CPU of processes not ours, in cores)
SCENARIOS = ["latency", "fanout", "storm", "throughput", "ticker"]
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
    ) -> None:
        self.rows.append(
            {
                "scenario": scenario,
                "figure": figure,
                "value": value,
                "unit": unit,
                "target": target,
                "ok": ok,
                "note": note,
            }
        )

    def stack(
        self,
        name: str,
        pods: int = 1,
        tick_ms: int | None = None,
        pod_cpus: list[str | None] | None = None,
        helpers: str | bool | None = True,
    ) -> Stack:
        h = self.driver_cpus if helpers is True else (None if helpers is False else helpers)
        return Stack(
            self.workdir / name,
            pods=pods,
            tick_ms=tick_ms or self.tick_ms,
            pod_cpus=pod_cpus if pod_cpus is not None else [self.server_cpus],
            ticker_cpus=h,
            redis_cpus=h,
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
    return Phase(merged, ready, t0, t1, t_end, {k: cpu1[k] - cpu0[k] for k in cpu0}, extra, cores)


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

    Knows the bare delta frame and the server's bus format ``b"D" | f64 published (Unix s) |
    u32 tick_us | frame``; anything else (notices) gives None.
    """
    if isinstance(data, str):
        data = data.encode()
    info: dict[str, Any] = {}
    if data[:1] == b"D" and len(data) >= 25 and data[13] == 2:
        published, tick_us = struct.unpack_from("<dI", data, 1)
        info = {"published_unix": published, "tick_us": tick_us}
        data = data[13:]
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


async def s_fanout(ctx: Ctx) -> dict[str, Any]:
    scen = "fanout"
    out: dict[str, Any] = {}
    duration = 5.0 if ctx.quick else 10.0
    rate = 2000.0
    for n in ctx.fanout_n:
        log(f"fanout: {n} viewers")
        # api0: the pod under test (viewers only); api1: takes the writers, on the helper core
        with ctx.stack(f"{scen}-{n}", pods=2, pod_cpus=[ctx.server_cpus, ctx.driver_cpus]) as st:
            pod, wpod = st.api
            await _touch(pod.port)
            rss0 = pod.rss_kib()
            sub = Subscriber(st.redis_port)
            await sub.start()
            jobs = [
                job([pod.port], viewers=k, connect_concurrency=100)
                for k in split(n, ctx.viewers_per_proc)
            ]
            jobs.append(
                job([wpod.port], writers=20, rate=rate, mode="rate", name_prefix=f"fo{n}-", salt=5)
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
                    f"{scen}{n}",
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
        nseq = len(spreads)
        delivered_pod = delivered
        sp = dist_ms(spreads)
        fr = dist_ms(np.concatenate(frames) if frames else [])
        cpu = ph.cpu[pod.name]
        per_frame_us = cpu / delivered_pod * 1e6 if delivered_pod else math.nan
        rss_per = (idle["rss_kib"] - rss0) / connected if connected else math.nan
        expected = connected * nseq
        tag = f"{n} viewers"
        is5k = n == 5000
        ctx.row(scen, f"{tag}: spread publish -> last viewer p50", sp["p50"], "ms")
        ctx.row(
            scen,
            f"{tag}: spread publish -> last viewer p99",
            sp["p99"],
            "ms",
            "<= 150 ms at 5,000" if is5k else "",
            (sp["p99"] <= 150) if is5k else None,
            f"{nseq} deltas, publication from {dict(method)}",
        )
        ctx.row(scen, f"{tag}: frame delay p50/p99", f"{fr['p50']:.1f}/{fr['p99']:.1f}", "ms")
        core = ph.cores.get(int(ctx.server_cpus)) if ctx.server_cpus else None
        core_note = (
            f"; core {ctx.server_cpus} busy (every process on it) {core['busy']:.2f} s (softirq "
            f"{core['softirq']:.2f}, steal {core['steal']:.2f}) = "
            f"{core['busy'] / max(1, delivered_pod) * 1e6:.1f} us/frame"
            if core
            else ""
        )
        ctx.row(
            scen,
            f"{tag}: pod CPU per delivered frame",
            per_frame_us,
            "us",
            "<= 15 us",
            per_frame_us <= 15,
            f"{cpu:.2f} s CPU / {delivered_pod} frames (expected {expected}), "
            f"idle {idle['cpu_per_s'] * 100:.1f} % core{core_note}",
        )
        ctx.row(
            scen,
            f"{tag}: RSS per idle connection",
            rss_per,
            "KiB",
            "<= 24 KiB",
            rss_per <= 24,
            f"{rss0} KiB at 0 -> {idle['rss_kib']} KiB at {connected}",
        )
        if m["connect_errors"] or m["gaps"] or m["closed"]:
            ctx.row(
                scen,
                f"{tag}: problems",
                "see note",
                note=f"connect errors {m['connect_errors']}, gaps {m['gaps']}, "
                f"closed {m['closed']}",
            )
        driver_rows(ctx, scen, ph, f" ({tag})")
        out[str(n)] = {
            "connected": connected,
            "deltas": nseq,
            "spread_ms": sp,
            "frame_delay_ms": fr,
            "publication": dict(method),
            "delivered": delivered_pod,
            "expected": expected,
            "pod_cpu_s": cpu,
            "cpu_per_frame_us": per_frame_us,
            "rss0_kib": rss0,
            "rss_idle_kib": idle["rss_kib"],
            "rss_after_kib": rss_after,
            "rss_per_conn_kib": rss_per,
            "idle_cpu_per_s": idle["cpu_per_s"],
            "server_cpu_s": ph.cpu,
            "cores": ph.cores,
            "drivers": m["drivers"],
            "gaps": m["gaps"],
            "connect_errors": m["connect_errors"],
            "closed": m["closed"],
            "connect_s": [r["connect_s"] for r in ph.ready],
            "pubsub_channels": dict(sub.channels()),
            "where": placement,
            "writer_errors": m["writer_errors"],
            "placed": int((np.asarray(m["writer_cols"]["t_ack"]) > 0).sum()),
        }
    return out


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
    out: dict[str, Any] = {"one_pod": [], "two_pods": None}
    with ctx.stack(scen) as st:
        pod = st.api[0]
        for i, (w, k) in enumerate(steps):
            log(f"throughput: one pod, {w} writers x {k} in flight")
            ph = await run_phase(
                ctx,
                f"{scen}1-{i}",
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
            r = _throughput_calc(ph, warm)
            r.update({"writers": w, "inflight": k})
            out["one_pod"].append(r)
            ctx.row(
                scen,
                f"1 pod, {w} writers x {k} in flight",
                r["acked_per_s"],
                "acked/s",
                note=f"ack p50 {r['ack_ms']['p50']:.1f} p99 {r['ack_ms']['p99']:.1f} ms, "
                f"pod {r['cpu_per_placement_us'][pod.name]:.0f} us/placement, "
                f"errors {r['errors'] or 0}, driver "
                f"{max(d['util'] for d in r['drivers']) * 100:.0f} %",
            )
        out["where_one"] = st.placement()
    ok = [r for r in out["one_pod"] if r["ack_ms"]["p99"] < 20]
    best = max(ok, key=lambda r: r["acked_per_s"]) if ok else None
    top = max(out["one_pod"], key=lambda r: r["acked_per_s"])
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
    )
    ctx.row(
        scen,
        "1 pod: most acked/s (any p99)",
        top["acked_per_s"],
        "acked/s",
        note=f"{top['writers']}x{top['inflight']}, p99 {top['ack_ms']['p99']:.1f} ms",
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


async def s_storm(ctx: Ctx) -> dict[str, Any]:
    scen = "storm"
    n_players = 2000
    with ctx.stack(scen) as st:
        pod = st.api[0]
        # a canvas that is not blank: a few thousand placements first
        log("storm: prefill")
        await run_phase(
            ctx,
            f"{scen}-prefill",
            [job([pod.port], writers=8, mode="inflight", inflight=8, name_prefix="pre", salt=1)],
            1.5,
            ctx.tick_ms / 1000 + 0.5,
            [],
        )
        r = st.redis()
        cfg = (await _hello(pod.port)) or {"width": 1000, "height": 1000}
        key, key_size = _canvas_key(r, cfg["width"] * cfg["height"])
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
            job([pod.port], storm=k, storm_offset=i * 10_000, storm_auth=True, name_prefix="storm")
            for i, k in enumerate(split(n_players, 1000))
        ]
        log(f"storm: {n_players} players connect at once")
        try:
            ph = await run_phase(ctx, scen, jobs, 20.0, 0.3, st.procs(), before_go)
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
    ok = bool(both.size == n_players and both.all() and t_all < 3.0 and canvas_reads == 0)
    ctx.row(
        scen,
        f"{n_players} connect at once: all have hello + snapshot",
        t_all,
        "s",
        "< 3 s, no canvas read",
        ok,
        f"p50 {pct(t_view, 50):.2f} s, {int(both.sum())}/{n_players} complete, "
        f"errors {s.get('errors') or 0}",
    )
    ctx.row(
        scen,
        "... then all signed in (auth -> hello)",
        t_auth_all,
        "s",
        note=f"{int(authed.sum())}/{n_players} signed in; answers to auth: "
        f"{dict(s.get('auth_answers') or {})}",
    )
    ctx.row(
        scen,
        "Redis commands during storm (all clients)",
        sum(diff.values()),
        note=", ".join(f"{k} {v}" for k, v in list(diff.items())[:6])
        + f"; background {sum(bg.values()):.0f}/s",
    )
    ctx.row(
        scen,
        "Redis commands from the pod (MONITOR)",
        sum(by_pod.values()),
        note=", ".join(f"{k} {v}" for k, v in by_pod.most_common(6)),
    )
    ctx.row(
        scen,
        "canvas-key reads by the pod during storm",
        canvas_reads,
        note=f"key {key!r} ({key_size} B): {dict(key_hits) or 'not touched'}",
    )
    ctx.row(scen, "pod RSS before/after", f"{rss0}/{rss1}", "KiB")
    driver_rows(ctx, scen, ph)
    return {
        "players": n_players,
        "t_all_hello_snapshot_s": t_all,
        "t_hello_snapshot_ms": dist_ms(t_view),
        "t_all_auth_s": t_auth_all,
        "complete": int(both.sum()),
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
        "server_cpu_s": ph.cpu,
        "rss_kib": [rss0, rss1],
        "drivers": ph.merged["drivers"],
        "where": placement,
    }


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


async def s_ticker(ctx: Ctx) -> dict[str, Any]:
    scen = "ticker"
    tick_s = ctx.ticker_tick_ms / 1000
    steps = [1000, 4000] if ctx.quick else [100, 1000, 4000, 8000]
    ticks = 5 if ctx.quick else 20
    out: dict[str, Any] = {"tick_ms": ctx.ticker_tick_ms, "steps": []}
    names = servers.script_names()
    with ctx.stack(scen, tick_ms=ctx.ticker_tick_ms) as st:
        pod = st.api[0]
        assert st.ticker is not None
        sub = Subscriber(st.redis_port)
        await sub.start()
        try:
            for i, n in enumerate(steps):
                log(f"ticker: {n} placements per tick")
                rate = n / tick_s
                w = 8 if rate <= 2000 else 32
                m0 = parse_prometheus(st.metrics(pod))
                rc = st.redis()
                rc.config_set("slowlog-log-slower-than", 1000)
                rc.config_set("slowlog-max-len", 4096)
                rc.slowlog_reset()
                ph = await run_phase(
                    ctx,
                    f"{scen}{i}",
                    [
                        job(
                            [pod.port],
                            writers=w,
                            mode="rate",
                            rate=rate,
                            name_prefix=f"tk{i}-",
                            px_start=i * 150_000,
                            salt=13 + i,
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
                is4k = n == 4000
                ctx.row(
                    scen,
                    f"{n}/tick ({r['placements_per_tick_mean']:.0f} seen): tick time",
                    val,
                    "ms",
                    "<= 20 ms at 4,000" if is4k else "",
                    (val <= 20) if is4k and not math.isnan(val) else None,
                    f"{how}; ticker CPU {r['ticker_cpu_per_tick_ms']:.1f} ms/tick, redis "
                    f"{r['redis_cpu_per_tick_ms']:.1f} ms/tick (all clients); Redis calls "
                    "over 1 ms: "
                    + (
                        ", ".join(
                            f"{k} {v['count']}x max {v['max_ms']:.1f}"
                            for k, v in list(slow.items())[:4]
                        )
                        or "none"
                    ),
                )
        finally:
            await sub.stop()
        out["where"] = st.placement()
    return out


RUNNERS: dict[str, Callable[[Ctx], Awaitable[dict[str, Any]]]] = {
    "latency": s_latency,
    "fanout": s_fanout,
    "throughput": s_throughput,
    "storm": s_storm,
    "ticker": s_ticker,
}


# output ----------------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}")
    return str(v)


def table(rows: list[dict[str, Any]]) -> str:
    head = ["scenario", "figure", "value", "unit", "target", "result", "note"]
    body = [
        [
            r["scenario"],
            r["figure"],
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
    fmt = "  ".join(f"{{:{'>' if i == 2 else '<'}{w}}}" for i, w in enumerate(widths))
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
    pin = not a.no_pin and ncpu >= 2 and servers.shutil.which("taskset") is not None
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
