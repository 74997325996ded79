"""The ports the subscriber core talks through. AWS adapters: dynamodb.py and aws.py;
in-memory fakes with the same behaviour: memory.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pressline.errors import PresslineError
from pressline.subscribers.messages import OutgoingEmail
from pressline.subscribers.model import Member, Subscriber

if TYPE_CHECKING:
    from pressline.models import DeliveryBatch, PostPublished  # annotations only (cold start of Subscriptions)
    from pressline.subscribers.digests import LogEntry, Record
    from pressline.subscribers.model import Frequency
    from pressline.subscribers.preferences import Preferences, PreferencesPlan

# An opaque position in an audience (DynamoDB's LastEvaluatedKey): JSON-serializable.
Cursor = dict[str, Any]

ConfirmResult = Literal["confirmed", "missing", "suppressed"]
ClaimResult = Literal["claimed", "done", "busy"]
SignupOutcome = Literal["claimed", "suppressed", "rate_limited", "over_limit"]


@dataclass(frozen=True)
class Allowance:
    """A shared limit on confirmation emails: at most ``limit`` per fixed ``window`` for
    everything counted under ``key`` (a keyed hash: a mailbox, a domain, a client, or all).
    ``name`` says which kind, for logs and metrics."""

    name: str
    key: str
    limit: int
    window: timedelta


@dataclass(frozen=True)
class SignupClaim:
    """What ``request_confirmation`` decided. ``claimed``: send the confirmation now;
    otherwise send nothing (``limit``: the allowance that ran out, when ``over_limit``)."""

    outcome: SignupOutcome
    limit: str | None = None

    @property
    def claimed(self) -> bool:
        return self.outcome == "claimed"


class RecipientRejected(PresslineError):
    """Raised by a mailer when the provider refuses this one recipient for good (the
    message was not sent and never will be); other recipients are unaffected."""


class LeaseLost(PresslineError):
    """Raised when another invocation took over a fan-out this one was working on."""


class SubscriberRepository(Protocol):
    def request_confirmation(
        self,
        subscriber_id: str,
        address: str,
        now: datetime,
        window: timedelta,
        pending_ttl: timedelta,
        *,
        request: str | None = None,
        allowances: Sequence[Allowance] = (),
    ) -> SignupClaim:
        """Record a pending sign-up request ``request`` (its id goes into the confirmation
        token; one is made up if None) and claim the right to send its confirmation now, in
        one atomic step that does the same storage work whatever it decides: not if the
        subscriber is suppressed, had a confirmation less than ``window`` ago, or any of
        ``allowances`` is used up. Only a claim counts against the allowances. The request
        replaces any earlier one (whose link stops working) and expires after ``pending_ttl``."""
        ...

    def release_confirmation(self, subscriber_id: str, claimed_at: datetime) -> None:
        """Undo a claim whose email could not be sent, so the person may try again at once."""
        ...

    def is_suppressed(self, subscriber_id: str) -> bool: ...

    def confirm(
        self, subscriber_id: str, tags: tuple[str, ...], now: datetime, request: str | None = None
    ) -> ConfirmResult:
        """Make the subscriber confirmed with exactly these tags, consuming the pending
        request ``request``: ``missing`` if that request is not the pending one (used,
        replaced, expired, or the subscriber left since). Confirming again with the request
        that confirmed it is ``confirmed`` and changes nothing (a repeated click).
        ``request=None`` (seeding, trusted callers only) takes whatever request is pending."""
        ...

    def delete(self, subscriber_id: str) -> bool:
        """Delete the subscriber and its memberships (True if there was one). A suppression
        record, which holds no address, stays."""
        ...

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> None:
        """Never send to this subscriber again: record the suppression, delete the rest."""
        ...

    def get_many(self, subscriber_ids: Sequence[str]) -> dict[str, Subscriber]:
        """The subscribers that exist among ``subscriber_ids`` (suppression flagged)."""
        ...

    def audience_page(self, audience: str, cursor: Cursor | None, limit: int) -> tuple[list[Member], Cursor | None]:
        """Up to ``limit`` members of ``audience`` after ``cursor``; the next cursor or None at the end."""
        ...

    # -- preferences and digest windows (issue 15; the rules: subscribers/preferences.py)
    def preferences(self, subscriber_id: str) -> Preferences | None:
        """The confirmed subscriber with its audience rows and version, read consistently;
        None when there is none (never confirmed, left) or it is suppressed."""
        ...

    def apply_preferences(self, subscriber_id: str, version: int, plan: PreferencesPlan) -> bool:
        """Write ``plan`` (profile, rows put and deleted) at once if the profile is still at
        ``version`` and not suppressed; False otherwise (read again and plan again)."""
        ...

    def finish_digest(self, subscriber_id: str, frequency: Frequency, cutoff: datetime) -> None:
        """After the subscriber's digest of ``frequency`` up to ``cutoff`` was sent, or was
        empty: its window moves on (``preferences.plan_finish``). Repeating it changes nothing."""
        ...


class DeliveryLedger(Protocol):
    """One record per (post, subscriber): ``sending`` -> ``sent`` (or ``rejected``)."""

    def claim(self, post: str, subscriber_id: str, now: datetime, lease: timedelta) -> ClaimResult:
        """``claimed``: nobody sent it and we may; ``done``: sent or rejected before;
        ``busy``: another invocation claimed it less than ``lease`` ago."""
        ...

    def claim_many(
        self, post: str, subscriber_ids: Sequence[str], now: datetime, lease: timedelta
    ) -> dict[str, ClaimResult]:
        """``claim`` for each of ``subscriber_ids`` (a repeated id is claimed once), in as few
        writes as the store allows; by subscriber id. RetryableError when the store kept
        refusing for now: then some may be claimed, and their lease runs out as a dead sender's."""
        ...

    def mark_sent(self, post: str, subscriber_id: str, message_id: str, now: datetime) -> None: ...

    def mark_rejected(self, post: str, subscriber_id: str, reason: str, now: datetime) -> None: ...

    def release(self, post: str, subscriber_id: str) -> None:
        """Forget a claim whose send certainly did not happen (the provider refused the call)."""
        ...

    def release_many(self, post: str, subscriber_ids: Sequence[str]) -> None:
        """``release`` for each of ``subscriber_ids``, in as few writes as the store allows:
        only a record still ``sending`` is deleted."""
        ...


@dataclass(frozen=True)
class FanoutState:
    """Where a post's fan-out stands: the audience being read and the cursor in it."""

    post: str
    owner: str
    audience: int = 0
    cursor: Cursor | None = None
    announced: bool = False
    done: bool = False
    recipients: int = 0
    batches: int = 0
    pages: int = 0


@dataclass(frozen=True)
class LeaseHeld:
    """Another invocation holds the lease on a fan-out until ``until``."""

    until: datetime


class FanoutLedger(Protocol):
    def acquire(self, post: str, owner: str, now: datetime, lease: timedelta) -> FanoutState | LeaseHeld:
        """Take the lease on ``post``'s fan-out, creating its state the first time, in one
        conditional write. LeaseHeld if another owner holds an unexpired lease; a ``done``
        state is returned as is."""
        ...

    def save(self, state: FanoutState, now: datetime, lease: timedelta, *, release: bool = False) -> None:
        """Checkpoint ``state`` (and extend the lease, or release it); LeaseLost if not the owner."""
        ...

    def start_many(
        self, posts: Sequence[tuple[str, str]], now: datetime, lease: timedelta
    ) -> dict[str, FanoutState | LeaseHeld | None]:
        """Take the lease on the fan-outs of many ``(post, owner)`` pairs (distinct posts) that
        have never started, in as few conditional writes as the store allows. For each post:
        its fresh state, now ours (or one this owner holds already); its ``done`` state as
        is; LeaseHeld if another owner's lease is fresh; None when the store holds progress
        of another owner whose lease ran out (or cannot say): ``acquire`` takes it over."""
        ...

    def save_many(self, states: Sequence[FanoutState], now: datetime, lease: timedelta) -> set[str]:
        """Checkpoint several states (distinct posts) at once; a ``done`` state releases its
        lease, the others' leases are extended. The posts whose lease another owner took:
        nothing is written for them (``save`` would raise LeaseLost)."""
        ...


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send; the provider's message id. RecipientRejected: refused for good;
        RetryableError: refused for now (throttled) and certainly not sent."""
        ...


class TaskQueue(Protocol):
    def send_batches(self, batches: Sequence[DeliveryBatch]) -> None: ...


class NotifyQueue(Protocol):
    def send_post(self, post: PostPublished, delay_seconds: int = 0) -> None: ...


class Announcer(Protocol):
    def announce(self, post: PostPublished) -> None:
        """Publish ``post.published`` for other systems."""
        ...

    def announce_many(self, posts: Sequence[PostPublished]) -> list[PostPublished]:
        """Publish several in as few calls as the topic allows; the posts it refused (not
        published), for the caller to try one by one. An error out of the call as a whole
        (throttled, unreachable) propagates: maybe none of them was published."""
        ...


def unique(ids: Iterable[str]) -> list[str]:
    """``ids`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(ids))


# --------------------------------------------------------------------------- digests (issue 15)
DigestClaimOutcome = Literal["claimed", "done", "busy"]


@dataclass(frozen=True)
class DigestClaim:
    """What one subscriber's digest claims: its own record (``digest``, the period's key,
    ``digest#daily#2026-12-04``) and the (post, subscriber) records of ``posts``."""

    digest: str
    subscriber_id: str
    posts: tuple[str, ...]


@dataclass(frozen=True)
class DigestClaimed:
    """``claimed``: the digest's own record is ours (new, or a dead sender's) and so is every
    post of the claim but ``lost`` (claimed by someone else in between: leave them out);
    ``done``: the digest went (or was refused) before; ``busy``: another invocation is sending
    it. Nothing of a claim that is not ``claimed`` is written."""

    outcome: DigestClaimOutcome
    lost: frozenset[str] = frozenset()


class DigestLedger(Protocol):
    """The digest log (announced posts by the instant Notify logged them) and the digests'
    claims, kept with the delivery records (LedgerTable)."""

    def log_posts(self, posts: Sequence[tuple[str, str]], now: datetime) -> datetime:
        """Log announced posts, ``(slug, source key)`` pairs, at ``now`` (a post logged before
        keeps its first entry); if a digest run sealed the log past ``now`` meanwhile, at the
        seal instead. The instant they were logged at."""
        ...

    def seal_log(self, cutoff: datetime) -> None:
        """No post is logged before ``cutoff`` from now on (a digest run with this cutoff is
        about to read the log)."""
        ...

    def read_log(self, days: Sequence[str]) -> list[LogEntry]:
        """The entries of these log days (``digests.log_days``), read consistently."""
        ...

    def digest_records(
        self, digest: str, subscriber_ids: Sequence[str], posts: Sequence[str]
    ) -> dict[tuple[str, str], Record]:
        """The records of (post, subscriber) for every post of ``posts`` and ``digest`` itself
        and every subscriber, by (post, subscriber id); absent ones are not there. One
        consistent read per 100."""
        ...

    def claim_digests(self, claims: Sequence[DigestClaim], now: datetime, lease: timedelta) -> dict[str, DigestClaimed]:
        """Claim each subscriber's digest and its posts in as few transactions as the store
        allows (each claim as a whole, or its own record first when it is too large for one):
        a post record is ours if absent, claimed by this digest already, or an instant claim
        older than ``lease`` (its sender died). By subscriber id."""
        ...


class TagDirectory(Protocol):
    """The tags a subscriber may choose: those of the site's published posts."""

    def known_tags(self) -> dict[str, str]:
        """Each tag as subscriptions match it (``addresses.normalize_tag``) -> its name as shown."""
        ...
