"""An S3 bucket (or any S3-compatible server) as the object store, through boto3.

Credentials come from boto3's standard chain (environment, profile, workload identity); the
endpoint from `PLACE_S3_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`. The
conditional writes are S3's own: `If-None-Match: *` for `create`, `If-Match: <etag>` for
`replace`.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from place.store import StoreConflict, StoredObject, StoreMissing, StoreUnavailable

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
# a dead store must fail fast: the caller retries with backoff, off the tick path
_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3}
)


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = f"s3://{bucket}/{prefix}"
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, config=_CLIENT_CONFIG
        )

    def create(self, key: str, data: bytes) -> None:
        self._call("write", key, "put_object", Body=data, IfNoneMatch="*")

    def read(self, key: str) -> tuple[bytes, str]:
        answer = self._call("read", key, "get_object")
        try:
            data = answer["Body"].read()
        except (BotoCoreError, OSError) as error:
            raise StoreUnavailable(f"cannot read {key} from {self.url}: {error}") from None
        return data, answer["ETag"].strip('"')

    def replace(self, key: str, data: bytes, version: str | None) -> None:
        condition = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            self._call("write", key, "put_object", Body=data, **condition)
        except StoreMissing:  # If-Match on an object that is gone
            raise StoreConflict(f"{key} in {self.url} changed since it was read") from None

    def list(self, prefix: str) -> list[StoredObject]:
        found = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(
                        StoredObject(
                            item["Key"][len(self.prefix) :],
                            item["Size"],
                            item["LastModified"].timestamp(),
                        )
                    )
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"cannot list {self.url}: {_reason(error)}") from None
        return sorted(found, key=lambda item: item.key)

    def delete(self, key: str) -> None:
        self._call("delete", key, "delete_object")

    def _call(self, what: str, key: str, method: str, **arguments: Any) -> Any:
        try:
            return getattr(self._client, method)(
                Bucket=self.bucket, Key=self.prefix + key, **arguments
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _CONFLICT_CODES:
                raise StoreConflict(f"{key} in {self.url}: {code}") from None
            if code in _MISSING_CODES:
                raise StoreMissing(f"no {key} in {self.url}") from None
            raise StoreUnavailable(f"cannot {what} {key} in {self.url}: {_reason(error)}") from None
        except BotoCoreError as error:
            raise StoreUnavailable(f"cannot {what} {key} in {self.url}: {error}") from None


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', '?')}: {details.get('Message', '')}".strip(": ")
    return str(error)
