"""A canvas backup as one object in the store, and the pointer to the latest one. Pure.

    b"PLACE-BACKUP/1\n" | header (JSON, one line) | b"\n" | zlib(width*height palette indices)

The header holds `seq`, the stream position the canvas includes (`pos`), the live
configuration, the time and the SHA-256 of the pixels: a reader refuses a backup whose
pixels do not match it, or whose size does not match its configuration.

Keys sort by time: `backups/20261201T150000.123Z-s0000004242.bin`. The pointer,
`backups/latest.json`, is written after the object, so it never names a half-written one.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import time
import zlib

import numpy as np
import orjson

from place.config import LiveConfig
from place.errors import PlaceError

MAGIC = b"PLACE-BACKUP/1\n"
PREFIX = "backups/"
LATEST = "backups/latest.json"
_STAMP = "%Y%m%dT%H%M%S"


class BadBackup(PlaceError):
    """A backup that cannot be restored: corrupt, truncated, or not matching itself."""


@dataclasses.dataclass(frozen=True, slots=True)
class Backup:
    seq: int
    pos: str  # the last stream entry the canvas includes ("0-0": none)
    at_ms: int  # when it was read from Redis (Unix ms)
    config: LiveConfig
    pixels: np.ndarray  # uint8, width*height

    @property
    def key(self) -> str:
        return backup_key(self.at_ms, self.seq)


def backup_key(at_ms: int, seq: int) -> str:
    return f"{PREFIX}{stamp(at_ms)}-s{seq:010d}.bin"


def stamp(at_ms: int) -> str:
    """UTC time as a key part that sorts: 20261201T150000.123Z."""
    return time.strftime(_STAMP, time.gmtime(at_ms // 1000)) + f".{at_ms % 1000:03d}Z"


def encode_backup(backup: Backup, level: int = 6) -> bytes:
    raw = backup.pixels.tobytes()
    header = {
        "seq": backup.seq,
        "pos": backup.pos,
        "at_ms": backup.at_ms,
        "config": backup.config.to_json(),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    return MAGIC + orjson.dumps(header) + b"\n" + zlib.compress(raw, level)


def decode_backup(data: bytes, key: str = "backup") -> Backup:
    """Parse and check a backup; `BadBackup` with a one-line reason when it cannot be used."""
    if not data.startswith(MAGIC):
        raise BadBackup(f"{key} is not a our/place backup (no {MAGIC.strip().decode()} header)")
    line_end = data.find(b"\n", len(MAGIC))
    try:
        header = orjson.loads(data[len(MAGIC) : line_end])
        config = LiveConfig.from_json(header["config"])
        seq, pos, at_ms, digest = header["seq"], header["pos"], header["at_ms"], header["sha256"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise BadBackup(f"{key} has a damaged header") from None
    try:
        raw = zlib.decompress(data[line_end + 1 :])
    except zlib.error:
        raise BadBackup(f"{key} is corrupt: its canvas does not decompress") from None
    if len(raw) != config.width * config.height:
        raise BadBackup(
            f"{key} does not match itself: {len(raw)} pixels for a"
            f" {config.width}x{config.height} canvas"
        )
    if hashlib.sha256(raw).hexdigest() != digest:
        raise BadBackup(f"{key} is corrupt: its checksum does not match its canvas")
    pixels = np.frombuffer(raw, dtype=np.uint8)
    if pixels.size and int(pixels.max()) >= len(config.palette):
        raise BadBackup(f"{key} does not match itself: a pixel is outside its palette")
    return Backup(int(seq), str(pos), int(at_ms), config, pixels)


def encode_pointer(backup: Backup) -> bytes:
    return orjson.dumps({"key": backup.key, "seq": backup.seq, "at_ms": backup.at_ms})


def decode_pointer(data: bytes) -> dict[str, object]:
    try:
        pointer = orjson.loads(data)
        if not isinstance(pointer, dict) or not isinstance(pointer.get("key"), str):
            raise ValueError
    except (orjson.JSONDecodeError, ValueError):
        raise BadBackup(f"{LATEST} is damaged") from None
    return pointer


def parse_backup_key(key: str) -> tuple[int, int] | None:
    """(at_ms, seq) of a backup key, or None for any other key."""
    name = key.removeprefix(PREFIX)
    if not (name.endswith(".bin") and "-s" in name):
        return None
    when, _, seq = name[:-4].partition("-s")
    try:
        seconds = time.strptime(when[:15], _STAMP)
        millis = int(when[16:19])
        return calendar.timegm(seconds) * 1000 + millis, int(seq)
    except ValueError:
        return None
