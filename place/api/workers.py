"""`place api --workers N` (`PLACE_WORKERS`): N processes on one port, each a whole pod.

One event loop runs on one core; a machine or a Kubernetes pod with more cores than that runs
several workers instead of several pods. Each worker binds a listening socket of its own to the
same port with SO_REUSEPORT, and the kernel spreads new connections over them evenly (by a hash of
the addresses); a shared socket would hand most of them to whichever worker's loop wakes first.
Each worker is a pod of its own in every other respect: its own Redis connections, its own copy
of the canvas, its own players and limits, its own line in `place admin status`; `/api/stats`
sums them as it sums pods. One scrape of `/metrics` answers for every worker, each sample with a
`worker` label (place.api.scrape).

This process only supervises: it binds the port for each worker and forks it, one after another,
each once the one before is up (so an unreachable Redis or a bad setting is said once, by the
first); a worker's socket takes connections only once it listens, after it has the canvas. It
passes SIGTERM, SIGINT and SIGUSR1 on, and replaces a worker that ends on its own (killed by
the kernel's OOM killer, say); a worker that ends before it is up, or more than `MAX_REPLACED`
replacements within `REPLACED_WINDOW_S`, stop the pod instead: a setup mistake or a crash loop.
Workers are in a process group of their own, so Ctrl-C reaches them once, through here; and they
watch a pipe from here, so they shut down gracefully if this process is killed outright.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from place.api.server import check_uvicorn, listen
from place.errors import PlaceError
from place.settings import Settings

logger = logging.getLogger("place.api")

MAX_REPLACED = 5  # workers replaced within REPLACED_WINDOW_S before the pod gives up
REPLACED_WINDOW_S = 60.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)

LoopFactory = Callable[[], object] | None
Describe = Callable[[PlaceError], str]  # the one line a worker prints for an expected failure


@dataclass(frozen=True)
class WorkerRole:
    """What a worker process needs to know of the others (given to `run_api`)."""

    index: int
    control_path: str  # its own Unix socket: the other workers fetch its /metrics there
    sibling_paths: tuple[str, ...]  # the other workers' control sockets
    parent_fd: int  # read end of a pipe from the supervisor: end of file when it is gone
    ready_fd: int  # written to once the worker takes connections


class Workers:
    """The supervising process of `place api --workers N`."""

    def __init__(
        self, settings: Settings, loop_factory: LoopFactory, describe: Describe = str
    ) -> None:
        self.settings = settings
        self.loop_factory = loop_factory
        self.describe = describe
        self.count = settings.workers
        self.running: dict[int, int] = {}  # pid -> worker index
        self.replaced: collections.deque[float] = collections.deque(maxlen=MAX_REPLACED)
        self.stopping = False
        self.told: set[int] = set()  # workers sent SIGTERM or SIGINT
        self._control_dir = Path(tempfile.mkdtemp(prefix="place-api-"))
        self._parent_r, self._parent_w = os.pipe()

    def control_path(self, index: int) -> str:
        return str(self._control_dir / f"worker-{index}.sock")

    def run(self) -> int:
        """Start every worker, supervise them until they have all ended; the exit status."""
        check_uvicorn(self.settings)
        listen(self.settings).close()  # the port is free: nobody else shares it by SO_REUSEPORT
        for sig in FORWARDED:
            signal.signal(sig, self._on_signal)
        try:
            status = None
            for index in range(self.count):  # one after another: a setup mistake is said once
                if self.stopping:
                    break
                status = self._start(index)
                if status is not None:
                    break
            if status is not None or self.stopping:
                stopped = self.stopping
                self._stop()
                self._supervise()  # only reaps, now that it is stopping
                return 0 if stopped else status or 1
            s = self.settings
            logger.info("pod of %d workers listening on http://%s:%d", self.count, s.host, s.port)
            return self._supervise()
        finally:
            os.close(self._parent_w)
            os.close(self._parent_r)
            shutil.rmtree(self._control_dir, ignore_errors=True)

    def _on_signal(self, signum: int, _frame: object) -> None:
        """Passed on to every worker: a second SIGTERM or Ctrl-C forces them, as it does one
        `place api`."""
        if signum != signal.SIGUSR1:
            self.stopping = True
        for pid in list(self.running):
            self._kill(pid, signum)

    def _stop(self) -> None:
        """SIGTERM to every worker not yet told to stop (a second one would force it)."""
        self.stopping = True
        for pid in list(self.running):
            if pid not in self.told:
                self._kill(pid, signal.SIGTERM)

    def _kill(self, pid: int, signum: int) -> None:
        if signum != signal.SIGUSR1:
            self.told.add(pid)
        with contextlib.suppress(ProcessLookupError):  # ended: reaped by _supervise
            os.kill(pid, signum)

    def _start(self, index: int) -> int | None:
        """Fork worker `index` and wait until it takes connections: None, or its exit status
        when it ended first."""
        sock = listen(self.settings, reuse_port=True)
        ready_r, ready_w = os.pipe()
        siblings = tuple(self.control_path(i) for i in range(self.count) if i != index)
        role = WorkerRole(index, self.control_path(index), siblings, self._parent_r, ready_w)
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(ready_r)
            _worker_main(
                self.settings, sock, role, self._parent_w, self.loop_factory, self.describe
            )
        sock.close()  # the worker's alone: when it ends, nothing listens there any more
        os.close(ready_w)
        self.running[pid] = index
        try:
            ready = os.read(ready_r, 1) == b"1"  # or end of file: it ended first
        finally:
            os.close(ready_r)
        if ready:
            return None
        _, status = os.waitpid(pid, 0)  # it ended before it was up: its error is said
        del self.running[pid]
        return _exit_code(status) or 1

    def _supervise(self) -> int:
        """Reap workers until all have ended; replace one that ended on its own, late."""
        failure = 0
        while self.running:
            pid, status = os.wait()
            index = self.running.pop(pid, None)
            if index is None or self.stopping:
                continue
            code, now = _exit_code(status), time.monotonic()
            if len(self.replaced) == MAX_REPLACED and now - self.replaced[0] < REPLACED_WINDOW_S:
                logger.error(
                    "worker %d (pid %d) ended (status %d), the %dth in %.0f s: stopping the pod",
                    index,
                    pid,
                    code,
                    MAX_REPLACED + 1,
                    REPLACED_WINDOW_S,
                )
                failure = code or 1
                self._stop()
                continue
            self.replaced.append(now)
            logger.warning("worker %d (pid %d) ended (status %d): replaced", index, pid, code)
            started = self._start(index)
            if started is not None and not self.stopping:
                failure = started
            if started is not None or self.stopping:
                self._stop()
        return failure


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says


def _worker_main(
    settings: Settings,
    sock: socket.socket,
    role: WorkerRole,
    parent_w: int,
    loop_factory: LoopFactory,
    describe: Describe,
) -> NoReturn:
    """The forked worker: a pod on `sock`, as `place api` runs one; never returns."""
    import asyncio

    from place.api.server import run_api

    code = 0
    try:
        os.close(parent_w)  # only the supervisor holds it: its end is the pipe's end
        os.setpgid(0, 0)  # Ctrl-C reaches the supervisor alone, which passes it on once
        for sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        with asyncio.Runner(loop_factory=loop_factory) as runner:  # type: ignore[arg-type]
            runner.run(run_api(settings, sock=sock, worker=role))
    except PlaceError as error:
        print(describe(error), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # a bug: said with its traceback, as the process would
        logger.exception("worker %d failed", role.index)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_workers(settings: Settings, loop_factory: LoopFactory, describe: Describe = str) -> int:
    """`place api` with `PLACE_WORKERS` > 1: the exit status. `describe` says a worker's
    expected failure (a `PlaceError`) in one line."""
    return Workers(settings, loop_factory, describe).run()
