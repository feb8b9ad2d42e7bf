"""The history viewer's endpoints: the timelapse frames in the object store, served by the pods.

    GET /api/history            {"frames": [Unix ms, ...]}, oldest first
        ?from=MS&to=MS          only frames in that span (inclusive)
        ?max=N                  at most N frames, evenly spread (first and last kept)
    GET /api/history/<ms>.png   one frame, cached for a year (a frame never changes)

Nothing comes from Redis: the frames are the active ticker's (`place.snapshot.frames`), read
from the store in a thread, so a slow or dead store never blocks the pod's event loop (it
answers 503 then). After an event, every player who comes back scrubs the same frames: the pod
keeps the recent ones in memory, reads each at most once at a time however many ask for it,
and keeps the list of frame times, refreshed at most every `LIST_TTL_S` by listing only the
hour of the newest frame it knows and the hours around its clock (frame keys sort by time:
`timelapse/20261201T15...`), with a full listing every `FULL_LIST_S`.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from place.errors import PlaceError
from place.settings import Settings
from place.snapshot.backup import stamp
from place.snapshot.frames import PREFIX, frame_key, parse_frame_key
from place.store import Store, StoreMissing, open_store

LIST_TTL_S = 2.0  # how stale the list of frame times may be
FULL_LIST_S = 600.0  # a full listing this often, in case frames were deleted
CACHE_BYTES = 32 * 1024 * 1024  # recent frames kept in memory
MAX_FRAMES = 100_000  # the most `?max=` may ask for
FRAME_CACHE_CONTROL = "public, max-age=31536000, immutable"
LIST_CACHE_CONTROL = "public, max-age=2"
_FRAME_NAME = re.compile(r"^(\d{1,15})\.png$")
_HOUR_MS = 3_600_000


class History:
    """The frame times and frames of one store, cached; every store call in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._times: list[int] = []
        self._listed_at = float("-inf")  # monotonic
        self._full_at = float("-inf")
        self._listing: asyncio.Future[list[int]] | None = None
        self._frames: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._frame_bytes = 0
        self._reading: dict[int, asyncio.Future[bytes]] = {}

    async def times(self) -> list[int]:
        """Every frame time (Unix ms), oldest first; at most `LIST_TTL_S` stale."""
        if time.monotonic() - self._listed_at < LIST_TTL_S:
            return self._times
        if self._listing is None:  # one listing at a time, whoever asks
            self._listing = asyncio.ensure_future(self._list())
            self._listing.add_done_callback(self._listed)
        return await asyncio.shield(self._listing)

    def _listed(self, listing: asyncio.Future[list[int]]) -> None:
        self._listing = None
        if not listing.cancelled():
            listing.exception()  # retrieved here: the waiters got it too

    async def _list(self) -> list[int]:
        store = await self._open()
        now = time.monotonic()
        if not self._times or now - self._full_at > FULL_LIST_S:
            times = await asyncio.to_thread(_list_times, store, [PREFIX])
            self._full_at = now
        else:
            # only the hour of the newest frame known and the hours around this pod's clock;
            # a frame written meanwhile in another hour waits for the next full listing
            last, now_ms = self._times[-1], int(time.time() * 1000)
            hours = [last, now_ms - _HOUR_MS, now_ms, now_ms + _HOUR_MS]
            prefixes = list(dict.fromkeys(PREFIX + stamp(hour)[:11] for hour in hours))
            newer = await asyncio.to_thread(_list_times, store, prefixes)
            times = self._times + [t for t in newer if t > last]
        self._times, self._listed_at = times, time.monotonic()
        return times

    async def frame(self, at_ms: int) -> bytes:
        """The PNG of the frame at `at_ms`; `StoreMissing` when there is none."""
        cached = self._frames.get(at_ms)
        if cached is not None:
            self._frames.move_to_end(at_ms)
            return cached
        reading = self._reading.get(at_ms)
        if reading is None:
            reading = asyncio.ensure_future(self._read(at_ms))
            self._reading[at_ms] = reading
            reading.add_done_callback(lambda done: self._read_done(at_ms, done))
        return await asyncio.shield(reading)

    def _read_done(self, at_ms: int, reading: asyncio.Future[bytes]) -> None:
        self._reading.pop(at_ms, None)
        if reading.cancelled() or reading.exception() is not None:
            return
        data = reading.result()
        if at_ms not in self._frames and len(data) <= CACHE_BYTES // 4:
            self._frames[at_ms] = data
            self._frame_bytes += len(data)
            while self._frame_bytes > CACHE_BYTES:
                _, dropped = self._frames.popitem(last=False)
                self._frame_bytes -= len(dropped)

    async def _read(self, at_ms: int) -> bytes:
        store = await self._open()
        data, _ = await asyncio.to_thread(store.read, frame_key(at_ms))
        return data

    async def _open(self) -> Store:
        if self._store is None:  # boto3 builds its client slowly: not on the event loop
            self._store = await asyncio.to_thread(open_store, self.settings)
        return self._store


def _list_times(store: Store, prefixes: list[str]) -> list[int]:
    times: set[int] = set()
    for prefix in prefixes:
        for item in store.list(prefix):
            at_ms = parse_frame_key(item.key)
            if at_ms is not None:
                times.add(at_ms)
    return sorted(times)


def thin(times: list[int], most: int) -> list[int]:
    """At most `most` (2 or more) of `times`, evenly spread by position, first and last kept."""
    n = len(times)
    if n <= most:
        return times
    picked = [times[round(i * (n - 1) / (most - 1))] for i in range(most)]
    return list(dict.fromkeys(picked))


def _error(status: int, message: str, cache: str = "no-store") -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": cache})


def _whole(request: Request, name: str, low: int, high: int) -> int | str | None:
    """The query parameter `name` as a whole number in [low, high], None when absent, or the
    message of a 400 when it is not one."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return f"{name} must be a whole number, got {raw!r}"
    if not low <= value <= high:
        return f"{name} must be from {low} to {high}, got {value}"
    return value


def history_routes(settings: Settings) -> list[Route]:
    history = History(settings)

    async def store_call(work: Callable[[], Awaitable[Response]]) -> Response:
        try:
            return await work()
        except StoreMissing:
            return _error(404, "no frame at that time", cache="no-cache")
        except PlaceError as error:  # unreachable, refused, or a PLACE_STORE_URL we cannot use
            return _error(503, f"the timelapse store is unavailable: {error}")

    async def listing(request: Request) -> Response:
        values = {}
        for name, low, high in (("from", 0, 2**53), ("to", 0, 2**53), ("max", 2, MAX_FRAMES)):
            value = _whole(request, name, low, high)
            if isinstance(value, str):
                return _error(400, value)
            values[name] = value
        start, end, most = values["from"], values["to"], values["max"]
        if start is not None and end is not None and start > end:
            return _error(400, f"from ({start}) must not be after to ({end})")

        async def answer() -> Response:
            times = await history.times()
            if start is not None or end is not None:
                low, high = start or 0, 2**53 if end is None else end
                times = [t for t in times if low <= t <= high]
            if most is not None:
                times = thin(times, most)
            return JSONResponse({"frames": times}, headers={"Cache-Control": LIST_CACHE_CONTROL})

        return await store_call(answer)

    async def frame(request: Request) -> Response:
        name = request.path_params["name"]
        match = _FRAME_NAME.match(name)
        if match is None:
            return _error(400, f"a frame is /api/history/<Unix ms>.png, got {name!r}")
        at_ms = int(match.group(1))

        async def answer() -> Response:
            data = await history.frame(at_ms)
            return Response(
                data, media_type="image/png", headers={"Cache-Control": FRAME_CACHE_CONTROL}
            )

        return await store_call(answer)

    return [Route("/api/history", listing), Route("/api/history/{name}", frame)]
