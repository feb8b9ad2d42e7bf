"""Running a pod under uvicorn, and stopping it gracefully.

On SIGTERM (or Ctrl-C): `/readyz` turns 503 and every pending placement is answered; then uvicorn
stops accepting, closes every websocket with 1012 (service restart) so players reconnect to
another pod, waits a bounded time for the rest, and the process exits 0. A second signal forces.
SIGUSR1, which the Kubernetes preStop hook sends first, turns `/readyz` 503 and moves the players
off a few at a time over `PLACE_LEAVE_S` (place.api.shedding), placements going on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from place.api.addresses import parse_networks
from place.api.app import create_app
from place.api.auth import FirebaseAuth, make_authenticator
from place.api.pod import Pod
from place.errors import PlaceError
from place.redis_client import POD_TIMEOUT_S, connect_redis
from place.settings import Settings
from place.status import MAX_CLIENT_MESSAGE_BYTES

if TYPE_CHECKING:
    from place.api.workers import WorkerRole

logger = logging.getLogger("place.api")

GRACEFUL_SHUTDOWN_S = 10
HTTP_HEADROOM = 1000  # HTTP connections a pod full of websockets still takes
BACKLOG = 2048  # uvicorn's default
WORKER_CANVAS_WAIT_S = 10.0  # a worker listens once it has the canvas, or after this long


class PodServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, pod: Pod, worker: WorkerRole | None = None) -> None:
        super().__init__(config)
        self.pod = pod
        self.worker = worker
        self._draining: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.worker is not None and self.started:
            # the supervisor (place.api.workers) starts the next worker once this one is up,
            # and a supervisor killed outright closes this pipe: shut down as on SIGTERM
            s = self.pod.settings
            logger.info(
                "worker %d (pid %d) listening on http://%s:%d",
                self.worker.index,
                os.getpid(),
                s.host,
                s.port,
            )
            os.write(self.worker.ready_fd, b"1")
            os.close(self.worker.ready_fd)
            asyncio.get_running_loop().add_reader(self.worker.parent_fd, self._on_orphaned)

    def _on_orphaned(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.worker.parent_fd)  # type: ignore[union-attr]
        logger.warning("the supervising process is gone: shutting down")
        if self._draining is None:
            self._on_signal()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        loop.add_signal_handler(signal.SIGUSR1, self.pod.leave)  # Kubernetes' preStop hook
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
                loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        if self._draining is not None:
            self.force_exit = True
            return
        logger.info("shutting down: not ready, answering pending placements, closing with 1012")
        self._draining = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        await self.pod.drain()
        self.should_exit = True


def _http_protocol() -> type | str:
    """uvicorn's httptools protocol, which on a websocket upgrade hands its connection to the
    websocket protocol but keeps its reference cycle with its C parser (uvicorn breaks it in
    `connection_lost`, which an upgraded connection never reaches on it): measured, about half a
    kilobyte kept per websocket for the life of the pod. Broken here once the websocket protocol
    has the connection. Without httptools, uvicorn's own choice."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class HttpProtocol(HttpToolsProtocol):
        def handle_websocket_upgrade(self) -> None:
            super().handle_websocket_upgrade()
            self.parser = None  # type: ignore[assignment]

    return HttpProtocol


_HTTP_PROTOCOL = _http_protocol()


def uvicorn_config(app: object, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=_HTTP_PROTOCOL,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=MAX_CLIENT_MESSAGE_BYTES,
        ws_per_message_deflate=False,  # snapshots are zlib already; deflate doubles memory
        # a ping every PLACE_PING_TIMEOUT_S; no pong within as long again: closed (1011)
        ws_ping_interval=settings.ping_timeout_s,
        ws_ping_timeout=settings.ping_timeout_s,
        # plain HTTP gets 503 beyond this (websocket upgrades bypass it: the door counts them
        # against PLACE_LIMIT_CONCURRENCY), so probes and /metrics still answer on a full pod
        limit_concurrency=settings.limit_concurrency + HTTP_HEADROOM,
        # X-Forwarded-For is believed from PLACE_TRUSTED_PROXIES only (place.api.addresses);
        # uvicorn's own handling would believe any peer on 127.0.0.1
        proxy_headers=False,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def check_uvicorn(settings: Settings) -> None:
    """Stop at start-up, in one line, when the installed uvicorn lacks what the hub writes to:
    the websocket protocol object behind `send` (`send.__self__`), its `.transport` and
    `.close_sent`, its `shutdown()` (1012 to one player) and its keepalive pings. Versions known
    to have them are pinned in pyproject.toml."""
    try:
        config = uvicorn_config(_no_app, settings)
        config.load()
        cls = config.ws_protocol_class
        state = uvicorn.server.ServerState()
        protocol = cls(config=config, server_state=state, app_state={})  # type: ignore[call-arg]
        found = {
            "transport": "transport" in vars(protocol),
            "close_sent": vars(protocol).get("close_sent") is False,
            "shutdown": callable(getattr(protocol, "shutdown", None)),
            "keepalive": getattr(protocol, "ping_interval", None) == settings.ping_timeout_s,
        }
        if getattr(protocol.send, "__self__", None) is not protocol:  # type: ignore[attr-defined]
            found["transport"] = False
    except Exception as error:  # any change of uvicorn's insides: said in one line
        found = {"websockets-sansio": False}
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
    else:
        reason = "websockets-sansio protocol"
    missing = [name for name, present in found.items() if not present]
    if missing:
        raise PlaceError(
            f"uvicorn {uvicorn.__version__} lacks what the pod writes to directly"
            f" ({reason}: {', '.join(missing)} missing); install the versions pinned in"
            " pyproject.toml (`pip install -e .`)"
        )


class _ClientFaults(logging.Filter):
    """uvicorn logs a client's invalid UTF-8 text frame as an error with a traceback; it is the
    client's fault, answered by the contract (close 1007): one info line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Invalid UTF-8 sequence received from client.":
            record.msg = "a client sent a text frame that is not UTF-8: closed with 1007"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


async def _no_app(scope: object, receive: object, send: object) -> None:
    """The app of the configuration `check_uvicorn` inspects; never called."""


async def make_pod(settings: Settings, default_auth: str) -> Pod:
    authenticator = make_authenticator(settings, default_auth)  # bad settings: before Redis
    parse_networks(settings.trusted_proxies)
    redis = await connect_redis(settings.redis_url, POD_TIMEOUT_S)  # the contract's 3 s
    if isinstance(authenticator, FirebaseAuth):
        authenticator.cache.share(redis)  # a token verified by one pod is known to all
    return Pod(settings, redis, authenticator)


def listen(settings: Settings, reuse_port: bool = False) -> socket.socket:
    """The pod's socket, bound and listening, or a one-line `PlaceError`. With `reuse_port`,
    one of several sockets on the port, one per worker process (place.api.workers), bound but
    not listening yet: the kernel hands it connections only once its worker listens.

    Bound here, not by uvicorn: uvicorn reports a busy port in a log line, then exits from inside
    its startup with the pod already started, and that exit can hang (the process then ignored
    Ctrl-C and SIGTERM, and `place dev` had printed its URL and started its Redis by then).
    """
    host, port = settings.host, settings.port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if not reuse_port:
            sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise PlaceError(_cannot_listen(host, port, error)) from None
    return sock


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is in use (is another place running?);"
            " choose another with --port or PLACE_PORT"
        )
    if error.errno == errno.EACCES:
        return (
            f"port {port} on {host} is not open to this user (ports below 1024 need root);"
            " choose another with --port or PLACE_PORT"
        )
    reason = error.strerror or str(error)
    return f"cannot listen on {host} port {port}: {reason}; check --host or PLACE_HOST"


async def run_api(
    settings: Settings,
    default_auth: str = "firebase",
    sock: socket.socket | None = None,
    worker: WorkerRole | None = None,
) -> None:
    """`place api`: serve until SIGTERM or Ctrl-C; on `sock` when the caller (`place dev`, or
    the supervisor of `--workers`) has bound the port already, else on a socket bound by `listen`.
    A `worker` also serves on its own Unix socket, where the others fetch its /metrics."""
    check_uvicorn(settings)  # before Redis, before the port: a wrong uvicorn is a setup mistake
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ClientFaults) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(_ClientFaults())
    pod = await make_pod(settings, default_auth)
    sockets: list[socket.socket] = []
    try:
        sockets.append(sock if sock is not None else listen(settings))
        if worker is not None:
            sockets.append(_control_socket(worker.control_path))
            pod.worker, pod.siblings = worker.index, worker.sibling_paths
            pod.canvas_wait_s = WORKER_CANVAS_WAIT_S
        server = PodServer(uvicorn_config(create_app(pod), settings), pod, worker)
        if worker is None:
            logger.info("pod listening on http://%s:%d", settings.host, settings.port)
        await server.serve(sockets=sockets)
    finally:
        for each in sockets:
            each.close()
        await pod.redis.aclose()


def _control_socket(path: str) -> socket.socket:
    """A worker's own Unix socket (in the supervisor's private directory): a worker that
    replaces one that ended takes its path over."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(BACKLOG)
    return sock
