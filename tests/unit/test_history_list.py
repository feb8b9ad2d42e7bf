"""The history viewer's frames: the list thinned to at most N evenly spread, listed from a real
directory store (incrementally, then in full) and read once."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from place.api.history import History, thin
from place.settings import Settings
from place.snapshot.frames import frame_key
from place.store import StoreMissing, open_store


def test_thin_keeps_first_and_last_and_spreads_the_rest() -> None:
    times = list(range(0, 1000, 10))  # 100 frames
    assert thin(times, 100) == times
    assert thin(times, 200) == times
    assert thin(times, 2) == [0, 990]
    five = thin(times, 5)
    assert five[0] == 0 and five[-1] == 990 and len(five) == 5
    gaps = [b - a for a, b in itertools.pairwise(five)]
    assert max(gaps) - min(gaps) <= 10  # even, to one frame


def test_thin_never_repeats_a_frame() -> None:
    assert thin([5, 6, 7], 2) == [5, 7]
    assert thin([], 10) == []


async def test_frames_listed_from_a_directory_store_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(store_url=f"file://{tmp_path}")
    store = open_store(settings)
    now = int(time.time() * 1000)
    for at in (now - 7_200_000, now - 3_600_000, now - 1000):
        store.create(frame_key(at), b"png %d" % at)
    history = History(settings)
    assert await history.times() == [now - 7_200_000, now - 3_600_000, now - 1000]

    # within LIST_TTL_S the list is not read again; after it, only the recent hours are
    store.create(frame_key(now), b"newest")
    assert (await history.times())[-1] == now - 1000
    monkeypatch.setattr("place.api.history.LIST_TTL_S", 0.0)
    store.create(frame_key(now - 5 * 3_600_000), b"late, in an old hour")
    assert (await history.times())[-1] == now
    assert now - 5 * 3_600_000 not in await history.times()
    monkeypatch.setattr("place.api.history.FULL_LIST_S", 0.0)  # ... until the next full listing
    assert (await history.times())[0] == now - 5 * 3_600_000

    # frames are read once and kept: gone from the store, still served; never there: missing
    assert await history.frame(now) == b"newest"
    store.delete(frame_key(now))
    assert await history.frame(now) == b"newest"
    with pytest.raises(StoreMissing):
        await history.frame(now + 1)
