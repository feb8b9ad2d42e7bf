"""Browser tests of the players' page: the built frontend (frontend/dist) served by real `place`
processes, driven in Debian's Chromium through Playwright's sync API. No browser is downloaded."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.cluster import Cluster
from tests.e2e.firebase import firebase_auth  # noqa: F401  (a fixture for every e2e test)
from tests.servers import REPO, PlaceProcess, RedisServer, free_port

DIST = REPO / "frontend" / "dist"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
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


class Site:
    """A running game for the page: a ticker and one pod on a known port, restartable."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.port = free_port()
        self.ticker = cluster.ticker()
        self.pod: PlaceProcess = cluster.pod(port=self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, *args: str) -> None:
        done = self.cluster.admin(*args)
        assert done.returncode == 0, done.stderr

    def restart_pod(self) -> None:
        """What a rolling deploy does to one pod: SIGTERM (sockets close with 1012), a new one."""
        self.pod.signal(signal.SIGTERM)
        assert self.pod.wait(20) == 0, self.pod.log()
        self.pod = self.cluster.pod(port=self.port)


@pytest.fixture(scope="session")
def built_page() -> Path:
    for name in ("index.html", "embed.html"):
        if not (DIST / name).exists():
            pytest.fail(
                f"frontend/dist/{name} is missing: build the page first "
                "(`make frontend`, or `cd frontend && npm ci && npm run build`)",
                pytrace=False,
            )
    return DIST


@pytest.fixture(scope="module")
def browser(built_page: Path) -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make setup` (apt-get install chromium)", pytrace=False
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _make_site(log_dir: Path, **env: str) -> Iterator[Site]:
    # A redis-server of its own: a game lives across tests here, and the session's Redis is
    # emptied by other fixtures (Cluster, `redis`) while it would still be running.
    redis_server = RedisServer()
    cluster = Cluster(redis_server, log_dir, **env)
    try:
        yield Site(cluster)
    finally:
        cluster.stop()
        redis_server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One game shared by the tests that leave it as they found it (30 s cooldown, 64x48)."""
    yield from _make_site(
        tmp_path_factory.mktemp("site-logs"),
        PLACE_COOLDOWN_S="30",
        PLACE_WIDTH="64",
        PLACE_HEIGHT="48",
    )


@pytest.fixture
def own_site(tmp_path: Path) -> Iterator[Site]:
    """A game of its own for a test that restarts or resizes it (no cooldown)."""
    yield from _make_site(
        tmp_path / "logs", PLACE_COOLDOWN_S="0", PLACE_WIDTH="64", PLACE_HEIGHT="48"
    )


@pytest.fixture
def big_site(tmp_path: Path) -> Iterator[Site]:
    """A full-size 1000x1000 game, for timings."""
    yield from _make_site(
        tmp_path / "logs", PLACE_COOLDOWN_S="0", PLACE_WIDTH="1000", PLACE_HEIGHT="1000"
    )


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (a different player: own storage, own socket)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_page(url: str, *, width: int = 1280, height: int = 800, touch: bool = False) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        wait_live(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def wait_live(page: Page, timeout_s: float = 10) -> None:
    page.wait_for_function(
        "window.__place && window.__place.status() === 'live'", timeout=timeout_s * 1000
    )


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
