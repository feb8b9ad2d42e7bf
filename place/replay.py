"""`place replay`: rehearse an event's load by replaying a placement dataset against a running
deployment, with many simulated players over real websockets.

Two dataset formats, told apart by their header (plain or gzip'd CSV):

- r/place 2017: `ts,user,x,y,color` (or the published names `ts,user_hash,x_coordinate,
  y_coordinate,color`), `ts` in Unix ms, `color` a palette index;
- r/place 2022, which `place snapshot export` writes: `timestamp,user_id,pixel_color,coordinate`,
  `timestamp` as `2022-04-04 00:53:51.577 UTC`, `pixel_color` `#rrggbb` (matched to the nearest
  colour of the live palette), `coordinate` `"x,y"`. Rectangles (admin wipes) and circles
  (moderation) are not a player's placements: they are skipped and counted.

Placements are sent in dataset order at dataset time divided by `--speed`. A pool of simulated
players (`--players`, dev auth by default: the token is the name; or accounts in the Firebase
Auth emulator) takes them as each becomes free: a player waits out its cooldown (the `placed`
answer's `next_place_at_ms`, or an `error`'s `retry_at_ms`), stays under the pod's message rate,
and a placement refused for `cooldown`, `rate_limited` or `unavailable` goes back to the queue
for the next free player. Placements on one pixel are sent one after the other, each once the one
before it is answered, so the canvas ends as the dataset does even when many players place at
once. A watcher (one more connection, not signed in) keeps the canvas as players see it; at the
end the report says whether every pixel the replay stored shows its last colour.
"""

from __future__ import annotations

import array
import asyncio
import calendar
import collections
import contextlib
import csv
import dataclasses
import gzip
import io
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from place import protocol
from place.errors import PlaceError

FORMAT_2017 = "r/place 2017"
FORMAT_2022 = "r/place 2022 / place snapshot export"
_COLUMNS_2017 = ("ts", "user", "x", "y", "color")
_COLUMNS_2017_PUBLISHED = ("ts", "user_hash", "x_coordinate", "y_coordinate", "color")
_COLUMNS_2022 = ("timestamp", "user_id", "pixel_color", "coordinate")
ANSWER_TIMEOUT_S = 10.0
# a little past the server's time: uvloop's timers count whole ms and may fire up to one early,
# and a placement that reaches the server a ms before its cooldown ends is refused
MARGIN_MS = 5
MAX_ATTEMPTS = 5  # for a placement cut off by a lost connection or `unavailable`
CONNECT_AT_ONCE = 20
CHECK_WITHIN_S = 10.0
RECONNECT_WITHIN_S = 60.0  # a player that cannot connect again for this long ends the replay
_RETRIED = {"cooldown", "rate_limited", "unavailable", "token_expired", "unauthenticated"}


class ReplayError(PlaceError):
    """The dataset cannot be read, or the deployment cannot be reached or signed in to."""


# --- the dataset ---------------------------------------------------------------------------


@dataclasses.dataclass
class Dataset:
    """Every placement of a file, sorted by time (stable: the file's order within a ms)."""

    path: str
    format: str
    times: np.ndarray  # int64 Unix ms
    x: np.ndarray  # int32
    y: np.ndarray  # int32
    colors: np.ndarray  # int32: a palette index (2017), or an index into `hex_colors` (2022)
    hex_colors: list[str] | None  # the 2022 format's colours, #rrggbb lower-case
    users: int  # distinct players in the file
    skipped: collections.Counter[str]

    def __len__(self) -> int:
        return len(self.times)


def read_dataset(path: str) -> Dataset:
    """Read a dataset file; `ReplayError` (one line) for a file that is not one."""
    try:
        with _open_text(path) as text:
            rows = csv.reader(text)
            try:
                header = [name.strip().lower() for name in next(rows)]
            except StopIteration:
                raise ReplayError(f"{path}: the file is empty") from None
            if tuple(header) in (_COLUMNS_2017, _COLUMNS_2017_PUBLISHED):
                return _read_2017(path, rows)
            if tuple(header) == _COLUMNS_2022:
                return _read_2022(path, rows)
            raise ReplayError(
                f"{path}: not a placement dataset: expected the columns ts,user,x,y,color "
                f"(r/place 2017) or timestamp,user_id,pixel_color,coordinate (place snapshot "
                f"export, r/place 2022), got {','.join(header)[:120]}"
            )
    except OSError as error:
        raise ReplayError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error, EOFError, gzip.BadGzipFile) as error:
        raise ReplayError(f"{path}: not a CSV dataset ({error})") from None


@contextlib.contextmanager
def _open_text(path: str) -> Iterator[io.TextIOBase]:
    with Path(path).open("rb") as raw:
        packed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        source: Any = gzip.GzipFile(fileobj=raw) if packed else raw
        with io.TextIOWrapper(source, encoding="utf-8", newline="") as text:
            yield text


def _rows(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    """The rows that are not blank, with a bar (on a terminal) while reading a large file."""
    with tqdm(desc="reading", unit=" rows", disable=None, leave=False, mininterval=0.5) as bar:
        for count, row in enumerate(rows, start=1):
            if row:
                yield row
            if count % 10_000 == 0:
                bar.update(10_000)


def _read_2017(path: str, rows: Iterator[list[str]]) -> Dataset:
    times, xs, ys, colors = (array.array("q") for _ in range(4))
    users: dict[str, None] = {}
    skipped: collections.Counter[str] = collections.Counter()
    for row in _rows(rows):
        try:
            ts, user, x, y, color = row
            values = (int(float(ts)), int(x), int(y), int(color))
        except ValueError:
            skipped["unreadable rows"] += 1
            continue
        times.append(values[0])
        xs.append(values[1])
        ys.append(values[2])
        colors.append(values[3])
        users.setdefault(user)
    return _dataset(path, FORMAT_2017, times, xs, ys, colors, None, len(users), skipped)


def _read_2022(path: str, rows: Iterator[list[str]]) -> Dataset:
    times, xs, ys, colors = (array.array("q") for _ in range(4))
    users: dict[str, None] = {}
    hex_colors: dict[str, int] = {}
    skipped: collections.Counter[str] = collections.Counter()
    second, second_ms = "", 0
    for row in _rows(rows):
        try:
            stamp, user, color, where = row
            # 2022-04-04 00:53:51.577 UTC (the milliseconds may be missing)
            day_time, _, rest = stamp.removesuffix(" UTC").partition(".")
            if day_time != second:
                second = day_time
                second_ms = calendar.timegm(time.strptime(day_time, "%Y-%m-%d %H:%M:%S")) * 1000
            at_ms = second_ms + (int(rest.ljust(3, "0")[:3]) if rest else 0)
            parts = where.split(",")
            if len(parts) != 2:
                skipped["admin rectangles and circles"] += 1
                continue
            x, y = int(parts[0]), int(parts[1])
            hex_color = color.strip().lower()
            if len(hex_color) != 7 or not hex_color.startswith("#"):
                raise ValueError(hex_color)
            int(hex_color[1:], 16)
        except ValueError:
            skipped["unreadable rows"] += 1
            continue
        times.append(at_ms)
        xs.append(x)
        ys.append(y)
        colors.append(hex_colors.setdefault(hex_color, len(hex_colors)))
        users.setdefault(user)
    return _dataset(path, FORMAT_2022, times, xs, ys, colors, list(hex_colors), len(users), skipped)


def _dataset(
    path: str,
    kind: str,
    times: array.array[int],
    xs: array.array[int],
    ys: array.array[int],
    colors: array.array[int],
    hex_colors: list[str] | None,
    users: int,
    skipped: collections.Counter[str],
) -> Dataset:
    if not times:
        what = f" ({_counts(skipped)})" if skipped else ""
        raise ReplayError(f"{path}: no placements in the file{what}")
    at = np.frombuffer(times, np.int64)
    order = np.argsort(at, kind="stable")

    def column(values: array.array[int]) -> np.ndarray:
        whole = np.frombuffer(values, np.int64)[order]
        return np.clip(whole, -(2**31), 2**31 - 1).astype(np.int32)

    return Dataset(
        path, kind, at[order], column(xs), column(ys), column(colors), hex_colors, users, skipped
    )


@dataclasses.dataclass
class Plan:
    """The placements to send on a canvas of this size and palette."""

    times: np.ndarray  # int64 dataset ms
    x: np.ndarray
    y: np.ndarray
    colors: np.ndarray  # palette indices
    skipped: collections.Counter[str]
    approximated: int  # 2022 colours not in the palette, sent as the nearest one

    def __len__(self) -> int:
        return len(self.times)


def plan(dataset: Dataset, width: int, height: int, palette: list[str], limit: int = 0) -> Plan:
    """Fit the dataset to the live canvas: its size and palette."""
    skipped = collections.Counter(dataset.skipped)
    approximated = 0
    if dataset.hex_colors is not None:
        table, exact = nearest_colors(dataset.hex_colors, palette)
        colors = table[dataset.colors]
        approximated = int(np.count_nonzero(~exact[dataset.colors]))
        fits = np.ones(len(dataset), bool)
    else:
        colors = dataset.colors
        fits = (colors >= 0) & (colors < len(palette))
        skipped["colours outside the palette"] += int(np.count_nonzero(~fits))
    inside = (dataset.x >= 0) & (dataset.y >= 0) & (dataset.x < width) & (dataset.y < height)
    skipped[f"outside the {width}x{height} canvas"] += int(np.count_nonzero(fits & ~inside))
    keep = np.flatnonzero(fits & inside)
    if limit:
        skipped["past --limit"] += max(0, len(keep) - limit)
        keep = keep[:limit]
    return Plan(
        dataset.times[keep],
        dataset.x[keep],
        dataset.y[keep],
        colors[keep].astype(np.int32),
        +skipped,
        approximated,
    )


def nearest_colors(colors: list[str], palette: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each `#rrggbb` of `colors`: the index of the nearest palette colour (by the
    "redmean" weighted distance, close to how far apart colours look), and whether it is exact."""
    have = np.array([_rgb(c) for c in palette], np.float64)
    want = np.array([_rgb(c) for c in colors], np.float64).reshape(-1, 3)
    mean_r = (want[:, None, 0] + have[None, :, 0]) / 2
    d = want[:, None, :] - have[None, :, :]
    distance = (
        (2 + mean_r / 256) * d[..., 0] ** 2
        + 4 * d[..., 1] ** 2
        + (2 + (255 - mean_r) / 256) * d[..., 2] ** 2
    )
    nearest = distance.argmin(axis=1).astype(np.int32)
    exact = distance[np.arange(len(colors)), nearest] == 0
    return nearest, exact


def _rgb(color: str) -> tuple[int, int, int]:
    value = int(color.lstrip("#"), 16)
    return value >> 16, (value >> 8) & 255, value & 255


def final_canvas(plan: Plan, width: int, height: int, start: np.ndarray) -> np.ndarray:
    """The canvas after every placement of `plan` on `start` (the last one per pixel wins)."""
    canvas = start.copy()
    canvas[plan.y.astype(np.int64) * width + plan.x] = plan.colors  # numpy: the last index wins
    return canvas


# --- the deployment ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Target:
    http_url: str  # http(s)://host:port, no trailing slash
    ws_url: str  # ws(s)://host:port/ws
    origin: str


def target(url: str, origin: str | None = None) -> Target:
    """The page's URL (`http://host:port`) or the websocket's (`ws://host:port/ws`)."""
    parts = urllib.parse.urlsplit(url)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parts.scheme not in schemes or not parts.netloc:
        raise ReplayError(
            f"--url must look like http://host:port or ws://host:port/ws, got {url!r}"
        )
    ws_scheme = schemes[parts.scheme]
    http_scheme = "https" if ws_scheme == "wss" else "http"
    path = parts.path.rstrip("/")
    base = path.removesuffix("/ws")
    return Target(
        f"{http_scheme}://{parts.netloc}{base}",
        f"{ws_scheme}://{parts.netloc}{base}/ws",
        origin or f"{http_scheme}://{parts.netloc}",
    )


def fetch_config(where: Target) -> dict[str, Any]:
    """`GET /api/config` (blocking: call it in a thread)."""
    url = f"{where.http_url}/api/config"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        raise ReplayError(f"{url} answered HTTP {error.code}: is the deployment ready?") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ReplayError(f"cannot reach {url}: {reason}") from None


class EmulatorAccounts:
    """ID tokens of accounts in a Firebase Auth emulator (`host:port`): made once, signed in
    again for a fresh token. Blocking: call `token` in a thread."""

    PASSWORD = "replay-password"

    def __init__(self, host: str) -> None:
        self.base = f"http://{host.removeprefix('http://').rstrip('/')}"

    def token(self, name: str) -> str:
        email = f"{name}@replay.invalid"
        body = {"email": email, "password": self.PASSWORD, "returnSecureToken": True}
        answer = self._post("accounts:signUp", {**body, "displayName": name})
        if "idToken" not in answer:  # EMAIL_EXISTS: made by an earlier rehearsal
            answer = self._post("accounts:signInWithPassword", body)
        if "idToken" not in answer:
            message = answer.get("error", {}).get("message", answer)
            raise ReplayError(f"the Auth emulator at {self.base} refused {email}: {message}")
        return str(answer["idToken"])

    def _post(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/identitytoolkit.googleapis.com/v1/{method}?key=replay"
        request = urllib.request.Request(
            url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            try:
                return json.loads(error.read())
            except ValueError:
                raise ReplayError(f"the Auth emulator answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ReplayError(f"cannot reach the Auth emulator at {self.base}: {reason}") from None


TokenSource = Callable[[str], str]  # player name -> token (blocking)


def dev_token(name: str) -> str:
    return name


# --- one simulated player ------------------------------------------------------------------


class _Lost(Exception):
    """The connection closed, or a placement got no answer in time."""


class _Player:
    def __init__(self, name: str, where: Target, tokens: TokenSource, rate: float) -> None:
        self.name = name
        self.where = where
        self.tokens = tokens
        self.interval = 1 / rate
        self.connection: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.hello: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.signin_errors: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.free_at = 0.0  # monotonic
        self.last_sent = float("-inf")
        self.cooldown_ms = 0
        self.server_offset_ms = 0.0  # server clock minus ours, learned from `placed`
        self.next_id = 1

    async def connect(self) -> None:
        """Open the websocket and sign in (again after a lost connection)."""
        await self.close()
        try:
            self.connection = await connect(
                self.where.ws_url,
                origin=self.where.origin,  # type: ignore[arg-type]
                compression=None,
                max_size=None,
                open_timeout=10,
            )
        except InvalidStatus as error:
            status = error.response.status_code
            hint = {
                403: ": too many connections from this address, or an origin not allowed "
                "(raise PLACE_MAX_CONNECTIONS_PER_ADDRESS, use fewer --players, or give --origin)",
                503: ": the pod is full or not ready",
            }.get(status, "")
            message = f"{self.where.ws_url} refused the connection: HTTP {status}{hint}"
            raise ReplayError(message) from None
        except (OSError, TimeoutError, WebSocketException) as error:
            raise ReplayError(f"cannot connect to {self.where.ws_url}: {error}") from None
        self.hello = asyncio.Queue()
        self.signin_errors = asyncio.Queue()
        self.reader = asyncio.create_task(self._read(self.connection))
        await self._next_hello()
        await self.sign_in()

    async def sign_in(self) -> None:
        token = await asyncio.to_thread(self.tokens, self.name)
        for _ in range(MAX_ATTEMPTS * 4):
            while not self.hello.empty():  # hellos of configuration changes: not the answer
                self.hello.get_nowait()
            await self._send({"t": "auth", "token": token})
            hello, error = await self._sign_in_answer()
            if hello is not None:
                self.free_at = max(self.free_at, self._local(hello["next_place_at_ms"]))
                return
            assert error is not None
            if error["code"] == "rate_limited":  # too many sign-ins from this address
                await asyncio.sleep(max(0.1, self._wait_s(error.get("retry_at_ms"))))
            elif error["code"] == "unavailable":
                await asyncio.sleep(0.5)
            else:
                reason = error.get("message") or error["code"]
                raise ReplayError(f"the deployment refused the sign-in of {self.name}: {reason}")
        raise ReplayError(f"{self.name} could not sign in: the deployment kept refusing")

    async def _sign_in_answer(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        hello = asyncio.ensure_future(self._next_hello(signed_in=True))
        error = asyncio.ensure_future(self.signin_errors.get())
        done, pending = await asyncio.wait(
            {hello, error}, timeout=ANSWER_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        for future in pending:
            future.cancel()
        if hello in done:
            return hello.result(), None
        if error in done:
            return None, error.result()
        raise ReplayError(f"no answer to the sign-in of {self.name} within {ANSWER_TIMEOUT_S} s")

    async def _next_hello(self, signed_in: bool = False) -> dict[str, Any]:
        while True:
            try:
                async with asyncio.timeout(ANSWER_TIMEOUT_S):
                    hello = await self.hello.get()
            except TimeoutError:
                raise ReplayError(f"no hello from {self.where.ws_url}") from None
            if not signed_in or hello.get("user"):
                return hello

    async def place(self, x: int, y: int, c: int) -> dict[str, Any]:
        """Send one placement; its answer (`placed` or `error`). `_Lost` if none comes."""
        place_id = self.next_id
        self.next_id += 1
        answer = asyncio.get_running_loop().create_future()
        self.answers[place_id] = answer
        self.last_sent = time.monotonic()
        try:
            await self._send({"t": "place", "id": place_id, "x": x, "y": y, "c": c})
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                return await answer
        except TimeoutError:
            raise _Lost(f"no answer within {ANSWER_TIMEOUT_S} s") from None
        finally:
            self.answers.pop(place_id, None)

    def placed(self, answer: dict[str, Any]) -> None:
        """Wait out the cooldown `placed` started (and stay under the message rate)."""
        next_at = int(answer.get("next_place_at_ms") or 0)
        now = time.monotonic()
        if next_at and self.cooldown_ms:
            # the server's now was next_at - cooldown: its clock against ours, as the page does
            self.server_offset_ms = next_at - self.cooldown_ms - time.time() * 1000
        self.free_at = max(now + self.interval, self._local(next_at))

    def refused(self, error: dict[str, Any]) -> None:
        """After `cooldown` or `rate_limited`: free again at `retry_at_ms`."""
        self.free_at = max(
            time.monotonic() + self.interval,
            time.monotonic() + self._wait_s(error.get("retry_at_ms")),
        )

    def _wait_s(self, at_ms: int | None) -> float:
        if not at_ms:
            return 1.0
        wait_ms = at_ms - self.server_offset_ms - time.time() * 1000 + MARGIN_MS
        return max(0.0, wait_ms / 1000)

    def _local(self, at_ms: int) -> float:
        """Server Unix ms as our monotonic time."""
        return time.monotonic() + self._wait_s(at_ms) if at_ms else 0.0

    async def _send(self, message: dict[str, Any]) -> None:
        if self.connection is None:
            raise _Lost("not connected")
        try:
            await self.connection.send(json.dumps(message))
        except ConnectionClosed as error:
            raise _Lost(str(error)) from None

    async def _read(self, connection: ClientConnection) -> None:
        try:
            async for frame in connection:
                if isinstance(frame, bytes):
                    continue  # the canvas: the watcher keeps it
                message = json.loads(frame)
                kind = message.get("t")
                if kind == "hello":
                    self.cooldown_ms = int(message.get("cooldown_ms") or 0)
                    self.hello.put_nowait(message)
                elif kind in ("placed", "error"):
                    answer = self.answers.get(message.get("id"))  # type: ignore[arg-type]
                    if answer is not None and not answer.done():
                        answer.set_result(message)
                    elif kind == "error" and message.get("id") is None:
                        self.signin_errors.put_nowait(message)
        except ConnectionClosed:
            pass
        finally:
            for answer in self.answers.values():
                if not answer.done():
                    answer.set_exception(_Lost("the connection closed"))

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self.connection.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        self.connection = self.reader = None


class _Watcher:
    """One more connection, not signed in: the canvas as every player sees it."""

    def __init__(self) -> None:
        self.canvas: np.ndarray | None = None
        self.width = self.height = 0
        self.seq = -1
        self.changed = asyncio.Event()
        self.connection: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None

    async def start(self, where: Target) -> None:
        try:
            self.connection = await connect(
                where.ws_url,
                origin=where.origin,  # type: ignore[arg-type]
                compression=None,
                max_size=None,
                open_timeout=10,
            )
        except InvalidStatus as error:
            status = error.response.status_code
            raise ReplayError(f"{where.ws_url} refused the connection: HTTP {status}") from None
        except (OSError, TimeoutError, WebSocketException) as error:
            raise ReplayError(f"cannot connect to {where.ws_url}: {error}") from None
        self.reader = asyncio.create_task(self._read(self.connection))
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                while self.canvas is None:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise ReplayError(
                f"no canvas from {where.ws_url} within {ANSWER_TIMEOUT_S} s"
            ) from None

    async def _read(self, connection: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in connection:
                if not isinstance(frame, bytes):
                    continue
                if frame[0] == protocol.SNAPSHOT:
                    snapshot = protocol.decode_snapshot(frame)
                    self.canvas = snapshot.pixels.copy()
                    self.width, self.height, self.seq = (
                        snapshot.width,
                        snapshot.height,
                        snapshot.seq,
                    )
                elif frame[0] == protocol.DELTA and self.canvas is not None:
                    delta = protocol.decode_delta(frame)
                    if delta.seq <= self.seq:
                        continue
                    if delta.seq != self.seq + 1:
                        await connection.send('{"t":"resync"}')
                    self.canvas[delta.pixels[delta.pixels < self.canvas.size]] = delta.colors[
                        delta.pixels < self.canvas.size
                    ]
                    self.seq = delta.seq
                self.changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not condition():
                    self.changed.clear()
                    await self.changed.wait()
                return True
        return condition()

    async def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self.connection.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


# --- the replay ----------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    path: str
    format: str
    placements: int  # sent (the plan)
    users: int
    players: int
    speed: float
    seconds: float  # wall time from the first send to the last answer
    dataset_seconds: float
    stored: int
    errors: collections.Counter[str]  # every error answer, retried or not
    dropped: collections.Counter[str]  # placements given up, by the last reason
    skipped: collections.Counter[str]
    approximated: int
    lag: np.ndarray  # seconds behind schedule at the first send of each placement
    check: str

    def render(self) -> str:
        rate = self.stored / self.seconds if self.seconds > 0 else 0.0
        target = (
            self.placements / (self.dataset_seconds / self.speed) if self.dataset_seconds else 0
        )
        lines = [
            f"replayed {self.placements:,} placements of {self.users:,} players from {self.path}"
            f" ({self.format}) with {self.players} simulated players at speed {self.speed:g}"
            f" in {self.seconds:.1f} s",
            f"stored {self.stored:,}: {rate:,.1f} placements/s"
            + (f" (the dataset at this speed: {target:,.1f}/s)" if target else ""),
        ]
        if len(self.lag):
            p50, p99 = np.percentile(self.lag, [50, 99])
            lines.append(
                f"behind schedule: median {p50:.2f} s, p99 {p99:.2f} s, max {self.lag.max():.2f} s"
            )
        lines.append(f"errors: {_counts(self.errors) or 'none'}")
        if self.dropped:
            lines.append(f"not stored: {_counts(self.dropped)}")
        if self.skipped:
            lines.append(f"skipped: {_counts(self.skipped)}")
        if self.approximated:
            lines.append(
                f"{self.approximated:,} placements had a colour not in the palette:"
                " sent as the nearest one"
            )
        lines.append(f"canvas: {self.check}")
        return "\n".join(lines)


def _counts(counter: collections.Counter[str]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counter.most_common())


class Replay:
    """The pool of simulated players and the schedule (see the module docstring)."""

    def __init__(
        self,
        plan: Plan,
        width: int,
        where: Target,
        players: int,
        speed: float,
        tokens: TokenSource,
        name_prefix: str = "replay",
        player_rate: float = 20.0,
        progress: bool | None = None,
    ) -> None:
        self.plan = plan
        self.where = where
        self.speed = speed
        digits = len(str(players))
        self.players = [
            _Player(f"{name_prefix}-{i:0{digits}d}", where, tokens, player_rate)
            for i in range(1, players + 1)
        ]
        self.progress = progress
        self.pixels = plan.y.astype(np.int64) * width + plan.x
        self.ready: asyncio.PriorityQueue[int] = asyncio.PriorityQueue()  # the earliest first
        self.waiting: dict[int, collections.deque[int]] = {}  # pixel -> placements behind one
        self.attempts = np.zeros(len(plan), np.int8)
        self.due = np.zeros(len(plan))  # monotonic
        self.sent_at = np.full(len(plan), np.nan)  # monotonic, the first send
        self.outcome = np.zeros(len(plan), np.int8)  # 0 waiting, 1 stored, 2 given up
        self.errors: collections.Counter[str] = collections.Counter()
        self.dropped: collections.Counter[str] = collections.Counter()
        self.resolved = 0
        self.all_done = asyncio.Event()
        self.bar: tqdm[Any] | None = None
        self.last_answer = 0.0

    async def run(self) -> tuple[float, str]:
        """Replay every placement; (wall seconds from the first send to the last answer, what
        the canvas check found)."""
        watcher = _Watcher()
        limit = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def connect(player: _Player) -> None:
            async with limit:
                await player.connect()

        tasks: list[asyncio.Task[None]] = []
        try:
            await watcher.start(self.where)
            await _gather_or_fail([connect(player) for player in self.players])
            self.bar = tqdm(
                total=len(self.plan), desc="replay", unit=" px", disable=self.progress,
                leave=False, mininterval=0.5,
            )  # fmt: skip
            started = time.monotonic()
            tasks = [asyncio.create_task(self._dispatch(started))]
            tasks += [asyncio.create_task(self._work(player)) for player in self.players]
            finished = asyncio.create_task(self.all_done.wait())
            running: set[asyncio.Task[Any]] = {finished, *tasks}
            while not finished.done():
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is not finished and task.exception() is not None:
                        finished.cancel()
                        raise task.exception()  # type: ignore[misc]
            seconds = (self.last_answer or time.monotonic()) - started
            return seconds, await self._check(watcher)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.bar is not None:
                self.bar.close()
            await asyncio.gather(*(player.close() for player in self.players), watcher.close())

    async def _dispatch(self, started: float) -> None:
        """Each placement into the queue at its time, or behind the one before it on its pixel."""
        self.due = started + (self.plan.times - self.plan.times[0]) / 1000 / self.speed
        for i in range(len(self.plan)):
            wait = self.due[i] - time.monotonic()
            if wait > 0.001:
                await asyncio.sleep(wait)
            pixel = int(self.pixels[i])
            behind = self.waiting.get(pixel)
            if behind is None:
                self.waiting[pixel] = collections.deque()
                self.ready.put_nowait(i)
            else:
                behind.append(i)

    async def _work(self, player: _Player) -> None:
        """One player: take the earliest ready placement whenever free, send it, act on the
        answer."""
        plan = self.plan
        while True:
            wait = player.free_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            i = await self.ready.get()
            if math.isnan(self.sent_at[i]):
                self.sent_at[i] = time.monotonic()
            try:
                answer = await player.place(int(plan.x[i]), int(plan.y[i]), int(plan.colors[i]))
            except _Lost:
                self.errors["connection lost"] += 1
                self._retry(i, "connection lost")
                await self._reconnect(player)
                continue
            self.last_answer = time.monotonic()
            if answer["t"] == "placed":
                player.placed(answer)
                self._resolve(i, stored=True)
                continue
            code = str(answer.get("code"))
            self.errors[code] += 1
            if code in ("cooldown", "rate_limited"):
                player.refused(answer)
                self.ready.put_nowait(i)  # not a failed attempt: the next free player takes it
                if code == "rate_limited":  # the pod closes the connection after it
                    await self._reconnect(player)
            elif code in _RETRIED:  # unavailable, token_expired, unauthenticated
                self._retry(i, code)
                if code == "unavailable":
                    player.free_at = time.monotonic() + 0.5
                else:
                    await self._sign_in_again(player)
            else:  # closed, banned, out_of_bounds, bad_color, bad_message: given up
                self.dropped[code] += 1
                self._resolve(i, stored=False)

    def _retry(self, i: int, reason: str) -> None:
        self.attempts[i] += 1
        if self.attempts[i] >= MAX_ATTEMPTS:
            self.dropped[reason] += 1
            self._resolve(i, stored=False)
        else:
            self.ready.put_nowait(i)

    def _resolve(self, i: int, stored: bool) -> None:
        """Placement `i` is stored or given up: the next one on its pixel may go."""
        self.outcome[i] = 1 if stored else 2
        pixel = int(self.pixels[i])
        behind = self.waiting.get(pixel)
        if behind:
            self.ready.put_nowait(behind.popleft())
        else:
            self.waiting.pop(pixel, None)
        self.resolved += 1
        if self.bar is not None:
            self.bar.update(1)
            if self.resolved % 200 == 0:
                self.bar.set_postfix_str(f"errors {sum(self.errors.values()):,}", refresh=False)
        if self.resolved == len(self.plan):
            self.all_done.set()

    async def _reconnect(self, player: _Player) -> None:
        deadline = time.monotonic() + RECONNECT_WITHIN_S
        delay = 0.5
        while True:
            try:
                await player.connect()
                return
            except ReplayError:
                if time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _sign_in_again(self, player: _Player) -> None:
        try:
            await player.sign_in()
        except (ReplayError, _Lost):
            await self._reconnect(player)

    async def _check(self, watcher: _Watcher) -> str:
        """Whether every pixel the replay stored shows its last stored colour to a watcher."""
        stored = self.outcome == 1
        if not stored.any():
            return "nothing stored"
        last: dict[int, int] = dict(
            zip(self.pixels[stored].tolist(), self.plan.colors[stored].tolist(), strict=True)
        )
        where = np.fromiter(last.keys(), np.int64, len(last))
        want = np.fromiter(last.values(), np.uint8, len(last))

        def wrong() -> int:
            canvas = watcher.canvas
            if canvas is None or canvas.size <= where.max():
                return len(where)
            return int(np.count_nonzero(canvas[where] != want))

        if await watcher.wait_for(lambda: wrong() == 0, CHECK_WITHIN_S):
            return f"each of the {len(where):,} pixels placed shows its last colour"
        return (
            f"{wrong():,} of the {len(where):,} pixels placed do not show their last colour"
            f" {CHECK_WITHIN_S:g} s after the end (other players, an admin wipe, a restore?)"
        )


async def _gather_or_fail(work: list[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def run_replay(
    path: str,
    url: str,
    speed: float,
    players: int,
    firebase_emulator: str | None = None,
    limit: int = 0,
    origin: str | None = None,
    name_prefix: str = "replay",
    player_rate: float = 20.0,
    progress: bool | None = None,
) -> str:
    """Replay the dataset at `path` against the deployment at `url`; the report to print.
    `progress`: None shows the bar on a terminal only, True hides it, False always shows it."""
    if speed <= 0 or not math.isfinite(speed):
        raise ReplayError(f"--speed must be a number above 0, got {speed:g}")
    if players < 1:
        raise ReplayError(f"--players must be at least 1, got {players}")
    if player_rate <= 0:
        raise ReplayError(f"--player-rate must be above 0, got {player_rate:g}")
    where = target(url, origin)
    dataset = await asyncio.to_thread(read_dataset, path)
    config = await asyncio.to_thread(fetch_config, where)
    provider = (config.get("auth") or {}).get("provider", "dev")
    tokens: TokenSource
    if firebase_emulator:
        if provider != "firebase":
            raise ReplayError(
                f"the deployment signs players in with {provider!r}, not Firebase:"
                " drop --firebase-emulator"
            )
        tokens = EmulatorAccounts(firebase_emulator).token
    elif provider == "dev":
        tokens = dev_token
    else:
        raise ReplayError(
            f"the deployment signs players in with {provider!r}: give --firebase-emulator"
            " HOST:PORT when it trusts an Auth emulator, or rehearse against one with dev auth"
        )
    width, height, palette = int(config["width"]), int(config["height"]), list(config["palette"])
    placements = plan(dataset, width, height, palette, limit)
    if not len(placements):
        raise ReplayError(
            f"{path}: nothing to replay on the {width}x{height} canvas"
            f" ({_counts(placements.skipped)})"
        )
    replay = Replay(
        placements,
        width,
        where,
        min(players, len(placements)),
        speed,
        tokens,
        name_prefix,
        player_rate,
        progress,
    )
    seconds, check = await replay.run()
    sent = replay.sent_at - replay.due
    return Report(
        path=path,
        format=dataset.format,
        placements=len(placements),
        users=dataset.users,
        players=len(replay.players),
        speed=speed,
        seconds=seconds,
        dataset_seconds=float(placements.times[-1] - placements.times[0]) / 1000,
        stored=int(np.count_nonzero(replay.outcome == 1)),
        errors=replay.errors,
        dropped=replay.dropped,
        skipped=placements.skipped,
        approximated=placements.approximated,
        lag=np.maximum(sent[~np.isnan(sent)], 0),
        check=check,
    ).render()
