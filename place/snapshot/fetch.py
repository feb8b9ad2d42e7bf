"""Downloading many objects from the store in key order, a few at a time.

An event leaves thousands of frames and archive chunks; fetched one after another, their
download time is all round trips. A small window of reads in flight hides the latency while
keeping memory bounded (at most `2 * workers` objects wait to be consumed).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from place.store import Store, StoreMissing

WORKERS = 8


def fetch_in_order(
    store: Store, keys: Sequence[str], workers: int = WORKERS
) -> Iterator[tuple[str, bytes | None]]:
    """(key, data) for each of `keys`, in order; data is None for an object deleted since it
    was listed. Store errors are raised where the object would have been yielded."""
    pending: deque[tuple[str, Future[bytes | None]]] = deque()
    remaining = iter(keys)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
    try:
        for key in itertools.islice(remaining, 2 * workers):
            pending.append((key, pool.submit(_read, store, key)))
        while pending:
            key, future = pending.popleft()
            following = next(remaining, None)
            if following is not None:
                pending.append((following, pool.submit(_read, store, following)))
            yield key, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _read(store: Store, key: str) -> bytes | None:
    try:
        return store.read(key)[0]
    except StoreMissing:
        return None
