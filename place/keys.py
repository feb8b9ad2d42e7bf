"""Names of every Redis key and channel, in one place, under one prefix.

The prefix is a Redis Cluster hash tag (`{place}:canvas`): every key of one event hashes to one
slot, so that every multi-key script (a placement batch touches the canvas, the stream, the who
record and each player's cooldown) runs on Redis Cluster as on a single Redis.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "place"

    def _key(self, name: str) -> str:
        return f"{{{self.prefix}}}:{name}"

    @property
    def config(self) -> str:
        """Hash: the live configuration (see `place.config.LiveConfig.to_hash`)."""
        return self._key("config")

    @property
    def canvas(self) -> str:
        """String: one u8 palette index per pixel, row-major (BITFIELD u8)."""
        return self._key("canvas")

    @property
    def who(self) -> str:
        """String: 12 bytes per pixel, u32 player number then i64 ms of the last placement."""
        return self._key("who")

    @property
    def placements(self) -> str:
        """Stream: every stored placement (x, y, c, u, t) and admin wipes, in order."""
        return self._key("placements")

    @property
    def bans(self) -> str:
        """Hash: player id -> JSON {"reason", "until_ms" (null: never), "at_ms"}; a timed ban
        ends by itself (checked against Redis TIME) and is removed lazily."""
        return self._key("bans")

    @property
    def stats(self) -> str:
        """Hash: placements, peak_pps, pps_sec, pps_count, peak_ccu, visits."""
        return self._key("stats")

    @property
    def player_numbers(self) -> str:
        """Hash: player id -> player number (the who record holds numbers, 4 bytes)."""
        return self._key("players")

    @property
    def player_names(self) -> str:
        """Hash: player number -> display name."""
        return self._key("player_names")

    @property
    def player_seq(self) -> str:
        """Counter: the last player number given out."""
        return self._key("player_seq")

    def token(self, digest: str) -> str:
        """String with an expiry at the token's `exp`: a verified sign-in token (its SHA-256,
        hex) -> the identity it stands for (JSON), shared by every pod."""
        return self._key(f"token:{digest}")

    def cooldown(self, player_id: str) -> str:
        """String with a TTL: when the player may place again (Unix ms)."""
        return self._key(f"cooldown:{player_id}")

    @property
    def ticker_lock(self) -> str:
        """String with a TTL: the active ticker's token."""
        return self._key("ticker:lock")

    @property
    def ticker_state(self) -> str:
        """Hash: seq, pos (last stream id in a delta), config_version, snapshot_at."""
        return self._key("ticker:state")

    @property
    def deltas(self) -> str:
        """Stream: recent delta frames, entry id `<seq>-1`, for pods catching up."""
        return self._key("deltas")

    @property
    def snapshot(self) -> str:
        """Hash: frame (latest snapshot frame), config (its LiveConfig as JSON), seq."""
        return self._key("snapshot")

    @property
    def store_status(self) -> str:
        """Hash: the active ticker's object-store state (backlog, last backup, last error)."""
        return self._key("store")

    @property
    def pods(self) -> str:
        """Hash: pod id -> "connections:reported_ms", for the cluster-wide stats."""
        return self._key("pods")

    @property
    def pod_info(self) -> str:
        """Hash: pod id -> JSON {"host", "pid", "placements", "pps"}, beside `pods`, for
        `place admin status`."""
        return self._key("pods:info")

    @property
    def tickers(self) -> str:
        """Hash: ticker token -> "reported_ms host pid", every ticker's heartbeat (active and
        standbys), for `place admin status`."""
        return self._key("tickers")

    @property
    def audit(self) -> str:
        """Stream: the admin audit log, one entry (`j`: JSON) per admin action."""
        return self._key("audit")

    @property
    def audit_copied(self) -> str:
        """String: id of the last audit entry copied to the object store."""
        return self._key("audit:copied")

    @property
    def channel(self) -> str:
        """Pub/sub channel: deltas and notices from the ticker to every pod."""
        return self._key("events")
