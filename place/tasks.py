"""Stopping asyncio tasks for sure.

Cancelling a task once does not always stop it on Python 3.11: `asyncio.wait_for`, which redis-py
uses for its socket timeouts, loses a cancellation that arrives just as the call it waits for
completes (CPython gh-86296, fixed in 3.12), and a loop around that call goes on for ever. A
process stopping such a task then hangs at exit; `cancel_and_wait` cancels until it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

RECANCEL_EVERY_S = 0.1


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel `tasks` and wait until every one has ended, cancelling again those that go on.

    Their results and exceptions are collected (never "exception was never retrieved").
    """
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_EVERY_S)
    await asyncio.gather(*tasks, return_exceptions=True)
