"""The players' page in a real browser against real processes: what a player sees and does.

Pixel colours are read from the page's <canvas> itself (`window.__place.colorAt`, a getImageData
of the drawn element), not from a log.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Site, wait_live

BLACK, RED, DARK_BLUE, WHITE = 4, 29, 19, 0
HEX = {BLACK: "#000000", RED: "#ff4500", DARK_BLUE: "#2450a4", WHITE: "#ffffff"}


def sign_in(page: Page, name: str) -> None:
    page.get_by_role("button", name="Sign in", exact=True).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Sign in").click()
    page.wait_for_function("n => window.__place.client.user?.name === n", arg=name)


def click_pixel(page: Page, x: int, y: int) -> None:
    point = page.evaluate("([x, y]) => window.__place.screenOf(x, y)", [x, y])
    page.mouse.click(point["x"], point["y"])
    page.get_by_text(f"Pixel ({x}, {y})").wait_for()


def place_with_mouse(page: Page, x: int, y: int, color: str) -> None:
    click_pixel(page, x, y)
    page.get_by_role("radio", name=color, exact=True).click()
    page.get_by_role("button", name="Place", exact=True).click()


def color_at(page: Page, x: int, y: int) -> str:
    return page.evaluate("([x, y]) => window.__place.colorAt(x, y)", [x, y])


def wait_color(page: Page, x: int, y: int, hex_color: str, timeout_s: float = 2) -> float:
    """Seconds until the page's canvas shows `hex_color` at (x, y)."""
    started = time.monotonic()
    page.wait_for_function(
        "([x, y, c]) => window.__place.colorAt(x, y) === c",
        arg=[x, y, hex_color],
        timeout=timeout_s * 1000,
        polling=20,
    )
    return time.monotonic() - started


def test_a_placement_reaches_the_other_player_within_two_seconds(
    site: Site, open_page, artifacts: Path
) -> None:
    ann = open_page(f"{site.url}/?x=20&y=20&zoom=12")
    bob = open_page(f"{site.url}/?x=20&y=20&zoom=12")
    assert color_at(bob, 20, 21) == HEX[WHITE]
    sign_in(ann, "ann")

    place_with_mouse(ann, 20, 21, "black")
    started = time.monotonic()
    # Ann sees her pixel at once (pending, drawn on the next frame), then confirmed.
    wait_color(ann, 20, 21, HEX[BLACK], timeout_s=0.25)
    expect(ann.get_by_text("✓ Placed black at (20, 21).")).to_be_visible()
    wait_color(bob, 20, 21, HEX[BLACK], timeout_s=2)
    assert time.monotonic() - started < 2

    # Bob clicks it and learns who placed it.
    click_pixel(bob, 20, 21)
    expect(bob.get_by_text(re.compile(r"Placed by ann"))).to_be_visible()
    ann.screenshot(path=artifacts / "page-desktop.png")

    # The URL follows the view, and a link opens the same view.
    ann.get_by_role("button", name="Zoom in").click()
    ann.wait_for_url(re.compile(r"[?&]zoom=24(&|$)"))
    assert "x=20&y=20" in ann.url
    link = open_page(ann.url)
    view = link.evaluate("window.__place.view()")
    assert (view["cx"], view["cy"], view["zoom"]) == (20.5, 20.5, 24)


def test_cooldown_counts_down_after_placing(site: Site, open_page) -> None:
    cat = open_page(f"{site.url}/?x=30&y=10&zoom=10")
    sign_in(cat, "cat")
    # Keyboard only: the canvas takes focus, arrows pick the pixel, Enter places.
    cat.locator('[aria-roledescription="pixel canvas"]').focus()
    cat.keyboard.press("ArrowRight")  # selects the pixel at the centre first
    cat.keyboard.press("ArrowRight")
    selected = cat.evaluate("window.__place.selected()")
    assert selected == {"x": 31, "y": 10}
    cat.get_by_role("radio", name="red", exact=True).click()
    cat.locator('[aria-roledescription="pixel canvas"]').focus()
    cat.keyboard.press("Enter")
    wait_color(cat, 31, 10, HEX[RED], timeout_s=2)

    button = cat.get_by_role("button", name=re.compile(r"Next pixel in 0:[23]\d"))
    expect(button).to_be_visible()
    assert button.get_attribute("aria-disabled") == "true"
    expect(button).not_to_have_text(button.inner_text())  # the countdown moves

    # Pressing it anyway says why, with the time left (force: Playwright waits for aria-disabled).
    button.click(force=True)
    toast = cat.get_by_role("status").filter(
        has_text=re.compile(r"Not yet: you can place again in 2\d seconds")
    )
    expect(toast).to_be_visible()


def test_a_refused_placement_rolls_back_with_the_reason(site: Site, open_page) -> None:
    dan = open_page(f"{site.url}/?x=40&y=30&zoom=10")
    sign_in(dan, "dan")
    site.admin("ban", "dan")
    try:
        place_with_mouse(dan, 40, 30, "dark blue")
        toast = dan.get_by_role("alert").filter(has_text="Your account may not place pixels.")
        expect(toast).to_be_visible()
        wait_color(dan, 40, 30, HEX[WHITE], timeout_s=0.25)
        expect(dan.get_by_text("✗ Your account may not place pixels.")).to_be_visible()
    finally:
        site.admin("unban", "dan")


def test_the_page_survives_a_pod_restart_without_reload(own_site: Site, open_page) -> None:
    eve = open_page(f"{own_site.url}/?x=10&y=10&zoom=12")
    fay = open_page(f"{own_site.url}/?x=10&y=10&zoom=12")
    sign_in(eve, "eve")
    eve.evaluate("window.__notReloaded = true")
    statuses = eve.evaluate(
        """() => {
            const seen = [];
            new MutationObserver(() => {
                const s = document.querySelector('[data-status]')?.dataset.status;
                if (s && seen.at(-1) !== s) seen.push(s);
            }).observe(document.body, {
                subtree: true, attributes: true, attributeFilter: ['data-status'],
            });
            window.__statuses = seen;
            return seen;
        }"""
    )
    assert statuses == []

    own_site.restart_pod()
    wait_live(eve, timeout_s=20)
    wait_live(fay, timeout_s=20)
    assert eve.evaluate("window.__statuses") == ["reconnecting", "live"]
    assert eve.evaluate("window.__notReloaded") is True

    # Signed in again by itself, and placements after the restart reach both pages.
    eve.wait_for_function("window.__place.client.user?.name === 'eve'")
    place_with_mouse(eve, 11, 12, "red")
    wait_color(fay, 11, 12, HEX[RED], timeout_s=2)


def test_a_resize_is_followed_without_reload(own_site: Site, open_page) -> None:
    gus = open_page(f"{own_site.url}/?x=32&y=24&zoom=4")
    hal = open_page(f"{own_site.url}/?x=32&y=24&zoom=4")
    sign_in(gus, "gus")
    gus.evaluate("window.__notReloaded = true")
    assert gus.evaluate("window.__place.size()")["width"] == 64

    own_site.admin("resize", "96", "72")
    gus.wait_for_function(
        "window.__place.size().width === 96 && window.__place.size().height === 72"
    )
    hal.wait_for_function("window.__place.size().width === 96")
    assert gus.evaluate("document.querySelector('canvas').width") == 96
    assert gus.evaluate("window.__notReloaded") is True

    # The new area is usable, and deltas index with the new width.
    place_with_mouse(gus, 90, 70, "black")
    wait_color(hal, 90, 70, HEX[BLACK], timeout_s=2)


def test_embed_shows_the_live_canvas_read_only(site: Site, open_page, artifacts: Path) -> None:
    ivy = open_page(f"{site.url}/?x=50&y=40&zoom=10")
    sign_in(ivy, "ivy")
    place_with_mouse(ivy, 50, 40, "red")
    embed = open_page(f"{site.url}/embed?x=50&y=40&zoom=8", width=480, height=320)
    wait_color(embed, 50, 40, HEX[RED], timeout_s=2)
    view = embed.evaluate("window.__place.view()")
    assert (view["cx"], view["cy"], view["zoom"]) == (50.5, 40.5, 8)
    # Read-only: nothing to press, nothing to sign in with.
    assert embed.get_by_role("button").count() == 0
    assert embed.get_by_role("radio").count() == 0
    embed.screenshot(path=artifacts / "embed.png")


def test_phone_layout_and_first_paint(site: Site, open_page, artifacts: Path) -> None:
    phone = open_page(f"{site.url}/", width=375, height=667, touch=True)
    # Nothing sticks out of a 375 px screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    point = phone.evaluate("window.__place.screenOf(20, 21)")
    phone.touchscreen.tap(point["x"], point["y"])
    expect(phone.get_by_role("button", name="Sign in to place")).to_be_visible()
    for button in phone.get_by_role("button").all():
        if button.is_visible():
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    phone.screenshot(path=artifacts / "page-phone.png")

    # A name the server refuses: the form says why and stays open.
    phone.get_by_role("button", name="Sign in to place").click()
    dialog = phone.get_by_role("dialog")
    dialog.get_by_label("Name").fill("no!")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.get_by_role("alert")).to_contain_text("A name is 1 to 32 letters")
    expect(dialog).to_be_visible()
    phone.screenshot(path=artifacts / "page-phone-sign-in.png")


def test_timings_on_a_1000x1000_canvas(big_site: Site, open_page, artifacts: Path) -> None:
    """First paint and first canvas draw on loopback, a 4,000-pixel delta applied and drawn in
    Chromium, and the frame rate of a pan. Written to artifacts/timings.json."""
    page = open_page(f"{big_site.url}/?x=500&y=500&zoom=1")
    timings = page.evaluate(
        """() => {
            const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
            return {
                first_paint_ms: at('first-paint'),
                first_contentful_paint_ms: at('first-contentful-paint'),
                first_canvas_draw_ms: at('place:first-draw'),
                live_ms: at('place:live'),
            };
        }"""
    )
    assert timings["first_canvas_draw_ms"] is not None

    timings.update(
        page.evaluate(
            """() => {
                const state = window.__place.client.state;
                const N = 4000, W = state.width, H = state.height;
                let seed = 7;
                const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
                const apply = [], draw = [];
                for (let r = 0; r < 60; r++) {
                    const set = new Set();
                    while (set.size < N) set.add(Math.floor(rand() * W * H));
                    const delta = {
                        kind: 'delta', seq: state.seq + 1,
                        pixels: Uint32Array.from(set),
                        colors: Uint8Array.from(set, () => Math.floor(rand() * 32)),
                    };
                    const t0 = performance.now();
                    if (state.applyDelta(delta) !== 'applied') throw new Error('not applied');
                    const t1 = performance.now();
                    window.__place.draw();
                    const t2 = performance.now();
                    apply.push(t1 - t0);
                    draw.push(t2 - t1);
                }
                const median = (xs) => {
                    const warm = xs.slice(10).sort((a, b) => a - b);
                    return warm[Math.floor(warm.length / 2)];
                };
                return {
                    delta_4000_apply_ms_median: median(apply),
                    delta_4000_draw_ms_median: median(draw),
                };
            }"""
        )
    )

    # A one-second drag: frames the page actually produced.
    box = page.locator('[aria-roledescription="pixel canvas"]').bounding_box()
    assert box
    page.evaluate(
        """() => {
            window.__frames = [];
            const tick = (t) => {
                window.__frames.push(t);
                if (window.__frames.length < 400) requestAnimationFrame(tick);
            };
            requestAnimationFrame(tick);
        }"""
    )
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < 1.0:
        step += 1
        page.mouse.move(box["x"] + 300 + (step % 200), box["y"] + 300 + (step % 100))
    page.mouse.up()
    frames = page.evaluate("window.__frames")
    gaps = sorted(b - a for a, b in itertools.pairwise(frames))
    timings["pan_fps_headless"] = round(1000 / gaps[len(gaps) // 2], 1) if gaps else None
    timings["canvas"] = "1000x1000"

    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
    print("page timings on loopback:", timings)
    assert timings["delta_4000_apply_ms_median"] < 2
