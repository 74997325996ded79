"""What happens to a valid comment, and who is told of an approved reply.

``decide`` is the whole moderation policy as one pure function: the shell looks up the
address's standing (one read), calls it, and stores the comment with the status it says.
Nothing is public and nothing is mailed to anyone but the commenter (confirmation) and the
author (moderation) before the outcome is ``Published`` or an author approves.

``reply_recipients`` is the notification rule as a pure function over the thread: the
shell sends through the delivery ledger (keyed by reply id and recipient), so a retry of
the same approval sends nothing twice; this function makes sure the set is right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pressline.comments.model import Comment, Policy, Status
from pressline.comments.validate import Refusal


class AddressState(StrEnum):
    """What the site knows of a commenter's address."""

    UNKNOWN = "unknown"  # never commented, or never confirmed
    CONFIRMED = "confirmed"  # clicked a confirmation link once
    BANNED = "banned"  # an author banned it
    BOUNCED = "bounced"  # mail to it bounced or was complained about (suppressed)


@dataclass(frozen=True)
class Standing:
    """An address's state and whether it has had a comment approved on this site."""

    state: AddressState
    has_approved_comment: bool = False


@dataclass(frozen=True)
class NeedsConfirmation:
    """Stored pending; the commenter is emailed a confirmation link. Once confirmed,
    ``decide`` is asked again with a confirmed standing."""

    status: Status = Status.PENDING


@dataclass(frozen=True)
class HeldForAuthor:
    """Stored held; the author is emailed approve / reject / ban links."""

    status: Status = Status.HELD


@dataclass(frozen=True)
class Published:
    """Stored approved; the post's page is rewritten and reply notifications go out."""

    status: Status = Status.APPROVED


Outcome = NeedsConfirmation | HeldForAuthor | Published | Refusal


def decide(policy: Policy, standing: Standing) -> Outcome:
    """The outcome of a valid comment from an address with ``standing`` under ``policy``."""
    if standing.state is AddressState.BANNED:
        return Refusal("email", "comments from this address are not accepted")
    if standing.state is AddressState.BOUNCED:
        return Refusal("email", "mail to this address cannot be delivered; use another address")
    if standing.state is not AddressState.CONFIRMED:
        return NeedsConfirmation()
    if policy is Policy.HOLD_ALL:
        return HeldForAuthor()
    if policy is Policy.HOLD_FIRST and not standing.has_approved_comment:
        return HeldForAuthor()
    return Published()


def reply_recipients(reply: Comment, thread: Iterable[Comment], unsubscribed: Iterable[str] = ()) -> tuple[str, ...]:
    """The author ids to tell of ``reply``: each participant of its thread (the top-level
    comment and its replies) who asked to be told, whose comment there is approved, who has
    not unsubscribed from the thread; never the reply's own author, never before the reply
    is approved; each once, in a stable order."""
    if reply.status is not Status.APPROVED:
        return ()
    stopped = set(unsubscribed)
    asked = {
        comment.author_id
        for comment in thread
        if comment.thread_root_id == reply.thread_root_id
        and comment.post_slug == reply.post_slug
        and comment.id != reply.id
        and comment.status is Status.APPROVED
        and comment.notify_replies
    }
    return tuple(sorted(asked - stopped - {reply.author_id}))
