"""The live configuration of the canvas: size, palette, cooldown, open/closed.

It lives in a Redis hash beside the canvas and `place admin` changes it at runtime; `version`
rises by one on every change so the ticker notices and every pod follows. Pure: no I/O here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from place.settings import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class LiveConfig:
    width: int
    height: int
    palette: tuple[str, ...]
    cooldown_ms: int
    open: bool
    version: int = 1
    # a pending `place admin open --at` / `close --at` (Unix ms; 0: none), applied by the ticker
    opens_at_ms: int = 0
    closes_at_ms: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveConfig:
        return cls(
            width=settings.width,
            height=settings.height,
            palette=settings.palette,
            cooldown_ms=round(settings.cooldown_s * 1000),
            open=True,
        )

    @classmethod
    def from_hash(cls, fields: Mapping[bytes | str, bytes | str]) -> LiveConfig:
        """Read the Redis hash written by `to_hash` (keys and values may be bytes)."""
        text = {_str(k): _str(v) for k, v in fields.items()}
        return cls(
            width=int(text["width"]),
            height=int(text["height"]),
            palette=tuple(text["palette"].split(",")),
            cooldown_ms=int(text["cooldown_ms"]),
            open=text["open"] == "1",
            version=int(text["version"]),
            opens_at_ms=int(text.get("opens_at_ms") or 0),
            closes_at_ms=int(text.get("closes_at_ms") or 0),
        )

    def to_hash(self) -> dict[str, str | int]:
        """The Redis hash; `colors` is there for the placement script's colour check."""
        return {
            "width": self.width,
            "height": self.height,
            "palette": ",".join(self.palette),
            "colors": len(self.palette),
            "cooldown_ms": self.cooldown_ms,
            "open": "1" if self.open else "0",
            "version": self.version,
            "opens_at_ms": self.opens_at_ms,
            "closes_at_ms": self.closes_at_ms,
        }

    def to_json(self) -> dict[str, object]:
        """Everything, for the snapshot record that pods load with the canvas."""
        return self.public() | {"version": self.version}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LiveConfig:
        return cls(
            width=int(data["width"]),  # type: ignore[arg-type]
            height=int(data["height"]),  # type: ignore[arg-type]
            palette=tuple(data["palette"]),  # type: ignore[arg-type]
            cooldown_ms=int(data["cooldown_ms"]),  # type: ignore[arg-type]
            open=bool(data["open"]),
            version=int(data["version"]),  # type: ignore[arg-type]
            opens_at_ms=int(data.get("opens_at_ms") or 0),  # type: ignore[call-overload]
            closes_at_ms=int(data.get("closes_at_ms") or 0),  # type: ignore[call-overload]
        )

    def public(self) -> dict[str, object]:
        """`GET /api/config`: the `hello` object without `t`, `user` and `next_place_at_ms`;
        `opens_at_ms` / `closes_at_ms` only while an opening / a closing is scheduled."""
        public: dict[str, object] = {
            "v": 1,
            "width": self.width,
            "height": self.height,
            "palette": list(self.palette),
            "cooldown_ms": self.cooldown_ms,
            "open": self.open,
        }
        if self.opens_at_ms:
            public["opens_at_ms"] = self.opens_at_ms
        if self.closes_at_ms:
            public["closes_at_ms"] = self.closes_at_ms
        return public


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
