"""The players' page signing in with Firebase, in Chromium, against the real Firebase Auth emulator
(firebase-tools) and real `place` processes: the email link (asked for in the page, fetched from the
emulator's REST API, opened in the page; on another device; used twice), placing, signing out, and
the sign-in dialog's looks.

Google sign-in is not driven here: even against the emulator, the SDK's popup and redirect flows
first load Google's `gapi` loader from https://apis.google.com, which a machine without internet
cannot reach. Its wiring (popup, redirect when the popup is blocked) is unit-tested with the SDK
stubbed (frontend/tests/firebaseProvider.test.ts)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import Site, _make_site, wait_live
from tests.e2e.firebase import PROJECT
from tests.e2e.test_page import HEX, click_pixel, place_with_mouse, wait_color

BLACK = 4


@pytest.fixture
def firebase_site(tmp_path: Path, firebase_auth: str) -> Iterator[Site]:
    """A game whose pods take Firebase ID tokens from the Auth emulator and tell the page so."""
    yield from _make_site(
        tmp_path / "logs",
        PLACE_COOLDOWN_S="0",
        PLACE_WIDTH="64",
        PLACE_HEIGHT="48",
        PLACE_AUTH="firebase",
        PLACE_FIREBASE_PROJECT_ID=PROJECT,
        FIREBASE_AUTH_EMULATOR_HOST=firebase_auth,
        PLACE_FIREBASE_EMULATOR_URL=f"http://{firebase_auth}",
    )


def offline(context: BrowserContext) -> None:
    """No request leaves the machine: the page and the emulator are all on 127.0.0.1."""
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())


def wait_firebase(page: Page) -> None:
    """The Firebase provider (the lazy chunk) is loaded and has restored any session."""
    page.wait_for_function("window.__place.auth() === 'firebase'", timeout=10_000)
    page.wait_for_function(
        "window.__place.client.auth.auth.authStateReady().then(() => true)", timeout=10_000
    )


def wait_user(page: Page, name: str | None, timeout_s: float = 10) -> None:
    page.wait_for_function(
        "n => (window.__place.client.user?.name ?? null) === n", arg=name, timeout=timeout_s * 1000
    )


def wait_signed_in(page: Page, timeout_s: float = 10) -> str:
    """The server took the page's Firebase token: the name it gave the player."""
    page.wait_for_function("window.__place.client.user !== null", timeout=timeout_s * 1000)
    return page.evaluate("window.__place.client.user.name")


def oob_link(emulator: str, email: str, timeout_s: float = 10) -> str:
    """The newest email sign-in link the emulator "sent" to `email` (its REST API lists them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        codes = httpx.get(
            f"http://{emulator}/emulator/v1/projects/{PROJECT}/oobCodes", timeout=5
        ).json()["oobCodes"]
        links = [
            c["oobLink"]
            for c in codes
            if c["email"] == email and c["requestType"] == "EMAIL_SIGNIN"
        ]
        if links:
            return links[-1]
        assert time.monotonic() < deadline, f"no sign-in link for {email}: {codes}"
        time.sleep(0.1)


def request_link(page: Page, email: str) -> None:
    page.get_by_role("button", name="Sign in", exact=True).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_role("button", name="Email me a sign-in link").click()
    expect(dialog.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(dialog).to_contain_text(email)


def pixel(site: Site, x: int, y: int) -> dict:
    return httpx.get(f"{site.url}/api/pixel", params={"x": x, "y": y}, timeout=5).json()


def test_email_link_sign_in_place_and_sign_out(
    firebase_site: Site, firebase_auth: str, open_page, artifacts: Path
) -> None:
    view = "?x=10&y=12&zoom=12"
    page = open_page(f"{firebase_site.url}/{view}")
    offline(page.context)
    wait_firebase(page)
    # Under Firebase, nobody is signed in by default; the Place button asks for it.
    assert page.evaluate("window.__place.client.user") is None

    # The dialog offers both ways; a link is asked for in the page.
    page.get_by_role("button", name="Sign in", exact=True).first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Continue with Google")).to_be_visible()
    dialog.get_by_role("button", name="Email me a sign-in link").click()
    expect(dialog.get_by_role("alert")).to_have_text("Type your email address.")
    page.screenshot(path=artifacts / "firebase-sign-in-desktop.png")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    email = "page-ann@example.com"
    request_link(page, email)
    page.screenshot(path=artifacts / "firebase-check-inbox-desktop.png")
    link = oob_link(firebase_auth, email)

    # The link, opened in the same browser: the emulator's action page sends it back to the page,
    # which finishes the sign-in with the remembered address and cleans the URL.
    page.goto(link)
    wait_live(page)
    name = wait_signed_in(page)
    assert "page-ann" not in name  # the server names the player; never after the email
    expect(page.get_by_role("status").filter(has_text=f"Signed in as {name}.")).to_be_visible()
    page.wait_for_url(re.compile(re.escape(view) + "$"))
    assert "oobCode" not in page.url and "apiKey" not in page.url
    expect(page.get_by_role("dialog")).to_be_hidden()
    account = page.get_by_role("button", name=f"Signed in as {name}: account")
    expect(account).to_be_visible()

    # The server knows who placed it.
    place_with_mouse(page, 10, 12, "black")
    wait_color(page, 10, 12, HEX[BLACK], timeout_s=2)
    expect(page.get_by_text("✓ Placed black at (10, 12).")).to_be_visible()
    assert pixel(firebase_site, 10, 12)["user"] == {"name": name}

    # Signed out: the page still watches (live, others' pixels arrive), but cannot place.
    account.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"Signed in as {name}")
    expect(dialog).to_contain_text(email)
    page.screenshot(path=artifacts / "firebase-account-desktop.png")
    dialog.get_by_role("button", name="Sign out").click()
    wait_user(page, None)
    wait_live(page)
    click_pixel(page, 11, 12)
    page.get_by_role("radio", name="red", exact=True).click()
    place = page.get_by_role("button", name="Sign in to place")
    expect(place).to_be_visible()
    place.click()  # opens the sign-in dialog instead of placing
    expect(page.get_by_role("dialog").get_by_role("heading")).to_have_text(
        "Sign in to place pixels"
    )
    page.keyboard.press("Escape")
    assert page.evaluate("window.__place.client.place(11, 12, 29)") == "sign-in"
    assert pixel(firebase_site, 11, 12)["user"] is None

    # A reload stays signed out (Firebase forgot the session), and still shows the canvas live.
    page.reload()
    wait_live(page)
    wait_firebase(page)
    assert page.evaluate("window.__place.client.auth.account()") is None
    assert page.evaluate("window.__place.client.user") is None
    assert page.evaluate("window.__place.colorAt(10, 12)") == HEX[BLACK]


def test_email_link_on_another_device_and_a_used_link(
    firebase_site: Site, firebase_auth: str, open_page, artifacts: Path
) -> None:
    asker = open_page(f"{firebase_site.url}/?x=20&y=20&zoom=10")
    offline(asker.context)
    wait_firebase(asker)
    email = "page-cy@example.com"
    request_link(asker, email)
    link = oob_link(firebase_auth, email)

    # Opened on another device (a browser that does not remember the address): the page asks for it.
    phone = open_page(f"{firebase_site.url}/", width=375, height=667, touch=True)
    offline(phone.context)
    phone.goto(link)
    wait_live(phone)
    dialog = phone.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Finish signing in")).to_be_visible()
    dialog.get_by_label("Email").fill("someone-else@example.com")
    dialog.get_by_role("button", name="Sign in", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("not the address the link was sent to")
    phone.screenshot(path=artifacts / "firebase-finish-phone.png")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_role("button", name="Sign in", exact=True).click()
    wait_signed_in(phone)
    phone.wait_for_url(re.compile(r"/\?x=20&y=20&zoom=10$"))

    # The same link again, in a third browser: it was used; the page says so and offers a new one.
    again = open_page(f"{firebase_site.url}/", width=375, height=667, touch=True)
    offline(again.context)
    again.evaluate("email => localStorage.setItem('place.emailForSignIn', email)", email)
    again.goto(link)
    wait_live(again)
    dialog = again.get_by_role("dialog")
    expect(dialog.get_by_role("alert")).to_have_text(
        "That link has expired or was already used; ask for a new one."
    )
    expect(dialog.get_by_role("button", name="Email me a sign-in link")).to_be_visible()
    assert "oobCode" not in again.url
    again.screenshot(path=artifacts / "firebase-sign-in-phone.png")
    for button in dialog.get_by_role("button").all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert again.evaluate("window.__place.client.user") is None
