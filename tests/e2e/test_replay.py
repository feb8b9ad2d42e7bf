"""`place replay` against real processes: a generated dataset in the r/place 2017 format,
replayed by simulated players who wait out a real cooldown, ends with the live canvas equal to
the dataset's final state."""

from __future__ import annotations

import csv
import io
import random
import re
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from place.settings import DEFAULT_PALETTE
from tests.e2e.cluster import Cluster, place_command

WIDTH, HEIGHT = 64, 48
PALETTE = DEFAULT_PALETTE.split(",")


def generated_2017(path: Path, count: int, seed: int = 13) -> np.ndarray:
    """A dataset as r/place 2017 published it (`ts,user,x,y,color`, ts in ms, rows not in time
    order), many placements on a few pixels; returns the canvas it ends with."""
    rng = random.Random(seed)
    start = 1_491_000_000_000
    rows = []
    for i in range(count):
        # a hot spot of 16 pixels where players overwrite each other, and the rest scattered
        if rng.random() < 0.4:
            x, y = 10 + rng.randrange(4), 10 + rng.randrange(4)
        else:
            x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        rows.append((start + i * 25 + rng.randrange(20), f"user{rng.randrange(30)}", x, y))
    expected = np.zeros(WIDTH * HEIGHT, np.uint8)
    lines = []
    for ts, user, x, y in rows:  # in time order: the last placement on a pixel wins
        color = rng.randrange(1, len(PALETTE))
        expected[y * WIDTH + x] = color
        lines.append((ts, user, x, y, color))
    lines.append((start + 5, "far-away", WIDTH + 5, 3, 4))  # outside this canvas: skipped
    rng.shuffle(lines)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("ts", "user", "x", "y", "color"))
        writer.writerows(lines)
    return expected


def live_canvas(url: str) -> np.ndarray:
    png = httpx.get(f"{url}/api/canvas.png").content
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int64).reshape(-1, 3)
    table = {int(c[1:], 16): i for i, c in enumerate(PALETTE)}
    codes = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return np.array([table[int(code)] for code in codes], np.uint8)


def test_a_2017_dataset_replayed_ends_in_its_final_state(cluster: Cluster, tmp_path: Path) -> None:
    dataset = tmp_path / "tile_placements.csv"
    expected = generated_2017(dataset, 300)  # 7.5 s of placements, 40 a second
    # a real cooldown of 1 s: 30 players place 30 a second at most, and wait their turn
    cluster.env["PLACE_COOLDOWN_S"] = "1"
    cluster.ticker()
    pod = cluster.pod()

    done = place_command(
        "replay", str(dataset), "--url", pod.url, "--speed", "1", "--players", "30",
        env=cluster.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = done.stdout
    assert done.stderr == "", "no progress bar nor warning off a terminal"
    assert "replayed 300 placements of 31 players" in report, report
    assert "with 30 simulated players at speed 1" in report, report
    assert "stored 300:" in report, report
    assert "errors: none" in report, report  # each player waited out its own cooldown
    assert "skipped: outside the 64x48 canvas 1" in report, report
    assert "each of the" in report and "shows its last colour" in report, report
    found = re.search(r"stored 300: ([\d.]+) placements/s", report)
    assert found is not None and 20 < float(found.group(1)) <= 31, report

    deadline = time.monotonic() + 5
    while not np.array_equal(canvas := live_canvas(pod.url), expected):
        assert time.monotonic() < deadline, f"{np.count_nonzero(canvas != expected)} pixels differ"
        time.sleep(0.1)


def test_replay_refuses_bad_input_in_one_line(cluster: Cluster, tmp_path: Path) -> None:
    cluster.ticker()
    pod = cluster.pod()
    not_csv = tmp_path / "notes.csv"
    not_csv.write_text("name,score\nann,3\n")
    missing = tmp_path / "missing.csv"
    dataset = tmp_path / "ok.csv"
    generated_2017(dataset, 5)
    for args, message in (
        ([str(not_csv)], "not a placement dataset: expected the columns ts,user,x,y,color"),
        ([str(missing)], f"cannot read {missing}"),
        ([str(dataset), "--speed", "0"], "--speed must be a number above 0"),
        ([str(dataset), "--url", "http://127.0.0.1:1"], "cannot reach http://127.0.0.1:1"),
    ):
        done = place_command("replay", "--url", pod.url, *args, env=cluster.env)
        assert done.returncode == 1, (args, done.stdout)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, done.stderr)
        assert lines[0].startswith("place replay: ")


def test_replay_signs_players_in_with_the_auth_emulator(
    cluster: Cluster, firebase_auth: str, tmp_path: Path
) -> None:
    dataset = tmp_path / "small.csv"
    expected = generated_2017(dataset, 40, seed=5)
    cluster.env.update(
        PLACE_AUTH="firebase",
        PLACE_FIREBASE_PROJECT_ID="demo-place",
        FIREBASE_AUTH_EMULATOR_HOST=firebase_auth,
    )
    cluster.ticker()
    pod = cluster.pod()
    args = ["replay", str(dataset), "--url", pod.url, "--speed", "50", "--players", "4"]

    dev = place_command(*args, env=cluster.env)  # without the flag: said in one line
    assert dev.returncode == 1 and "give --firebase-emulator" in dev.stderr, dev.stderr

    for _ in range(2):  # the accounts are made, then signed in again by the next rehearsal
        done = place_command(*args, "--firebase-emulator", firebase_auth, env=cluster.env)
        assert done.returncode == 0, done.stderr
        assert "stored 40:" in done.stdout and "errors: none" in done.stdout, done.stdout
    assert np.array_equal(live_canvas(pod.url), expected)
    pixel = httpx.get(f"{pod.url}/api/pixel", params={"x": 10, "y": 10}).json()
    assert pixel["user"]["name"].startswith("replay-")
