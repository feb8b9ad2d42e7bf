"""The page's tools in a real browser against real processes: templates (an image from another
origin over the canvas, its wrong pixels, the next one, a share link), the history viewer (the
real ticker's timelapse frames, scrubbed and played, then back to live) and the cooldown
reminder (the browser's permission asked only when the player turns it on)."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Site, _make_site
from tests.e2e.test_page import HEX, color_at, place_with_mouse, sign_in, wait_color

BLACK, RED, DARK_BLUE, WHITE = 4, 29, 19, 0
RGB = {"R": (255, 69, 0), "K": (0, 0, 0), "B": (36, 80, 164), "W": (255, 255, 255)}
# A 4x3 template: red, black, dark blue and white pixels, one transparent (".").
# The two white ones are right on a new canvas: 9 wrong of 11.
ART = ["RKB.", "KWRB", "BRWK"]
NEAR_RED = (250, 75, 10)  # not a palette colour: matched to red


def art_png() -> bytes:
    image = Image.new("RGBA", (4, 3), (0, 0, 0, 0))
    for y, row in enumerate(ART):
        for x, code in enumerate(row):
            if code != ".":
                image.putpixel((x, y), (*RGB[code], 255))
    image.putpixel((0, 0), (*NEAR_RED, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class ImageServer:
    """A tiny HTTP server on another port (another origin than the page's), with or without
    the CORS header that lets a page read its images."""

    def __init__(self, body: bytes, cors: bool) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                if cors:
                    self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/art/flag.png"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def art_server() -> Iterator[ImageServer]:
    server = ImageServer(art_png(), cors=True)
    yield server
    server.close()


@pytest.fixture
def timelapse_site(tmp_path: Path) -> Iterator[Site]:
    """A game that writes a timelapse frame every second, no cooldown."""
    yield from _make_site(
        tmp_path / "logs",
        PLACE_COOLDOWN_S="0",
        PLACE_WIDTH="64",
        PLACE_HEIGHT="48",
        PLACE_TIMELAPSE_S="1",
    )


@pytest.fixture
def cooldown_site(tmp_path: Path) -> Iterator[Site]:
    """A game with a 2-second cooldown, for the reminder."""
    yield from _make_site(
        tmp_path / "logs", PLACE_COOLDOWN_S="2", PLACE_WIDTH="64", PLACE_HEIGHT="48"
    )


def templates(page: Page) -> list[dict]:
    return page.evaluate("window.__place.templates ? window.__place.templates() : []")


def wait_wrong(page: Page, wrong: int, timeout_s: float = 5) -> None:
    page.wait_for_function(
        "n => (window.__place.templates?.() ?? [])[0]?.wrong === n",
        arg=wrong,
        timeout=timeout_s * 1000,
    )


def add_template(page: Page, url: str, x: int, y: int) -> None:
    page.get_by_role("button", name="Templates", exact=True).click()
    panel = page.get_by_role("dialog", name="Templates")
    panel.get_by_label("Image address").fill(url)
    panel.get_by_label("x", exact=True).first.fill(str(x))
    panel.get_by_label("y", exact=True).first.fill(str(y))
    panel.get_by_role("button", name="Add", exact=True).click()


def test_a_template_from_another_site_shows_what_to_fix(
    timelapse_site: Site,
    art_server: ImageServer,
    open_page: Callable[..., Page],
    artifacts: Path,
) -> None:
    site = timelapse_site
    ann = open_page(f"{site.url}/?x=12&y=6&zoom=14")
    sign_in(ann, "ann")
    assert templates(ann) == []  # nothing loaded (nor the tool's code) until asked

    add_template(ann, art_server.url, 10, 5)
    wait_wrong(ann, 9)
    [template] = templates(ann)
    assert (template["x"], template["y"], template["total"], template["status"]) == (
        10,
        5,
        11,
        "ready",
    )
    panel = ann.get_by_role("dialog", name="Templates")
    expect(panel.get_by_text("9 of 11 pixels to fix")).to_be_visible()
    expect(ann.get_by_test_id("wrong-count")).to_have_text("9 to fix")
    ann.screenshot(path=artifacts / "templates-desktop.png", animations="disabled")

    # The next wrong pixel is selected with its colour chosen (the off-red matched to red);
    # placing it by hand makes the count drop.
    ann.get_by_role("button", name="Next pixel").click()
    assert ann.evaluate("window.__place.selected()") == {"x": 10, "y": 5}
    expect(ann.get_by_role("radio", name="red", exact=True)).to_be_checked()
    ann.get_by_role("button", name="Place", exact=True).click()
    wait_color(ann, 10, 5, HEX[RED])
    wait_wrong(ann, 8)
    expect(ann.get_by_test_id("wrong-count")).to_have_text("8 to fix")

    ann.get_by_role("button", name="Next pixel").click()
    assert ann.evaluate("window.__place.selected()") == {"x": 11, "y": 5}
    expect(ann.get_by_role("radio", name="black", exact=True)).to_be_checked()

    # Another player's pixel counts too (it comes in a delta).
    bob = open_page(f"{site.url}/?x=12&y=6&zoom=14")
    sign_in(bob, "bob")
    place_with_mouse(bob, 12, 5, "dark blue")
    wait_wrong(ann, 7)

    # The share link opens the template, its position and a view on it, in another browser.
    ann.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    panel.get_by_role("button", name="Copy link").click()
    expect(panel.get_by_role("button", name="Link copied")).to_be_visible()
    link = ann.evaluate("navigator.clipboard.readText()")
    assert link.startswith(f"{site.url}/?") and "tx=10" in link and "ty=5" in link
    cat = open_page(link)
    cat.wait_for_function("window.__place.templates?.()[0]?.wrong === 7")
    [shared] = templates(cat)
    assert (shared["src"], shared["x"], shared["y"]) == (art_server.url, 10, 5)
    view = cat.evaluate("window.__place.view()")
    assert (view["cx"], view["cy"]) == (12.5, 6.5)
    cat.wait_for_url(lambda url: "template=" not in url)  # kept by the browser from now on

    # Kept in this browser: a reload brings it back, still counting.
    ann.reload()
    ann.wait_for_function("window.__place.templates?.()[0]?.wrong === 7")

    # Opacity and hiding.
    ann.get_by_role("button", name="Templates", exact=True).click()
    panel = ann.get_by_role("dialog", name="Templates")
    panel.get_by_role("slider").fill("0.3")
    ann.wait_for_function("window.__place.templates()[0].opacity === 0.3")
    opacity = ann.evaluate("getComputedStyle(document.querySelector('[data-template]')).opacity")
    assert opacity == "0.3"
    panel.get_by_role("button", name="Hide flag.png").click()
    expect(ann.locator("[data-template]")).to_have_count(0)
    expect(ann.get_by_test_id("wrong-count")).to_have_count(0)


def test_an_image_without_cors_is_explained(
    own_site: Site, open_page: Callable[..., Page], artifacts: Path
) -> None:
    server = ImageServer(art_png(), cors=False)
    try:
        dan = open_page(f"{own_site.url}/", width=375, height=740, touch=True)
        add_template(dan, server.url, 0, 0)
        panel = dan.get_by_role("dialog", name="Templates")
        error = panel.get_by_role("alert")
        expect(error).to_contain_text("CORS")
        expect(error).to_contain_text("upload the file instead")
        assert dan.evaluate("document.documentElement.scrollWidth") <= 375

        # The same image uploaded as a file works.
        dan.locator('input[type="file"]').set_input_files(
            files=[{"name": "flag.png", "mimeType": "image/png", "buffer": art_png()}]
        )
        dan.wait_for_function(
            "window.__place.templates().some(t => t.status === 'ready' && t.total === 11)"
        )
        expect(panel.get_by_text("Uploaded: share the image itself")).to_be_visible()
        dan.screenshot(path=artifacts / "templates-phone.png", animations="disabled")
        panel.get_by_role("button", name="Close templates").click()
        expect(dan.get_by_test_id("wrong-count")).to_have_text("9 to fix")
        dan.get_by_role("button", name="Next pixel").click()
        assert dan.evaluate("window.__place.selected()") == {"x": 0, "y": 0}
        dan.wait_for_function("window.__place.view().zoom >= 16")  # zoomed in to place there
        dan.screenshot(path=artifacts / "templates-phone-canvas.png", animations="disabled")
    finally:
        server.close()


def frames_after(url: str, after_ms: int, timeout_s: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        frames = httpx.get(f"{url}/api/history").json()["frames"]
        if frames and frames[-1] > after_ms:
            return frames
        assert time.monotonic() < deadline, f"no timelapse frame after {after_ms}"
        time.sleep(0.1)


def history_color(page: Page, x: int, y: int) -> str | None:
    return page.evaluate("([x, y]) => window.__place.historyColorAt?.(x, y) ?? null", [x, y])


def test_the_history_slider_shows_the_canvas_back_in_time(
    timelapse_site: Site, open_page: Callable[..., Page], artifacts: Path
) -> None:
    site = timelapse_site
    eve = open_page(f"{site.url}/?x=20&y=20&zoom=8")
    sign_in(eve, "eve")
    frames_after(site.url, 0)  # a frame of the white canvas
    place_with_mouse(eve, 20, 20, "red")
    wait_color(eve, 20, 20, HEX[RED])
    placed_at = int(time.time() * 1000)
    place_with_mouse(eve, 21, 20, "black")
    frames_after(site.url, placed_at + 1500)  # a frame with both pixels

    eve.get_by_role("button", name="History").click()
    bar = eve.get_by_role("region", name="History")
    expect(bar.get_by_role("button", name="Back to live")).to_be_focused()
    slider = bar.get_by_role("slider", name="Time")
    eve.wait_for_function("window.__place.history?.().shown !== null")
    # The latest frame: as live.
    eve.wait_for_function("window.__place.historyColorAt?.(20, 20) === '#ff4500'")
    expect(eve.get_by_role("button", name="Place", exact=True)).to_have_count(0)
    eve.screenshot(path=artifacts / "history-desktop.png")

    # The first frame: before the placements (checked by pixel colour), while live goes on.
    slider.focus()
    eve.keyboard.press("Home")
    eve.wait_for_function("window.__place.history().index === 0")
    eve.wait_for_function("window.__place.historyColorAt(20, 20) === '#ffffff'")
    assert history_color(eve, 21, 20) == HEX[WHITE]
    assert color_at(eve, 20, 20) == HEX[RED]  # the live canvas underneath is still current
    expect(bar.get_by_test_id("history-time")).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))

    # Play (the fastest speed) runs to the last frame and stops there.
    bar.get_by_role("combobox").select_option(index=3)
    bar.get_by_role("button", name="Play").click()
    eve.wait_for_function(
        "(() => { const h = window.__place.history();"
        " return !h.playing && h.index === h.frames - 1; })()",
        timeout=20_000,
    )
    eve.wait_for_function("window.__place.historyColorAt(21, 20) === '#000000'")

    # One click back to live: the frame is gone and placing works again.
    bar.get_by_role("button", name="Back to live").click()
    expect(eve.get_by_role("region", name="History")).to_have_count(0)
    assert history_color(eve, 20, 20) is None
    place_with_mouse(eve, 22, 20, "dark blue")
    wait_color(eve, 22, 20, HEX[DARK_BLUE])
    frames_after(site.url, int(time.time() * 1000) + 200)

    phone = open_page(f"{site.url}/?x=20&y=20&zoom=6", width=375, height=740, touch=True)
    phone.get_by_role("button", name="History").click()
    phone.wait_for_function("window.__place.historyColorAt?.(22, 20) === '#2450a4'", timeout=15_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot(path=artifacts / "history-phone.png")


FAKE_NOTIFICATIONS = """
window.__notify = { asked: 0, shown: [] };
class FakeNotification {
    static permission = 'default';
    static async requestPermission() {
        window.__notify.asked++;
        FakeNotification.permission = 'granted';
        return 'granted';
    }
    constructor(title, options) { window.__notify.shown.push([title, options && options.body]); }
    close() {}
}
window.Notification = FakeNotification;
document.hasFocus = () => false;  // as if the player were in another window
"""


def test_the_reminder_asks_for_notifications_only_when_turned_on(
    cooldown_site: Site, open_page: Callable[..., Page], artifacts: Path
) -> None:
    fay = open_page(f"{cooldown_site.url}/?x=30&y=30&zoom=10")
    fay.context.add_init_script(FAKE_NOTIFICATIONS)
    fay.reload()
    fay.wait_for_function("window.__place && window.__place.status() === 'live'")
    sign_in(fay, "fay")
    place_with_mouse(fay, 30, 30, "red")
    fay.wait_for_function("window.__place.client.lastPlacement?.status === 'placed'")
    fay.wait_for_function("window.__place.client.cooldownLeft() === 0", timeout=5000)
    assert fay.evaluate("window.__notify") == {"asked": 0, "shown": []}  # off by default
    assert fay.evaluate("window.__place.reminder") is None  # not even loaded

    fay.get_by_role("button", name="Reminder when the cooldown ends").click()
    menu = fay.get_by_role("dialog", name="When your next pixel is ready")
    notification = menu.get_by_role("switch", name=re.compile("Show a notification"))
    expect(notification).not_to_be_checked()
    assert fay.evaluate("window.__notify.asked") == 0  # opening the menu asks nothing
    notification.check()
    expect(notification).to_be_checked()
    assert fay.evaluate("window.__notify.asked") == 1
    sound = menu.get_by_role("switch", name=re.compile("Play a sound"))
    sound.check()
    fay.wait_for_function("window.__place.reminder().chimed === 1")  # a preview of the sound
    fay.screenshot(path=artifacts / "reminder-desktop.png")
    menu.get_by_role("button", name="Close").click()

    # When the cooldown ends: one notification and the sound.
    place_with_mouse(fay, 31, 30, "black")
    fay.wait_for_function("window.__notify.shown.length === 1", timeout=5000)
    assert fay.evaluate("window.__notify.shown") == [
        ["Your next pixel is ready", "our/place: you can place a pixel again."]
    ]
    fay.wait_for_function("window.__place.reminder().chimed === 2")

    # Remembered in this browser, and a reload asks nothing by itself.
    fay.reload()
    fay.wait_for_function("window.__place && window.__place.status() === 'live'")
    fay.get_by_role("button", name="Reminder when the cooldown ends").click()
    menu = fay.get_by_role("dialog", name="When your next pixel is ready")
    expect(menu.get_by_role("switch", name=re.compile("Show a notification"))).to_be_checked()
    expect(menu.get_by_role("switch", name=re.compile("Play a sound"))).to_be_checked()
    assert fay.evaluate("window.__notify.asked") == 0
