"""The placement archive: every stored placement, in compressed chunks in the store. Pure.

A chunk is gzip'd JSON lines. The first line is a header: the stream ids of its first and
last entries, when it was written, and the live configuration then (its palette says which
colour each index meant). Every other line is one placement or admin wipe, in stream order:

    {"id":"1764426000000-0","t":1764426000000,"u":"ann","x":12,"y":34,"w":1,"h":1,"c":5}

`id` is the Redis stream entry (many placements share one), `t` the time it was stored (Unix
ms), `u` the player's id (the name of the admin for a wipe), `w`x`h` the rectangle (1x1 for a
placement). Keys sort by the first entry: `archive/1764426000000-0_1764426009871-3.jsonl.gz`.
Chunks written again after a ticker failover may overlap: readers skip entries they have seen.
"""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import orjson

from place.config import LiveConfig
from place.errors import PlaceError
from place.ticker.coalesce import RECORD

PREFIX = "archive/"
FORMAT = "place-archive/1"
_SUFFIX = ".jsonl.gz"

StreamEntry = tuple[bytes, dict[bytes, bytes]]  # as redis-py returns XRANGE entries


class BadChunk(PlaceError):
    """An archive chunk that cannot be read."""


def parse_id(entry_id: str | bytes) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def chunk_key(first: tuple[int, int], last: tuple[int, int]) -> str:
    return f"{PREFIX}{first[0]:013d}-{first[1]}_{last[0]:013d}-{last[1]}{_SUFFIX}"


def parse_chunk_key(key: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(first id, last id) of a chunk key, or None for any other key."""
    name = key.removeprefix(PREFIX)
    if not name.endswith(_SUFFIX):
        return None
    first, _, last = name.removesuffix(_SUFFIX).partition("_")
    try:
        return parse_id(first), parse_id(last)
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    id: tuple[int, int]
    t: int
    u: str
    x: int
    y: int
    w: int
    h: int
    c: int


def rows_from_entries(entries: Iterable[StreamEntry]) -> list[Row]:
    """The placement stream's entries (one per batch of placements) as one row a placement."""
    rows = []
    for entry_id, fields in entries:
        records = np.frombuffer(fields.get(b"r", b""), dtype=RECORD)
        players = fields.get(b"u", b"").decode().split("\n")
        at = int(fields.get(b"t", b"0"))
        key = parse_id(entry_id)
        for index, (x, y, w, h, c) in enumerate(records.tolist()):
            player = players[index] if index < len(players) else players[-1]
            rows.append(Row(key, at, player, x, y, w, h, c))
    return rows


def encode_chunk(rows: Sequence[Row], config: LiveConfig, at_ms: int) -> bytes:
    header = {
        "format": FORMAT,
        "first": format_id(rows[0].id),
        "last": format_id(rows[-1].id),
        "at_ms": at_ms,
        "config": config.to_json(),
    }
    lines = [orjson.dumps(header)]
    for row in rows:
        item = dataclasses.asdict(row)
        item["id"] = format_id(row.id)
        lines.append(orjson.dumps(item))
    return gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6, mtime=0)


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    first: tuple[int, int]
    last: tuple[int, int]
    at_ms: int
    config: LiveConfig
    rows: list[Row]


def decode_chunk(data: bytes, key: str = "chunk") -> Chunk:
    try:
        lines = gzip.decompress(data).splitlines()
        header = orjson.loads(lines[0])
        if header.get("format") != FORMAT:
            raise ValueError
        rows = []
        for line in lines[1:]:
            item = orjson.loads(line)
            item["id"] = parse_id(item["id"])
            rows.append(Row(**item))
        return Chunk(
            parse_id(header["first"]),
            parse_id(header["last"]),
            int(header["at_ms"]),
            LiveConfig.from_json(header["config"]),
            rows,
        )
    except (OSError, EOFError, IndexError, KeyError, TypeError, ValueError) as error:
        raise BadChunk(f"{key} is not a readable archive chunk ({error})") from None


def unseen(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """Chunks taken in key order, each keeping only the entries no earlier chunk had (chunks
    written again after a ticker failover overlap)."""
    seen = (-1, -1)
    for chunk in chunks:
        rows = [row for row in chunk.rows if row.id > seen]
        if rows:
            seen = max(seen, rows[-1].id)
        yield dataclasses.replace(chunk, rows=rows)


def merge_rows(chunks: Iterable[Chunk]) -> list[Row]:
    """The rows of chunks taken in key order, each stream entry once."""
    return [row for chunk in unseen(chunks) for row in chunk.rows]
