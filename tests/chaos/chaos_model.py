"""The chaos run's simple model: what the site and the subscribers' inboxes must be.

It knows nothing of queues, retries or the catalog: only the author's uploads, deletions,
subscribers joining and leaving, and the calendar. A post's state is decided by its last
*valid* upload (an invalid upload is rejected and changes nothing); a post is public when
that version is not a draft and its date has come. A post's first publication (neither
its key nor its slug was ever public) sends one email to every confirmed subscriber who
wants its tags at that moment.

Digest subscribers (issue 15) are modelled per post, whatever carries it: a post a subscriber
was owed reaches them exactly once, as its own email or in one digest. A post edited or
deleted after its first publication is shown in a digest as it is then, or left out, so for
those only "at most once" holds (``touched``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["published", "scheduled", "draft"]


@dataclass(frozen=True)
class Version:
    """One upload of a post, as the author wrote it."""

    slug: str
    title: str
    date: datetime
    tags: tuple[str, ...]
    draft: bool
    marker: str  # a word only this version's body has
    valid: bool = True

    def status(self, now: datetime) -> Status:
        if self.draft:
            return "draft"
        return "scheduled" if self.date > now else "published"


@dataclass
class Subscriber:
    address: str
    tags: tuple[str, ...]
    confirmed: bool = False
    left: bool = False
    frequency: str = "instant"
    ever_digest: bool = False  # chose a daily or weekly digest at some point

    def wants(self, post_tags: tuple[str, ...]) -> bool:
        return not self.tags or bool(set(self.tags) & set(post_tags))


@dataclass
class Model:
    live: dict[str, Version] = field(default_factory=dict)  # key -> last valid version
    last_upload_valid: dict[str, bool] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    ever_public_keys: set[str] = field(default_factory=set)
    ever_public_slugs: set[str] = field(default_factory=set)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    expected_emails: Counter[tuple[str, str]] = field(default_factory=Counter)  # (address, slug)
    announced_when_due: int = 0  # first publications of posts that were scheduled before
    scheduled_seen: set[str] = field(default_factory=set)
    key_of_slug: dict[str, str] = field(default_factory=dict)  # every slug a key's versions had
    touched: set[str] = field(default_factory=set)  # keys uploaded again or deleted after going public

    # ------------------------------------------------------------------ the author
    def upload(self, key: str, version: Version) -> None:
        self.last_upload_valid[key] = version.valid
        if key in self.ever_public_keys:
            self.touched.add(key)
        if version.valid:
            self.live[key] = version
            self.deleted.discard(key)
            self.key_of_slug[version.slug] = key

    def delete(self, key: str) -> None:
        if key in self.ever_public_keys:
            self.touched.add(key)
        self.live.pop(key, None)
        self.last_upload_valid.pop(key, None)
        self.deleted.add(key)

    # ------------------------------------------------------------------ what readers see
    def public(self, now: datetime) -> list[tuple[str, Version]]:
        """Published posts, newest first."""
        posts = [(key, v) for key, v in self.live.items() if v.status(now) == "published"]
        return sorted(posts, key=lambda item: item[1].date, reverse=True)

    def settle(self, now: datetime) -> list[str]:
        """The pipeline has caught up at ``now``: announce first publications. Returns the
        slugs announced."""
        announced = []
        self.scheduled_seen.update(k for k, v in self.live.items() if v.status(now) == "scheduled")
        for key, version in sorted(self.public(now), key=lambda item: item[1].date):
            if key in self.ever_public_keys or version.slug in self.ever_public_slugs:
                self.ever_public_keys.add(key)
                self.ever_public_slugs.add(version.slug)
                continue
            self.ever_public_keys.add(key)
            self.ever_public_slugs.add(version.slug)
            announced.append(version.slug)
            self.announced_when_due += key in self.scheduled_seen
            for subscriber in self.subscribers.values():
                if subscriber.confirmed and not subscriber.left and subscriber.wants(version.tags):
                    self.expected_emails[(subscriber.address, version.slug)] += 1
        return announced
