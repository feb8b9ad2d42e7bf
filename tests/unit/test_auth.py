"""Firebase ID tokens in production mode (no emulator), with a key of our own.

What is real: firebase-admin's and google-auth's verification of RS256 signatures, against
certificates they fetch over HTTP (from a server on loopback instead of Google's), and all of
our own checks and caching. What is not: the certificate's origin (our key, not Google's), the
Google credentials firebase-admin wants (anonymous ones), and the user-record look-up that
`check_revoked=True` makes (Google's API: a stub here; the end-to-end tests make it for real
against the Auth emulator).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from firebase_admin import _auth_client, _token_gen, credentials, exceptions
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError

from place.api.auth import AuthError, AuthUnavailable, FirebaseAuth, make_authenticator
from place.errors import SettingsError
from place.settings import Settings

PROJECT = "our-place-prod"
KID = "key-1"


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


KEY, CERT = _key_and_cert()
OTHER_KEY, _ = _key_and_cert()


@pytest.fixture(scope="module")
def cert_url() -> Iterator[str]:
    """Google's certificate endpoint, as firebase-admin reads it, serving our certificate."""
    body = json.dumps({KID: CERT.decode()}).encode()

    class Certs(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Certs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/certs"
    server.shutdown()
    server.server_close()


class Users:
    """Stands in for Firebase's user records (the revocation check's look-up)."""

    def __init__(self) -> None:
        self.lookups = 0
        self.disabled = False
        self.valid_after_ms = 0
        self.error: Exception | None = None

    def get_user(self, uid: str) -> SimpleNamespace:
        self.lookups += 1
        if self.error is not None:
            raise self.error
        return SimpleNamespace(
            disabled=self.disabled, tokens_valid_after_timestamp=self.valid_after_ms
        )


@pytest.fixture
def users(cert_url: str, monkeypatch: pytest.MonkeyPatch) -> Users:
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", cert_url)
    monkeypatch.setattr(
        credentials.ApplicationDefault, "get_credential", lambda self: AnonymousCredentials()
    )
    users = Users()
    monkeypatch.setattr(_auth_client.Client, "get_user", users.get_user)
    return users


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "auth_time": now,
        "sub": "uid-ann-123",
        "user_id": "uid-ann-123",
        "iat": now,
        "exp": now + 3600,
        "email": "ann.smith@example.com",
        "name": "Ann",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey = KEY) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KID})


def authenticator(clock: Any = time.time) -> FirebaseAuth:
    return FirebaseAuth(Settings(auth="firebase", firebase_project_id=PROJECT), clock=clock)


async def test_a_token_signed_with_the_projects_key_signs_in(users: Users) -> None:
    token_claims = claims()
    identity = await authenticator().verify(sign(token_claims))
    assert identity.id == "uid-ann-123" and identity.name == "Ann" and not identity.admin
    assert identity.expires_at_ms == token_claims["exp"] * 1000
    assert users.lookups == 1  # revocation and a disabled account were checked


async def test_a_tampered_token_is_refused(users: Users) -> None:
    auth = authenticator()
    good = sign(claims())
    header, payload, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    forged_claims = claims(name="Mod", admin=True)
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=")
    unsigned = jwt.encode(claims(), key=None, algorithm="none")  # like the emulator's tokens
    for token in (
        f"{header}.{payload}.{flipped}",  # the signature changed
        f"{header}.{forged_payload.decode()}.{signature}",  # the claims changed
        sign(claims(), OTHER_KEY),  # signed by someone else's key under the same kid
        unsigned,
    ):
        with pytest.raises(AuthError, match="not valid"):
            await auth.verify(token)
    assert users.lookups == 0  # refused before anyone asked Firebase


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 3660}, "expired"),
        ({"aud": "someone-else"}, "another Firebase project"),
        ({"iss": "https://securetoken.google.com/someone-else"}, "another Firebase project"),
        ({"iat": int(time.time()) + 600}, "in the future"),
        ({"sub": ""}, "names no user"),
        ({"exp": None}, "no expiry"),
    ],
)
async def test_claims_are_checked(users: Users, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(AuthError, match=message):
        await authenticator().verify(sign(claims(**changes)))


async def test_a_malformed_token_is_refused(users: Users) -> None:
    for token in ("not-a-token", "a.b.c", "a.bm90IGpzb24.c"):
        with pytest.raises(AuthError, match="malformed"):
            await authenticator().verify(token)


async def test_revoked_and_disabled_accounts_are_refused(users: Users) -> None:
    users.disabled = True
    with pytest.raises(AuthError, match="disabled"):
        await authenticator().verify(sign(claims()))
    users.disabled = False
    users.valid_after_ms = (int(time.time()) + 5) * 1000
    with pytest.raises(AuthError, match="revoked"):
        await authenticator().verify(sign(claims()))


async def test_an_unreachable_identity_provider_is_unavailable(users: Users) -> None:
    users.error = exceptions.UnavailableError("Failed to establish a connection")
    with pytest.raises(AuthUnavailable):
        await authenticator().verify(sign(claims()))


async def test_the_public_name_is_the_display_name_never_the_email(users: Users) -> None:
    auth = authenticator()
    nameless = await auth.verify(sign(claims(name=None)))
    assert nameless.name.startswith("player-") and len(nameless.name) == len("player-") + 6
    assert "ann" not in nameless.name and "example" not in nameless.name
    other = await auth.verify(sign(claims(name=None, sub="uid-bob", user_id="uid-bob")))
    assert other.name != nameless.name  # neutral, but not the same for everybody
    long = await auth.verify(sign(claims(name="  Ann \n" + "x" * 40, sub="uid-long")))
    assert long.name == ("Ann " + "x" * 40)[:32]


async def test_the_admin_claim_is_honoured_only_when_true(users: Users) -> None:
    auth = authenticator()
    assert (await auth.verify(sign(claims(admin=True)))).admin
    assert not (await auth.verify(sign(claims(admin="true", sub="uid-2")))).admin


async def test_a_verified_token_is_cached_until_it_expires(users: Users) -> None:
    now = [time.time()]
    auth = authenticator(clock=lambda: now[0])
    token_claims = claims(exp=int(now[0]) + 100)
    token = sign(token_claims)
    first = await auth.verify(token)
    users.disabled = True  # known to Firebase only: the cached token still signs in
    assert await auth.verify(token) == first and users.lookups == 1
    now[0] = token_claims["exp"] + 60  # after its expiry the cache does not answer for it
    with pytest.raises(AuthError, match="expired"):
        await auth.verify(token)


def test_dev_auth_by_default_listens_on_loopback_only() -> None:
    for host in ("127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"):
        make_authenticator(Settings(host=host), "dev")
    with pytest.raises(SettingsError, match="PLACE_AUTH=dev"):
        make_authenticator(Settings(host="0.0.0.0"), "dev")
    make_authenticator(Settings(host="0.0.0.0", auth="dev"), "dev")  # asked for: served


def test_firebase_auth_without_google_credentials_stops_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_credentials(self: object) -> None:
        raise DefaultCredentialsError("Your default credentials were not found. See ...")

    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(credentials.ApplicationDefault, "get_credential", no_credentials)
    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        authenticator()
