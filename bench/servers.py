"""Real processes on loopback for the benchmarks: redis-server, ``place ticker``, ``place api``.

Each ``Stack`` starts its own Redis on a free port (no persistence), one ticker and the pods it is
asked for, optionally pinned with ``taskset``, and waits until every pod answers ``/readyz`` 200.
CPU time (utime+stime from ``/proc/<pid>/stat``, with descendants) and RSS (``VmRSS`` from
``/proc/<pid>/status``) are read from outside, so the server needs no hook for them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import redis

from place.dev import free_port, redis_server_command

CLK_TCK = os.sysconf("SC_CLK_TCK")
PLACE_BIN = os.environ.get(
    "PLACE_BENCH_BIN", str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "place")
)


@dataclass(frozen=True)
class Code:
    """Which code the servers run: this checkout's ``place`` command (``name`` "new"), or the
    same venv running another tree (an older commit's ``place`` package, ``name`` "today")."""

    name: str = "new"
    tree: Path | None = None  # None: this checkout

    def command(self, *args: str) -> list[str]:
        if self.tree is None:
            return [PLACE_BIN, *args]
        return [sys.executable, "-m", "place", *args]

    def env(self) -> dict[str, str]:
        return {} if self.tree is None else {"PYTHONPATH": str(self.tree)}


NEW = Code()


def code_at(ref: str, where: Path) -> Code:
    """The tree of git ``ref`` exported to ``where`` (``git archive``, once): today's code, run
    by this venv beside the checkout's."""
    repo = Path(__file__).resolve().parent.parent
    if not (where / "place" / "__init__.py").exists():
        where.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", ref, "place"],
            check=True,
            capture_output=True,
        )
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    return Code("today", where)


def write_backup(
    store_dir: Path, pixels: np.ndarray, width: int, height: int, cooldown_ms: int = 0
) -> None:
    """Put ``pixels`` in a new file store as its latest backup: the ticker of a fresh Redis
    restores it (and its configuration), so a scenario starts on a finished-looking canvas."""
    from place.config import LiveConfig
    from place.settings import Settings
    from place.snapshot.backup import LATEST, Backup, encode_backup, encode_pointer
    from place.store import open_store

    config = dataclasses.replace(
        LiveConfig.from_settings(Settings()), width=width, height=height, cooldown_ms=cooldown_ms
    )
    backup = Backup(1, "0-0", int(time.time() * 1000), config, pixels)
    store = open_store(Settings(), f"file://{store_dir}")
    store.create(backup.key, encode_backup(backup, 1))
    store.create(LATEST, encode_pointer(backup))


class StackError(Exception):
    """A server process did not start or did not become ready."""


def _children(pid: int) -> list[int]:
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    st = f.read()
            except OSError:
                continue
            if int(st.rsplit(b")", 1)[1].split()[1]) == pid:
                kids.append(int(d))
    return kids


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """utime+stime of ``pid`` (all its threads) and, by default, of its live descendants."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)
    if descendants:
        total += sum(cpu_seconds(k, True) for k in _children(pid))
    return total


def rss_kib(pid: int, descendants: bool = True) -> int:
    total = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total = int(line.split()[1])
                    break
    except OSError:
        return 0
    if descendants:
        total += sum(rss_kib(k, True) for k in _children(pid))
    return total


def core_times() -> dict[int, dict[str, float]]:
    """Per core, seconds since boot: ``busy`` (user+nice+system+irq+softirq) and ``steal``."""
    out: dict[int, dict[str, float]] = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *v = line.split()
                n = [int(x) / CLK_TCK for x in v]
                out[int(name[3:])] = {
                    "busy": n[0] + n[1] + n[2] + n[5] + n[6],
                    "softirq": n[6],
                    "steal": n[7] if len(n) > 7 else 0.0,
                }
    return out


def _all_cpu() -> dict[int, tuple[float, str]]:
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.find(b"(") + 1 : raw.rfind(b")")].decode(errors="replace")
        fields = raw.rsplit(b")", 1)[1].split()
        out[int(d)] = ((int(fields[11]) + int(fields[12])) / CLK_TCK, name)
    return out


def busy_processes(
    seconds: float = 1.0, exclude: int | None = None
) -> list[tuple[int, str, float]]:
    """Processes that used CPU over ``seconds`` (pid, name, cores), busiest first, except
    ``exclude`` and its descendants."""
    skip = set()
    if exclude is not None:
        todo = [exclude]
        while todo:
            p = todo.pop()
            skip.add(p)
            todo += _children(p)
    a = _all_cpu()
    time.sleep(seconds)
    b = _all_cpu()
    out = [
        (pid, name, (t - a[pid][0]) / seconds)
        for pid, (t, name) in b.items()
        if pid in a and pid not in skip and t > a[pid][0]
    ]
    return sorted(out, key=lambda x: -x[2])


def script_names(lua_dir: Path | None = None) -> dict[str, str]:
    """SHA1 -> name of the server's Lua scripts (what EVALSHA carries), from ``place/lua``."""
    d = lua_dir or Path(__file__).resolve().parent.parent / "place" / "lua"
    out = {}
    for f in sorted(d.glob("*.lua")):
        out[hashlib.sha1(f.read_text().encode()).hexdigest()] = f.stem
    return out


def slowlog_summary(entries: list[dict], names: dict[str, str]) -> dict[str, dict[str, float]]:
    """Redis SLOWLOG entries grouped by command (scripts by name): count, p50 and max ms."""
    groups: dict[str, list[float]] = {}
    for e in entries:
        cmd = e.get("command", b"")
        parts = cmd.split() if isinstance(cmd, bytes) else str(cmd).encode().split()
        verb = parts[0].decode(errors="replace").upper() if parts else "?"
        if verb in ("EVALSHA", "EVALSHA_RO") and len(parts) > 1:
            verb = names.get(parts[1].decode(errors="replace").lower(), verb)
        groups.setdefault(verb, []).append(e["duration"] / 1e3)
    return {
        k: {"count": len(v), "p50_ms": sorted(v)[len(v) // 2], "max_ms": max(v)}
        for k, v in sorted(groups.items(), key=lambda kv: -max(kv[1]))
    }


def affinity(pid: int) -> str:
    try:
        cpus = sorted(os.sched_getaffinity(pid))
    except OSError:
        return "?"
    return ",".join(map(str, cpus))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    cpus: str | None
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@dataclass
class Stack:
    workdir: Path
    pods: int = 1
    tick_ms: int = 500
    pod_cpus: list[str | None] = field(default_factory=lambda: [None])
    ticker_cpus: str | None = None
    redis_cpus: str | None = None
    env_extra: dict[str, str] = field(default_factory=dict)
    pod_env: dict[int, dict[str, str]] = field(default_factory=dict)  # for pod i only
    pod_nice: dict[int, int] = field(default_factory=dict)  # pod i runs at this nice value
    code: Code = NEW
    width: int = 1000
    height: int = 1000
    canvas: np.ndarray | None = None  # restored from a backup at start (None: a blank canvas)
    redis_proc: Proc | None = None
    ticker: Proc | None = None
    api: list[Proc] = field(default_factory=list)
    redis_port: int = 0

    # lifecycle ------------------------------------------------------------------------------
    def _spawn(
        self,
        name: str,
        cmd: list[str],
        cpus: str | None,
        env: dict[str, str] | None,
        port: int | None = None,
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        if cpus is not None:
            cmd = ["taskset", "-c", cpus, *cmd]
        p = subprocess.Popen(
            cmd,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.workdir),
            start_new_session=True,
        )
        return Proc(name, p, log, cpus, port)

    def env(self, port: int | None = None) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith("PLACE_")}
        e.update(
            {
                "PLACE_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "PLACE_AUTH": "dev",
                "PLACE_COOLDOWN_S": "0",
                "PLACE_MSG_RATE": "0",
                "PLACE_TICK_MS": str(self.tick_ms),
                "PLACE_HOST": "127.0.0.1",
                "PLACE_STORE_URL": f"file://{self.workdir / 'store'}",
                "PLACE_WIDTH": str(self.width),
                "PLACE_HEIGHT": str(self.height),
                # every benchmark player comes from 127.0.0.1: no per-address limits
                "PLACE_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
                "PLACE_SIGNINS_PER_ADDRESS_PER_MIN": "1000000",
                "PLACE_LIMIT_CONCURRENCY": "1000000",
            }
        )
        if port is not None:
            e["PLACE_PORT"] = str(port)
        e.update(self.code.env())
        e.update(self.env_extra)
        return e

    def start(self, ready_timeout: float = 60.0) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis_port = free_port()
        self.redis_proc = self._spawn(
            "redis",
            redis_server_command(self.redis_port),
            self.redis_cpus,
            None,
            self.redis_port,
        )
        r = self.redis()
        deadline = time.monotonic() + 10
        while True:
            try:
                r.ping()
                break
            except redis.ConnectionError as e:
                if time.monotonic() > deadline or not self.redis_proc.alive():
                    raise StackError(
                        f"redis-server did not answer: {e}; {self.redis_proc.log_tail()}"
                    ) from e
                time.sleep(0.05)
        if self.canvas is not None:
            cooldown_ms = round(float(self.env()["PLACE_COOLDOWN_S"]) * 1000)
            write_backup(self.workdir / "store", self.canvas, self.width, self.height, cooldown_ms)
        self.ticker = self._spawn(
            "ticker", self.code.command("ticker"), self.ticker_cpus, self.env()
        )
        for i in range(self.pods):
            self.add_pod(i, ready_timeout)
        return self

    def add_pod(self, i: int | None = None, ready_timeout: float = 60.0) -> Proc:
        i = len(self.api) if i is None else i
        port = free_port()
        cpus = self.pod_cpus[i % len(self.pod_cpus)] if self.pod_cpus else None
        env = {**self.env(port), **self.pod_env.get(i, {})}
        command = self.code.command("api")
        if i in self.pod_nice:
            command = ["nice", "-n", str(self.pod_nice[i]), *command]
        p = self._spawn(f"api{i}", command, cpus, env, port)
        self.api.append(p)
        self.wait_ready(p, ready_timeout)
        return p

    def wait_ready(self, p: Proc, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for q in (p, self.ticker):
                if q is not None and not q.alive():
                    raise StackError(f"{q.name} exited with {q.popen.returncode}: {q.log_tail()}")
            try:
                resp = httpx.get(f"http://127.0.0.1:{p.port}/readyz", timeout=2)
                if resp.status_code == 200:
                    return
                last = f"{resp.status_code} {resp.text[:200]}"
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.1)
        raise StackError(
            f"{p.name} /readyz not 200 within {timeout:.0f} s (last: {last}); log: {p.log_tail()}"
        )

    def stop_pod(self, p: Proc, timeout: float = 10.0) -> None:
        _terminate(p, timeout)
        if p in self.api:
            self.api.remove(p)

    def stop(self) -> None:
        for p in list(self.api):
            _terminate(p, 10.0)
        self.api.clear()
        if self.ticker is not None:
            _terminate(self.ticker, 10.0)
        if self.redis_proc is not None:
            _terminate(self.redis_proc, 5.0)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # probes ---------------------------------------------------------------------------------
    def redis(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=10)

    def commandstats(self) -> dict[str, int]:
        info = self.redis().info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}

    def command_usec(self) -> dict[str, int]:
        """Microseconds Redis spent in each command so far (``INFO commandstats`` usec)."""
        info = self.redis().info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["usec"]) for k, v in info.items()}

    def metrics(self, p: Proc) -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{p.port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return ""

    def placement(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {"redis": self.redis_cpus, "ticker": self.ticker_cpus}
        for p in self.api:
            out[p.name] = p.cpus
        return {k: (v if v is not None else "any") for k, v in out.items()}

    def procs(self) -> list[Proc]:
        return [p for p in (self.redis_proc, self.ticker, *self.api) if p is not None]


def _terminate(p: Proc, timeout: float) -> None:
    if p.popen.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.popen.wait(5)
