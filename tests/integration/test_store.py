"""The object store's two backends, tested the same way: a directory, and a real S3-compatible
server (moto's standalone server) through boto3 over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from place.settings import Settings
from place.store import Store, StoreConflict, StoreMissing, StoreUnavailable, open_store
from tests.servers import S3Server


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield open_store(Settings(), f"file://{tmp_path}/store")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        yield open_store(Settings(s3_endpoint_url=server.endpoint), f"s3://{bucket}/event")


def test_create_never_overwrites(store: Store) -> None:
    store.create("backups/a.bin", b"first")
    with pytest.raises(StoreConflict):
        store.create("backups/a.bin", b"second")
    assert store.read("backups/a.bin")[0] == b"first"


def test_replace_is_a_compare_and_swap(store: Store) -> None:
    store.replace("backups/latest.json", b"1", None)
    with pytest.raises(StoreConflict):
        store.replace("backups/latest.json", b"x", None)  # exists: a create-only swap loses
    data, version = store.read("backups/latest.json")
    assert data == b"1"
    store.replace("backups/latest.json", b"2", version)
    with pytest.raises(StoreConflict):
        store.replace("backups/latest.json", b"3", version)  # a stale writer loses
    assert store.read("backups/latest.json")[0] == b"2"


def test_list_and_missing(store: Store) -> None:
    for key in ("timelapse/b.png", "timelapse/a.png", "archive/x.jsonl.gz"):
        store.create(key, b"12345")
    listed = store.list("timelapse/")
    assert [item.key for item in listed] == ["timelapse/a.png", "timelapse/b.png"]
    assert all(item.size == 5 and item.modified > 0 for item in listed)
    with pytest.raises(StoreMissing):
        store.read("timelapse/none.png")
    store.delete("timelapse/a.png")
    assert [item.key for item in store.list("timelapse/")] == ["timelapse/b.png"]


def test_an_unreachable_store_fails_in_one_line(tmp_path: Path) -> None:
    from place.dev import free_port

    dead = Settings(s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    store = open_store(dead, "s3://nobucket/x")
    with pytest.raises(StoreUnavailable) as caught:
        store.read("backups/latest.json")
    assert "\n" not in str(caught.value) and "nobucket" in str(caught.value)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(StoreUnavailable):
        open_store(Settings(), f"file://{blocked}/store").create("a/b", b"1")


@pytest.mark.parametrize(
    "url", ["ftp://x/y", "s3://", "file://host/path", "store"], ids=lambda url: url
)
def test_bad_store_urls_are_refused(url: str) -> None:
    from place.errors import SettingsError

    with pytest.raises(SettingsError, match="PLACE_STORE_URL"):
        open_store(Settings(), url)
