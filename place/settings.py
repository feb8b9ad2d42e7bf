"""One settings object, read from the environment: the only place that does so.

Every variable, its default and meaning is in `docs/settings.md` (and the contract).
A bad value fails at startup with one line naming the variable, what was expected and what came.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import orjson

from place.errors import SettingsError

DEFAULT_PALETTE = (
    "#ffffff,#d4d7d9,#898d90,#515252,#000000,#ffb470,#9c6926,#6d482f,"
    "#ff99aa,#ff3881,#de107f,#e4abff,#b44ac0,#811e9f,#94b3ff,#6a5cff,"
    "#493ac1,#51e9f4,#3690ea,#2450a4,#00ccc0,#009eaa,#00756f,#7eed56,"
    "#00cc78,#00a368,#fff8b8,#ffd635,#ffa800,#ff4500,#be0039,#6d001a"
)
MAX_CANVAS_SIDE = 65535  # the snapshot header holds width and height as u16
MAX_PIXELS = 16_777_216  # 4096x4096: the who record (12 bytes a pixel) stays within 200 MB
MAX_PALETTE = 256
MAX_WORKERS = 64  # `place api --workers`: processes on one port, one per core
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_DEFAULT_STATIC_DIR = Path(__file__).resolve().parent.parent / "frontend" / "dist"
# While `place dev` runs it writes the URL of the Redis it started here, so that the other
# commands run in the same directory reach it without flags (its port is new on every start).
DEV_REDIS_URL_FILE = Path("var/redis.url")
DEV_COOLDOWN_S = 5.0  # `place dev`: a newcomer alone on the canvas waits seconds, not minutes


def parse_palette(value: str, name: str = "PLACE_PALETTE") -> tuple[str, ...]:
    """Parse a comma-separated list of `#rrggbb` colours (1 to 256, lower-cased)."""
    colors = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if not 1 <= len(colors) <= MAX_PALETTE:
        raise SettingsError(f"{name} must list 1 to {MAX_PALETTE} colours, got {len(colors)}")
    for color in colors:
        if not _COLOR.match(color):
            raise SettingsError(f"{name} colours must look like #rrggbb, got {color!r}")
    return colors


@dataclasses.dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    store_url: str = "file://./var/store"
    auth: str | None = None  # None: the command's default (firebase for api, dev for dev)
    firebase_project_id: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    tick_ms: int = 500
    resync_s: float = 60.0
    backup_s: float = 30.0
    timelapse_s: float = 10.0
    width: int = 1000
    height: int = 1000
    cooldown_s: float = 300.0
    palette: tuple[str, ...] = parse_palette(DEFAULT_PALETTE)
    msg_rate: float = 50.0
    msg_burst: int = 100
    key_prefix: str = "place"
    static_dir: Path = _DEFAULT_STATIC_DIR
    s3_endpoint_url: str | None = None
    # sign-in and who gets in
    firebase_web_config: dict[str, str] = dataclasses.field(default_factory=dict)
    firebase_emulator_url: str | None = None  # the page signs in against this Auth emulator
    admin_uids: frozenset[str] = frozenset()
    admin_name: str | None = None  # who runs `place admin` (audit log); None: OS user@host
    allowed_origins: tuple[str, ...] = ()  # empty: any origin
    trusted_proxies: tuple[str, ...] = ()  # addresses or CIDR networks
    max_connections_per_address: int = 100
    signins_per_address_per_min: int = 60
    limit_concurrency: int = 20_000
    ping_timeout_s: float = 20.0
    unsent_budget_mb: int = 256  # every player's unsent bytes on one pod, together
    # rebalancing: a pod above this times the average of connections per pod closes some players
    # with 1012 so that they reconnect elsewhere (0: off); at most shed_per_s a second
    shed_above_average: float = 0.0
    shed_per_s: int = 20
    # after SIGUSR1 (the Kubernetes preStop hook) a pod moves its players off over this long
    leave_s: float = 20.0
    # `place api` processes sharing the pod's port (SO_REUSEPORT), each a pod of its own
    workers: int = 1
    # the object store
    archive_s: float = 10.0
    archive_backlog_s: float = 1800.0
    # whether PLACE_REDIS_URL or --redis-url was set; otherwise `place dev` starts its own Redis
    redis_url_given: bool = False
    # where redis_url came from, for messages: --redis-url, PLACE_REDIS_URL, var/redis.url, ...
    redis_url_source: str = "the default"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        command: str | None = None,
        **overrides: object,
    ) -> Settings:
        """Read every `PLACE_*` variable; `overrides` (from command-line flags) win.

        `command` is the `place` command being run, for what depends on it: `place dev` seeds a
        new canvas with a 5 s cooldown, and the other commands find the Redis of a `place dev`
        running in the same directory through `var/redis.url`.
        """
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        values: dict[str, object] = {
            "redis_url": reader.text("PLACE_REDIS_URL", cls.redis_url),
            "store_url": reader.text("PLACE_STORE_URL", cls.store_url),
            "auth": reader.choice("PLACE_AUTH", None, ("firebase", "dev")),
            "firebase_project_id": reader.text("PLACE_FIREBASE_PROJECT_ID", None),
            "host": reader.text("PLACE_HOST", cls.host),
            "port": reader.integer("PLACE_PORT", cls.port, 1, 65535),
            "tick_ms": reader.integer("PLACE_TICK_MS", cls.tick_ms, 10, 60_000),
            "resync_s": reader.number("PLACE_RESYNC_S", cls.resync_s, 1),
            "backup_s": reader.number("PLACE_BACKUP_S", cls.backup_s, 1),
            "timelapse_s": reader.number("PLACE_TIMELAPSE_S", cls.timelapse_s, 1),
            "width": reader.integer("PLACE_WIDTH", cls.width, 1, MAX_CANVAS_SIDE),
            "height": reader.integer("PLACE_HEIGHT", cls.height, 1, MAX_CANVAS_SIDE),
            "cooldown_s": reader.number(
                "PLACE_COOLDOWN_S", DEV_COOLDOWN_S if command == "dev" else cls.cooldown_s, 0
            ),
            "palette": parse_palette(env.get("PLACE_PALETTE") or DEFAULT_PALETTE),
            "msg_rate": reader.number("PLACE_MSG_RATE", cls.msg_rate, 0),
            "msg_burst": reader.integer("PLACE_MSG_BURST", cls.msg_burst, 1, 1_000_000),
            "key_prefix": reader.text("PLACE_KEY_PREFIX", cls.key_prefix),
            "static_dir": Path(reader.text("PLACE_STATIC_DIR", str(cls.static_dir))),
            "s3_endpoint_url": reader.text("PLACE_S3_ENDPOINT_URL", None)
            or reader.text("AWS_ENDPOINT_URL_S3", None),
            "firebase_web_config": _firebase_web_config(reader),
            "firebase_emulator_url": reader.text("PLACE_FIREBASE_EMULATOR_URL", None),
            "admin_uids": frozenset(reader.items("PLACE_ADMIN_UIDS")),
            "admin_name": reader.text("PLACE_ADMIN_NAME", None),
            "allowed_origins": reader.items("PLACE_ALLOWED_ORIGINS"),
            "trusted_proxies": reader.items("PLACE_TRUSTED_PROXIES"),
            "max_connections_per_address": reader.integer(
                "PLACE_MAX_CONNECTIONS_PER_ADDRESS", cls.max_connections_per_address, 1, 10**6
            ),
            "signins_per_address_per_min": reader.integer(
                "PLACE_SIGNINS_PER_ADDRESS_PER_MIN", cls.signins_per_address_per_min, 1, 10**6
            ),
            "limit_concurrency": reader.integer(
                "PLACE_LIMIT_CONCURRENCY", cls.limit_concurrency, 1, 10**7
            ),
            "ping_timeout_s": reader.number("PLACE_PING_TIMEOUT_S", cls.ping_timeout_s, 1),
            "unsent_budget_mb": reader.integer(
                "PLACE_UNSENT_BUDGET_MB", cls.unsent_budget_mb, 1, 1_000_000
            ),
            "shed_above_average": _shed_factor(reader),
            "shed_per_s": reader.integer("PLACE_SHED_PER_S", cls.shed_per_s, 1, 10_000),
            "leave_s": reader.number("PLACE_LEAVE_S", cls.leave_s, 0),
            "workers": reader.integer("PLACE_WORKERS", cls.workers, 1, MAX_WORKERS),
            "archive_s": reader.number("PLACE_ARCHIVE_S", cls.archive_s, 1),
            "archive_backlog_s": reader.number(
                "PLACE_ARCHIVE_BACKLOG_S", cls.archive_backlog_s, 60
            ),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if int(values["width"]) * int(values["height"]) > MAX_PIXELS:  # type: ignore[call-overload]
            raise SettingsError(f"PLACE_WIDTH x PLACE_HEIGHT must be at most {MAX_PIXELS} pixels")
        url, source = _redis_url(env, overrides.get("redis_url"), command)  # type: ignore[arg-type]
        values["redis_url"], values["redis_url_source"] = url, source
        values["redis_url_given"] = source in ("--redis-url", "PLACE_REDIS_URL")
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _redis_url(env: Mapping[str, str], flag: str | None, command: str | None) -> tuple[str, str]:
    """The Redis URL and where it came from. A URL Redis cannot parse fails here, at startup,
    naming where it came from (the flag, the variable or the file)."""
    if flag:
        url, source = flag, "--redis-url"
    elif env.get("PLACE_REDIS_URL"):
        url, source = env["PLACE_REDIS_URL"], "PLACE_REDIS_URL"
    elif command not in (None, "dev") and DEV_REDIS_URL_FILE.is_file():
        try:
            url, source = DEV_REDIS_URL_FILE.read_text().strip(), str(DEV_REDIS_URL_FILE)
        except OSError:
            return Settings.redis_url, "the default"
    else:
        return Settings.redis_url, "the default"
    from redis.asyncio.connection import parse_url  # here: `place --help` need not import redis

    try:
        parse_url(url)
    except ValueError as error:
        shown = url if "@" not in url else "***@" + url.rsplit("@", 1)[1]  # no password
        raise SettingsError(f"{source} is not a Redis URL ({error}): {shown!r}") from None
    return url, source


def _shed_factor(reader: _Reader) -> float:
    """`PLACE_SHED_ABOVE_AVERAGE`: 0 (off), or a factor above 1 (1.5: shed above 150 %)."""
    factor = reader.number("PLACE_SHED_ABOVE_AVERAGE", Settings.shed_above_average, 0)
    if 0 < factor <= 1:
        raise SettingsError(
            f"PLACE_SHED_ABOVE_AVERAGE must be 0 (off) or above 1, like 1.5, got {factor:g}"
        )
    return factor


_WEB_CONFIG_KEYS = {
    "PLACE_FIREBASE_API_KEY": "apiKey",
    "PLACE_FIREBASE_AUTH_DOMAIN": "authDomain",
    "PLACE_FIREBASE_PROJECT_ID": "projectId",
}


def _firebase_web_config(reader: _Reader) -> dict[str, str]:
    """The public Firebase web settings the page needs: `PLACE_FIREBASE_WEB_CONFIG` (a JSON
    object, as the Firebase console shows it), completed or overridden by the separate
    `PLACE_FIREBASE_API_KEY`, `..._AUTH_DOMAIN` and `..._PROJECT_ID`."""
    config: dict[str, str] = {}
    raw = reader.text("PLACE_FIREBASE_WEB_CONFIG", None)
    if raw is not None:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise SettingsError(
                "PLACE_FIREBASE_WEB_CONFIG must be a JSON object of strings"
                ' like {"apiKey": "...", "authDomain": "...", "projectId": "..."}'
            )
        config.update(parsed)
    for name, key in _WEB_CONFIG_KEYS.items():
        value = reader.text(name, None)
        if value is not None:
            config[key] = value
    return config


class _Reader:
    """Typed access to environment variables, with one-line errors."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str | None) -> str | None:
        value = self._env.get(name, "")
        return value if value != "" else default

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list; empty or unset: no items."""
        return tuple(part.strip() for part in self._env.get(name, "").split(",") if part.strip())

    def choice(self, name: str, default: str | None, choices: tuple[str, ...]) -> str | None:
        value = self.text(name, default)
        if value is not None and value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._env.get(name, "")
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float) -> float:
        raw = self._env.get(name, "")
        if raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise SettingsError(f"{name} must be a finite number, got {raw}")
        if not value >= low:
            raise SettingsError(f"{name} must be at least {low:g}, got {raw}")
        return value
