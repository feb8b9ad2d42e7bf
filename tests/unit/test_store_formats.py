"""The store's formats, bytes in and bytes out: backups refuse what does not match itself, archive
chunks round-trip and overlap safely, keys sort by time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from place.config import LiveConfig
from place.snapshot.archive import (
    Row,
    chunk_key,
    decode_chunk,
    encode_chunk,
    merge_rows,
    parse_chunk_key,
    rows_from_entries,
)
from place.snapshot.backup import (
    Backup,
    BadBackup,
    backup_key,
    decode_backup,
    encode_backup,
    parse_backup_key,
)
from place.snapshot.frames import frame_key, parse_frame_key
from place.snapshot.restore import apply_rows

CONFIG = LiveConfig(4, 3, ("#ffffff", "#000000", "#ff0000"), 0, True, 7)


def backup() -> Backup:
    pixels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], np.uint8)
    return Backup(42, "1700000000000-3", 1700000000123, CONFIG, pixels)


def test_a_backup_round_trips() -> None:
    again = decode_backup(encode_backup(backup()))
    assert (again.seq, again.pos, again.at_ms, again.config) == (
        42,
        "1700000000000-3",
        1700000000123,
        CONFIG,
    )
    assert np.array_equal(again.pixels, backup().pixels)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[:-4], "does not decompress"),
        (lambda b: b"junk" + b, "not a our/place backup"),
        (lambda b: b.replace(b'"seq"', b'"sex"'), "damaged header"),
        (lambda b: b.replace(b'"width":4', b'"width":5'), "does not match itself"),
    ],
)
def test_a_damaged_backup_is_refused_with_one_line(
    damage: Callable[[bytes], bytes], reason: str
) -> None:
    with pytest.raises(BadBackup, match=reason) as caught:
        decode_backup(damage(encode_backup(backup())), "backups/x.bin")
    assert "\n" not in str(caught.value)


def test_a_flipped_pixel_fails_the_checksum() -> None:
    import zlib

    data = encode_backup(backup())
    head, _, _ = data.rpartition(b"\n")
    pixels = bytearray(backup().pixels.tobytes())
    pixels[5] ^= 1
    with pytest.raises(BadBackup, match="checksum"):
        decode_backup(head + b"\n" + zlib.compress(bytes(pixels)))


def test_keys_sort_by_time_and_parse_back() -> None:
    early, late = backup_key(1700000000123, 99), backup_key(1700000001000, 5)
    assert early < late and parse_backup_key(early) == (1700000000123, 99)
    assert parse_frame_key(frame_key(1700000000123)) == 1700000000123
    assert frame_key(1) < frame_key(1700000000123)
    assert parse_chunk_key(chunk_key((17, 1), (18, 0))) == ((17, 1), (18, 0))
    assert parse_backup_key("backups/latest.json") is None


def test_stream_entries_become_rows_and_chunks_round_trip() -> None:
    import struct

    entries = [
        (
            b"100-0",
            {b"r": struct.pack("<HHHHB", 1, 2, 1, 1, 1) * 2, b"u": b"ann\nbob", b"t": b"100"},
        ),
        (b"101-0", {b"r": struct.pack("<HHHHB", 0, 0, 4, 3, 0), b"u": b"admin", b"t": b"101"}),
    ]
    rows = rows_from_entries(entries)
    assert [(r.id, r.u, r.w, r.h) for r in rows] == [
        ((100, 0), "ann", 1, 1),
        ((100, 0), "bob", 1, 1),
        ((101, 0), "admin", 4, 3),
    ]
    chunk = decode_chunk(encode_chunk(rows, CONFIG, 555))
    assert chunk.rows == rows and chunk.config == CONFIG and chunk.first == (100, 0)


def test_overlapping_chunks_count_each_entry_once() -> None:
    def row(ms: int, x: int) -> Row:
        return Row((ms, 0), ms, "p", x, 0, 1, 1, 1)

    first = decode_chunk(encode_chunk([row(1, 0), row(2, 1)], CONFIG, 0))
    again = decode_chunk(encode_chunk([row(2, 1), row(3, 2)], CONFIG, 0))
    assert [r.x for r in merge_rows([first, again])] == [0, 1, 2]


def test_replay_paints_in_order_and_clips_to_the_canvas() -> None:
    pixels = np.zeros(12, np.uint8)
    rows = [
        Row((1, 0), 1, "a", 1, 1, 1, 1, 2),
        Row((2, 0), 2, "b", 1, 1, 1, 1, 1),  # later wins
        Row((3, 0), 3, "admin", 2, 2, 5, 5, 2),  # a wipe clipped at the edges
        Row((4, 0), 4, "c", 9, 9, 1, 1, 1),  # outside (placed before a shrink)
    ]
    assert apply_rows(pixels, 4, 3, rows) == 4
    assert pixels.reshape(3, 4).tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 2]]
