"""One settings object: the contract's names and defaults, one-line errors for bad values."""

from __future__ import annotations

import pytest

from place.errors import SettingsError
from place.settings import Settings


def test_defaults_are_the_contracts() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.store_url == "file://./var/store"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert (settings.tick_ms, settings.resync_s, settings.backup_s) == (500, 60, 30)
    assert settings.timelapse_s == 10
    assert (settings.width, settings.height, settings.cooldown_s) == (1000, 1000, 300)
    assert len(settings.palette) == 32 and settings.palette[0] == "#ffffff"
    assert settings.palette[-1] == "#6d001a"
    assert (settings.msg_rate, settings.msg_burst) == (50, 100)
    assert settings.auth is None and not settings.redis_url_given


def test_environment_and_flags() -> None:
    env = {
        "PLACE_PORT": "9000",
        "PLACE_PALETTE": "#FF0000, #00ff00",
        "PLACE_AUTH": "dev",
        "PLACE_COOLDOWN_S": "0",
        "PLACE_REDIS_URL": "redis://h:1/2",
    }
    settings = Settings.from_env(env, port=9100)
    assert settings.port == 9100  # the flag wins
    assert settings.palette == ("#ff0000", "#00ff00")
    assert settings.auth == "dev" and settings.cooldown_s == 0
    assert settings.redis_url_given


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PLACE_PORT": "http"}, "PLACE_PORT must be a whole number, got 'http'"),
        ({"PLACE_PORT": "70000"}, "PLACE_PORT must be between 1 and 65535, got 70000"),
        ({"PLACE_TICK_MS": "fast"}, "PLACE_TICK_MS must be a whole number, got 'fast'"),
        ({"PLACE_COOLDOWN_S": "-1"}, "PLACE_COOLDOWN_S must be at least 0, got -1"),
        ({"PLACE_AUTH": "none"}, "PLACE_AUTH must be one of firebase, dev, got 'none'"),
        ({"PLACE_PALETTE": "#fff"}, "PLACE_PALETTE colours must look like #rrggbb, got '#fff'"),
        ({"PLACE_WIDTH": "5000", "PLACE_HEIGHT": "5000"}, "at most 16777216 pixels"),
    ],
)
def test_bad_values_fail_in_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")) as caught:
        Settings.from_env(env)
    assert "\n" not in str(caught.value)


def test_a_number_setting_must_be_finite() -> None:
    for raw in ("inf", "1e309", "nan"):
        with pytest.raises(SettingsError, match="PLACE_COOLDOWN_S must be a finite number"):
            Settings.from_env({"PLACE_COOLDOWN_S": raw})
