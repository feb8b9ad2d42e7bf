"""Downloads come back in key order, however the reads finish; a vanished object is None."""

from __future__ import annotations

import threading
import time

from place.snapshot.fetch import fetch_in_order
from place.store import StoredObject, StoreMissing


class SlowStore:
    """A store whose reads of lower keys take longer, counting reads in flight."""

    url = "memory://"

    def __init__(self, keys: list[str]) -> None:
        self.data = {key: key.encode() for key in keys}
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def read(self, key: str) -> tuple[bytes, str]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(0.02 * (key < "k10"))
        with self.lock:
            self.in_flight -= 1
        if key not in self.data:
            raise StoreMissing(key)
        return self.data[key], "v"

    def list(self, prefix: str) -> list[StoredObject]:
        return []


def test_in_order_with_a_bounded_window() -> None:
    keys = [f"k{index:02d}" for index in range(40)]
    store = SlowStore(keys)
    del store.data["k05"]
    got = list(fetch_in_order(store, keys, workers=4))  # type: ignore[arg-type]
    assert [key for key, _ in got] == keys
    assert [data for _, data in got] == [None if k == "k05" else k.encode() for k in keys]
    assert 1 < store.most_in_flight <= 4
