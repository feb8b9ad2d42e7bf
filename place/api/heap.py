"""Garbage collection for a pod that holds thousands of long-lived connections.

CPython's full collection walks every object the collector tracks. With 10,000 players a pod holds
over a million, and one full collection stops the event loop for 100-300 ms (measured in the
benchmarks' event rehearsal): every player then gets that delta late. So the pod freezes its heap
every `FREEZE_EVERY_S` (`gc.freeze`: what is alive now is left out of every later collection), and
collections walk only the objects younger than that. What a frozen object leaves behind in a
reference cycle (a closed connection's, a few hundred objects) is reclaimed by one full
collection every `FULL_EVERY_S`, after unfreezing: one pause every quarter of an hour instead of
every few seconds. Objects freed by reference counting (most of them) are freed at once either way.
"""

from __future__ import annotations

import asyncio
import gc
import time

FREEZE_EVERY_S = 5.0  # gc.freeze() only moves a list: cheap
FULL_EVERY_S = 15 * 60.0


async def keep_heap_young(
    freeze_every_s: float = FREEZE_EVERY_S, full_every_s: float = FULL_EVERY_S
) -> None:
    """Run forever (a pod's task): freeze the heap now and then, collect it all rarely."""
    gc.freeze()
    full_at = time.monotonic() + full_every_s
    while True:
        await asyncio.sleep(freeze_every_s)
        if time.monotonic() >= full_at:
            gc.unfreeze()
            gc.collect()
            full_at = time.monotonic() + full_every_s
        gc.freeze()
