"""Where a pod's CPU per acknowledged placement goes, today's code and this checkout's side by side.

Two measurements (``docs/performance.md``, pod CPU per acknowledged placement):

- in process (the default): the placement path's Python alone. Placement frames go through
  ``FastReader`` from a fake socket, are parsed, queued, packed into one script call per batch,
  answered, encoded and written to fake transports; the script's reply is made up (every
  placement stored), so there is no system call and no Redis. 32 players, 40 placements a batch;
  microseconds per placement, best of 5 rounds, and writes per placement.
- ``--live``: real processes as the throughput scenario of ``bench.run`` starts them (the pod
  alone on cpu 0, the rest on cpu 1), 32 writers keeping 4 placements in flight. Over a window:
  the pod's CPU per stored placement, the ``read`` and ``write`` system calls it made per
  placement (``syscr``/``syscw`` of ``/proc/PID/io``: players' sockets and Redis alike), and
  placements per script call.

Today's code is a git ref (default ``HEAD``), exported with ``git archive`` and run by this venv:

    .venv/bin/python -m bench.placement_path
    .venv/bin/python -m bench.placement_path --live --baseline HEAD
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file (the worker): ``place`` from PYTHONPATH first
    sys.path.append(str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent
PLAYERS = 32
BATCH = 40


# --- in process -----------------------------------------------------------------------------


def _client_frame(payload: bytes) -> bytes:
    """A masked text frame, as a browser sends one."""
    key = b"\x11\x22\x33\x44"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + key + masked


class _Transport:
    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class _Protocol:
    def __init__(self) -> None:
        self.transport = _Transport()
        self.close_sent = False


class _Uvicorn:
    def data_received(self, data: bytes) -> None:
        raise AssertionError("a placement went the slow way")


class _Script:
    """The placement script's stand-in: every placement stored (either code's way of calling)."""

    timeout = None

    def __init__(self) -> None:
        self.replies = {n: [b"ok", 1_764_426_000_000, b""] * n for n in range(BATCH + 1)}

    async def __call__(self, keys: Any = (), args: Any = ()) -> list[Any]:
        return self.replies[len(keys) - 6]

    async def call_packed(self, numkeys: int, count: int, body: bytes) -> list[Any]:
        return self.replies[numkeys - 6]


async def _in_process(rounds: int) -> dict[str, float]:
    from place.api.auth import make_authenticator
    from place.api.hub import Connection, FastReader
    from place.api.pod import Pod
    from place.canvas import Player
    from place.redis_client import make_redis
    from place.settings import Settings

    settings = Settings.from_env({"PLACE_AUTH": "dev"})
    redis = make_redis("redis://127.0.0.1:1/0")  # never asked
    pod = Pod(settings, redis, make_authenticator(settings, "dev"))
    pod.placer._script = _Script()
    readers, transports = [], []
    for i in range(PLAYERS):
        protocol = _Protocol()
        connection = Connection(protocol, None, resync_at=0)
        connection.player = Player(f"player{i}", f"player{i}", i + 1)
        readers.append(FastReader(_Uvicorn(), connection, pod._take, 4096))
        transports.append(protocol.transport)
    frames = [
        _client_frame(
            b'{"t":"place","id":%d,"x":%d,"y":%d,"c":%d}' % (i, i * 7 % 1000, i * 13 % 1000, i % 16)
        )
        for i in range(BATCH)
    ]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            for i, frame in enumerate(frames):
                readers[i % PLAYERS].data_received(frame)
            await pod.placer._task
        best = min(best, (time.perf_counter() - started) / (rounds * BATCH))
    await redis.aclose()
    writes = sum(t.writes for t in transports) / (5 * rounds * BATCH)
    return {"us_per_placement": best * 1e6, "writes_per_placement": writes}


def in_process(tree: Path | None, rounds: int) -> dict[str, float]:
    """Run the in-process measurement in a fresh interpreter on `tree`'s code (None: this
    checkout's)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", "--rounds", str(rounds)],
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: `place` comes from PYTHONPATH or the venv
        check=True,
        capture_output=True,
        text=True,
    )
    us, writes, ran = done.stdout.split()
    if tree is not None and not ran.startswith(str(tree)):
        raise RuntimeError(f"the worker ran {ran}, not the code of {tree}")
    return {"us_per_placement": float(us), "writes_per_placement": float(writes)}


# --- live -----------------------------------------------------------------------------------


def _counter(metrics: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def _io(pid: int) -> tuple[int, int]:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["syscr"]), int(fields["syscw"])


def live(code: Any, workdir: Path, window_s: float) -> dict[str, float]:
    from bench.servers import Stack, cpu_seconds

    pinned = (os.cpu_count() or 1) >= 2
    cpus = (["0"], "1") if pinned else ([None], None)
    with Stack(workdir, pod_cpus=cpus[0], ticker_cpus=cpus[1], redis_cpus=cpus[1], code=code) as st:
        pod = st.api[0]
        pid = pod.popen.pid
        command = [sys.executable, "-m", "bench.loadgen", "--url", f"ws://127.0.0.1:{pod.port}/ws"]
        command += ["--viewers", "0", "--writers", "32", "--inflight", "4"]
        command += ["--duration", str(window_s + 5)]
        if pinned:
            command = ["taskset", "-c", "1", *command]
        driver = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
        try:
            time.sleep(3)  # connected, signed in, placing
            stored = r'place_placements_total\{result="stored"\}'
            calls = "place_redis_placement_calls_total"
            before = st.metrics(pod), cpu_seconds(pid), _io(pid)
            time.sleep(window_s)
            after = st.metrics(pod), cpu_seconds(pid), _io(pid)
        finally:
            driver.wait(window_s + 60)
    placed = _counter(after[0], stored) - _counter(before[0], stored)
    batches = _counter(after[0], calls) - _counter(before[0], calls)
    return {
        "acked_per_s": placed / window_s,
        "us_per_placement": (after[1] - before[1]) / placed * 1e6,
        "reads_per_placement": (after[2][0] - before[2][0]) / placed,
        "writes_per_placement": (after[2][1] - before[2][1]) / placed,
        "per_batch": placed / batches,
        "pod_cpu_util": (after[1] - before[1]) / window_s,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.placement_path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--baseline", default="HEAD", help="git ref of today's code (default HEAD)")
    ap.add_argument("--live", action="store_true", help="real processes, 32 writers x 4")
    ap.add_argument("--window", type=float, default=10.0, help="--live: seconds measured")
    ap.add_argument("--rounds", type=int, default=2000, help="in process: batches a round")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        import uvloop

        import place

        result = uvloop.run(_in_process(a.rounds))
        print(result["us_per_placement"], result["writes_per_placement"], place.__file__)
        return 0
    from bench.servers import NEW, code_at

    with tempfile.TemporaryDirectory(prefix="placement-path-") as scratch:
        today = code_at(a.baseline, Path(scratch) / "today")
        rows: list[tuple[str, dict[str, float]]] = []
        for code in (today, NEW):
            name = f"{code.name} ({a.baseline})" if code is today else "new (this checkout)"
            if a.live:
                rows.append((name, live(code, Path(scratch) / code.name, a.window)))
            else:
                rows.append((name, in_process(code.tree, a.rounds)))
    for name, row in rows:
        print(f"{name:24s} " + "  ".join(f"{key} {value:,.2f}" for key, value in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
