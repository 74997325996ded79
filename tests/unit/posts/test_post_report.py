"""Report helpers: where reports live and what each status carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pressline.adapters.store import MemoryStore
from pressline.models import PostStatus, Problem, SourceRef
from pressline.posts.paths import post_page_key, rendered_key, version_token
from pressline.posts.report import build_report, post_path, post_url, report_key, write_report

SOURCE = SourceRef(bucket="src", key="posts/a/b.md", version_id="v7", etag='"abc"')
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_keys_and_urls() -> None:
    assert report_key("posts/a/b.md") == "reports/posts/a/b.md.json"
    assert rendered_key(SOURCE) == "rendered/posts/a/b.md/v7.json"
    assert rendered_key(SOURCE.model_copy(update={"version_id": None})) == "rendered/posts/a/b.md/etag-abc.json"
    assert version_token(SourceRef(bucket="s", key="k")) == "null"
    assert post_path("hello") == "/posts/hello/"
    assert post_url("hello", "https://blog.example/") == "https://blog.example/posts/hello/"
    assert post_page_key("hello") == "posts/hello/index.html"


@pytest.mark.parametrize(
    ("status", "url"),
    [
        ("published", "https://blog.example/posts/hello/"),
        ("scheduled", "https://blog.example/posts/hello/"),
        ("draft", None),
        ("rejected", None),
        ("unpublished", None),
    ],
)
def test_report_for_every_status(status: PostStatus, url: str | None) -> None:
    errors = [Problem(field="title", message="is missing", line=1)] if status == "rejected" else []
    warnings = [Problem(field="layout", message="is not a known field and is ignored", line=3)]
    report = build_report(
        SOURCE, status, processed_at=NOW, slug="hello", base_url="https://blog.example",
        errors=errors, warnings=warnings,
    )  # fmt: skip
    store = MemoryStore()
    write_report(store, report)
    stored = store.get("reports/posts/a/b.md.json")
    assert stored is not None and stored.content_type == "application/json"
    assert json.loads(stored.body) == {
        "key": "posts/a/b.md",
        "version": "v7",
        "status": status,
        "url": url,
        "errors": [{"field": "title", "message": "is missing", "line": 1}] if errors else [],
        "warnings": [{"field": "layout", "message": "is not a known field and is ignored", "line": 3}],
        "processed_at": "2026-03-01T12:00:00Z",
    }


def test_relative_url_without_a_base() -> None:
    assert build_report(SOURCE, "published", processed_at=NOW, slug="x").url == "/posts/x/"
