"""Progress bars for long ops commands: on a terminal only, so logs and scripts stay clean."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], what: str, total: int | None = None) -> Iterator[T]:
    """`items`, with a bar on stderr when it is a terminal (tqdm's `disable=None`)."""
    yield from tqdm(items, desc=what, total=total, disable=None, leave=False, unit=" " + what)
