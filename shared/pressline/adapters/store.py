"""Object storage (S3) behind a small port, so cores and tests can use a fake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pressline.adapters.aws import client
from pressline.adapters.errors import S3_MISSING, S3_TRANSIENT, call_aws, error_code


@dataclass(frozen=True)
class StoredObject:
    key: str
    body: bytes
    version_id: str | None
    etag: str | None
    last_modified: datetime | None
    content_type: str | None = None


@dataclass(frozen=True)
class ObjectHead:
    key: str
    version_id: str | None
    etag: str | None
    last_modified: datetime | None
    size: int


class ObjectStore(Protocol):
    def get(self, key: str, version_id: str | None = None) -> StoredObject | None: ...
    def head(self, key: str) -> ObjectHead | None: ...
    def put(self, key: str, body: bytes, content_type: str, cache_control: str | None = None) -> None: ...
    def delete(self, key: str) -> None: ...


class S3Store:
    """One bucket. Missing objects are ``None``; transient faults raise RetryableError."""

    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    def _call(self, method: str, **kwargs: Any) -> Any:
        """Call S3 on this bucket; a missing object or version is ``None``."""
        from botocore.exceptions import ClientError

        what = f"S3 {method} {kwargs.get('Key')}"
        try:
            return call_aws(getattr(self.s3, method), what, S3_TRANSIENT, Bucket=self.bucket, **kwargs)
        except ClientError as error:
            if error_code(error) in S3_MISSING:
                return None
            raise

    def get(self, key: str, version_id: str | None = None) -> StoredObject | None:
        kwargs: dict[str, Any] = {"Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        response = self._call("get_object", **kwargs)
        if response is None:
            return None
        return StoredObject(
            key=key,
            body=response["Body"].read(),
            version_id=response.get("VersionId"),
            etag=response.get("ETag"),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
        )

    def head(self, key: str) -> ObjectHead | None:
        response = self._call("head_object", Key=key)
        if response is None:
            return None
        return ObjectHead(
            key=key,
            version_id=response.get("VersionId"),
            etag=response.get("ETag"),
            last_modified=response.get("LastModified"),
            size=int(response.get("ContentLength", 0)),
        )

    def put(self, key: str, body: bytes, content_type: str, cache_control: str | None = None) -> None:
        kwargs: dict[str, Any] = {"Key": key, "Body": body, "ContentType": content_type}
        if cache_control:
            kwargs["CacheControl"] = cache_control
        self._call("put_object", **kwargs)

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)


class MemoryStore:
    """An in-memory ObjectStore for unit tests of the stages (same contract as S3Store)."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self._versions = 0

    def get(self, key: str, version_id: str | None = None) -> StoredObject | None:
        found = self.objects.get(key)
        if found is None or (version_id and found.version_id != version_id):
            return None
        return found

    def head(self, key: str) -> ObjectHead | None:
        found = self.objects.get(key)
        if found is None:
            return None
        return ObjectHead(key, found.version_id, found.etag, found.last_modified, len(found.body))

    def put(self, key: str, body: bytes, content_type: str, cache_control: str | None = None) -> None:
        self._versions += 1
        self.objects[key] = StoredObject(
            key, body, f"v{self._versions}", f'"{self._versions}"', datetime.now().astimezone(), content_type
        )

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)
