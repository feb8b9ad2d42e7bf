"""`place replay`'s datasets and plan, without a deployment: both file formats, the canvas's size
and palette, the URL forms, and files that are not datasets."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from place.config import LiveConfig
from place.replay import (
    FORMAT_2017,
    FORMAT_2022,
    ReplayError,
    final_canvas,
    nearest_colors,
    plan,
    read_dataset,
    target,
)
from place.settings import DEFAULT_PALETTE
from place.snapshot.archive import Chunk, Row
from place.snapshot.export import write_csv

PALETTE = DEFAULT_PALETTE.split(",")


def test_our_export_is_read_back_gzipped(tmp_path: Path) -> None:
    config = LiveConfig(8, 8, ("#ffffff", "#ff4500", "#000000"), cooldown_ms=0, open=True)
    rows = [
        Row((1, 0), 1_649_033_631_577, "ann", 3, 2, 1, 1, 1),
        Row((2, 0), 1_649_033_632_000, 'o"dd, name', 0, 0, 1, 1, 2),
        Row((3, 0), 1_649_033_633_005, "mod", 1, 1, 3, 2, 0),  # an admin wipe
        Row((4, 0), 1_649_033_634_000, "bob", 0, 1, 1, 1, 7),  # outside its palette: no colour
        Row((5, 0), 1_649_033_634_000, "ann", 5, 6, 1, 1, 1),
    ]
    text = io.StringIO()
    write_csv(text, [Chunk((1, 0), (5, 0), 0, config, rows)])
    path = tmp_path / "placements.csv.gz"
    path.write_bytes(gzip.compress(text.getvalue().encode()))

    dataset = read_dataset(str(path))
    assert dataset.format == FORMAT_2022 and dataset.users == 2
    assert dataset.times.tolist() == [1_649_033_631_577, 1_649_033_632_000, 1_649_033_634_000]
    assert (dataset.x.tolist(), dataset.y.tolist()) == ([3, 0, 5], [2, 0, 6])
    assert dataset.skipped == {"admin rectangles and circles": 1, "unreadable rows": 1}

    fitted = plan(dataset, 8, 8, PALETTE)
    assert fitted.colors.tolist() == [PALETTE.index("#ff4500"), 4, PALETTE.index("#ff4500")]
    assert fitted.approximated == 0


def test_the_2017_dataset_sorted_by_time_in_a_stable_order(tmp_path: Path) -> None:
    path = tmp_path / "tile_placements.csv"
    path.write_text(
        "ts,user_hash,x_coordinate,y_coordinate,color\n"
        "1490918688000,b,1,1,3\n"
        "1490918400000,a,0,0,5\n"
        "\n"
        "1490918688000,a,1,1,4\n"
        "1490918700000,c,,,2\n"  # the published file has rows without coordinates
    )
    dataset = read_dataset(str(path))
    assert dataset.format == FORMAT_2017 and dataset.users == 2  # of the rows read
    assert dataset.times.tolist() == [1490918400000, 1490918688000, 1490918688000]
    assert dataset.colors.tolist() == [5, 3, 4]  # same ms: the file's order
    assert dataset.skipped == {"unreadable rows": 1}
    fitted = plan(dataset, 4, 4, PALETTE)
    assert final_canvas(fitted, 4, 4, np.zeros(16, np.uint8))[1 * 4 + 1] == 4


def test_the_plan_fits_the_live_canvas(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("ts,user,x,y,color\n1,a,0,0,1\n2,a,9,0,1\n3,a,0,-1,1\n4,a,1,1,40\n5,a,2,2,2\n")
    fitted = plan(read_dataset(str(path)), 4, 4, PALETTE[:32])
    assert fitted.x.tolist() == [0, 2]
    assert fitted.skipped == {"outside the 4x4 canvas": 2, "colours outside the palette": 1}
    limited = plan(read_dataset(str(path)), 4, 4, PALETTE, limit=1)
    assert len(limited) == 1 and limited.skipped["past --limit"] == 1


def test_colours_not_in_the_palette_become_the_nearest() -> None:
    nearest, exact = nearest_colors(["#ff4500", "#fe4601", "#0000ee", "#fafafa"], PALETTE)
    assert [PALETTE[i] for i in nearest] == ["#ff4500", "#ff4500", "#493ac1", "#ffffff"]
    assert exact.tolist() == [True, False, False, False]


@pytest.mark.parametrize(
    ("url", "http", "ws", "origin"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws", None),
        ("https://place.example/", "https://place.example", "wss://place.example/ws", None),
        ("ws://h:1/ws", "http://h:1", "ws://h:1/ws", None),
        ("wss://h/event/ws", "https://h/event", "wss://h/event/ws", None),
    ],
)
def test_urls(url: str, http: str, ws: str, origin: str | None) -> None:
    where = target(url)
    assert (where.http_url, where.ws_url) == (http, ws)
    assert where.origin == http.split("/event")[0]
    assert target(url, "https://page.example").origin == "https://page.example"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"name,score\nann,3\n", "not a placement dataset: expected the columns"),
        (b"ts,user,x,y,color\n", "no placements in the file"),
        (b"ts,user,x,y,color\nsoon,a,1,1,1\n", "no placements in the file (unreadable rows 1)"),
        (b"\x1f\x8b\x08garbage", "not a CSV dataset"),
        (b"\xff\xfe\x00bin", "not a CSV dataset"),
    ],
)
def test_files_that_are_not_datasets(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    with pytest.raises(ReplayError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_dataset(str(path))


def test_bad_urls() -> None:
    for url in ("127.0.0.1:8000", "ftp://h/", "http://"):
        with pytest.raises(ReplayError, match="--url must look like"):
            target(url)
