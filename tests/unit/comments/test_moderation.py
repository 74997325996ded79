"""moderation: each policy's outcome for each standing, and the reply-notification rule."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from pressline.comments.limits import CommentLimits
from pressline.comments.model import Policy, Status
from pressline.comments.moderation import (
    AddressState,
    HeldForAuthor,
    NeedsConfirmation,
    Outcome,
    Published,
    Standing,
    decide,
    reply_recipients,
)
from pressline.comments.validate import Refusal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comment_helpers import comment

UNKNOWN = Standing(AddressState.UNKNOWN)
CONFIRMED = Standing(AddressState.CONFIRMED)
APPROVED_BEFORE = Standing(AddressState.CONFIRMED, has_approved_comment=True)


@pytest.mark.parametrize(
    ("policy", "standing", "expected"),
    [
        (Policy.HOLD_ALL, UNKNOWN, NeedsConfirmation()),
        (Policy.HOLD_ALL, CONFIRMED, HeldForAuthor()),
        (Policy.HOLD_ALL, APPROVED_BEFORE, HeldForAuthor()),
        (Policy.HOLD_FIRST, UNKNOWN, NeedsConfirmation()),
        (Policy.HOLD_FIRST, CONFIRMED, HeldForAuthor()),
        (Policy.HOLD_FIRST, APPROVED_BEFORE, Published()),
        (Policy.PUBLISH_CONFIRMED, UNKNOWN, NeedsConfirmation()),
        (Policy.PUBLISH_CONFIRMED, CONFIRMED, Published()),
        (Policy.PUBLISH_CONFIRMED, APPROVED_BEFORE, Published()),
    ],
)
def test_each_policy(policy: Policy, standing: Standing, expected: Outcome) -> None:
    assert decide(policy, standing) == expected


@pytest.mark.parametrize("policy", list(Policy))
@pytest.mark.parametrize("state", [AddressState.BANNED, AddressState.BOUNCED])
@pytest.mark.parametrize("approved", [False, True])
def test_banned_and_bounced_addresses_are_refused_under_every_policy(
    policy: Policy, state: AddressState, approved: bool
) -> None:
    result = decide(policy, Standing(state, has_approved_comment=approved))
    assert isinstance(result, Refusal) and result.field == "email"


def test_nothing_is_published_before_confirmation_under_any_policy() -> None:
    for policy in Policy:
        for approved in (False, True):
            assert not isinstance(decide(policy, Standing(AddressState.UNKNOWN, approved)), Published)


def _thread() -> list:  # type: ignore[type-arg]
    return [
        comment("root", author_id="ada", notify_replies=True),
        comment("r1", parent_id="root", author_id="bob", notify_replies=True, minutes=1),
        comment("r2", parent_id="r1", thread_root_id="root", author_id="cy", notify_replies=False, minutes=2),
        comment("r3", parent_id="root", author_id="ada", notify_replies=True, minutes=3),
        comment("held", parent_id="root", author_id="dee", notify_replies=True, status=Status.HELD),
        comment("other-thread", author_id="eve", notify_replies=True),
        comment("other-post", post_slug="other", thread_root_id="root", author_id="fay", notify_replies=True),
    ]


def test_participants_who_asked_each_once_never_the_replys_author() -> None:
    reply = comment("new", parent_id="r2", thread_root_id="root", author_id="bob", notify_replies=True, minutes=5)
    assert reply_recipients(reply, [*_thread(), reply]) == ("ada",)
    by_cy = comment("new2", parent_id="root", author_id="cy", minutes=5)
    assert reply_recipients(by_cy, [*_thread(), by_cy]) == ("ada", "bob")


def test_no_one_is_told_before_approval() -> None:
    for status in (Status.PENDING, Status.HELD, Status.REJECTED, Status.DELETED):
        reply = comment("new", parent_id="root", author_id="cy", status=status)
        assert reply_recipients(reply, _thread()) == ()


def test_unsubscribed_participants_are_not_told() -> None:
    reply = comment("new", parent_id="root", author_id="cy")
    assert reply_recipients(reply, _thread(), unsubscribed=["ada"]) == ("bob",)


def test_limits_count_per_address_network_and_post() -> None:
    limits = CommentLimits()
    one = limits.allowances(b"k" * 32, "A.da+x@gmail.com", "2001:db8::1", "hello")
    same = limits.allowances(b"k" * 32, "ada@googlemail.com", "2001:db8::2", "hello")
    assert [a.name for a in one] == ["comment-address", "comment-client", "comment-post"]
    assert [a.key for a in one] == [a.key for a in same]  # one mailbox, one /64, one post
    other = limits.allowances(b"k" * 32, "bob@example.com", "192.0.2.1", "other")
    assert all(a.key != b.key for a, b in zip(one, other, strict=True))
    assert all("ada" not in a.key and "hello" not in a.key for a in one)
    assert one[0].limit == 5 and one[0].window == timedelta(hours=1)
