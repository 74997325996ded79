"""One level of threading, and the order of a post's comments on its page.

A reply to a top-level comment is its child; a reply to a reply is attached to the same
top-level comment and shown flat under it (``parent_id`` still says whom it answered).
One level keeps the page readable on a phone and the notification rule simple: a thread is
a top-level comment and its replies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pressline.comments.model import Comment, Status
from pressline.comments.validate import Refusal


@dataclass(frozen=True)
class Place:
    """Where a new comment goes: whom it answers and the top-level comment it is shown under
    (``thread_root_id`` None: it is a top-level comment, its own root)."""

    parent_id: str | None
    thread_root_id: str | None


def attach(post_slug: str, parent_id: str | None, comments: Mapping[str, Comment]) -> Place | Refusal:
    """The place of a comment on ``post_slug`` answering ``parent_id``, among ``comments``
    (by id). Only an approved comment of the same post can be answered: a pending or held one
    is not public, so answering it would reveal it, and a rejected or deleted one is gone."""
    if parent_id is None:
        return Place(None, None)
    parent = comments.get(parent_id)
    if parent is None:
        return Refusal("parent", "the comment you are replying to does not exist")
    if parent.post_slug != post_slug:
        return Refusal("parent", "the comment you are replying to is on another post")
    if parent.status is not Status.APPROVED:
        return Refusal("parent", "the comment you are replying to is not published")
    return Place(parent_id, parent.thread_root_id)


@dataclass(frozen=True)
class Thread:
    """A top-level comment and its replies, in the order they are shown."""

    root: Comment
    replies: tuple[Comment, ...]


def _when(comment: Comment) -> tuple[object, str]:
    return (comment.created_at, comment.id)  # the id breaks ties: one order on every rebuild


def page_order(post_slug: str, comments: Iterable[Comment]) -> list[Thread]:
    """The post's approved comments as shown: top-level ones oldest first, each with its
    approved replies oldest first. A reply whose root is not approved (held, deleted) is not
    shown: it answers something the reader cannot see."""
    approved = [c for c in comments if c.post_slug == post_slug and c.status is Status.APPROVED]
    roots = sorted((c for c in approved if c.thread_root_id == c.id), key=_when)
    replies: dict[str, list[Comment]] = {}
    for comment in approved:
        if comment.thread_root_id != comment.id:
            replies.setdefault(comment.thread_root_id, []).append(comment)
    return [Thread(root, tuple(sorted(replies.get(root.id, []), key=_when))) for root in roots]
