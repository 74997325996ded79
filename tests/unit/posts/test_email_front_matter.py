"""``email: full`` / ``email: summary`` in the front matter (issue 15): a post's own choice of
what its email carries, refused by Validate with the field and the reason when it is anything
else, kept through the stored rendering and carried to Deliver in PostPublished."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from posts_helpers import check, post

from pressline.indexing.renderings import trusted
from pressline.models import PostPublished, RenderedPost, SourceRef


@pytest.mark.parametrize(("written", "meant"), [("full", "full"), ("summary", "summary"), ("' Full '", "full")])
def test_email_full_or_summary_is_the_posts_choice(written: str, meant: str) -> None:
    result = check(post(f"title: Hello\nemail: {written}"))
    assert result.ok and result.post is not None, result.errors
    assert result.post.meta.email == meant
    assert result.warnings == []  # a known field


def test_without_email_the_site_decides() -> None:
    result = check(post("title: Hello"))
    assert result.post is not None and result.post.meta.email is None
    assert check(post("title: Hello\nemail:")).post.meta.email is None  # type: ignore[union-attr]  # empty: not given


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("everything", "'everything'"),
        ("true", "true/false"),
        ("[full]", "a list"),
        ("'<script>alert(1)</script>'", "'<script>alert(1)</script>'"),
        ('"full\\u202e"', "'full<U+202E>'"),
    ],
)
def test_any_other_email_is_refused_with_the_field_and_the_reason(written: str, shown: str) -> None:
    result = check(post(f"title: Hello\nemail: {written}"))
    assert result.post is None
    [error] = result.errors
    assert (error.field, error.line) == ("email", 3)
    assert error.message == (
        f"must be full (the whole post in subscribers' email) or summary (its summary and a link), not {shown}"
    )


def test_the_choice_survives_the_stored_rendering() -> None:
    result = check(post("title: Hello\nemail: summary"))
    assert result.post is not None
    rendered = RenderedPost(
        source=SourceRef(bucket="b", key="posts/hello-world.md", version_id="v1"),
        meta=result.post.meta,
        body_html="<p>Some text.</p>",
        status="published",
        rendered_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert trusted(rendered) is rendered  # nothing to make safe, nothing lost


def test_a_post_published_message_from_before_still_parses() -> None:
    old = (
        '{"type": "post.published", "slug": "a", "title": "A", "summary": "S", "url": "https://b.example/posts/a/",'
        ' "published_at": "2026-11-27T08:00:00Z", "source_key": "posts/a.md"}'
    )
    message = PostPublished.model_validate_json(old)
    assert message.email is None and message.version is None  # the site decides; Deliver sends the summary
