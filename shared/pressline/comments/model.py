"""What a comment is, before and after it is accepted: frozen pydantic models.

A ``Comment`` is what is stored and rendered; it names its author by ``author_id`` (a keyed
hash of the address) and never carries the address itself, so nothing rendered from it, page,
feed or email, can leak one. ``Submission`` does carry the normalized address: it is what the
shell needs to send the confirmation email, and it is never rendered.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Policy(StrEnum):
    """The site's moderation policy."""

    HOLD_ALL = "hold_all"  # the author approves every comment
    HOLD_FIRST = "hold_first"  # an address with an approved comment goes straight through
    PUBLISH_CONFIRMED = "publish_confirmed"  # a confirmed address's comments are published at once


class Status(StrEnum):
    PENDING = "pending"  # waiting for its author to confirm the address
    HELD = "held"  # waiting for the site's author
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"


class PostState(StrEnum):
    """The state of the post a comment is for, as the shell found it: only published posts
    take comments."""

    PUBLISHED = "published"
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    DELETED = "deleted"
    MISSING = "missing"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Submission(_Frozen):
    """A validated comment form: trimmed, checked, the address normalized."""

    post_slug: str
    parent_id: str | None
    name: str
    email: str
    website: str | None
    text: str
    form_issued_at: datetime
    notify_replies: bool = False


class Comment(_Frozen):
    """A stored comment. ``thread_root_id`` is its own id for a top-level comment, else the
    top-level comment it is shown under; ``parent_id`` is the comment it answered."""

    id: str
    post_slug: str
    parent_id: str | None
    thread_root_id: str
    author_id: str
    author_name: str
    website: str | None
    html: str
    text: str
    status: Status
    created_at: datetime
    notify_replies: bool = False
