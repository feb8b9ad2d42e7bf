"""The real Firebase Auth emulator (firebase-tools, installed in tests/firebase/), for the tests of
Firebase sign-in: a fixture that starts it on a free port, and a helper that signs a player up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import REPO, free_port

FIREBASE = REPO / "tests" / "firebase" / "node_modules" / ".bin" / "firebase"
PROJECT = "demo-place"  # "demo-" projects never reach Google


@pytest.fixture(scope="session")
def firebase_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Auth emulator on a free port; yields its host:port."""
    if not FIREBASE.exists():
        pytest.fail("firebase-tools is not installed: run `make setup`", pytrace=False)
    workdir = tmp_path_factory.mktemp("firebase")
    port = free_port()
    config = {
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": port},
            "hub": {"host": "127.0.0.1", "port": free_port()},
            "logging": {"host": "127.0.0.1", "port": free_port()},
            "ui": {"enabled": False},
            "singleProjectMode": True,
        }
    }
    (workdir / "firebase.json").write_text(json.dumps(config))
    log = (workdir / "emulator.log").open("wb")
    process = subprocess.Popen(
        [str(FIREBASE), "emulators:start", "--only", "auth", "--project", PROJECT],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its node children stop with it
        env={**os.environ, "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "1"},
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Auth emulator did not start: {workdir / 'emulator.log'}")
                time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


def sign_up(emulator: str, email: str, name: str) -> tuple[str, str]:
    """A new account in the emulator, as the page's Firebase SDK would make it: (uid, ID token)."""
    answer = httpx.post(
        f"http://{emulator}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any",
        json={
            "email": email,
            "password": "secret-pw",
            "displayName": name,
            "returnSecureToken": True,
        },
    ).json()
    return answer["localId"], answer["idToken"]
