"""The timelapse's pure parts: the ffmpeg command and the --from/--to times."""

from __future__ import annotations

from pathlib import Path

import pytest

from place.errors import SettingsError
from place.snapshot.timelapse import TimelapseError, encode_command, parse_time

LISTING = """Encoders:
 V..... = Video
 ------
 V....D libopenh264          OpenH264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264rgb           libx264 H.264 RGB (codec h264)
 V.S..D mpeg4                MPEG-4 part 2
"""


def command(listing: str, width: int = 33, height: int = 21, scale: int = 3) -> list[str]:
    return encode_command("ffmpeg", listing, width, height, 30, scale, Path("o.mp4"))[0]


def test_libx264_scaled_sharp_and_padded_even() -> None:
    args, size, codec = encode_command("ffmpeg", LISTING, 33, 21, 30, 3, Path("o.mp4"))
    assert (size, codec) == ("100x64", "H.264 (libx264)")
    assert args[args.index("-c:v", args.index("-i")) + 1] == "libx264"
    filters = args[args.index("-vf") + 1]
    assert "pad=33:21:0:0:black,scale=99:63:flags=neighbor,pad=100:64:0:0:black" in filters
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"
    assert args[args.index("-framerate") + 1] == "30" and args[-1] == "o.mp4"


def test_other_encoders_when_libx264_is_missing() -> None:
    without_x264 = LISTING.replace(" libx264 ", " other ")
    assert "libopenh264" in command(without_x264)
    assert encode_command("f", without_x264, 8, 8, 30, 1, Path("o"))[2] == "H.264 (OpenH264)"
    only_mpeg4 = without_x264.replace(" libopenh264 ", " other2 ")
    assert encode_command("f", only_mpeg4, 8, 8, 30, 1, Path("o"))[2] == "mpeg4"
    with pytest.raises(TimelapseError, match="none of the encoders"):
        command("Encoders:\n")


def test_even_sizes_need_no_padding() -> None:
    filters = command(LISTING, 1000, 1000, 1)[command(LISTING, 1000, 1000, 1).index("-vf") + 1]
    assert "pad=1000:1000:0:0:black,scale=1000:1000" in filters


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-12-01T15:00:00", 1_796_137_200_000),  # no offset: UTC
        ("2026-12-01T15:00:00Z", 1_796_137_200_000),
        ("2026-12-01 16:00:00.250+01:00", 1_796_137_200_250),
        ("2026-12-01", 1_796_083_200_000),
        (None, None),
    ],
)
def test_times(text: str | None, ms: int | None) -> None:
    assert parse_time(text, "--from") == ms


def test_a_bad_time_names_its_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--to must be an ISO 8601 time .* got 'soon'$"):
        parse_time("soon", "--to")
