"""The page as a first-time visitor meets it (issue 14): a name refused whole with the server's
own words, the whole canvas in sight at "fit", a player count that follows within a second or
two, the title and a first-visit hint on a phone, and no request that answers 404."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from websockets.sync.client import connect

from tests.e2e.conftest import Site, wait_live

NAME_RULE = "A name is 1 to 32 letters, digits, spaces, dots, dashes or underscores."
PHONE = {"width": 375, "height": 667, "touch": True}

# What is on top at points along the edges of the drawn canvas (1 px inside): anything but the
# canvas itself (a bar, a panel, a button) covers part of it; so does the edge of the window.
COVERED_EDGES_JS = """() => {
    const p = window.__place;
    const size = p.size();
    const zoom = p.view().zoom;
    const a = p.screenOf(0, 0), b = p.screenOf(size.width - 1, size.height - 1);
    const left = a.x - zoom / 2 + 1, top = a.y - zoom / 2 + 1;
    const right = b.x + zoom / 2 - 1, bottom = b.y + zoom / 2 - 1;
    const points = [];
    for (let i = 0; i <= 40; i++) {
        const x = left + (right - left) * i / 40, y = top + (bottom - top) * i / 40;
        points.push([x, top], [x, bottom], [left, y], [right, y]);
    }
    const covered = [];
    for (const [x, y] of points) {
        const el = document.elementFromPoint(x, y);
        if (!el || !el.closest('[aria-roledescription="pixel canvas"]')) {
            const what = el ? el.outerHTML.slice(0, 80) : 'nothing';
            covered.push(`(${Math.round(x)}, ${Math.round(y)}) under ${what}`);
        }
    }
    return covered;
}"""


# True once the view has not moved between two animation frames (polled every frame).
SETTLED_JS = """() => {
    const v = JSON.stringify(window.__place.view());
    const settled = window.__lastView === v;
    window.__lastView = v;
    return settled;
}"""


def wait_settled(page: Page) -> None:
    page.wait_for_function(SETTLED_JS, polling="raf", timeout=3000)


def wait_canvas_uncovered(page: Page, timeout_s: float = 3) -> None:
    """Until the view has come to rest with the whole canvas in sight, or say what covers it."""
    try:
        page.wait_for_function(
            f"({SETTLED_JS})() && ({COVERED_EDGES_JS})().length === 0",
            polling="raf",
            timeout=timeout_s * 1000,
        )
    except PlaywrightTimeout:
        covered = page.evaluate(COVERED_EDGES_JS)
        pytest.fail(f"the canvas is covered at {len(covered)} edge points: {covered[:4]}")


def canvas_width_on_screen(page: Page) -> float:
    return page.evaluate("window.__place.view().zoom * window.__place.size().width")


def server_refusal(site: Site, token: str) -> str:
    """What the server answers a dev sign-in with this name, over a websocket of our own."""
    with connect(f"ws://127.0.0.1:{site.port}/ws", open_timeout=5) as ws:
        ws.send(json.dumps({"t": "auth", "token": token}))
        while True:
            frame = ws.recv(timeout=5)
            if isinstance(frame, str):
                message = json.loads(frame)
                if message["t"] == "error":
                    assert message["code"] == "unauthenticated"
                    return message["message"]


def test_a_long_name_is_refused_whole_in_the_servers_words(
    site: Site, open_page, artifacts: Path
) -> None:
    long_name = "Bartholomew Montgomery-Fitzgerald III"
    long_name += "x" * (40 - len(long_name))
    assert len(long_name) == 40
    # The server's own words, asked directly: the page says them word for word.
    assert server_refusal(site, long_name) == NAME_RULE
    assert server_refusal(site, "no!") == NAME_RULE

    page = open_page(f"{site.url}/", **PHONE)
    page.get_by_role("button", name="Sign in", exact=True).click()
    dialog = page.get_by_role("dialog")
    field = dialog.get_by_label("Name")
    field.fill(long_name)
    assert field.input_value() == long_name  # nothing cut off
    expect(dialog.get_by_role("alert")).to_have_text(NAME_RULE)  # said as it is typed
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.get_by_role("alert")).to_have_text(NAME_RULE)
    expect(dialog).to_be_visible()
    page.screenshot(path=artifacts / "first-hour-long-name-phone.png")
    assert page.evaluate("window.__place.client.user") is None

    field.fill("no!")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.get_by_role("alert")).to_have_text(NAME_RULE)

    # Fixed, the message goes; 32 characters, accents included, are a name.
    name = "Zoë Bartholomew-Fitzgerald 32.ok"
    assert len(name) == 32
    field.fill(name)
    expect(dialog.get_by_role("alert")).to_have_count(0)
    dialog.get_by_role("button", name="Sign in").click()
    page.wait_for_function("n => window.__place.client.user?.name === n", arg=name)
    expect(dialog).to_be_hidden()


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_fit_shows_the_whole_canvas_clear_of_the_bars(
    site: Site, open_page, artifacts: Path, screen: str
) -> None:
    size = PHONE if screen == "phone" else {"width": 1280, "height": 800}
    page = open_page(f"{site.url}/", **size)
    # The first view is "fit": nothing covers the canvas, the first-visit hint included.
    wait_canvas_uncovered(page)
    expect(page.get_by_role("complementary", name="How to play")).to_be_visible()
    page.screenshot(path=artifacts / f"first-hour-fit-{screen}.png")

    # The hint goes: the canvas moves into the room it leaves (larger, or lower when the width
    # is what limits it), still clear of the panel.
    width, top = canvas_width_on_screen(page), page.evaluate("window.__place.screenOf(0, 0).y")
    page.get_by_role("button", name="Got it").click()
    page.wait_for_function(
        f"""() => window.__place.view().zoom * window.__place.size().width > {width} + 1
            || window.__place.screenOf(0, 0).y > {top} + 1""",
        timeout=3000,
    )
    wait_canvas_uncovered(page)

    # Zoomed in and back to the whole canvas with the button.
    fit_zoom = page.evaluate("window.__place.view().zoom")
    for step in (2, 4):
        page.get_by_role("button", name="Zoom in").click()
        page.wait_for_function(
            f"window.__place.view().zoom > {fit_zoom * step * 0.99}", timeout=3000
        )
        wait_settled(page)
    page.get_by_role("button", name="Show the whole canvas").click()
    wait_canvas_uncovered(page)

    # A selected pixel opens the larger panel; "fit" then fits above it.
    point = page.evaluate("window.__place.screenOf(10, 10)")
    page.mouse.click(point["x"], point["y"])
    page.get_by_text("Pixel (10, 10)").wait_for()
    page.get_by_role("button", name="Show the whole canvas").click()
    wait_canvas_uncovered(page)


def test_the_player_count_follows_within_two_seconds_or_so(own_site: Site, open_page) -> None:
    def online(page: Page):
        return page.get_by_title("Players online now")

    ann = open_page(f"{own_site.url}/")
    expect(online(ann)).to_contain_text("1 online", timeout=3000)
    bob = open_page(f"{own_site.url}/")
    # The pods report every second; the page asks every second while few play.
    expect(online(bob)).to_contain_text("2 online", timeout=3000)
    expect(online(ann)).to_contain_text("2 online", timeout=3000)
    bob.context.close()
    expect(online(ann)).to_contain_text("1 online", timeout=3000)


def test_a_phone_shows_the_title_and_a_first_visit_hint(
    site: Site, open_page, artifacts: Path
) -> None:
    phone = open_page(f"{site.url}/", **PHONE)
    title = phone.get_by_text("our/place", exact=True)
    expect(title).to_be_visible()
    # In the top bar beside the others, none over another, nothing past the screen's edge.
    boxes = [
        title.bounding_box(),
        phone.get_by_role("status").filter(has_text="Live").bounding_box(),
        phone.get_by_title("Players online now").bounding_box(),
        phone.get_by_role("button", name="Sign in", exact=True).bounding_box(),
    ]
    for i, box in enumerate(boxes):
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
        for other in boxes[i + 1 :]:
            assert other and (
                box["x"] + box["width"] <= other["x"] or other["x"] + other["width"] <= box["x"]
            ), (box, other)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375

    # A first visit: what to do, and how long to wait between pixels (this game: 30 s).
    hint = phone.get_by_role("complementary", name="How to play")
    expect(hint).to_contain_text("Pick a pixel, pick a colour, press Place.")
    expect(hint).to_contain_text("One pixel every 30 seconds.")
    phone.screenshot(path=artifacts / "first-hour-phone.png")
    # A selected pixel: the panel shows the next step, the hint steps aside meanwhile.
    point = phone.evaluate("window.__place.screenOf(5, 5)")
    phone.touchscreen.tap(point["x"], point["y"])
    phone.get_by_text("Pixel (5, 5)").wait_for()
    expect(hint).to_be_hidden()
    phone.get_by_role("button", name="Close (deselect pixel)").click()
    expect(hint).to_be_visible()
    # Dismissed, it stays away on the next visit.
    hint.get_by_role("button", name="Got it").click()
    expect(hint).to_be_hidden()
    phone.reload()
    wait_live(phone)
    expect(phone.get_by_text("Pick a pixel, pick a colour")).to_have_count(0)


def test_the_hint_goes_once_the_first_pixel_is_placed(
    site: Site, open_page, artifacts: Path
) -> None:
    page = open_page(f"{site.url}/?x=40&y=30&zoom=12")
    hint = page.get_by_role("complementary", name="How to play")
    expect(hint).to_be_visible()
    page.screenshot(path=artifacts / "first-hour-desktop.png")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("dialog").get_by_label("Name").fill("hint reader")
    page.get_by_role("dialog").get_by_role("button", name="Sign in").click()
    page.wait_for_function("window.__place.client.user?.name === 'hint reader'")
    point = page.evaluate("window.__place.screenOf(40, 30)")
    page.mouse.click(point["x"], point["y"])
    page.get_by_role("radio", name="red", exact=True).click()
    page.get_by_role("button", name="Place", exact=True).click()
    expect(page.get_by_text("✓ Placed red at (40, 30).")).to_be_visible()
    page.get_by_role("button", name="Close (deselect pixel)").click()
    expect(hint).to_be_hidden()
    page.reload()
    wait_live(page)
    expect(page.get_by_text("Pick a pixel, pick a colour")).to_have_count(0)


def test_no_request_of_the_page_or_the_embed_answers_404(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    failed: list[str] = []

    def on_response(response: Response) -> None:
        if response.status >= 400:
            failed.append(f"{response.status} {response.url}")

    context.on("response", on_response)
    try:
        for path in ("/", "/embed", "/stats"):
            page = context.new_page()
            page.goto(f"{site.url}{path}")
            if path == "/stats":
                expect(page.get_by_role("heading", name="our/place")).to_be_visible()
            else:
                wait_live(page)
            # The browser asks for the icon the page links, or for /favicon.ico without one
            # (browser-made requests that Playwright does not report: asked here the same way).
            icons = page.eval_on_selector_all(
                'link[rel~="icon"]', "links => links.map((link) => link.href)"
            ) or [f"{site.url}/favicon.ico"]
            for icon in icons:
                if icon.startswith("data:"):
                    continue  # in the page itself: nothing to ask for
                answer = page.request.get(icon)
                assert answer.status == 200, f"{path}: {icon} answers {answer.status}"
                assert answer.headers["content-type"].startswith("image/"), answer.headers
            page.close()
        # /api/canvas.png or /api/stats opened in a tab: the browser asks for /favicon.ico.
        assert context.request.get(f"{site.url}/favicon.ico").status == 200
    finally:
        context.close()
    assert failed == []
