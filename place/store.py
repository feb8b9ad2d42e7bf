"""The object store: backups, timelapse frames and the placement archive, behind one small
interface with two backends, `s3://bucket/prefix` (`place.store_s3`) and `file:///path`
(`place.store_file`).

The interface is synchronous, as boto3 is: services call it through `asyncio.to_thread`, so
a slow or dead store never blocks an event loop. Two conditional writes are all the
coordination the ticker needs: `create` never overwrites (a deposed ticker cannot replace an
object a newer one wrote), and `replace` swaps an object only if it is still the version read.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol
from urllib.parse import urlsplit

from place.errors import PlaceError, SettingsError
from place.settings import Settings


class StoreError(PlaceError):
    """Root of the object store's failures."""


class StoreUnavailable(StoreError):
    """The store does not answer, or refuses us (network, credentials, missing bucket)."""


class StoreConflict(StoreError):
    """A conditional write lost: the object exists already, or changed since it was read."""


class StoreMissing(StoreError):
    """No object at that key."""


@dataclasses.dataclass(frozen=True, slots=True)
class StoredObject:
    key: str  # relative to the store's prefix
    size: int  # bytes
    modified: float  # Unix seconds


class Store(Protocol):
    url: str  # for messages; never holds credentials

    def create(self, key: str, data: bytes) -> None:
        """Write a new object; `StoreConflict` if `key` exists (it is never overwritten)."""
        ...

    def read(self, key: str) -> tuple[bytes, str]:
        """The object and its version tag (for `replace`); `StoreMissing` if absent."""
        ...

    def replace(self, key: str, data: bytes, version: str | None) -> None:
        """Write `key` only if it is still at `version` (None: only if it does not exist);
        `StoreConflict` otherwise."""
        ...

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with `prefix`, sorted by key."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object (absent is fine)."""
        ...


def open_store(settings: Settings, url: str | None = None) -> Store:
    """The store `PLACE_STORE_URL` (or `url`) names; `SettingsError` for a URL we cannot use."""
    url = url or settings.store_url
    parts = urlsplit(url)
    if parts.scheme == "file":
        from place.store_file import FileStore

        # file:///abs/path, or file://./relative/path (the default, ./var/store)
        path = parts.netloc + parts.path if parts.netloc in ("", ".", "..") else None
        if not path:
            raise SettingsError(
                f"PLACE_STORE_URL must be file:///absolute/path or file://./relative/path,"
                f" got {url!r}"
            )
        return FileStore(path)
    if parts.scheme == "s3":
        from place.store_s3 import S3Store

        if not parts.netloc:
            raise SettingsError(
                f"PLACE_STORE_URL must name a bucket: s3://bucket/prefix, got {url!r}"
            )
        return S3Store(parts.netloc, parts.path.strip("/"), settings.s3_endpoint_url)
    raise SettingsError(f"PLACE_STORE_URL must start with s3:// or file://, got {url!r}")
