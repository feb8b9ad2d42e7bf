"""One settings object, read from the environment: the only place that does so.

Every variable, its default and meaning is in `docs/settings.md` (and the contract).
A bad value fails at startup with one line naming the variable, what was expected and what came.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path

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
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_DEFAULT_STATIC_DIR = Path(__file__).resolve().parent.parent / "frontend" / "dist"


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
    # whether PLACE_REDIS_URL or --redis-url was set; otherwise `place dev` starts its own Redis
    redis_url_given: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read every `PLACE_*` variable; `overrides` (from command-line flags) win."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        values: dict[str, object] = {
            "redis_url": reader.text("PLACE_REDIS_URL", cls.redis_url),
            "store_url": reader.text("PLACE_STORE_URL", cls.store_url),
            "auth": reader.choice("PLACE_AUTH", None, ("firebase", "dev")),
            "firebase_project_id": reader.text("PLACE_FIREBASE_PROJECT_ID", None),
            "host": reader.text("PLACE_HOST", cls.host),
            "port": reader.integer("PLACE_PORT", cls.port, 0, 65535),
            "tick_ms": reader.integer("PLACE_TICK_MS", cls.tick_ms, 10, 60_000),
            "resync_s": reader.number("PLACE_RESYNC_S", cls.resync_s, 1),
            "backup_s": reader.number("PLACE_BACKUP_S", cls.backup_s, 1),
            "timelapse_s": reader.number("PLACE_TIMELAPSE_S", cls.timelapse_s, 1),
            "width": reader.integer("PLACE_WIDTH", cls.width, 1, MAX_CANVAS_SIDE),
            "height": reader.integer("PLACE_HEIGHT", cls.height, 1, MAX_CANVAS_SIDE),
            "cooldown_s": reader.number("PLACE_COOLDOWN_S", cls.cooldown_s, 0),
            "palette": parse_palette(env.get("PLACE_PALETTE") or DEFAULT_PALETTE),
            "msg_rate": reader.number("PLACE_MSG_RATE", cls.msg_rate, 0),
            "msg_burst": reader.integer("PLACE_MSG_BURST", cls.msg_burst, 1, 1_000_000),
            "key_prefix": reader.text("PLACE_KEY_PREFIX", cls.key_prefix),
            "static_dir": Path(reader.text("PLACE_STATIC_DIR", str(cls.static_dir))),
            "s3_endpoint_url": reader.text("PLACE_S3_ENDPOINT_URL", None)
            or reader.text("AWS_ENDPOINT_URL_S3", None),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if int(values["width"]) * int(values["height"]) > MAX_PIXELS:  # type: ignore[call-overload]
            raise SettingsError(f"PLACE_WIDTH x PLACE_HEIGHT must be at most {MAX_PIXELS} pixels")
        values["redis_url_given"] = bool(env.get("PLACE_REDIS_URL")) or "redis_url" in {
            k for k, v in overrides.items() if v is not None
        }
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class _Reader:
    """Typed access to environment variables, with one-line errors."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str | None) -> str | None:
        value = self._env.get(name, "")
        return value if value != "" else default

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
        if not value >= low:
            raise SettingsError(f"{name} must be at least {low:g}, got {raw}")
        return value
