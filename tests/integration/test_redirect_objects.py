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


def test_rebuild_finds_redirect_objects_and_prunes_the_ones_no_post_holds(s3: Any) -> None:
    """``pressline rebuild`` lists the bucket's redirect objects (a HEAD of each object outside
    the generated prefixes) and removes those that no live post stands for any more."""
    from datetime import UTC, datetime

    from pressline.indexing.catalog import CatalogPost
    from pressline.indexing.memory import MemoryCatalog
    from pressline.indexing.rebuild import list_redirects, rebuild_site
    from pressline.models import PostMeta, RenderedPost, SourceRef
    from pressline.posts.paths import rendered_key_of
    from pressline.site.pages import Site

    site_store = S3Store("site", s3)
    site_store.put("kept/index.html", b"old", "text/html", redirect="/posts/hello/")
    site_store.put("stale.html", b"old", "text/html", redirect="/posts/gone/")
    site_store.put("about/index.html", b"<p>a page</p>", "text/html")
    site_store.put("media/a.png", b"png", "image/png")
    found = list_redirects(s3, "site")
    assert sorted(found) == ["kept/index.html", "stale.html"]

    when = datetime(2026, 1, 5, tzinfo=UTC)
    post = CatalogPost(
        source_key="posts/hello.md",
        version="v1",
        status="published",
        slug="hello",
        title="Hello",
        date=when,
        applied_at=when,
        aliases=("/kept/",),
    )
    catalog = MemoryCatalog()
    catalog.posts[post.source_key] = post
    source = MemoryStore()
    rendered = RenderedPost(
        source=SourceRef(bucket="source", key=post.source_key, version_id="v1"),
        meta=PostMeta(slug="hello", title="Hello", date=when, aliases=("/kept/",)),
        body_html="<p>Hello.</p>",
        status="published",
        rendered_at=when,
    )
    source.put(rendered_key_of(post.source_key, "v1"), rendered.model_dump_json().encode(), "application/json")
    site = Site(title="T", url="https://blog.example", api_url="https://api.blog.example")
    rebuild_site(catalog, source, site_store, site, existing_redirects=found, now=when)

    assert list_redirects(s3, "site") == ["kept/index.html"]
    kept = site_store.get("kept/index.html")
    assert kept is not None and kept.redirect == "/posts/hello/" and b"/posts/hello/" in kept.body
    assert site_store.get("about/index.html") is not None  # not a redirect: not rebuild's to remove
