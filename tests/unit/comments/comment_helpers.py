"""Shared builders for the comment core's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pressline.comments.model import Comment, Status
from pressline.comments.validate import RawForm

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AUTHOR = "Ada Lovelace"


def form(**fields: object) -> RawForm:
    values: dict[str, object] = {
        "post_slug": "hello",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "text": "A fine post.",
        "form_issued_at": NOW - timedelta(seconds=30),
    }
    values.update(fields)
    return RawForm(**values)  # type: ignore[arg-type]


def comment(
    id: str,
    *,
    post_slug: str = "hello",
    parent_id: str | None = None,
    thread_root_id: str | None = None,
    author_id: str = "author-1",
    status: Status = Status.APPROVED,
    minutes: int = 0,
    notify_replies: bool = False,
) -> Comment:
    return Comment(
        id=id,
        post_slug=post_slug,
        parent_id=parent_id,
        thread_root_id=thread_root_id or parent_id or id,
        author_id=author_id,
        author_name="Someone",
        website=None,
        html="<p>x</p>",
        text="x",
        status=status,
        created_at=NOW + timedelta(minutes=minutes),
        notify_replies=notify_replies,
    )
