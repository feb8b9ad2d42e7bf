"""Every HTTP endpoint with parameters of every shape against a real pod: never a 500, a bad
parameter gets 400 with a JSON `{"error": ...}`, and nothing changes the canvas."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import HEIGHT, WIDTH, Site, examples

ENDPOINTS = [
    "/api/config",
    "/api/canvas.png",
    "/api/pixel",
    "/api/stats",
    "/api/history",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/embed",
]
NAMES = ["x", "y", "zoom", "from", "to", "max", "v", "t", "seq"]

values = st.one_of(
    st.integers(min_value=-3, max_value=70).map(str),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "1e3", "0x10", "1_0", "+5", "-0", " 7 ", "٣", "NaN", "inf", "١٢"]),
    st.text(max_size=30),
)
queries = st.lists(st.tuples(st.sampled_from(NAMES) | st.text(max_size=8), values), max_size=4)
segments = st.text(max_size=24).map(lambda text: quote(text, safe=""))
frame_names = st.sampled_from(
    ["0.png", "-1.png", "99999999999999999999.png", "1764000000000.png", ".png", "..%2F.png"]
)
paths = st.one_of(
    st.sampled_from(ENDPOINTS),
    st.builds("/api/history/{}".format, segments | frame_names),
    st.builds("/assets/{}".format, segments),
    st.builds("/api/{}".format, segments),
)


def plain_int(text: str) -> int | None:
    """The integer a plain decimal query value says (`12`, `-3`, `+5`), or None."""
    digits = text[1:] if text[:1] in "+-" else text
    return int(text) if digits.isascii() and digits.isdigit() else None


def pixel_status(x: str | None, y: str | None) -> int | None:
    """What the contract answers `GET /api/pixel?x=&y=`: 200 inside the canvas, 400 otherwise;
    None where a value is a number only to some readers (digits of other scripts, `1_0`)."""
    if x is None or y is None:
        return 400
    coords = (plain_int(x), plain_int(y))
    if coords[0] is not None and coords[1] is not None:
        inside = 0 <= coords[0] < WIDTH and 0 <= coords[1] < HEIGHT
        return 200 if inside else 400
    try:
        int(x), int(y)
    except ValueError:
        return 400
    return None


_clients: dict[int, httpx.AsyncClient] = {}


async def fetch(site: Site, path: str, query: list[tuple[str, str]]) -> httpx.Response:
    """One client for every case (a new one costs more than the request)."""
    http = _clients.get(id(site))
    if http is None:
        http = _clients[id(site)] = httpx.AsyncClient(base_url=site.pod.url, timeout=10)
    return await http.get(path, params=query)


@examples(2500)
@given(path=paths, query=queries)
def test_no_request_gets_a_500(site: Site, runner, path: str, query: Any) -> None:  # type: ignore[no-untyped-def]
    answer = runner.run(fetch(site, path, query))
    assert answer.status_code != 500 and answer.status_code < 600, (path, query, answer.text)
    if answer.status_code == 400:
        assert answer.headers["content-type"].startswith("application/json")
        assert isinstance(answer.json()["error"], str)
    if path == "/api/pixel":
        asked = dict(query)  # the last of a repeated name counts, as Starlette reads them
        expected = pixel_status(asked.get("x"), asked.get("y"))
        allowed = {expected} if expected is not None else {200, 400}
        assert answer.status_code in allowed, (query, answer.status_code, answer.text)


def test_no_request_changed_the_canvas_or_failed_the_pod(site: Site, runner) -> None:  # type: ignore[no-untyped-def]
    http = _clients.pop(id(site), None)
    if http is not None:
        runner.run(http.aclose())
    site.assert_untouched()
