"""Object storage (S3) behind a small port, so cores and tests can use a fake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pressline.adapters.aws import client
from pressline.errors import RetryableError

# S3 error codes that mean "try again later", not "this will never work".
_TRANSIENT = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}


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


def _code(error: Exception) -> str:
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


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
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.s3, method)(Bucket=self.bucket, **kwargs)
        except ClientError as error:
            code = _code(error)
            if code in {"NoSuchKey", "404", "NoSuchVersion", "NotFound"}:
                return None
            if code in _TRANSIENT:
                raise RetryableError(f"S3 {method} {kwargs.get('Key')}: {code}") from error
            raise
        except BotoCoreError as error:  # connection and timeout errors
            raise RetryableError(f"S3 {method} {kwargs.get('Key')}: {error}") from error

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
