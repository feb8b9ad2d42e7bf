"""How fast one `place replay` process drives a deployment: a generated r/place 2017 dataset
(uniform placements on 1000x1000, the palette's 32 colours) replayed at a speed above what the
players can send, against real processes on loopback (redis-server, one ticker, one pod; no
cooldown, no message limit). Prints the command's own report and the CPU time of the replay
process and of the pod:

    .venv/bin/python bench/replay.py --placements 60000 --players 100
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import PLACE_BIN, Stack, cpu_seconds


def write_dataset(path: Path, placements: int, per_second: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = 1_491_000_000_000
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("ts", "user", "x", "y", "color"))
        for i in range(placements):
            writer.writerow(
                (
                    start + i * 1000 // per_second,
                    f"u{rng.randrange(placements // 4 + 1)}",
                    rng.randrange(1000),
                    rng.randrange(1000),
                    rng.randrange(32),
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--placements", type=int, default=60_000)
    parser.add_argument("--players", type=int, default=100)
    parser.add_argument("--player-rate", type=float, default=200.0)
    parser.add_argument(
        "--speed", type=float, default=100.0, help="the dataset is 1,000 placements a second"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="place-bench-replay-") as work:
        workdir = Path(work)
        dataset = workdir / "placements.csv"
        write_dataset(dataset, args.placements, 1000)
        extra = {"PLACE_MAX_CONNECTIONS_PER_ADDRESS": "10000"}
        extra["PLACE_SIGNINS_PER_ADDRESS_PER_MIN"] = "100000"
        stack = Stack(workdir, env_extra=extra).start()
        try:
            pod = stack.api[0]
            pod_cpu = cpu_seconds(pod.popen.pid)
            started = time.monotonic()
            replay = subprocess.Popen(
                [
                    PLACE_BIN, "replay", str(dataset),
                    "--url", f"http://127.0.0.1:{pod.port}",
                    "--speed", str(args.speed),
                    "--players", str(args.players),
                    "--player-rate", str(args.player_rate),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, **stack.env()},
            )  # fmt: skip
            children = 0.0
            while replay.poll() is None:  # its CPU, read before it exits
                children = max(children, cpu_seconds(replay.pid))
                time.sleep(0.2)
            wall = time.monotonic() - started
            out, err = replay.communicate()
            pod_cpu = cpu_seconds(pod.popen.pid) - pod_cpu
        finally:
            stack.stop()
    print(out.strip())
    if replay.returncode:
        print(err.strip(), file=sys.stderr)
        sys.exit(replay.returncode)
    print(
        f"machine: {os.cpu_count()} cores; wall {wall:.1f} s (reading the file included);"
        f" CPU: replay process {children:.1f} s, pod {pod_cpu:.1f} s"
    )


if __name__ == "__main__":
    main()
