"""A token bucket per connection: `PLACE_MSG_RATE` frames a second, bursts of `PLACE_MSG_BURST`."""

from __future__ import annotations

import time


class TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (the client is over the limit)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class KeyedLimiter:
    """`per_minute` events a minute for each key (a client address), bursts of as many.

    A token bucket per key, kept only while it is not full: a full bucket is the same as none,
    so the table holds the keys active within the last minute, not every address ever seen.
    """

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, stamp)
        self._swept = time.monotonic()

    def take(self, key: str) -> float:
        """Spend one event for `key`: 0 when allowed, else the seconds until it will be."""
        now = time.monotonic()
        if now - self._swept > 60:
            self._sweep(now)
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {
            key: (tokens, stamp)
            for key, (tokens, stamp) in self._buckets.items()
            if now - stamp < full_after
        }
        self._swept = now

    def __len__(self) -> int:
        return len(self._buckets)
