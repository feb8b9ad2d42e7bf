"""Who a player is: a token in, a stable id and a display name out.

`dev`: the token is the player's name (local use only). `firebase`: the token is a Firebase ID
token, verified by firebase-admin (which honours FIREBASE_AUTH_EMULATOR_HOST).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Protocol

from place.errors import SettingsError
from place.settings import Settings

_DEV_NAME = re.compile(r"^[\w .\-]{1,32}$")


class AuthError(Exception):
    """The token was refused; the message says why, for the player."""


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    id: str
    name: str


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
            raise AuthError(
                "a name is 1 to 32 letters, digits, spaces, dots, dashes or underscores"
            )
        return Identity(name, name)


class FirebaseAuth:
    def __init__(self, settings: Settings) -> None:
        import firebase_admin  # imported here: slow to import, and dev auth never needs it

        project_id = settings.firebase_project_id
        self._app = firebase_admin.initialize_app(
            options={"projectId": project_id}, name=f"place-{project_id}"
        )
        self._public = {"provider": "firebase", "projectId": project_id}
        self._public.update(settings.firebase_web_config)
        if settings.firebase_emulator_url:
            self._public["emulatorUrl"] = settings.firebase_emulator_url

    def public(self) -> dict[str, str]:
        return dict(self._public)

    async def verify(self, token: str) -> Identity:
        from firebase_admin import auth

        try:
            claims = await asyncio.to_thread(auth.verify_id_token, token, self._app)
        except (
            ValueError,
            auth.InvalidIdTokenError,
            auth.ExpiredIdTokenError,
            auth.RevokedIdTokenError,
            auth.UserDisabledError,
            auth.CertificateFetchError,
        ) as error:
            raise AuthError(f"the sign-in token was refused: {error}") from None
        uid = claims["uid"]
        name = claims.get("name") or (claims.get("email") or "").split("@")[0] or uid[:8]
        return Identity(uid, name[:32])


def make_authenticator(settings: Settings, default: str) -> Authenticator:
    mode = settings.auth or default
    if mode == "dev":
        return DevAuth()
    if not settings.firebase_project_id:
        raise SettingsError("PLACE_FIREBASE_PROJECT_ID is required with PLACE_AUTH=firebase")
    return FirebaseAuth(settings)
