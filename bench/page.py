"""The players' page in Chromium: first paint, memory, and the cost of a delta in each format.

Debian's Chromium (headless, software compositing) opens the built page (``frontend/dist``) of a
real pod whose canvas is a finished-looking one (``bench.canvases.image_like``). Figures:

- first paint, first canvas draw and "live" (``performance`` marks of the page), cold cache;
- memory: the page's JavaScript heap (CDP ``Performance.getMetrics``; typed arrays are outside
  it) and the memory of its renderer process (PSS of Chromium's ``--type=renderer``);
- decoding a 4,000-pixel delta, both formats, made by the server's own encoders
  (``place.protocol``): the page's ``decodeBinary`` (through ``CanvasFeed.pushBinary``) over many
  frames, timed in the page; then the same with the canvas applied, and the page's canvas checked
  against the canvas Python expects (the same CRC-32), so the figure is of a correct decode.

    .venv/bin/python -m bench.page --size 1000 --size 2000
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.canvases import image_like, uniform_tick
from bench.servers import Stack
from place import protocol

CHROMIUM = os.environ.get("PLACE_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DIST = Path(__file__).resolve().parent.parent / "frontend" / "dist"
FRAMES = 200  # deltas decoded per format (the timer in a page is coarse: time many)
N_PIXELS = 4000

_MARKS = """() => {
    const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
    return {first_paint_ms: at('first-paint'),
            first_contentful_paint_ms: at('first-contentful-paint'),
            first_canvas_draw_ms: at('place:first-draw'),
            live_ms: at('place:live')};
}"""

_DECODE = """async ([frames, rounds]) => {
    const feed = window.__place.client.feed;
    const state = window.__place.client.state;
    const buffers = frames.map((b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer);
    const view = (b) => new DataView(b);
    const seq0 = state.seq;
    // decode only: the frames' seq are all at or below the canvas's, so the page drops them
    // after decoding (a stale delta): what is left is decodeBinary and the queue
    for (const b of buffers) view(b).setUint32(4, Math.max(0, seq0 - 1), true);
    await feed.whenIdle();
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) for (const b of buffers) feed.pushBinary(b.slice(0));
    const t1 = performance.now();
    await feed.whenIdle();
    const decode_ms = (t1 - t0) / (rounds * buffers.length);
    // decode and apply, in order, seq after seq
    buffers.forEach((b, i) => view(b).setUint32(4, seq0 + 1 + i, true));
    const t2 = performance.now();
    for (const b of buffers) feed.pushBinary(b);
    await feed.whenIdle();
    const t3 = performance.now();
    return {decode_ms, decode_apply_ms: (t3 - t2) / buffers.length, seq: state.seq,
            crc32: state.checksum()};
}"""


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (this process's Playwright driver, its Chromium, ...)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(b")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        here = todo.pop()
        for child, up in parent.items():
            if up == here and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _pss_kib(pid: int) -> int:
    """Proportional set size: resident memory, shared pages divided among their users."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _chromium_pss_kib() -> dict[str, int]:
    """Memory (PSS) of the Chromium this process started, by process type (renderer: the
    page's; browser, gpu-process, zygote, utility: Chromium's own)."""
    total: dict[str, int] = {}
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"chrom" not in cmdline.split(b"\0", 1)[0].split(b" ", 1)[0]:
            continue  # Playwright's driver (node)
        found = re.search(rb"--type=([a-z-]+)", cmdline)
        kind = found.group(1).decode() if found else "browser"
        total[kind] = total.get(kind, 0) + _pss_kib(pid)
    return total


def measure(side: int, workdir: Path, frames: int = FRAMES) -> dict[str, Any]:
    """Open the page on a ``side`` x ``side`` canvas and take every figure (see the module)."""
    from playwright.sync_api import sync_playwright

    if not (DIST / "index.html").exists():
        raise RuntimeError("frontend/dist is missing: build the page first (make frontend)")
    canvas = image_like(side, side)
    out: dict[str, Any] = {"side": side}
    with Stack(workdir / f"page-{side}", pods=1, width=side, height=side, canvas=canvas) as st:
        url = f"http://127.0.0.1:{st.api[0].port}/?x={side // 2}&y={side // 2}&zoom=1"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(url)
                page.wait_for_function(
                    "window.__place && window.__place.status && window.__place.status() === 'live'",
                    timeout=60_000,
                )
                out.update(page.evaluate(_MARKS))
                time.sleep(1.0)
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                metrics = cdp.send("Performance.getMetrics")["metrics"]
                heap = next((m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"), 0)
                out["js_heap_used_mb"] = heap / 1e6
                pss = _chromium_pss_kib()
                out["renderer_pss_mb"] = pss.get("renderer", 0) / 1024
                out["chromium_pss_mb"] = {kind: kib / 1024 for kind, kib in pss.items()}
                out.update(_decode_figures(page, canvas, side, frames))
                context.close()
            finally:
                browser.close()
    return out


def _decode_figures(page: Any, canvas: np.ndarray, side: int, frames: int) -> dict[str, Any]:
    """Both formats of the same ``frames`` 4,000-pixel ticks, decoded in the page."""
    seq = page.evaluate("window.__place.client.state.seq")
    expected = canvas.copy()
    rng = np.random.default_rng(side)
    ticks = [uniform_tick(rng, N_PIXELS, side * side) for _ in range(frames)]
    for pixels, colors in ticks:
        expected[pixels] = colors
    out: dict[str, Any] = {}
    for name, encode in (("0x02", protocol.encode_delta), ("0x03", protocol.encode_compact_delta)):
        encoded = [encode(seq + 1 + i, p, c) for i, (p, c) in enumerate(ticks)]
        payloads = [base64.b64encode(frame).decode() for frame in encoded]
        result = page.evaluate(_DECODE, [payloads, 5])
        out[name] = {
            "bytes_per_frame": float(np.mean([len(frame) for frame in encoded])),
            "decode_ms": result["decode_ms"],
            "decode_apply_ms": result["decode_apply_ms"],
            # every tick applied once, in order (again for the second format: the same result)
            "canvas_matches": result["crc32"] == zlib.crc32(expected.tobytes()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.page", description=__doc__)
    ap.add_argument("--size", type=int, action="append", help="canvas side (default 1000 2000)")
    ap.add_argument("--workdir", default=f"/tmp/place-bench-page-{os.getpid()}")
    a = ap.parse_args(argv)
    for side in a.size or [1000, 2000]:
        print(json.dumps(measure(side, Path(a.workdir)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
