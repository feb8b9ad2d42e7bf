"""Every ticker's heartbeat, and the schedule (`place admin open --at`, `close --at`) applied by
the active one.

`beat` is called by a standby each time it polls for the lock and by the active ticker before
each tick: one small script (`admin_schedule_tick.lua`) records the heartbeat (for `place admin
status`) and, on the active ticker, opens or closes the canvas when the time set has come (by
Redis's clock). The schedule lives in the config hash, so whichever ticker is active when it falls
due applies it, even after a failover; the config version rises, so the same tick publishes the
change and every player gets `hello`.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from place.ticker.ticker import Ticker

logger = logging.getLogger("place.ticker")

BEAT_GONE_AFTER_MS = 10_000  # a ticker not heard from for this long is dropped from the list
_WHO = f"{socket.gethostname()} {os.getpid()}"


async def beat(ticker: Ticker) -> bool:
    """Report this ticker alive; when it is the active one, apply a schedule that is due.
    Returns whether it holds the lock."""
    keys = ticker.keys
    active, changed = await ticker.scripts.admin_schedule_tick(
        keys=[keys.ticker_lock, keys.tickers, keys.config, keys.audit],
        args=[ticker.lock.token, _WHO, BEAT_GONE_AFTER_MS],
    )
    if changed:
        logger.info("ticker %s: the canvas %s on schedule", ticker.lock.token[:8], changed.decode())
    return bool(active)
