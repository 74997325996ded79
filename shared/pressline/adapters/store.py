"""Object storage (S3) behind a small port, so cores and tests can use a fake."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    size: int | None = None  # the whole object's size, when ``body`` may be shorter (a ranged read)
    redirect: str | None = None  # S3's WebsiteRedirectLocation: an old URL's object (indexing.redirects)

    @property
    def full_size(self) -> int:
        return self.size if self.size is not None else len(self.body)


@dataclass(frozen=True)
class ObjectHead:
    key: str
    version_id: str | None
    etag: str | None
    last_modified: datetime | None
    size: int


@dataclass(frozen=True)
class ObjectVersion:
    version_id: str | None
    last_modified: datetime | None


@dataclass(frozen=True)
class KeyHistory:
    """A key's recent history in a versioned bucket, each list newest first. S3 lists
    versions and delete markers apart, and their times may tie (to the second, on moto):
    callers compare times and treat a tie as "either order"."""

    versions: list[ObjectVersion]
    delete_markers: list[ObjectVersion]


class ObjectStore(Protocol):
    def get(self, key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        """The object (its current version unless ``version_id``). With ``limit``, at most
        ``limit + 1`` bytes of it are read: one more than a caller accepts tells it the
        object is too large, in the same request that names its version."""
        ...

    def head(self, key: str) -> ObjectHead | None: ...

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        cache_control: str | None = None,
        *,
        if_absent: bool = False,
        redirect: str | None = None,
    ) -> bool:
        """Write ``key``; with ``if_absent`` only if it does not exist yet (an S3 conditional
        write); with ``redirect``, as an object whose WebsiteRedirectLocation is that path.
        Returns whether it was written."""
        ...

    def delete(self, key: str) -> None: ...

    def history(self, key: str, limit: int) -> KeyHistory:
        """The key's newest versions and delete markers (about ``limit`` of them)."""
        ...

    def current_versions(self, prefix: str, max_pages: int) -> dict[str, ObjectHead] | None:
        """The current version of every object under ``prefix`` (a HEAD of each, in one listing
        per 1,000 versions), or None if that takes more than ``max_pages`` listings."""
        ...


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

    def get(self, key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        ranged = {"Range": f"bytes=0-{limit}"} if limit is not None else {}
        try:
            response = self._call("get_object", **kwargs, **ranged)
        except ClientError as error:
            if limit is None or error_code(error) != "InvalidRange":
                raise
            response = self._call("get_object", **kwargs)  # an empty object has no byte 0 to range over
        if response is None:
            return None
        length = int(response.get("ContentLength", 0))
        total = response.get("ContentRange", "").rpartition("/")[2]  # "bytes 0-99/12345"
        return StoredObject(
            key=key,
            body=response["Body"].read(),
            version_id=response.get("VersionId"),
            etag=response.get("ETag"),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
            size=int(total) if total.isdigit() else length,
            redirect=response.get("WebsiteRedirectLocation"),
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

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        cache_control: str | None = None,
        *,
        if_absent: bool = False,
        redirect: str | None = None,
    ) -> bool:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Key": key, "Body": body, "ContentType": content_type}
        if cache_control:
            kwargs["CacheControl"] = cache_control
        if if_absent:
            kwargs["IfNoneMatch"] = "*"
        if redirect:
            kwargs["WebsiteRedirectLocation"] = redirect
        try:
            self._call("put_object", **kwargs)
        except ClientError as error:
            # 412: it exists. 409: a concurrent conditional write of the same key; the other
            # writer wins, and this one is a duplicate of it (one writer per version).
            if if_absent and error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=key)

    def current_versions(self, prefix: str, max_pages: int) -> dict[str, ObjectHead] | None:
        current: dict[str, ObjectHead] = {}
        kwargs: dict[str, Any] = {"Prefix": prefix}
        for _ in range(max_pages):
            response = self._call("list_object_versions", **kwargs) or {}
            for version in response.get("Versions", []):
                if version.get("IsLatest"):
                    current[version["Key"]] = ObjectHead(
                        key=version["Key"],
                        version_id=version.get("VersionId"),
                        etag=version.get("ETag"),
                        last_modified=version.get("LastModified"),
                        size=int(version.get("Size", 0)),
                    )
            if not response.get("IsTruncated"):
                return current  # a key whose latest is a delete marker is absent: gone
            kwargs = {
                "Prefix": prefix,
                "KeyMarker": response.get("NextKeyMarker"),
                "VersionIdMarker": response.get("NextVersionIdMarker"),
            }
        return None

    def history(self, key: str, limit: int) -> KeyHistory:
        # The prefix also matches longer keys ("a.md" and "a.md.bak"): a few more are asked for.
        response = self._call("list_object_versions", Prefix=key, MaxKeys=limit + 10) or {}

        def entries(kind: str) -> list[ObjectVersion]:
            items = response.get(kind, [])
            return [ObjectVersion(i.get("VersionId"), i.get("LastModified")) for i in items if i.get("Key") == key]

        return KeyHistory(entries("Versions")[:limit], entries("DeleteMarkers")[:limit])


class MemoryStore:
    """An in-memory ObjectStore for unit tests of the stages (same contract as S3Store)."""

    def __init__(self) -> None:
        import threading

        self.objects: dict[str, StoredObject] = {}
        self.log: dict[str, list[StoredObject | ObjectVersion]] = {}  # every version, newest last; markers for deletes
        self._versions = 0
        self._lock = threading.Lock()  # Index writes a change's pages from several threads

    def get(self, key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        found = self.objects.get(key)
        if version_id and (found is None or found.version_id != version_id):
            older = [item for item in self.log.get(key, []) if isinstance(item, StoredObject)]
            found = next((item for item in older if item.version_id == version_id), None)
        if found is None:
            return None
        size = len(found.body)
        if limit is not None and size > limit + 1:
            return replace(found, body=found.body[: limit + 1], size=size)
        return replace(found, size=size)

    def head(self, key: str) -> ObjectHead | None:
        found = self.objects.get(key)
        if found is None:
            return None
        return ObjectHead(key, found.version_id, found.etag, found.last_modified, len(found.body))

    def put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        cache_control: str | None = None,
        *,
        if_absent: bool = False,
        redirect: str | None = None,
    ) -> bool:
        with self._lock:
            if if_absent and key in self.objects:
                return False
            self._versions += 1
            self.objects[key] = StoredObject(
                key,
                body,
                f"v{self._versions}",
                f'"{self._versions}"',
                datetime.now().astimezone(),
                content_type,
                redirect=redirect,
            )
            self.log.setdefault(key, []).append(self.objects[key])
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            if self.objects.pop(key, None) is not None:
                self._versions += 1
                self.log.setdefault(key, []).append(ObjectVersion(f"v{self._versions}", datetime.now().astimezone()))

    def current_versions(self, prefix: str, max_pages: int) -> dict[str, ObjectHead] | None:
        versions = sum(len(log) for key, log in self.log.items() if key.startswith(prefix))
        if versions > max_pages * 1000:  # as many listings as S3 would need
            return None
        return {
            key: ObjectHead(key, found.version_id, found.etag, found.last_modified, len(found.body))
            for key, found in sorted(self.objects.items())
            if key.startswith(prefix)
        }

    def history(self, key: str, limit: int) -> KeyHistory:
        newest_first = list(reversed(self.log.get(key, [])))
        versions = [ObjectVersion(i.version_id, i.last_modified) for i in newest_first if isinstance(i, StoredObject)]
        markers = [i for i in newest_first if not isinstance(i, StoredObject)]
        return KeyHistory(versions[:limit], markers[:limit])
