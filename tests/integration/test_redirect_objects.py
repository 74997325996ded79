"""Redirect objects through the store port: S3Store (on moto), MemoryStore and BufferedStore
all write and read S3's WebsiteRedirectLocation, which an alias object carries
(``pressline.indexing.redirects``); an ordinary write carries none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pressline.adapters.buffered import BufferedStore
from pressline.adapters.store import MemoryStore, ObjectStore, S3Store


@pytest.fixture
def s3() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="site")
        yield client


def round_trip(store: ObjectStore) -> None:
    store.put("old/index.html", b"<a href=/posts/x/>", "text/html", redirect="/posts/x/")
    store.put("page/index.html", b"<p>page</p>", "text/html")
    moved, page = store.get("old/index.html"), store.get("page/index.html")
    assert moved is not None and (moved.redirect, moved.body) == ("/posts/x/", b"<a href=/posts/x/>")
    assert page is not None and page.redirect is None
    store.put("old/index.html", b"<p>a real page now</p>", "text/html")  # a page written over it
    again = store.get("old/index.html")
    assert again is not None and again.redirect is None


def test_s3_keeps_the_redirect_location(s3: Any) -> None:
    round_trip(S3Store("site", s3))
    head = s3.head_object(Bucket="site", Key="page/index.html")
    assert "WebsiteRedirectLocation" not in head


def test_the_memory_store_keeps_it() -> None:
    round_trip(MemoryStore())


def test_a_buffered_write_keeps_it_pending_and_written(s3: Any) -> None:
    base = S3Store("site", s3)
    buffered = BufferedStore(base)
    buffered.put("old/index.html", b"moved", "text/html", redirect="/posts/x/")
    pending = buffered.get("old/index.html")
    assert pending is not None and pending.redirect == "/posts/x/"
    assert base.get("old/index.html") is None  # nothing written before the flush
    buffered.flush()
    written = base.get("old/index.html")
    assert written is not None and written.redirect == "/posts/x/"
