"""threads: one level of threading, refusals for parents that cannot be answered, and the
page order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pressline.comments.model import Status
from pressline.comments.threads import Place, attach, page_order
from pressline.comments.validate import Refusal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comment_helpers import comment

ROOT = comment("root")
REPLY = comment("reply", parent_id="root", minutes=1)
COMMENTS = {
    c.id: c
    for c in [
        ROOT,
        REPLY,
        comment("held", status=Status.HELD),
        comment("pending", status=Status.PENDING),
        comment("rejected", status=Status.REJECTED),
        comment("deleted", status=Status.DELETED),
        comment("elsewhere", post_slug="other"),
    ]
}


def test_a_top_level_comment_is_its_own_root() -> None:
    assert attach("hello", None, COMMENTS) == Place(None, None)


def test_a_reply_to_a_top_level_comment_is_its_child() -> None:
    assert attach("hello", "root", COMMENTS) == Place("root", "root")


def test_a_reply_to_a_reply_goes_under_the_same_root() -> None:
    assert attach("hello", "reply", COMMENTS) == Place("reply", "root")


@pytest.mark.parametrize("parent", ["missing", "held", "pending", "rejected", "deleted", "elsewhere"])
def test_parents_that_cannot_be_answered_are_refused(parent: str) -> None:
    result = attach("hello", parent, COMMENTS)
    assert isinstance(result, Refusal) and result.field == "parent" and result.reason


def test_page_order_roots_by_time_replies_under_their_root() -> None:
    comments = [
        comment("b", minutes=5),
        comment("a", minutes=1),
        comment("a2", parent_id="a", thread_root_id="a", minutes=9),
        comment("a1", parent_id="a", thread_root_id="a", minutes=6),
        comment("b1", parent_id="b", thread_root_id="b", minutes=7),
        comment("b-held", parent_id="b", thread_root_id="b", minutes=8, status=Status.HELD),
        comment("c-held", minutes=2, status=Status.HELD),
        comment("orphan", parent_id="c-held", thread_root_id="c-held", minutes=3),
        comment("other", post_slug="other", minutes=0),
    ]
    shown = [(t.root.id, [r.id for r in t.replies]) for t in page_order("hello", comments)]
    assert shown == [("a", ["a1", "a2"]), ("b", ["b1"])]


@given(st.permutations([comment(f"c{i}", minutes=i % 3) for i in range(6)]))
def test_page_order_does_not_depend_on_the_order_read(comments: list) -> None:  # type: ignore[type-arg]
    assert [t.root.id for t in page_order("hello", comments)] == ["c0", "c3", "c1", "c4", "c2", "c5"]
