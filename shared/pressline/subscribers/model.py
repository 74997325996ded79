"""Subscribers and who gets which post.

Interests are stored as *audience memberships*: a confirmed subscriber with no tags is a
member of the audience ``ALL``; one with tags is a member of ``TAG#<tag>`` for each tag.
A post reaches the audience ``ALL`` and one audience per tag it carries, so Notify reads
exactly the matching subscribers (a query per audience, never a scan). Someone in several
of a post's audiences is counted in the first one only (``first_audience``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pressline.subscribers.addresses import normalize_tag

ALL = "ALL"
TAG_PREFIX = "TAG#"

SubscriberStatus = Literal["pending", "confirmed"]
# How a confirmed subscriber gets posts: one email per post, or a daily or weekly digest.
Frequency = Literal["instant", "daily", "weekly"]
DIGEST_PREFIX = "DIGEST#"  # the audience of a frequency's digest subscribers: DIGEST#daily, DIGEST#weekly


class Subscriber(BaseModel):
    """One address. ``pending`` until the confirmation link is clicked (then it expires by
    TTL if never confirmed); only ``confirmed`` subscribers receive posts."""

    model_config = ConfigDict(frozen=True)

    id: str
    address: str
    status: SubscriberStatus
    tags: tuple[str, ...] = ()
    created_at: datetime
    confirmed_at: datetime | None = None
    suppressed: bool = False
    frequency: Frequency = "instant"
    # A digest subscriber's undigested window starts here: their next digest holds the
    # matching posts published from this instant (and not yet sent to them) to its cutoff.
    digest_from: datetime | None = None

    @property
    def can_receive_posts(self) -> bool:
        return self.status == "confirmed" and not self.suppressed


class Member(BaseModel):
    """One row of an audience: enough to decide without reading the subscriber.

    A digest audience's row (``DIGEST#daily``, ``DIGEST#weekly``) also holds the start of
    the subscriber's undigested window (``digest_from``) and, for a subscriber who switched
    back to instant emails, ``until``: the instant of the switch, where their final digest
    of that frequency ends (the row goes once that digest is sent)."""

    model_config = ConfigDict(frozen=True)

    id: str
    tags: tuple[str, ...] = ()
    digest_from: datetime | None = None
    until: datetime | None = None


def audiences_of(subscriber_tags: Iterable[str]) -> list[str]:
    """The audiences a confirmed subscriber belongs to."""
    tags = sorted({normalize_tag(tag) for tag in subscriber_tags} - {""})
    return [TAG_PREFIX + tag for tag in tags] if tags else [ALL]


def digest_audience(frequency: Frequency) -> str:
    """The audience of a digest frequency's subscribers (``DIGEST#daily``)."""
    if frequency == "instant":
        raise ValueError("instant subscribers are in no digest audience")
    return DIGEST_PREFIX + frequency


def audiences_for_post(post_tags: Iterable[str]) -> list[str]:
    """The audiences a post reaches, in the order Notify reads them."""
    return [ALL, *(TAG_PREFIX + tag for tag in sorted({normalize_tag(tag) for tag in post_tags} - {""}))]


def wants(subscriber_tags: Iterable[str], post_tags: Iterable[str]) -> bool:
    """True if a subscriber with these interests should get a post with these tags."""
    mine = {normalize_tag(tag) for tag in subscriber_tags} - {""}
    return not mine or bool(mine & {normalize_tag(tag) for tag in post_tags})


def first_audience(member_tags: Iterable[str], post_tags: Iterable[str]) -> str | None:
    """The first of the post's audiences this member is in (None: not a recipient)."""
    mine = set(audiences_of(member_tags))
    return next((audience for audience in audiences_for_post(post_tags) if audience in mine), None)
