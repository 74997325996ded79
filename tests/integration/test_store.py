"""S3Store on moto: the two requests that save the pipeline a call each.

- a ranged GET of the current version names it and tells the object's whole size, so
  Validate needs no HEAD first and reads no more of an oversized file than one byte past
  the limit;
- a conditional PUT (If-None-Match: *) writes a rendered version once, so Render needs
  no read first to know whether it is the first to render it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pressline.adapters.store import S3Store

BUCKET = "store-test-bucket"


@pytest.fixture
def s3() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def test_a_ranged_get_reads_up_to_one_byte_past_the_limit_and_knows_the_whole_size(s3: Any) -> None:
    version = s3.put_object(Bucket=BUCKET, Key="posts/big.md", Body=b"x" * 5000)["VersionId"]
    stored = S3Store(BUCKET, s3).get("posts/big.md", limit=100)
    assert stored is not None
    assert (len(stored.body), stored.size, stored.version_id) == (101, 5000, version)


def test_a_ranged_get_of_a_small_object_reads_it_whole(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="posts/small.md", Body=b"hello")
    stored = S3Store(BUCKET, s3).get("posts/small.md", limit=100)
    assert stored is not None and (stored.body, stored.size) == (b"hello", 5)


def test_a_ranged_get_of_an_empty_object_reads_nothing(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="posts/empty.md", Body=b"")  # no byte 0: S3 answers 416 to a range
    stored = S3Store(BUCKET, s3).get("posts/empty.md", limit=100)
    assert stored is not None and (stored.body, stored.size) == (b"", 0)


def test_a_ranged_get_of_a_missing_object_is_none(s3: Any) -> None:
    assert S3Store(BUCKET, s3).get("posts/none.md", limit=100) is None


def test_a_conditional_put_writes_once(s3: Any) -> None:
    store = S3Store(BUCKET, s3)
    assert store.put("rendered/a.json", b"first", "application/json", if_absent=True) is True
    assert store.put("rendered/a.json", b"second", "application/json", if_absent=True) is False
    stored = store.get("rendered/a.json")
    assert stored is not None and stored.body == b"first"
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="rendered/a.json")["Versions"]
    assert len(versions) == 1


def test_a_plain_put_overwrites(s3: Any) -> None:
    store = S3Store(BUCKET, s3)
    assert store.put("site/a.html", b"one", "text/html") is True
    assert store.put("site/a.html", b"two", "text/html") is True
    stored = store.get("site/a.html")
    assert stored is not None and (stored.body, stored.content_type) == (b"two", "text/html")


def test_history_lists_one_key_s_versions_and_delete_markers_newest_first(s3: Any) -> None:
    first = s3.put_object(Bucket=BUCKET, Key="posts/a.md", Body=b"1")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="posts/a.md.bak", Body=b"other key, same prefix")
    marker = s3.delete_object(Bucket=BUCKET, Key="posts/a.md")["VersionId"]
    third = s3.put_object(Bucket=BUCKET, Key="posts/a.md", Body=b"3")["VersionId"]
    history = S3Store(BUCKET, s3).history("posts/a.md", limit=5)
    assert [v.version_id for v in history.versions] == [third, first]
    assert [v.version_id for v in history.delete_markers] == [marker]
    assert all(v.last_modified is not None for v in [*history.versions, *history.delete_markers])


def test_current_versions_are_what_a_head_of_each_says(s3: Any) -> None:
    """S3Store and MemoryStore alike: the listing Index uses for a large batch instead of a HEAD
    per key (deleted keys absent, several versions of a key, pages of 1,000 versions)."""
    from pressline.adapters.store import MemoryStore

    real, fake = S3Store(BUCKET, s3), MemoryStore()
    for store in (real, fake):
        for n in range(1100):
            store.put(f"posts/{n}.md", f"{n}".encode(), "text/markdown")
        store.put("posts/0.md", b"edited", "text/markdown")
        store.delete("posts/1.md")
        store.put("reports/posts/2.md.json", b"{}", "application/json")
        listed = store.current_versions("posts/", max_pages=5)
        assert listed is not None and len(listed) == 1099 and "posts/1.md" not in listed
        for key in ("posts/0.md", "posts/2.md", "posts/1099.md"):
            head = store.head(key)
            assert head is not None
            assert (listed[key].version_id, listed[key].etag, listed[key].size) == (
                head.version_id,
                head.etag,
                head.size,
            )
        assert store.current_versions("posts/", max_pages=1) is None  # more than one page of versions
