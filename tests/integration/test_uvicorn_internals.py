"""The pod writes frames straight to uvicorn's websocket transport, which only works with the
uvicorn internals it was written against (pyproject.toml pins the versions). When they are
missing, `place api` stops at start-up with one clear line, before taking any player."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import REPO, free_port

# Run `place api` with uvicorn's websocket protocol changed the way a future uvicorn might.
BREAK = {
    "close_sent": """
orig = P.__init__
def init(self, *args, **kwargs):
    orig(self, *args, **kwargs)
    del self.close_sent
P.__init__ = init
""",
    "transport": """
orig = P.__init__
def init(self, *args, **kwargs):
    orig(self, *args, **kwargs)
    del self.transport
P.__init__ = init
""",
    "shutdown": "del P.shutdown",
    "keepalive": """
orig = P.__init__
def init(self, *args, **kwargs):
    orig(self, *args, **kwargs)
    del self.ping_interval
P.__init__ = init
""",
}


@pytest.mark.parametrize("missing", sorted(BREAK))
def test_place_api_refuses_to_start_in_one_line_without_the_internals(missing: str) -> None:
    script = (
        "from uvicorn.protocols.websockets.websockets_sansio_impl import"
        " WebSocketsSansIOProtocol as P\n"
        + BREAK[missing]
        + "\nfrom place.cli import main\nraise SystemExit(main(['api']))\n"
    )
    env = {
        **os.environ,
        "PLACE_AUTH": "dev",
        "PLACE_PORT": str(free_port()),
        "PLACE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # never reached
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("place api: uvicorn") and "Traceback" not in done.stderr
    assert missing in done.stderr


async def test_the_uvicorn_installed_has_the_internals() -> None:
    """In a running event loop, as `run_api` calls it (uvicorn's protocol objects need one)."""
    from place.api.server import check_uvicorn
    from place.settings import Settings

    check_uvicorn(Settings())  # raises PlaceError otherwise
