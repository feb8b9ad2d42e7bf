"""`place`: parse the command line and call a plain `run_*` function. Nothing else lives here.

Every expected failure (bad value, unreachable Redis, refused admin change) ends in one line on
stderr and exit status 1; Ctrl-C ends quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

from place.errors import PlaceError
from place.settings import Settings

_SETTINGS_HELP = "Settings come from PLACE_* environment variables (docs/settings.md); flags win."


def _add_redis(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", help="the Redis holding the canvas (PLACE_REDIS_URL)")


def _add_listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (PLACE_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (PLACE_PORT, default 8000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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

    ticker = commands.add_parser(
        "ticker", help="run a ticker (one is active, others stand by)", epilog=_SETTINGS_HELP
    )
    _add_redis(ticker)

    dev = commands.add_parser(
        "dev",
        help="run the whole system on this machine: Redis, a ticker and a pod with dev auth",
        epilog="Starts its own redis-server on a free port unless PLACE_REDIS_URL or --redis-url "
        "is given. " + _SETTINGS_HELP,
    )
    _add_listen(dev)
    _add_redis(dev)

    admin = commands.add_parser(
        "admin", help="moderation and live canvas changes", epilog=_SETTINGS_HELP
    )
    _add_redis(admin)
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    resize = actions.add_parser("resize", help="change the canvas size (keeps the top-left)")
    resize.add_argument("width", type=int)
    resize.add_argument("height", type=int)
    palette = actions.add_parser("palette", help="set the palette: comma-separated #rrggbb")
    palette.add_argument("colors")
    cooldown = actions.add_parser("cooldown", help="set the per-player cooldown (0 disables it)")
    cooldown.add_argument("seconds", type=float)
    actions.add_parser("open", help="let players place")
    actions.add_parser("close", help="stop all placements (watching goes on)")
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
    _add_snapshot(commands)
    return parser


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
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials in ..."
    try:
        settings = Settings.from_env(
            redis_url=args.redis_url,
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            auth=getattr(args, "auth", None),
            store_url=getattr(args, "store_url", None),
        )
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_command(args, settings))
    except PlaceError as error:
        print(f"place {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


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
    return 0


async def _admin(args: argparse.Namespace, settings: Settings) -> str:
    from place.admin import Admin
    from place.keys import Keys
    from place.redis_client import connect_redis

    redis = await connect_redis(settings.redis_url)
    admin = Admin(redis, Keys(settings.key_prefix))
    actions: dict[str, Callable[[], Awaitable[str]]] = {
        "resize": lambda: admin.resize(args.width, args.height),
        "palette": lambda: admin.palette(args.colors),
        "cooldown": lambda: admin.cooldown(args.seconds),
        "open": lambda: admin.set_open(True),
        "close": lambda: admin.set_open(False),
        "ban": lambda: admin.ban(args.player, args.duration, args.reason),
        "unban": lambda: admin.unban(args.player),
        "bans": admin.bans,
        "wipe": lambda: admin.wipe(args.x, args.y, args.width, args.height, args.color),
    }
    try:
        return await actions[args.action]()
    finally:
        await redis.aclose()


async def _until_signalled(work: Awaitable[None]) -> None:
    """Run `work` until SIGTERM or SIGINT, then cancel it so its cleanup runs."""
    import signal

    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
