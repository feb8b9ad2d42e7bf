"""A directory as the object store (`file:///path`): for `place dev`, tests and small events.

Writes go to a temporary file first and are then linked or renamed into place, so a reader
never sees half an object; a lock file makes `replace` a true compare-and-swap between
processes on this machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from place.store import StoreConflict, StoredObject, StoreMissing, StoreUnavailable

_LOCK = ".lock"
_TEMP_PREFIX = ".tmp-"


class FileStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}"

    def create(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with self._temporary(path, data) as temporary:
            try:
                os.link(temporary, path)  # fails if the key exists: never an overwrite
            except FileExistsError:
                raise StoreConflict(f"{key} exists already in {self.url}") from None

    def read(self, key: str) -> tuple[bytes, str]:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoreMissing(f"no {key} in {self.url}") from None
        except OSError as error:
            raise StoreUnavailable(f"cannot read {key} from {self.url}: {error}") from None
        return data, hashlib.md5(data, usedforsecurity=False).hexdigest()

    def replace(self, key: str, data: bytes, version: str | None) -> None:
        path = self._path(key)
        with self._locked():
            try:
                current: str | None = self.read(key)[1]
            except StoreMissing:
                current = None
            if current != version:
                raise StoreConflict(f"{key} in {self.url} changed since it was read")
            with self._temporary(path, data) as temporary:
                os.replace(temporary, path)

    def list(self, prefix: str) -> list[StoredObject]:
        folder, _, _ = prefix.rpartition("/")
        base = self.root / folder if folder else self.root
        found = []
        try:
            for directory, _, files in os.walk(base):
                for name in files:
                    if name.startswith((_TEMP_PREFIX, _LOCK)):
                        continue
                    path = Path(directory) / name
                    key = path.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        stat = path.stat()
                        found.append(StoredObject(key, stat.st_size, stat.st_mtime))
        except OSError as error:
            raise StoreUnavailable(f"cannot list {self.url}: {error}") from None
        return sorted(found, key=lambda item: item.key)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"not a store key: {key!r}")
        return self.root / key

    @contextlib.contextmanager
    def _temporary(self, path: Path, data: bytes) -> Iterator[str]:
        """`data` in a temporary file beside `path`, flushed to disk; removed afterwards."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:
            raise StoreUnavailable(f"cannot write to {self.url}: {error}") from None
        try:
            yield temporary
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = (self.root / _LOCK).open("a")
        except OSError as error:
            raise StoreUnavailable(f"cannot write to {self.url}: {error}") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
