"""What a command changes in the settings: `place dev`'s short cooldown, the Redis of a running
`place dev` found through var/redis.url, and where a Redis URL came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from place.errors import SettingsError
from place.settings import DEV_REDIS_URL_FILE, Settings


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_place_dev_seeds_a_short_cooldown_unless_told_otherwise() -> None:
    assert Settings.from_env({}, command="dev").cooldown_s == 5
    assert Settings.from_env({"PLACE_COOLDOWN_S": "300"}, command="dev").cooldown_s == 300
    assert Settings.from_env({"PLACE_COOLDOWN_S": "0"}, command="dev").cooldown_s == 0
    assert Settings.from_env({}, command="api").cooldown_s == 300
    assert Settings.from_env({}).cooldown_s == 300


def test_the_commands_find_the_redis_of_place_dev_in_this_directory(here: Path) -> None:
    assert Settings.from_env({}, command="admin").redis_url_source == "the default"
    (here / DEV_REDIS_URL_FILE).parent.mkdir()
    (here / DEV_REDIS_URL_FILE).write_text("redis://127.0.0.1:41234/0\n")
    for command in ("admin", "snapshot", "ticker", "api"):
        settings = Settings.from_env({}, command=command)
        assert settings.redis_url == "redis://127.0.0.1:41234/0"
        assert settings.redis_url_source == "var/redis.url" and not settings.redis_url_given
    # what is given wins, and place dev itself starts its own Redis (or stops: one per directory)
    given = Settings.from_env({"PLACE_REDIS_URL": "redis://h:1/0"}, command="admin")
    assert (given.redis_url, given.redis_url_source) == ("redis://h:1/0", "PLACE_REDIS_URL")
    flag = Settings.from_env({}, command="admin", redis_url="redis://f:2/0")
    assert (flag.redis_url, flag.redis_url_source) == ("redis://f:2/0", "--redis-url")
    assert Settings.from_env({}, command="dev").redis_url_source == "the default"
    assert Settings.from_env({}).redis_url_source == "the default"  # no command: no file


def test_a_bad_redis_url_is_refused_at_start_naming_its_source(here: Path) -> None:
    with pytest.raises(SettingsError, match=r"^--redis-url is not a Redis URL .*'http://x'$"):
        Settings.from_env({"PLACE_REDIS_URL": "redis://h:1/0"}, redis_url="http://x")
    with pytest.raises(SettingsError, match=r"^PLACE_REDIS_URL is not a Redis URL"):
        Settings.from_env({"PLACE_REDIS_URL": "http://x"})
    (here / DEV_REDIS_URL_FILE).parent.mkdir()
    (here / DEV_REDIS_URL_FILE).write_text("nonsense\n")
    with pytest.raises(SettingsError, match=r"^var/redis.url is not a Redis URL"):
        Settings.from_env({}, command="admin")


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_place_port_is_a_port_one_can_listen_on(port: str) -> None:
    with pytest.raises(
        SettingsError, match=f"^PLACE_PORT must be between 1 and 65535, got {port}$"
    ):
        Settings.from_env({"PLACE_PORT": port})
