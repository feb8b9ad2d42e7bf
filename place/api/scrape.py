"""One scrape of `/metrics` for every worker of a pod (`PLACE_WORKERS` > 1, place.api.workers).

Prometheus scrapes a pod at its port; with several workers on that port the kernel hands the
scrape to any one of them, whose own figures alone would jump from worker to worker between
scrapes. So the worker that takes the scrape also asks every other worker for its own figures, on
that worker's Unix socket (`/metrics?worker=local`), and answers with all of them, each sample
labelled with its `worker`. `sum by (pod)` over a pod's series is what one worker used to show.
A worker that does not answer within `FETCH_TIMEOUT_S` is left out of that scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

FETCH_TIMEOUT_S = 2.0
LOCAL_QUERY = "worker=local"  # the query string of a worker asking another for its own figures


async def fetch_local(path: str) -> bytes | None:
    """The metrics of the worker on the Unix socket `path`, or None if it does not answer."""
    writer = None
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_S):
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(
                f"GET /metrics?{LOCAL_QUERY} HTTP/1.1\r\nHost: worker\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            response = await reader.read()
    except (OSError, TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return body


def _unchunk(body: bytes) -> bytes:
    parts: list[bytes] = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        parts.append(rest[:size])
        body = rest[size + 2 :]
    return b"".join(parts)


class _Merged:
    """A registry-like collector over parsed families (what `generate_latest` reads)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def merge(by_worker: Sequence[tuple[int, bytes]]) -> bytes:
    """The exposition texts of several workers as one, every sample labelled `worker`."""
    families: dict[str, Metric] = {}
    for worker, text in by_worker:
        label = str(worker)
        for family in text_string_to_metric_families(text.decode()):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            merged.samples.extend(
                sample._replace(labels={**sample.labels, "worker": label})
                for sample in family.samples
            )
    return generate_latest(_Merged(families.values()))  # type: ignore[arg-type]


async def scrape_all(own: bytes, worker: int, siblings: Sequence[str]) -> bytes:
    """This worker's metrics and its siblings', labelled by worker."""
    fetched = await asyncio.gather(*(fetch_local(path) for path in siblings))
    texts = [(worker, own)]
    for path, text in zip(siblings, fetched, strict=True):
        if text is not None:
            texts.append((_index(path), text))
    return merge(sorted(texts))


def _index(path: str) -> int:
    """A worker's index from its control socket's name (`worker-<index>.sock`)."""
    return int(path.rsplit("-", 1)[1].split(".", 1)[0])
