"""How long `place snapshot timelapse` takes, and how much memory, for a long event.

Writes N frames of a simulated event (a W x H canvas that fills up with rectangles of
"artwork" and scattered single placements, as timelapse frames do) into a directory store,
then runs the real command in a child process and prints wall time, CPU time and peak memory
of the Python process and of ffmpeg, and the video's size:

    .venv/bin/python bench/timelapse.py --frames 600 --size 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file: make ``place`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from place.config import LiveConfig
from place.settings import Settings
from place.snapshot.frames import frame_key
from place.snapshot.png import encode_png
from place.store import open_store

T0 = 1_796_137_200_000  # 2026-12-01 15:00:00 UTC


def write_frames(store_url: str, frames: int, width: int, height: int, seed: int = 1) -> int:
    """The frames of a simulated event; returns their total size in bytes."""
    store = open_store(Settings(), store_url)
    palette = LiveConfig.from_settings(Settings()).palette
    rng = np.random.default_rng(seed)
    canvas = np.zeros((height, width), dtype=np.uint8)
    total = 0
    for index in range(frames):
        for _ in range(3):  # artworks: patterned rectangles
            w, h = rng.integers(8, 80, size=2)
            x, y = rng.integers(0, width - w), rng.integers(0, height - h)
            pattern = rng.integers(0, len(palette), size=4, dtype=np.uint8)
            canvas[y : y + h, x : x + w] = pattern[(np.arange(h)[:, None] // 4 + np.arange(w)) % 4]
        count = width * height // 500  # scattered placements
        ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
        canvas[ys, xs] = rng.integers(0, len(palette), count, dtype=np.uint8)
        data = encode_png(canvas.ravel(), width, height, palette)
        store.create(frame_key(T0 + index * 30_000), data)
        total += len(data)
    return total


def measure(argv: list[str]) -> None:
    """In the child: run the command, then report this process's and ffmpeg's resources."""
    from place.cli import main

    started = time.perf_counter()
    code = main(argv)
    wall = time.perf_counter() - started
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    figures = {
        "code": code,
        "wall_s": wall,
        "python_cpu_s": own.ru_utime + own.ru_stime,
        "python_peak_mib": own.ru_maxrss / 1024,
        "ffmpeg_cpu_s": children.ru_utime + children.ru_stime,
        "ffmpeg_peak_mib": children.ru_maxrss / 1024,
    }
    print(json.dumps(figures), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", type=int, default=1000, help="canvas width and height")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--measure", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        return measure(args.measure)
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as folder:
        store_url = f"file://{folder}/store"
        started = time.perf_counter()
        stored = write_frames(store_url, args.frames, args.size, args.size)
        print(
            f"{args.frames} frames of {args.size}x{args.size}: {stored / 1e6:.1f} MB of PNG"
            f" ({stored / args.frames / 1e3:.0f} kB a frame), made in"
            f" {time.perf_counter() - started:.0f} s"
        )
        out = Path(folder) / "timelapse.mp4"
        command = ["snapshot", "--store-url", store_url, "timelapse", "--out", str(out)]
        command += ["--fps", str(args.fps), "--scale", str(args.scale)]
        child = subprocess.run(
            [sys.executable, __file__, "--measure", *command], capture_output=True, text=True
        )
        if child.returncode != 0:
            raise SystemExit(child.stderr)
        figures = json.loads(child.stderr.strip().splitlines()[-1])
        print(child.stdout.strip())
        print(
            f"wall {figures['wall_s']:.1f} s ({args.frames / figures['wall_s']:.1f} frames/s);"
            f" CPU: python {figures['python_cpu_s']:.1f} s, ffmpeg {figures['ffmpeg_cpu_s']:.1f} s;"
            f" peak memory: python {figures['python_peak_mib']:.0f} MiB,"
            f" ffmpeg {figures['ffmpeg_peak_mib']:.0f} MiB;"
            f" video {out.stat().st_size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
