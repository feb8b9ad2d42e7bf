"""Stopping tasks for sure, even one that loses a cancellation (as asyncio.wait_for can on
Python 3.11, inside redis-py)."""

from __future__ import annotations

import asyncio

from place.tasks import cancel_and_wait


async def test_a_task_that_lost_a_cancellation_is_stopped_anyway() -> None:
    lost = 0

    async def loop_losing_the_first_cancel() -> None:
        nonlocal lost
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost += 1  # what wait_for does when the awaited call completes at that moment

    async def failing() -> None:
        raise RuntimeError("already failed")

    stubborn = asyncio.create_task(loop_losing_the_first_cancel())
    failed = asyncio.create_task(failing())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await cancel_and_wait([stubborn, failed])
    assert stubborn.cancelled() and lost == 1
    assert isinstance(failed.exception(), RuntimeError)  # retrieved, and left as it was
