"""`place`: parse the command line and call a plain `run_*` function. Nothing else lives here.

Every expected failure (bad argument, bad value, unreachable Redis, refused admin change) ends in
one line on stderr and exit status 1; `--help` prints the whole help; Ctrl-C ends quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

from place.errors import PlaceError, RedisUnavailable, SettingsError
from place.settings import DEV_REDIS_URL_FILE, MAX_WORKERS, Settings

_SETTINGS_HELP = "Settings come from PLACE_* environment variables (docs/settings.md); flags win."


class _Parser(argparse.ArgumentParser):
    """argparse with the house rule for bad arguments: one line naming the argument and where
    the help is, and exit status 1 (argparse prints its usage block and exits 2).

    Subcommands' parsers are of this class too (`add_subparsers` makes them of the parent's).
    """

    def error(self, message: str) -> NoReturn:
        # a value may hold a newline or a control character: shown escaped, the line stays one
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in _plainer(message))
        raise SettingsError(f"{self.prog}: {message}; see {self.prog} --help")


def _plainer(message: str) -> str:
    """argparse's messages, said the way the rest of `place` says them."""
    message = re.sub(r"invalid int value: (.*)$", r"\1 is not a whole number", message)
    message = re.sub(r"invalid float value: (.*)$", r"\1 is not a number", message)
    choice = re.search(r"invalid choice: (.*) \(choose from (.*)\)$", message)
    if choice:
        options = choice[2].replace("'", "")
        message = f"{message[: choice.start()]}{choice[1]} is not one of {options}"
    return message


def _port(value: str) -> int:
    """`--port`, checked as PLACE_PORT is (argparse's int would let 99999 through)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {port}")
    return port


def _workers(value: str) -> int:
    """`--workers`, checked as PLACE_WORKERS is."""
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {workers}")
    return workers


def _add_redis(
    parser: argparse.ArgumentParser,
    default: str = "the Redis of the place dev running in this directory, else"
    " redis://127.0.0.1:6379/0",
) -> None:
    parser.add_argument(
        "--redis-url",
        help=f"the Redis holding the canvas (PLACE_REDIS_URL; default: {default})",
    )


def _add_listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (PLACE_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port to listen on (PLACE_PORT, default 8000)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="place",
        description="our/place: a shared pixel canvas for r/place-style events.",
        epilog=_SETTINGS_HELP,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    api = commands.add_parser(
        "api", help="run a stateless pod: /ws, the HTTP API and the page", epilog=_SETTINGS_HELP
    )
    _add_listen(api)
    _add_redis(api)
    api.add_argument("--auth", choices=("firebase", "dev"), help="PLACE_AUTH (default firebase)")
    api.add_argument(
        "--workers",
        type=_workers,
        help="processes sharing the port (SO_REUSEPORT), one per core, each a pod of its own"
        " (PLACE_WORKERS, default 1)",
    )

    ticker = commands.add_parser(
        "ticker", help="run a ticker (one is active, others stand by)", epilog=_SETTINGS_HELP
    )
    _add_redis(ticker)

    dev = commands.add_parser(
        "dev",
        help="run the whole system on this machine: Redis, a ticker and a pod with dev auth",
        epilog="Starts its own redis-server on a free port (data in var/redis) unless"
        " PLACE_REDIS_URL or --redis-url is given, and writes its URL to var/redis.url while it"
        " runs: the other place commands run in this directory use it. A new canvas gets a 5 s"
        " cooldown unless PLACE_COOLDOWN_S says otherwise. " + _SETTINGS_HELP,
    )
    _add_listen(dev)
    _add_redis(dev, "a redis-server of its own")

    admin = commands.add_parser(
        "admin",
        help="moderation and live canvas changes",
        epilog="Every change is written to the audit log (`place admin log`) under"
        " PLACE_ADMIN_NAME, or the OS user@host. " + _SETTINGS_HELP,
    )
    _add_redis(admin)
    admin.add_argument(
        "--store-url", help="the object store for the audit log and history (PLACE_STORE_URL)"
    )
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    resize = actions.add_parser("resize", help="change the canvas size")
    resize.add_argument("width", type=int)
    resize.add_argument("height", type=int)
    resize.add_argument(
        "--anchor",
        choices=("top-left", "centre", "center"),
        default="top-left",
        help="top-left (default): keep the top-left corner; centre: grow or shrink on every"
        " side, existing pixels moving with it",
    )
    palette = actions.add_parser(
        "palette",
        help="set the palette: comma-separated #rrggbb; no pixel changes how it looks",
        description="Set the palette (the whole new list). Pixels are remapped by colour: a colour"
        " that stays keeps its look wherever it moves in the list; a removed colour's pixels take"
        " its --map colour, or else the remaining colour nearest to it (CIEDE2000).",
    )
    palette.add_argument("colors")
    palette.add_argument(
        "--map",
        dest="maps",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="what a removed colour becomes, like '#ff4500=#be0039' (repeatable)",
    )
    cooldown = actions.add_parser("cooldown", help="set the per-player cooldown (0 disables it)")
    cooldown.add_argument("seconds", type=float)
    for name, what, noun in (
        ("open", "let players place", "opening"),
        ("close", "stop all placements", "closing"),
    ):
        switch = actions.add_parser(
            name,
            help=f"{what}, now or at a time (kept in Redis, applied by the active ticker)",
        )
        when = switch.add_mutually_exclusive_group()
        when.add_argument(
            "--at", metavar="TIME", help=f"{name} by itself then (ISO 8601, UTC without offset)"
        )
        when.add_argument("--cancel", action="store_true", help=f"cancel a scheduled {noun}")
    ban = actions.add_parser(
        "ban", help="stop a player from placing, on every pod at once (PLAYER is user.id)"
    )
    ban.add_argument("player")
    ban.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="how long: 90s, 15m, 2h, 3d (default: for ever)",
    )
    ban.add_argument("--reason", default="", help="what the player is told (at most 200 chars)")
    unban = actions.add_parser("unban", help="let a banned player place again")
    unban.add_argument("player")
    actions.add_parser("bans", help="the bans in force: player, reason, end, one line each")
    wipe = actions.add_parser("wipe", help="paint a rectangle one colour (default colour 0)")
    for name in ("x", "y", "width", "height"):
        wipe.add_argument(name, type=int)
    wipe.add_argument("--color", type=int, default=0, help="palette index (default 0)")
    rollback = actions.add_parser(
        "rollback",
        help="undo a player's placements still on top since a time (PLAYER is user.id)",
        description="Every pixel where PLAYER's placement is still on top gets back the colour it"
        " had before PLAYER's run of placements on it since --since, from the placement history"
        " (the store's backups and archive, then the placement stream). Pixels painted by others"
        " since are left alone. Players see it as an ordinary delta.",
    )
    rollback.add_argument("player")
    rollback.add_argument(
        "--since", required=True, metavar="TIME", help="ISO 8601, UTC without an offset"
    )
    rollback.add_argument("--until", metavar="TIME", help="only placements up to then")
    rollback.add_argument(
        "--dry-run", action="store_true", help="print the pixel count and bounding box only"
    )
    status = actions.add_parser(
        "status",
        help="the config, tickers, pods, last backup, schedule and bans at a glance",
    )
    status.add_argument("--json", action="store_true", help="as JSON, for scripts")
    log = actions.add_parser("log", help="the audit log: who did what, when, and what came of it")
    log.add_argument("--since", metavar="TIME", help="from then on (ISO 8601, UTC without offset)")
    _add_snapshot(commands)
    _add_replay(commands)
    return parser


def _add_replay(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    replay = commands.add_parser(
        "replay",
        help="rehearse an event: replay a placement dataset with many simulated players",
        description="Replay a placement dataset against a running deployment, in dataset order "
        "at dataset time divided by --speed, with a pool of simulated players who wait out their "
        "cooldowns; then report the rate achieved and the errors.",
        epilog="FILE is CSV, plain or gzip'd: the r/place 2017 columns ts,user,x,y,color (ts in "
        "Unix ms, color a palette index), or what `place snapshot export` writes (the r/place "
        "2022 columns timestamp,user_id,pixel_color,coordinate). Dev auth signs players in by "
        "name; the deployment's per-address limits (PLACE_MAX_CONNECTIONS_PER_ADDRESS, "
        "PLACE_SIGNINS_PER_ADDRESS_PER_MIN) must let this machine hold --players connections.",
    )
    replay.set_defaults(redis_url=None)  # replay talks to the deployment, not to Redis
    replay.add_argument("file", metavar="FILE", help="the dataset (.csv or .csv.gz)")
    replay.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="the deployment: its page (http://host:port) or websocket (ws://host:port/ws); "
        "default http://127.0.0.1:8000, where `place dev` listens",
    )
    replay.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="dataset seconds per real second (default 1: as fast as the event went)",
    )
    replay.add_argument(
        "--players", type=int, default=50, help="simulated players, one websocket each (default 50)"
    )
    replay.add_argument(
        "--firebase-emulator",
        metavar="HOST:PORT",
        help="sign players in with accounts made in this Firebase Auth emulator (the deployment "
        "must trust it) instead of dev auth",
    )
    replay.add_argument(
        "--limit", type=int, default=0, help="replay only the first N placements (default all)"
    )
    replay.add_argument(
        "--player-rate",
        type=float,
        default=20.0,
        help="most messages a second one player sends (default 20, under PLACE_MSG_RATE)",
    )
    replay.add_argument("--origin", help="Origin header to send (default: the URL's own)")
    replay.add_argument(
        "--name-prefix",
        default="replay",
        help="players are named PREFIX-01, PREFIX-02, ... (default replay)",
    )


def _add_snapshot(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    snapshot = commands.add_parser(
        "snapshot",
        help="backups, restore, timelapse, heatmap and export from the object store",
        epilog="The store is PLACE_STORE_URL (s3://bucket/prefix or file:///path). "
        + _SETTINGS_HELP,
    )
    _add_redis(snapshot)
    snapshot.add_argument("--store-url", help="the object store (PLACE_STORE_URL)")
    actions = snapshot.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="one line per backup: time, size, seq, checksum")
    listing.add_argument(
        "--no-verify", action="store_true", help="do not download backups to check them"
    )
    actions.add_parser("backup", help="back the canvas up now")
    actions.add_parser("status", help="the store, the latest backup, the archive and backlog")
    restore = actions.add_parser(
        "restore",
        help="put a backup (and the archived placements after it) back on the live canvas",
    )
    which = restore.add_mutually_exclusive_group(required=True)
    which.add_argument("--latest", action="store_true", help="the latest backup and archive")
    which.add_argument(
        "--at", metavar="ISO8601", help="the canvas as it was then (UTC without an offset)"
    )
    restore.add_argument(
        "--dry-run", action="store_true", help="say what would change; change nothing"
    )
    restore.add_argument("--before-png", metavar="FILE", help="write the live canvas as PNG")
    restore.add_argument("--after-png", metavar="FILE", help="write the restored canvas as PNG")
    timelapse = actions.add_parser(
        "timelapse", help="encode the timelapse frames as a video (ffmpeg), or download them"
    )
    timelapse.add_argument("--out", metavar="FILE.mp4", help="the H.264 video to write")
    timelapse.add_argument("--frames-dir", metavar="DIR", help="just download the PNG frames")
    timelapse.add_argument("--from", dest="start", metavar="ISO8601", help="first frame time")
    timelapse.add_argument("--to", dest="end", metavar="ISO8601", help="last frame time")
    timelapse.add_argument("--fps", type=int, default=30, help="frames per second (default 30)")
    timelapse.add_argument(
        "--scale", type=int, default=1, help="screen pixels per canvas pixel (default 1)"
    )
    heatmap = actions.add_parser("heatmap", help="placements per pixel as a PNG (log scale)")
    heatmap.add_argument("--out", required=True, metavar="FILE.png")
    export = actions.add_parser(
        "export", help="the whole placement history as CSV (the r/place datasets' columns)"
    )
    export.add_argument("--out", required=True, metavar="FILE.csv.gz")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SettingsError as error:  # a bad argument (see _Parser)
        print(error, file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials in ..."
    settings: Settings | None = None
    try:
        settings = Settings.from_env(
            command=args.command,
            redis_url=args.redis_url,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            auth=getattr(args, "auth", None),
            store_url=getattr(args, "store_url", None),
            workers=getattr(args, "workers", None),
        )
        if args.command == "api" and settings.workers > 1:
            from place.api.workers import run_workers

            def describe(error: PlaceError) -> str:
                return f"place api: {error}{_redis_hint(error, settings, 'api')}"

            return run_workers(settings, _loop_factory(), describe)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_command(args, settings))
    except PlaceError as error:
        hint = _redis_hint(error, settings, args.command)
        print(f"place {args.command}: {error}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _redis_hint(error: PlaceError, settings: Settings | None, command: str) -> str:
    """For a Redis that does not answer at a URL nobody gave: where that URL came from."""
    if not isinstance(error, RedisUnavailable) or settings is None or command == "dev":
        return ""
    if settings.redis_url_given:
        return ""
    if settings.redis_url_source == str(DEV_REDIS_URL_FILE):
        return (
            f" (the URL is from {DEV_REDIS_URL_FILE}, which `place dev` writes while it runs in"
            " this directory: is it still running?)"
        )
    return (
        " (the default URL: give --redis-url or PLACE_REDIS_URL, or start `place dev` in this"
        " directory first)"
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (it is, with uvicorn[standard] on Linux): a faster loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "api":
        from place.api.server import run_api

        await run_api(settings)
    elif args.command == "ticker":
        from place.ticker.ticker import run_ticker

        await _until_signalled(run_ticker(settings))
    elif args.command == "dev":
        from place.dev import run_dev

        await run_dev(settings)
    elif args.command == "admin":
        print(await _admin(args, settings))
    elif args.command == "snapshot":
        from place.snapshot.commands import run_snapshot

        print(await run_snapshot(args, settings))
    elif args.command == "replay":
        from place.replay import run_replay

        print(
            await run_replay(
                args.file,
                args.url,
                args.speed,
                args.players,
                firebase_emulator=args.firebase_emulator,
                limit=args.limit,
                origin=args.origin,
                name_prefix=args.name_prefix,
                player_rate=args.player_rate,
            )
        )
    return 0


async def _admin(args: argparse.Namespace, settings: Settings) -> str:
    from place.admin import Admin
    from place.keys import Keys
    from place.redis_client import connect_redis
    from place.store import open_store

    store = open_store(settings)
    redis = await connect_redis(settings.redis_url)
    admin = Admin(redis, Keys(settings.key_prefix), actor=settings.admin_name, store=store)
    actions: dict[str, Callable[[], Awaitable[str]]] = {
        "resize": lambda: admin.resize(args.width, args.height, args.anchor),
        "palette": lambda: admin.palette(args.colors, args.maps),
        "cooldown": lambda: admin.cooldown(args.seconds),
        "open": lambda: admin.open(args.at, args.cancel),
        "close": lambda: admin.close(args.at, args.cancel),
        "ban": lambda: admin.ban(args.player, args.duration, args.reason),
        "unban": lambda: admin.unban(args.player),
        "bans": admin.bans,
        "wipe": lambda: admin.wipe(args.x, args.y, args.width, args.height, args.color),
        "rollback": lambda: admin.rollback(args.player, args.since, args.until, args.dry_run),
        "status": lambda: admin.status(args.json),
        "log": lambda: admin.log(args.since),
    }
    try:
        return await actions[args.action]()
    finally:
        await redis.aclose()


async def _until_signalled(work: Awaitable[None]) -> None:
    """Run `work` until SIGTERM or SIGINT, then cancel it (for sure: place.tasks) so its cleanup
    runs. A failure of `work` before that (Redis unreachable at start) is raised."""
    import signal

    from place.tasks import cancel_and_wait

    task = asyncio.ensure_future(work)
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled.set)
    waiting = asyncio.ensure_future(signalled.wait())
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    await cancel_and_wait([task, waiting])
    failure = None if task.cancelled() else task.exception()
    if failure is not None:
        raise failure
