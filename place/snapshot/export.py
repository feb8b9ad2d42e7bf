"""`place snapshot export`: the whole placement history as gzip'd CSV, in the columns of the
public r/place 2022 dataset, so the tools written for that dataset read ours:

    timestamp,user_id,pixel_color,coordinate
    2026-12-01 15:00:03.125 UTC,ann,#FF4500,"12,34"
    2026-12-01 15:04:10.000 UTC,mod-bob,#FFFFFF,"10,20,59,39"

One row per placement in stream order, each once (overlapping chunks are merged). The colour
is the one its chunk's palette gave the index, upper-case as in the dataset. An admin wipe is
one row with the rectangle's upper-left and lower-right pixels (inclusive), as the dataset's
moderation rows. `user_id` is the player id as stored, not hashed as the 2022 dataset's was:
hash it before publishing if ids are not meant to be public. The file is written as it is
read, chunk by chunk: an export needs no more memory for a long event than a short one.
"""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Iterable
from pathlib import Path

from place.snapshot.archive import Chunk
from place.snapshot.history import EmptyArchive, chunk_keys, read_history
from place.snapshot.outfile import OutputError, atomic_output
from place.store import Store

HEADER = ("timestamp", "user_id", "pixel_color", "coordinate")


def export_placements(store: Store, out: str) -> str:
    """Write every archived placement to `out` (gzip'd CSV); the line the CLI prints."""
    with atomic_output(out) as temporary:  # fails now, not after the download, if unwritable
        try:
            with (
                temporary.open("wb") as raw,
                # named in the gzip header as `out` without .gz, not as the temporary file
                gzip.GzipFile(Path(out).name, "wb", 6, raw, mtime=0) as packed,
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as text,
            ):
                counts = write_csv(text, read_history(store, chunk_keys(store)))
        except OSError as error:
            raise OutputError(f"cannot write {out}: {error.strerror}") from None
        placements, wipes, unknown, first, last = counts
        if not placements and not wipes:
            raise EmptyArchive(f"no placements in the archive at {store.url}")
        size = temporary.stat().st_size
    line = f"wrote {out}: {placements} placements and {wipes} admin wipe{'s' if wipes != 1 else ''}"
    line += f", {timestamp(first)} to {timestamp(last)}, {size / 1e6:.1f} MB"
    if unknown:
        line += f" ({unknown} with a colour index outside their chunk's palette: left empty)"
    return line


def write_csv(text: io.TextIOBase, chunks: Iterable[Chunk]) -> tuple[int, int, int, int, int]:
    """Write the header and one row per placement; (placements, wipes, rows whose colour
    index is outside their palette, first time, last time)."""
    text.write(",".join(HEADER) + "\n")
    placements = wipes = unknown = 0
    first = last = 0
    second, prefix = -1, ""
    for chunk in chunks:
        colours = [colour.upper() for colour in chunk.config.palette]
        lines = []
        for row in chunk.rows:
            if row.t // 1000 != second:  # many placements share a second: format it once
                second = row.t // 1000
                prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
            if 0 <= row.c < len(colours):
                colour = colours[row.c]
            else:
                colour = ""
                unknown += 1
            if row.w == 1 and row.h == 1:
                where = f"{row.x},{row.y}"
                placements += 1
            else:
                where = f"{row.x},{row.y},{row.x + row.w - 1},{row.y + row.h - 1}"
                wipes += 1
            lines.append((f"{prefix}.{row.t % 1000:03d} UTC", row.u, colour, where))
        if chunk.rows:
            first = first or chunk.rows[0].t
            last = chunk.rows[-1].t
        block = io.StringIO()  # one write a chunk: the gzip stream is slow to call per row
        csv.writer(block, lineterminator="\n").writerows(lines)
        text.write(block.getvalue())
    return placements, wipes, unknown, first, last


def timestamp(at_ms: int) -> str:
    """Unix ms as the dataset writes times: 2022-04-04 00:53:51.577 UTC."""
    seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at_ms // 1000))
    return f"{seconds}.{at_ms % 1000:03d} UTC"
