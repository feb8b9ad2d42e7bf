"""A pod's long-lived tasks under supervision: a task that fails or ends is logged, counted and
restarted, and the pod says which are down meanwhile."""

from __future__ import annotations

import asyncio
import logging

import pytest

from place.api.supervise import Supervisor


async def test_a_failing_task_is_logged_counted_restarted_and_down_meanwhile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0
    release = asyncio.Event()
    restarted = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await release.wait()
            raise KeyError("bad bus message")
        restarted.set()
        await asyncio.Event().wait()  # runs for ever now

    supervisor = Supervisor(base_delay_s=0.2)
    supervisor.start("mirror", flaky)
    assert supervisor.down == set()
    with caplog.at_level(logging.ERROR, logger="place.supervise"):
        release.set()
        # polled at every turn of the loop: the backoff's jitter may make the down time a
        # fraction of a millisecond, shorter than any sleep of ours
        async with asyncio.timeout(2):
            while not supervisor.down:
                await asyncio.sleep(0)
        assert supervisor.down == {"mirror"}  # between the failure and the restart
        async with asyncio.timeout(5):
            await restarted.wait()
    assert supervisor.down == set() and supervisor.restarts["mirror"] == 1
    assert any("mirror" in r.getMessage() and r.exc_info for r in caplog.records)
    await supervisor.stop()


async def test_a_task_that_returns_is_restarted_too() -> None:
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1
        if runs > 2:
            await asyncio.Event().wait()

    supervisor = Supervisor(base_delay_s=0.01)
    supervisor.start("stats", returns)
    async with asyncio.timeout(5):
        while runs < 3:
            await asyncio.sleep(0.005)
    assert supervisor.restarts["stats"] == 2
    await supervisor.stop()


async def test_stop_cancels_without_counting_a_failure() -> None:
    supervisor = Supervisor()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    supervisor.start("resync", forever)
    await started.wait()
    await supervisor.stop()
    assert supervisor.restarts["resync"] == 0 and supervisor.down == set()
