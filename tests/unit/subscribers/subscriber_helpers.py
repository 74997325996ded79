"""Helpers for the subscriber unit tests (this directory is on sys.path under pytest)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from urllib.parse import unquote

from pressline.models import PostPublished


def make_post(slug: str = "hello-world", tags: tuple[str, ...] = (), title: str = "Hello, world") -> PostPublished:
    return PostPublished(
        slug=slug,
        title=title,
        summary="A first post about <things> & stuff.",
        url=f"https://blog.example.com/posts/{slug}/",
        tags=tags,
        published_at=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
        source_key=f"posts/{slug}.md",
    )


def text_part(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())


def link_token(raw: bytes, action: str) -> str:
    """The token of the first ``/subscriptions/<action>`` link in an email's text part."""
    found = re.search(rf"/subscriptions/{action}\?token=([^\s>]+)", text_part(raw))
    assert found, f"no {action} link in the email"
    return unquote(found.group(1))
