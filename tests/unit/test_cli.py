"""The command line as a newcomer meets it: a bad argument is one line naming it and pointing to
`--help`, exit status 1, as every expected failure; `--help` itself prints the whole help."""

from __future__ import annotations

import os

import pytest

from place.cli import main


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    for name in list(os.environ):
        if name.startswith("PLACE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no var/redis.url of a `place dev` around


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["frobnicate"], "place: argument COMMAND: 'frobnicate' is not one of api, ticker, dev,"),
        ([], "place: the following arguments are required: COMMAND; see place --help"),
        (
            ["admin", "resize", "abc", "10"],
            "place admin resize: argument width: 'abc' is not a whole number;"
            " see place admin resize --help",
        ),
        (
            ["admin", "resize", "10"],
            "place admin resize: the following arguments are required: height;"
            " see place admin resize --help",
        ),
        (["admin", "cooldown", "soon"], "argument seconds: 'soon' is not a number"),
        (["admin", "wipe", "0", "0", "1", "1", "--color", "red"], "'red' is not a whole number"),
        (["admin"], "place admin: the following arguments are required: ACTION"),
        (
            ["api", "--port", "99999"],
            "place api: argument --port: must be between 1 and 65535, got 99999;"
            " see place api --help",
        ),
        (["dev", "--port", "0"], "argument --port: must be between 1 and 65535, got 0"),
        (["dev", "--port", "http"], "argument --port: 'http' is not a whole number"),
        (["api", "--auth", "none"], "argument --auth: 'none' is not one of firebase, dev"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_status_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert err.endswith("--help\n") and err.count("\n") == 1, err  # one line, no usage block


def test_help_still_prints_the_whole_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["admin", "resize", "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: place admin resize")


@pytest.mark.parametrize(
    ("argv", "env", "named", "not_named"),
    [
        (["admin", "--redis-url", "http://x", "open"], {}, "--redis-url", "PLACE_REDIS_URL"),
        (["admin", "open"], {"PLACE_REDIS_URL": "http://x"}, "PLACE_REDIS_URL", "--redis-url"),
        (["ticker", "--redis-url", "mysql://y"], {}, "--redis-url", "PLACE_REDIS_URL"),
    ],
)
def test_a_bad_redis_url_names_where_it_came_from(
    argv: list[str],
    env: dict[str, str],
    named: str,
    not_named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{named} is not a Redis URL" in err and not_named not in err
    assert err.count("\n") == 1


def test_a_stale_url_of_place_dev_is_named_as_such(
    tmp_path: os.PathLike[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from place.dev import free_port
    from place.settings import DEV_REDIS_URL_FILE

    DEV_REDIS_URL_FILE.parent.mkdir()
    DEV_REDIS_URL_FILE.write_text(f"redis://127.0.0.1:{free_port()}/0\n")  # its dev was killed
    assert main(["admin", "cooldown", "0"]) == 1
    err = capsys.readouterr().err
    assert "does not answer" in err and "var/redis.url" in err and "still running?" in err
    assert err.count("\n") == 1
