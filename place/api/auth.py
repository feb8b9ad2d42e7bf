"""Who a player is: a token in; a stable id, a public name, admin rights and an expiry out.

`dev`: the token is the player's name (local use only). `firebase`: the token is a Firebase ID
token. We check its claims ourselves (`exp`, `iat`, `aud`, `iss`, `sub`) before anything else,
because firebase-admin skips expiry and signature against the Auth emulator; then firebase-admin
checks the signature (RS256, Google's certificates) and asks Firebase whether the token was
revoked or the account disabled (`check_revoked=True`). It blocks, so it runs in threads.

A verified token is cached until its `exp`, by a hash of the token: in this pod's memory (an LRU
of `CACHE_SIZE`) and in Redis, shared by every pod, so that after a pod restart its players
signing in again elsewhere do not send thousands of look-ups to Firebase at once. The trade-off:
revocation and a disabled account are checked when a token is first verified; a token verified
once keeps signing in until it expires (Firebase ID tokens live an hour), on every pod. Players
who must stop at once are banned with `place admin ban`, which every placement checks in Redis.

The public name is the Firebase display name (the `name` claim), never the email or a part of
it; without one, a neutral name made from a hash of the uid.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import concurrent.futures
import dataclasses
import hashlib
import ipaddress
import itertools
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from place.errors import PlaceError, SettingsError
from place.keys import Keys
from place.settings import Settings

logger = logging.getLogger("place.auth")

NAME_MAX = 32
CACHE_SIZE = 50_000
CLOCK_SKEW_S = 10  # a token issued this far in our future is fine: Firebase's clock may lead
HTTP_TIMEOUT_S = 10  # firebase-admin's own default is 120 s: a player would wait that long
VERIFY_THREADS = 16
ISSUER_PREFIX = "https://securetoken.google.com/"

_DEV_NAME = re.compile(r"^[\w .\-]{1,32}$")
# the page says it word for word before asking (frontend/src/lib/auth.ts, NAME_RULE_MESSAGE)
DEV_NAME_RULE = "A name is 1 to 32 letters, digits, spaces, dots, dashes or underscores."
_APP_NUMBERS = itertools.count(1)


class AuthError(PlaceError):
    """The token was refused; the message says why, for the player (`unauthenticated`)."""


class AuthUnavailable(PlaceError):
    """The identity provider could not be asked (`unavailable`): not the player's fault."""


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    id: str
    name: str
    admin: bool = False  # places without cooldown
    expires_at_ms: int | None = None  # when the token stops being valid; None: never (dev)


class Authenticator(Protocol):
    async def verify(self, token: str) -> Identity: ...

    def public(self) -> dict[str, str]:
        """The `auth` field of `GET /api/config`: which sign-in the page offers."""
        ...


class DevAuth:
    def public(self) -> dict[str, str]:
        return {"provider": "dev"}

    async def verify(self, token: str) -> Identity:
        name = token.strip()
        if not _DEV_NAME.match(name):
            raise AuthError(DEV_NAME_RULE)
        return Identity(name, name)


def neutral_name(uid: str) -> str:
    """A name for a player without a display name that says nothing about the account."""
    return "player-" + hashlib.sha256(uid.encode()).hexdigest()[:6]


def public_name(claims: dict[str, Any]) -> str:
    """The display name, without control characters or runs of spaces, at most 32 characters."""
    raw = claims.get("name")
    name = ""
    if isinstance(raw, str):
        kept = "".join(ch for ch in raw if not unicodedata.category(ch).startswith("C"))
        name = " ".join(kept.split())[:NAME_MAX].strip()
    return name or neutral_name(str(claims["sub"]))


class TokenCache:
    """Verified tokens until their expiry: an LRU in memory in front of keys shared in Redis."""

    def __init__(self, keys: Keys, size: int = CACHE_SIZE) -> None:
        self._redis: Redis | None = None
        self._keys = keys
        self._size = size
        self._entries: collections.OrderedDict[bytes, Identity] = collections.OrderedDict()

    def share(self, redis: Redis) -> None:
        """Keep verified tokens in Redis too, where every pod finds them."""
        self._redis = redis

    async def get(self, digest: bytes, now_ms: int) -> Identity | None:
        identity = self._entries.get(digest)
        if identity is not None:
            if _alive(identity, now_ms):
                self._entries.move_to_end(digest)
                return identity
            del self._entries[digest]
        if self._redis is None:
            return None
        raw = await self._redis.get(self._keys.token(digest.hex()))
        if raw is None:
            return None
        try:
            identity = Identity(**orjson.loads(raw))
        except (TypeError, ValueError):  # written by another version: verify again
            return None
        if not _alive(identity, now_ms):
            return None
        self._remember(digest, identity)
        return identity

    async def put(self, digest: bytes, identity: Identity) -> None:
        self._remember(digest, identity)
        if self._redis is not None and identity.expires_at_ms is not None:
            await self._redis.set(
                self._keys.token(digest.hex()),
                orjson.dumps(dataclasses.asdict(identity)),
                pxat=identity.expires_at_ms,
            )

    def _remember(self, digest: bytes, identity: Identity) -> None:
        self._entries[digest] = identity
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _alive(identity: Identity, now_ms: int) -> bool:
    return identity.expires_at_ms is None or identity.expires_at_ms > now_ms


class FirebaseAuth:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        import firebase_admin  # imported here: slow to import, and dev auth never needs it
        from firebase_admin import auth
        from google.auth.exceptions import GoogleAuthError

        project_id = settings.firebase_project_id
        assert project_id
        self.project_id = project_id
        self._issuer = ISSUER_PREFIX + project_id
        self._app = firebase_admin.initialize_app(
            options={"projectId": project_id, "httpTimeout": HTTP_TIMEOUT_S},
            name=f"place-{project_id}-{next(_APP_NUMBERS)}",
        )
        try:  # against Firebase itself, every look-up needs Google credentials: check them now
            self._client = auth.Client(self._app)
        except GoogleAuthError as error:
            raise SettingsError(
                "firebase auth needs Google credentials to check tokens against Firebase: set"
                " GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run where"
                f" Google provides them (workload identity) ({_first_sentence(error)})"
            ) from None
        self._clock = clock
        self._threads = concurrent.futures.ThreadPoolExecutor(
            VERIFY_THREADS, thread_name_prefix="firebase"
        )
        self.cache = TokenCache(Keys(settings.key_prefix))
        self._warned: set[str] = set()
        self._public = {"provider": "firebase", "projectId": project_id}
        self._public.update(settings.firebase_web_config)
        if settings.firebase_emulator_url:
            self._public["emulatorUrl"] = settings.firebase_emulator_url

    def public(self) -> dict[str, str]:
        return dict(self._public)

    async def verify(self, token: str) -> Identity:
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = await self.cache.get(digest, int(now * 1000))
        if cached is not None:
            return cached
        claims = self.check_claims(unverified_claims(token), now)
        loop = asyncio.get_running_loop()
        verified = await loop.run_in_executor(self._threads, self._verify_blocking, token)
        if verified.get("sub") != claims["sub"]:  # cannot happen; never trust a mismatch
            raise AuthError("the sign-in token is not valid")
        identity = Identity(
            id=str(claims["sub"]),
            name=public_name(claims),
            admin=claims.get("admin") is True,
            expires_at_ms=int(claims["exp"]) * 1000,
        )
        await self.cache.put(digest, identity)
        return identity

    def check_claims(self, claims: dict[str, Any], now: float) -> dict[str, Any]:
        """Our own checks of the claims, the same with the emulator as in production."""
        aud, iss, sub = claims.get("aud"), claims.get("iss"), claims.get("sub")
        exp, iat = claims.get("exp"), claims.get("iat")
        if aud != self.project_id or iss != self._issuer:
            raise AuthError(
                f"the sign-in token is for another Firebase project ({str(aud)[:64]!r});"
                f" this canvas accepts {self.project_id!r}"
            )
        if not isinstance(sub, str) or not 1 <= len(sub) <= 128:
            raise AuthError("the sign-in token names no user")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise AuthError("the sign-in token has no expiry or issue time")
        if exp <= now:  # no leeway: the connection's placements stop at `exp` exactly
            raise AuthError("the sign-in token has expired; sign in again")
        if iat - CLOCK_SKEW_S > now:
            raise AuthError("the sign-in token is issued in the future; check the clock")
        return claims

    def _verify_blocking(self, token: str) -> dict[str, Any]:
        """firebase-admin's verification: signature, then revocation and disabled account."""
        from firebase_admin import auth, exceptions
        from google.auth.exceptions import GoogleAuthError

        try:
            return self._client.verify_id_token(
                token, check_revoked=True, clock_skew_seconds=CLOCK_SKEW_S
            )
        except auth.ExpiredIdTokenError:
            raise AuthError("the sign-in token has expired; sign in again") from None
        except auth.RevokedIdTokenError:
            raise AuthError("the sign-in token was revoked; sign in again") from None
        except auth.UserDisabledError:
            raise AuthError("this account is disabled") from None
        except auth.UserNotFoundError:
            raise AuthError("this account does not exist any more") from None
        except (auth.InvalidIdTokenError, ValueError) as error:
            raise AuthError(f"the sign-in token is not valid: {_first_sentence(error)}") from None
        except (auth.CertificateFetchError, exceptions.FirebaseError, GoogleAuthError) as error:
            self._warn(f"Firebase could not verify a token: {_first_sentence(error)}")
            raise AuthUnavailable(str(error)) from None

    def _warn(self, message: str) -> None:
        """Log each distinct problem once: a storm of sign-ins must not flood the log."""
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s", message)


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, not yet trusted: for our checks before the expensive ones."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("the sign-in token is malformed (not a JWT)")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = orjson.loads(payload)
    except (binascii.Error, ValueError):
        raise AuthError("the sign-in token is malformed (not a JWT)") from None
    if not isinstance(claims, dict):
        raise AuthError("the sign-in token is malformed (not a JWT)")
    return claims


def _first_sentence(error: BaseException) -> str:
    text = str(error).split(". ")[0].strip().rstrip(".")
    return text[:200] or type(error).__name__


def make_authenticator(settings: Settings, default: str) -> Authenticator:
    """The authenticator for PLACE_AUTH (or the command's default).

    Dev auth lets anyone sign in as anyone: the command's default serves it on loopback only;
    elsewhere it takes PLACE_AUTH=dev (or `--auth dev`) on purpose.
    """
    mode = settings.auth or default
    if mode == "dev":
        if settings.auth is None and not is_loopback(settings.host):
            raise SettingsError(
                f"dev auth lets anyone sign in as anyone: it listens on loopback only, not on"
                f" {settings.host}; set PLACE_AUTH=dev (or --auth dev) to serve it there anyway"
            )
        return DevAuth()
    if not settings.firebase_project_id:
        raise SettingsError("PLACE_FIREBASE_PROJECT_ID is required with PLACE_AUTH=firebase")
    return FirebaseAuth(settings)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
