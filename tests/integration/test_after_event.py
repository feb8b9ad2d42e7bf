"""`place snapshot timelapse | heatmap | export` through the real CLI, against a directory store
and a real S3-compatible server; the videos are checked by decoding them with the bundled
ffmpeg, the heatmap with Pillow, the export with the csv module."""

from __future__ import annotations

import csv
import gzip
import io
import re
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from place.config import LiveConfig
from place.dev import free_port
from place.settings import Settings
from place.snapshot.archive import Row, chunk_key, encode_chunk
from place.snapshot.frames import frame_key
from place.snapshot.png import encode_png
from place.store import Store, open_store
from tests.e2e.cluster import place_command
from tests.servers import S3Server

T0 = 1_796_137_200_000  # 2026-12-01 15:00:00 UTC
PALETTE = ("#ffffff", "#e50000", "#02be01", "#0000ea", "#ffa700", "#820080")
SMALL, LARGE = (16, 12), (24, 18)  # the canvas grows after frame 9
SCALE = 4


@dataclass
class Place:
    store: Store
    env: dict[str, str]  # what a `place` process needs to use the same store

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return place_command("snapshot", *args, env=self.env)


@pytest.fixture(params=["file", "s3"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "file":
        url = f"file://{tmp_path}/store"
        return Place(open_store(Settings(), url), {"PLACE_STORE_URL": url})
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    store = open_store(Settings(s3_endpoint_url=server.endpoint), f"s3://{bucket}/event")
    return Place(store, server.env(bucket))


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """Where the commands write (the directory store is elsewhere in tmp_path)."""
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


# --- timelapse -----------------------------------------------------------------------------


def frame_colour(index: int) -> int:
    return index % len(PALETTE)


def put_frames(store: Store, count: int = 30) -> None:
    """Frame i: the canvas in one colour (so chroma subsampling cannot blur what we check),
    one frame a minute; the canvas grows from SMALL to LARGE at frame 10."""
    for index in range(count):
        width, height = SMALL if index < 10 else LARGE
        pixels = np.full(width * height, frame_colour(index), dtype=np.uint8)
        store.create(frame_key(T0 + index * 60_000), encode_png(pixels, width, height, PALETTE))


def decode_video(path: Path, width: int = 96, height: int = 72) -> tuple[str, np.ndarray]:
    """ffmpeg's description of the video, and its frames as RGB (frames, height, width, 3)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    ffmpeg = get_ffmpeg_exe()
    info = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True)
    to_rgb = [ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(to_rgb, capture_output=True, check=True).stdout
    assert len(raw) % (width * height * 3) == 0, f"the video is not {width}x{height}"
    return info.stderr.decode(), np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def rgb(colour: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(colour[1:]), np.uint8).astype(int)


def assert_frames(video: np.ndarray, first: int) -> None:
    """Frame k of the video is frame `first + k` of the store: its colour where the canvas is,
    and black right and below of a smaller canvas."""
    for k, frame in enumerate(video):
        index = first + k
        inside = frame[SCALE * 5, SCALE * 5].astype(int)
        assert np.abs(inside - rgb(PALETTE[frame_colour(index)])).max() <= 6, (index, inside)
        outside = frame[SCALE * 15, SCALE * 20].astype(int)
        if index < 10:  # the small canvas, top-left on the large one
            assert outside.max() <= 6, (index, outside)
        else:
            assert np.abs(outside - inside).max() <= 6, (index, outside)


def test_timelapse_encodes_every_frame_in_order(place: Place, outdir: Path) -> None:
    put_frames(place.store)
    out = outdir / "timelapse.mp4"
    done = place.run("timelapse", "--out", str(out), "--fps", "10", "--scale", str(SCALE))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {out}: 30 frames, 96x72 at 10 fps, 3.0 s, H.264 (libx264)\n"
    info, video = decode_video(out)
    assert "Video: h264" in info and "yuv420p" in info and "10 fps" in info
    assert len(video) == 30
    assert_frames(video, first=0)
    assert [path.name for path in outdir.iterdir()] == ["timelapse.mp4"]  # no spool left


def test_timelapse_from_to_selects_a_range(place: Place, outdir: Path) -> None:
    put_frames(place.store)
    out = outdir / "part.mp4"
    done = place.run(
        "timelapse",
        "--out",
        str(out),
        "--scale",
        str(SCALE),
        "--from",
        "2026-12-01T15:05:00",  # frame 5; no offset: UTC
        "--to",
        "2026-12-01T16:14:00+01:00",  # frame 14, inclusive
    )
    assert done.returncode == 0, done.stderr
    assert "10 frames" in done.stdout
    _, video = decode_video(out)
    assert len(video) == 10
    assert_frames(video, first=5)


def test_timelapse_pads_an_odd_canvas_to_even_sizes(place: Place, outdir: Path) -> None:
    pixels = np.arange(15 * 11, dtype=np.uint8) % len(PALETTE)
    for index in range(3):
        place.store.create(frame_key(T0 + index), encode_png(pixels, 15, 11, PALETTE))
    out = outdir / "odd.mp4"
    done = place.run("timelapse", "--out", str(out), "--frames-dir", str(outdir / "frames"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"downloaded 3 frames to {outdir / 'frames'}: 000001.png")
    assert done.stdout.endswith(
        f"; wrote {out}: 3 frames, 16x12 at 30 fps, 0.1 s, H.264 (libx264)\n"
    )
    _, video = decode_video(out, 16, 12)
    assert len(video) == 3
    luma = video.astype(float) @ np.array([0.299, 0.587, 0.114])
    # the padding is black (its colour a little off: yuv420p shares chroma between 2x2 pixels)
    assert luma[:, 11, :].max() < 20 and luma[:, :, 15].max() < 20
    assert luma[:, :11, :15].mean() > 100


def test_timelapse_skips_a_damaged_frame(place: Place, outdir: Path) -> None:
    put_frames(place.store, count=12)
    cut = place.store.read(frame_key(T0 + 11 * 60_000))[0][:-30]
    place.store.create(frame_key(T0 + 11 * 60_000 + 1), cut)  # an upload cut short
    out = outdir / "timelapse.mp4"
    done = place.run("timelapse", "--out", str(out), "--scale", str(SCALE))
    assert done.returncode == 0, done.stderr
    assert "12 frames" in done.stdout and "(skipped 1 damaged or missing frame)" in done.stdout
    _, video = decode_video(out)
    assert len(video) == 12
    assert_frames(video, first=0)


def test_timelapse_frames_dir_downloads_the_pngs(place: Place, outdir: Path) -> None:
    put_frames(place.store)
    frames = outdir / "frames" / "event"  # made as needed
    done = place.run("timelapse", "--frames-dir", str(frames), "--from", "2026-12-01 15:20Z")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"downloaded 10 frames to {frames}: 000001.png")
    names = sorted(path.name for path in frames.iterdir())
    assert names == [f"{number:06d}.png" for number in range(1, 11)]
    for number, name in enumerate(names):
        stored = place.store.read(frame_key(T0 + (20 + number) * 60_000))[0]
        assert (frames / name).read_bytes() == stored


# --- the archive: heatmap and export -------------------------------------------------------

CONFIG = LiveConfig(width=8, height=6, palette=PALETTE, cooldown_ms=0, open=True)
# after a resize and a palette change: index 1 is now a different red
GROWN = LiveConfig(
    width=10, height=8, palette=("#ffffff", "#be0039", "#00a368"), cooldown_ms=0, open=True
)


def row(ms: int, seq: int, user: str, x: int, y: int, c: int, w: int = 1, h: int = 1) -> Row:
    return Row((T0 + ms, seq), T0 + ms, user, x, y, w, h, c)


FIRST = [
    row(0, 0, "ann", 3, 2, 1),
    row(0, 0, "bob", 3, 2, 2),  # one stream entry holds many placements
    row(1500, 0, "cat", 0, 5, 3),
    row(2000, 0, "ann", 3, 2, 4),
]
# written again after a failover: overlaps FIRST by its last entry
SECOND = [
    FIRST[-1],
    row(3000, 0, "dan", 7, 5, 5),
    row(3000, 1, "admin", 4, 1, 0, w=4, h=3),  # a wipe of x 4..7, y 1..3
    row(4250, 0, "bob", 3, 2, 0),
]
THIRD = [row(60_000, 0, "eve", 9, 7, 1), row(61_000, 0, "ann", 3, 2, 1)]


def put_archive(store: Store) -> None:
    for rows, config in ((FIRST, CONFIG), (SECOND, CONFIG), (THIRD, GROWN)):
        store.create(chunk_key(rows[0].id, rows[-1].id), encode_chunk(rows, config, T0))


def test_heatmap_is_brightest_where_most_was_placed(place: Place, outdir: Path) -> None:
    put_archive(place.store)
    out = outdir / "heat.png"
    done = place.run("heatmap", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"wrote {out}: 10x8, 8 placements (1 admin wipe not counted), hottest pixel 3,2 with 5\n"
    )
    image = Image.open(out)
    assert image.mode == "RGB" and image.size == (10, 8)  # the largest canvas seen
    pixels = np.asarray(image).astype(int)
    brightness = pixels.sum(axis=2)
    assert np.unravel_index(brightness.argmax(), brightness.shape) == (2, 3)
    assert tuple(pixels[2, 3]) == (252, 255, 164)  # the top of inferno
    assert tuple(pixels[0, 0]) == (0, 0, 4)  # nobody placed there: its bottom
    assert tuple(pixels[1, 5]) == (0, 0, 4)  # wiped, never placed on
    once = pixels[5, 0]
    assert 0 < once.sum() < brightness[2, 3]  # placed once: lit, dimmer than the hottest
    assert tuple(pixels[7, 9]) == tuple(once)  # on the grown canvas too


def test_export_has_one_row_per_placement(place: Place, outdir: Path) -> None:
    put_archive(place.store)
    out = outdir / "history.csv.gz"
    done = place.run("export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"wrote {out}: 8 placements and 1 admin wipe,"
        " 2026-12-01 15:00:00.000 UTC to 2026-12-01 15:01:01.000 UTC"
    )
    with gzip.open(out, "rt", newline="") as file:
        text = file.read()
    assert text.splitlines()[:3] == [
        "timestamp,user_id,pixel_color,coordinate",
        '2026-12-01 15:00:00.000 UTC,ann,#E50000,"3,2"',
        '2026-12-01 15:00:00.000 UTC,bob,#02BE01,"3,2"',
    ]
    assert list(csv.reader(io.StringIO(text)))[1:] == [
        ["2026-12-01 15:00:00.000 UTC", "ann", "#E50000", "3,2"],
        ["2026-12-01 15:00:00.000 UTC", "bob", "#02BE01", "3,2"],
        ["2026-12-01 15:00:01.500 UTC", "cat", "#0000EA", "0,5"],
        ["2026-12-01 15:00:02.000 UTC", "ann", "#FFA700", "3,2"],  # once, not twice
        ["2026-12-01 15:00:03.000 UTC", "dan", "#820080", "7,5"],
        ["2026-12-01 15:00:03.000 UTC", "admin", "#FFFFFF", "4,1,7,3"],
        ["2026-12-01 15:00:04.250 UTC", "bob", "#FFFFFF", "3,2"],
        ["2026-12-01 15:01:00.000 UTC", "eve", "#BE0039", "9,7"],  # the new palette's red
        ["2026-12-01 15:01:01.000 UTC", "ann", "#BE0039", "3,2"],
    ]


# --- failures: one line, exit 1, nothing half-written -------------------------------------


# botocore logs where it found credentials at INFO, which the CLI's logging shows: not ours
_BOTOCORE_INFO = re.compile(r"^\S+ \S+ INFO botocore\.credentials: .*\n", re.M)


def assert_one_line_failure(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    stderr = _BOTOCORE_INFO.sub("", done.stderr)
    assert "Traceback" not in stderr and stderr.count("\n") == 1, done.stderr
    assert stderr.startswith("place snapshot: ")
    for word in words:
        assert word in stderr, done.stderr


def test_no_frames_in_the_range(place: Place, outdir: Path) -> None:
    out = outdir / "empty.mp4"
    assert_one_line_failure(place.run("timelapse", "--out", str(out)), "no timelapse frames")
    put_frames(place.store, count=3)
    done = place.run("timelapse", "--out", str(out), "--from", "2027-01-01")
    assert_one_line_failure(done, "no timelapse frames", "from 2027-01-01")
    assert list(outdir.iterdir()) == []


def test_empty_archive(place: Place, outdir: Path) -> None:
    for action, name in (("heatmap", "heat.png"), ("export", "history.csv.gz")):
        done = place.run(action, "--out", str(outdir / name))
        assert_one_line_failure(done, "no placements in the archive")
    assert list(outdir.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--from", "yesterday"], ["--from", "ISO 8601", "'yesterday'"]),
        (["--to", "2026-13-01"], ["--to", "ISO 8601"]),
        (["--from", "2026-12-02", "--to", "2026-12-01"], ["--from", "after --to"]),
        (["--fps", "0"], ["--fps", "got 0"]),
        (["--scale", "0"], ["--scale", "got 0"]),
    ],
    ids=["from", "to", "reversed", "fps", "scale"],
)
def test_bad_timelapse_flags(
    tmp_path: Path, outdir: Path, flags: list[str], words: list[str]
) -> None:
    env = {"PLACE_STORE_URL": f"file://{tmp_path}/store"}
    done = place_command("snapshot", "timelapse", "--out", str(outdir / "x.mp4"), *flags, env=env)
    assert_one_line_failure(done, *words)
    assert [path.name for path in outdir.iterdir()] == []


def test_a_scale_too_large_for_h264(tmp_path: Path, outdir: Path) -> None:
    url = f"file://{tmp_path}/store"
    put_frames(open_store(Settings(), url), count=3)
    out = str(outdir / "x.mp4")
    done = place_command(
        "snapshot", "timelapse", "--out", out, "--scale", "1000", env={"PLACE_STORE_URL": url}
    )
    assert_one_line_failure(done, "--scale 1000 makes a 16000x12000 video", "35.7 megapixels")
    assert list(outdir.iterdir()) == []


def test_timelapse_needs_out_or_frames_dir(tmp_path: Path) -> None:
    done = place_command("snapshot", "timelapse", env={"PLACE_STORE_URL": f"file://{tmp_path}"})
    assert_one_line_failure(done, "--out", "--frames-dir")


def test_ffmpeg_failing(place: Place, outdir: Path) -> None:
    """A frame that is a sound PNG on the outside (checksums match) but whose image data does
    not inflate: ffmpeg fails the video rather than leave a frame out."""
    put_frames(place.store, count=3)
    whole = place.store.read(frame_key(T0))[0]
    at = whole.index(b"IDAT")
    length = int.from_bytes(whole[at - 4 : at], "big")
    garbage = b"\x78\x9c" + b"\xff" * (length - 2)
    chunk = b"IDAT" + garbage
    broken = whole[: at - 4] + length.to_bytes(4, "big") + chunk
    broken += zlib.crc32(chunk).to_bytes(4, "big") + whole[at + 8 + length :]
    place.store.create(frame_key(T0 + 1), broken)
    out = outdir / "timelapse.mp4"
    assert_one_line_failure(place.run("timelapse", "--out", str(out)), "ffmpeg failed: ")
    assert list(outdir.iterdir()) == []


def test_unwritable_out(place: Place, outdir: Path) -> None:
    put_frames(place.store, count=3)
    put_archive(place.store)
    blocker = outdir / "file"
    blocker.write_text("not a directory")
    for action, name in (("timelapse", "x.mp4"), ("heatmap", "x.png"), ("export", "x.csv.gz")):
        done = place.run(action, "--out", str(blocker / name))
        assert_one_line_failure(done, f"cannot write {blocker / name}", "Not a directory")
    done = place.run("timelapse", "--frames-dir", str(blocker / "frames"))
    assert_one_line_failure(done, f"cannot write to {blocker / 'frames'}")
    assert [path.name for path in outdir.iterdir()] == ["file"]


def test_a_store_that_does_not_answer(outdir: Path) -> None:
    env = {
        **S3Server.ENV,
        "PLACE_STORE_URL": "s3://nobucket/event",
        "PLACE_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    for action, name in (("timelapse", "x.mp4"), ("heatmap", "x.png"), ("export", "x.csv.gz")):
        done = place_command("snapshot", action, "--out", str(outdir / name), env=env)
        assert_one_line_failure(done, "cannot list s3://nobucket/event")
    assert list(outdir.iterdir()) == []
