"""Timelapse frames in the store: one PNG of the canvas every `PLACE_TIMELAPSE_S`, one image
pixel per canvas pixel, under keys that sort by time: `timelapse/20261201T150000.123Z.png`."""

from __future__ import annotations

import calendar
import time

from place.snapshot.backup import stamp

PREFIX = "timelapse/"
_SUFFIX = ".png"


def frame_key(at_ms: int) -> str:
    return f"{PREFIX}{stamp(at_ms)}{_SUFFIX}"


def parse_frame_key(key: str) -> int | None:
    """The time (Unix ms) of a frame key, or None for any other key."""
    name = key.removeprefix(PREFIX).removesuffix(_SUFFIX)
    if not key.endswith(_SUFFIX) or len(name) != 20:
        return None
    try:
        seconds = calendar.timegm(time.strptime(name[:15], "%Y%m%dT%H%M%S"))
        return seconds * 1000 + int(name[16:19])
    except ValueError:
        return None
