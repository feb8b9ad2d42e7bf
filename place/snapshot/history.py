"""The placement archive read back chunk by chunk, each placement once, for the heatmap and
the export.

`archive.merge_rows` gives the same rows as one list; an event of millions of placements does
not fit in memory as `Row` objects, so this yields one chunk's new rows at a time, with the
chunk's live configuration (its palette names the colours of its rows).
"""

from __future__ import annotations

from collections.abc import Iterator

from place.errors import PlaceError
from place.snapshot.archive import PREFIX, Chunk, decode_chunk, parse_chunk_key, unseen
from place.snapshot.fetch import fetch_in_order
from place.snapshot.progress import progress
from place.store import Store


class EmptyArchive(PlaceError):
    """The archive holds no placement to draw or export."""


def chunk_keys(store: Store) -> list[str]:
    """Every archive chunk in the store, in key (stream) order."""
    return [item.key for item in store.list(PREFIX) if parse_chunk_key(item.key) is not None]


def read_history(store: Store, keys: list[str]) -> Iterator[Chunk]:
    """The chunks of `keys` in order, each holding only the rows no earlier chunk had."""
    return unseen(_chunks(store, keys))


def _chunks(store: Store, keys: list[str]) -> Iterator[Chunk]:
    for key, data in progress(fetch_in_order(store, keys), "chunks", total=len(keys)):
        if data is not None:  # None: pruned since it was listed, its rows are gone
            yield decode_chunk(data, key)
