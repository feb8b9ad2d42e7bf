"""Every `place` command with arguments of every shape, run as the console script runs it
(`place.cli.main`): a refusal is exit status 1 or 2 with one line on stderr, nothing else is ever
a traceback, and a refused command leaves the canvas as it was."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from place.cli import build_parser, main
from tests.fuzz.conftest import KEYS, Site, examples

SERVERS = {"api", "ticker", "dev", "replay"}  # commands that would run until stopped


def commands() -> dict[tuple[str, ...], list[str]]:
    """Every command path (`admin wipe`, ...) and the options it takes."""
    found: dict[tuple[str, ...], list[str]] = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        found[path] = [o for a in parser._actions for o in a.option_strings if o not in ("-h",)]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))

    walk(build_parser(), ())
    return found


COMMANDS = commands()

values = st.one_of(
    st.integers(min_value=-5, max_value=70).map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            "-",
            "--",
            "0",
            "1e309",
            "nan",
            "#ffffff,#000000",
            "#zzzzzz",
            "2h",
            "-3d",
            "90s",
            "2026-12-01T15:30:00Z",
            "yesterday",
            "top-left",
            "centre",
            "x",
            "/dev/null/x",
            "ann",
        ]
    ),
    st.text(max_size=20).filter(lambda t: "\x00" not in t),
)


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    path = draw(st.sampled_from(sorted(COMMANDS)))
    options = COMMANDS[path]
    tokens = st.one_of(values, st.sampled_from(options) if options else values)
    return [*path, *draw(st.lists(tokens, max_size=6))]


@pytest.fixture(scope="module")
def place_env(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fuzz site's Redis and store for every command, run from a scratch folder (a command
    that writes a file writes it there)."""
    scratch = tmp_path_factory.mktemp("cli")
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(
        PLACE_REDIS_URL=site.cluster.redis_url, PLACE_STORE_URL=site.cluster.env["PLACE_STORE_URL"]
    )
    os.chdir(scratch)
    yield scratch
    os.chdir(saved_cwd)
    os.environ.clear()
    os.environ.update(saved_env)


def parses(argv: list[str]) -> bool:
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except BaseException:
        return False
    return True


@examples(600)
@given(argv=argvs())
def test_every_command_line_ends_in_one_line_or_works(site: Site, place_env: Path, argv) -> None:  # type: ignore[no-untyped-def]
    if argv and argv[0] in SERVERS and parses(argv) and not {"-h", "--help"} & set(argv):
        return  # a server with good arguments would serve; its bad arguments are covered
    before = site.redis.get(KEYS.canvas)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit:  # --help, as argparse does it
            status = exit.code if isinstance(exit.code, int) else 1
    text = err.getvalue()
    assert "Traceback" not in text + out.getvalue(), (argv, text)
    if status != 0:
        assert status in (1, 2), (argv, status, text)
        assert text.count("\n") == 1 and text.startswith("place"), (argv, text)
        assert site.redis.get(KEYS.canvas) == before, (argv, "a refused command changed it")
