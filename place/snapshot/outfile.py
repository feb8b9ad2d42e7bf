"""Output files of the after-the-event commands, written whole or not at all.

Each command writes into a hidden temporary file beside `--out` and renames it into place when
it is done: a failure (ffmpeg refusing, the store going away, Ctrl-C) leaves no half-written
video, PNG or CSV behind that someone could mistake for the real thing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from place.errors import PlaceError


class OutputError(PlaceError):
    """An output file or directory cannot be written."""


@contextlib.contextmanager
def atomic_output(out: str | os.PathLike[str]) -> Iterator[Path]:
    """A new empty file beside `out`, renamed to `out` if the block succeeds, removed if not.

    It is created on entry, so a directory we cannot write to fails before any download."""
    target = Path(out)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        # 0o666 less the umask, as a plain `open` would give: not mkstemp's 0o600
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror}") from None
    try:
        yield temporary
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise OutputError(f"cannot write {target}: {error.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def output_dir(path: str | os.PathLike[str]) -> Path:
    """`path` as a directory that exists (made if needed) and that we can write to."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write to {directory}: {error.strerror}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {directory}: Permission denied")
    return directory
