"""In-memory fakes of the ports, with the same rules as the AWS adapters (unit tests, benchmarks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pressline.errors import RetryableError
from pressline.models import DeliveryBatch, PostPublished
from pressline.subscribers.imports import Consent, ExportedSubscriber, ImportState
from pressline.subscribers.messages import OutgoingEmail
from pressline.subscribers.model import Member, Subscriber, audiences_of
from pressline.subscribers.ports import (
    Allowance,
    ClaimResult,
    ConfirmResult,
    Cursor,
    DigestClaim,
    DigestClaimed,
    FanoutState,
    LeaseHeld,
    LeaseLost,
    RecipientRejected,
    SignupClaim,
)

if TYPE_CHECKING:
    from pressline.subscribers.digests import LogEntry, Record
    from pressline.subscribers.model import Frequency
    from pressline.subscribers.preferences import Preferences, PreferencesPlan


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class _Record:
    subscriber: Subscriber
    confirmed_request: str | None = None
    consent: Consent | None = None
    version: int = 0  # DynamoDB: the profile's ``version``, which every change increments


@dataclass
class _Request:
    """A sign-up request (DynamoDB: the ``REQUEST`` item)."""

    address: str
    requested_at: datetime
    confirmation_sent_at: datetime | None
    request: str | None  # None once consumed by a confirmation
    expires_at: datetime


def window_start(now: datetime, window: timedelta) -> int:
    """The fixed window ``now`` falls in, as the epoch second it starts at."""
    size = max(1, int(window.total_seconds()))
    return int(now.timestamp()) // size * size


class MemoryRepository:
    def __init__(self) -> None:
        self.records: dict[str, _Record] = {}  # confirmed subscribers (DynamoDB: PROFILE)
        self.requests: dict[str, _Request] = {}
        self.suppressed: dict[str, str] = {}
        self.imported: dict[str, str] = {}  # subscriber id -> import outcome (kept on delete, as suppressions)
        # (allowance key, window start) -> confirmations counted
        self.counters: dict[tuple[str, int], int] = {}
        # audience -> {subscriber id -> tags}; insertion order is the paging order.
        self.audiences: dict[str, dict[str, tuple[str, ...]]] = {}
        # (audience, subscriber id) -> a digest row's (digest_from, until), when it has them.
        self.windows: dict[tuple[str, str], tuple[datetime | None, datetime | None]] = {}

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
        # Checked in the order of the DynamoDB transaction's items, and nothing is written
        # unless every check passes (the transaction is atomic).
        if subscriber_id in self.suppressed:
            return SignupClaim("suppressed")
        pending = self.requests.get(subscriber_id)
        if (
            pending is not None
            and pending.confirmation_sent_at is not None
            and now - pending.confirmation_sent_at < window
            and (request is None or pending.request != request)  # a retry of this very request passes
        ):
            return SignupClaim("rate_limited")
        counted = [(allowance.key, window_start(now, allowance.window)) for allowance in allowances]
        for allowance, slot in zip(allowances, counted, strict=True):
            if self.counters.get(slot, 0) >= allowance.limit:
                return SignupClaim("over_limit", allowance.name)
        for slot in counted:
            self.counters[slot] = self.counters.get(slot, 0) + 1
        self.requests[subscriber_id] = _Request(
            address=address,
            requested_at=now,
            confirmation_sent_at=now,
            request=request or uuid.uuid4().hex,
            expires_at=now + pending_ttl,
        )
        return SignupClaim("claimed")

    def release_confirmation(self, subscriber_id: str, claimed_at: datetime) -> None:
        pending = self.requests.get(subscriber_id)
        if pending is not None and pending.confirmation_sent_at == claimed_at:
            pending.confirmation_sent_at = None

    def is_suppressed(self, subscriber_id: str) -> bool:
        return subscriber_id in self.suppressed

    def confirm(
        self, subscriber_id: str, tags: tuple[str, ...], now: datetime, request: str | None = None
    ) -> ConfirmResult:
        if subscriber_id in self.suppressed:
            return "suppressed"
        record = self.records.get(subscriber_id)
        pending = self.requests.get(subscriber_id)
        if pending is None or pending.request is None or (request is not None and pending.request != request):
            if request is not None and record is not None and record.confirmed_request == request:
                return "confirmed"  # the same link clicked again: nothing changes
            if request is not None or record is None:
                return "missing"
        consumed = pending.request if pending is not None else None
        if pending is not None:
            pending.request = None
        if record is not None and record.subscriber.status == "confirmed":
            # Signing up again changes the tags only: the frequency and any digest window stay.
            from pressline.subscribers.preferences import plan_preferences

            current = record.subscriber
            plan = plan_preferences(current, self._rows(subscriber_id), tags, current.frequency, now)
            self._write(record, plan)
            if pending is not None:
                record.subscriber = record.subscriber.model_copy(update={"address": pending.address})
            record.confirmed_request = consumed
            return "confirmed"
        self._leave_audiences(subscriber_id)
        if record is None:
            assert pending is not None
            record = _Record(
                Subscriber(id=subscriber_id, address=pending.address, status="pending", created_at=pending.requested_at)
            )
            self.records[subscriber_id] = record
        old = record.subscriber
        address = pending.address if pending is not None else old.address
        record.subscriber = old.model_copy(
            update={"address": address, "status": "confirmed", "tags": tags, "confirmed_at": old.confirmed_at or now}
        )
        record.confirmed_request = consumed
        record.version += 1
        for audience in audiences_of(tags):
            self.audiences.setdefault(audience, {})[subscriber_id] = tags
        return "confirmed"

    def delete(self, subscriber_id: str) -> bool:
        self._leave_audiences(subscriber_id)
        had_request = self.requests.pop(subscriber_id, None) is not None
        return self.records.pop(subscriber_id, None) is not None or had_request

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> None:
        self.suppressed[subscriber_id] = reason
        self.delete(subscriber_id)

    def get_many(self, subscriber_ids: Sequence[str]) -> dict[str, Subscriber]:
        found: dict[str, Subscriber] = {}
        for sid in subscriber_ids:
            record = self.records.get(sid)
            if record is not None:
                found[sid] = record.subscriber.model_copy(update={"suppressed": sid in self.suppressed})
        return found

    def audience_page(self, audience: str, cursor: Cursor | None, limit: int) -> tuple[list[Member], Cursor | None]:
        members = list(self.audiences.get(audience, {}).items())
        start = int(cursor["offset"]) if cursor else 0
        page = [self._member(audience, sid, tags) for sid, tags in members[start : start + limit]]
        end = start + len(page)
        return page, ({"offset": end} if end < len(members) else None)

    def _member(self, audience: str, subscriber_id: str, tags: tuple[str, ...]) -> Member:
        digest_from, until = self.windows.get((audience, subscriber_id), (None, None))
        return Member(id=subscriber_id, tags=tags, digest_from=digest_from, until=until)

    def _rows(self, subscriber_id: str) -> dict[str, Member]:
        return {
            audience: self._member(audience, subscriber_id, members[subscriber_id])
            for audience, members in self.audiences.items()
            if subscriber_id in members
        }

    def _leave_audiences(self, subscriber_id: str) -> None:
        for audience, members in self.audiences.items():
            members.pop(subscriber_id, None)
            self.windows.pop((audience, subscriber_id), None)

    # -- preferences and digest windows (issue 15)
    def preferences(self, subscriber_id: str) -> Preferences | None:
        from pressline.subscribers.preferences import Preferences

        record = self.records.get(subscriber_id)
        if record is None or record.subscriber.status != "confirmed" or subscriber_id in self.suppressed:
            return None
        return Preferences(record.subscriber, self._rows(subscriber_id), record.version)

    def apply_preferences(self, subscriber_id: str, version: int, plan: PreferencesPlan) -> bool:
        record = self.records.get(subscriber_id)
        if record is None or record.version != version or subscriber_id in self.suppressed:
            return False
        self._write(record, plan)
        return True

    def _write(self, record: _Record, plan: PreferencesPlan) -> None:
        sid = record.subscriber.id
        for audience in plan.delete:
            self.audiences.get(audience, {}).pop(sid, None)
            self.windows.pop((audience, sid), None)
        for audience, row in plan.put.items():
            self.audiences.setdefault(audience, {})[sid] = row.tags
            if row.digest_from is not None or row.until is not None:
                self.windows[(audience, sid)] = (row.digest_from, row.until)
            else:
                self.windows.pop((audience, sid), None)
        record.subscriber = plan.subscriber
        record.version += 1

    def finish_digest(self, subscriber_id: str, frequency: Frequency, cutoff: datetime) -> None:
        from pressline.subscribers.preferences import plan_finish

        current = self.preferences(subscriber_id)
        if current is None:
            return
        plan = plan_finish(current.subscriber, current.rows, frequency, cutoff)
        if plan is not None:
            self.apply_preferences(subscriber_id, current.version, plan)

    # -- import and export (DynamoDB: the IMPORT item and the consent attributes)
    def import_states(self, subscriber_ids: Sequence[str], now: datetime) -> dict[str, ImportState]:
        states: dict[str, ImportState] = {}
        for sid in dict.fromkeys(subscriber_ids):
            record, pending = self.records.get(sid), self.requests.get(sid)
            states[sid] = ImportState(
                suppressed=sid in self.suppressed,
                imported=self.imported.get(sid),
                confirmed=record is not None and record.subscriber.status == "confirmed",
                pending=pending is not None and pending.request is not None and pending.expires_at > now,
            )
        return states

    def import_confirmed(
        self, subscriber_id: str, address: str, tags: tuple[str, ...], consent: Consent, now: datetime
    ) -> bool:
        if subscriber_id in self.suppressed or subscriber_id in self.imported or subscriber_id in self.records:
            return False
        self.imported[subscriber_id] = "confirmed"
        subscriber = Subscriber(
            id=subscriber_id, address=address, status="confirmed", tags=tags, created_at=now, confirmed_at=now
        )
        self.records[subscriber_id] = _Record(subscriber, consent=consent)
        for audience in audiences_of(tags):
            self.audiences.setdefault(audience, {})[subscriber_id] = tags
        return True

    def mark_imported(self, subscriber_id: str, outcome: str, source: str, now: datetime) -> bool:
        if subscriber_id in self.imported:
            return False
        self.imported[subscriber_id] = outcome
        return True

    def unmark_imported(self, subscriber_id: str, outcome: str) -> None:
        if self.imported.get(subscriber_id) == outcome:
            del self.imported[subscriber_id]

    def all_subscribers(self, now: datetime) -> Iterator[ExportedSubscriber]:
        for sid in sorted(self.records):
            record = self.records[sid]
            subscriber = record.subscriber
            yield ExportedSubscriber(
                address=subscriber.address,
                status="confirmed",
                tags=subscriber.tags,
                created_at=subscriber.created_at,
                confirmed_at=subscriber.confirmed_at,
                consent=record.consent,
            )
        for sid in sorted(set(self.requests) - set(self.records)):
            pending = self.requests[sid]
            if pending.request is not None and pending.expires_at > now:
                yield ExportedSubscriber(address=pending.address, status="pending", created_at=pending.requested_at)


@dataclass
class _Delivery:
    status: str
    since: datetime
    message_id: str | None = None
    digest: str | None = None  # status "digest": the digest that claimed this post


class MemoryLedger:
    """Both ledgers: delivery records and fan-out states."""

    def __init__(self) -> None:
        self.deliveries: dict[tuple[str, str], _Delivery] = {}
        self.fanouts: dict[str, tuple[FanoutState, datetime | None]] = {}  # state, lease expiry
        # The digest log: UTC day -> {slug: (source key, logged at)}, and each day's seal.
        self.log: dict[str, dict[str, tuple[str, datetime]]] = {}
        self.seals: dict[str, datetime] = {}

    # -- DeliveryLedger
    def claim(self, post: str, subscriber_id: str, now: datetime, lease: timedelta) -> ClaimResult:
        record = self.deliveries.get((post, subscriber_id))
        if record is not None:
            if record.status != "sending":
                return "done"
            if now - record.since < lease:
                return "busy"
        self.deliveries[(post, subscriber_id)] = _Delivery("sending", now)
        return "claimed"

    def claim_many(
        self, post: str, subscriber_ids: Sequence[str], now: datetime, lease: timedelta
    ) -> dict[str, ClaimResult]:
        return {sid: self.claim(post, sid, now, lease) for sid in dict.fromkeys(subscriber_ids)}

    def mark_sent(self, post: str, subscriber_id: str, message_id: str, now: datetime) -> None:
        self.deliveries[(post, subscriber_id)] = _Delivery("sent", now, message_id)

    def mark_rejected(self, post: str, subscriber_id: str, reason: str, now: datetime) -> None:
        self.deliveries[(post, subscriber_id)] = _Delivery("rejected", now)

    def release(self, post: str, subscriber_id: str) -> None:
        record = self.deliveries.get((post, subscriber_id))
        if record is not None and record.status == "sending":
            del self.deliveries[(post, subscriber_id)]

    def release_many(self, post: str, subscriber_ids: Sequence[str]) -> None:
        for sid in dict.fromkeys(subscriber_ids):
            self.release(post, sid)

    # -- FanoutLedger
    def acquire(self, post: str, owner: str, now: datetime, lease: timedelta) -> FanoutState | LeaseHeld:
        found = self.fanouts.get(post)
        if found is None:
            state = FanoutState(post=post, owner=owner)
        else:
            state, expiry = found
            if state.done:
                return state
            if state.owner != owner and expiry is not None and now < expiry:
                return LeaseHeld(expiry)
            state = replace(state, owner=owner)
        self.fanouts[post] = (state, now + lease)
        return state

    def save(self, state: FanoutState, now: datetime, lease: timedelta, *, release: bool = False) -> None:
        current, _ = self.fanouts.get(state.post, (None, None))
        if current is None or current.owner != state.owner:
            raise LeaseLost(f"fan-out of {state.post} is now owned by another invocation")
        self.fanouts[state.post] = (state, None if release else now + lease)

    def start_many(
        self, posts: Sequence[tuple[str, str]], now: datetime, lease: timedelta
    ) -> dict[str, FanoutState | LeaseHeld | None]:
        found: dict[str, FanoutState | LeaseHeld | None] = {}
        for post, owner in posts:
            held = self.fanouts.get(post)
            if held is None:
                found[post] = state = FanoutState(post=post, owner=owner)
                self.fanouts[post] = (state, now + lease)
                continue
            state, expiry = held
            if state.done or state.owner == owner:
                found[post] = state  # as DynamoDB's condition failure returns it: unchanged
            elif expiry is not None and now < expiry:
                found[post] = LeaseHeld(expiry)
            else:
                found[post] = None  # another owner's progress, free to take over with acquire
        return found

    def save_many(self, states: Sequence[FanoutState], now: datetime, lease: timedelta) -> set[str]:
        lost: set[str] = set()
        for state in states:
            try:
                self.save(state, now, lease, release=state.done)
            except LeaseLost:
                lost.add(state.post)
        return lost

    # -- DigestLedger (issue 15): the digest log and the digests' claims
    def log_posts(self, posts: Sequence[tuple[str, str]], now: datetime) -> datetime:
        from pressline.subscribers.digests import log_day

        at = now
        for day, sealed in self.seals.items():
            if day == log_day(at) and sealed > at:
                at = sealed  # a digest run started since: these posts are its successor's
        entries = self.log.setdefault(log_day(at), {})
        for slug, key in posts:
            entries.setdefault(slug, (key, at))
        return at

    def seal_log(self, cutoff: datetime) -> None:
        from pressline.subscribers.digests import seal_days

        for day in seal_days(cutoff):
            if day not in self.seals or self.seals[day] < cutoff:
                self.seals[day] = cutoff

    def read_log(self, days: Sequence[str]) -> list[LogEntry]:
        from pressline.subscribers.digests import LogEntry

        return [
            LogEntry(slug=slug, source_key=key, logged_at=at)
            for day in dict.fromkeys(days)
            for slug, (key, at) in self.log.get(day, {}).items()
        ]

    def digest_records(
        self, digest: str, subscriber_ids: Sequence[str], posts: Sequence[str]
    ) -> dict[tuple[str, str], Record]:
        from pressline.subscribers.digests import Record

        found: dict[tuple[str, str], Record] = {}
        for sid in subscriber_ids:
            for post in (digest, *posts):
                record = self.deliveries.get((post, sid))
                if record is not None:
                    found[(post, sid)] = Record(record.status, record.since, record.digest)  # type: ignore[arg-type]
        return found

    def claim_digests(self, claims: Sequence[DigestClaim], now: datetime, lease: timedelta) -> dict[str, DigestClaimed]:
        results: dict[str, DigestClaimed] = {}
        for claim in claims:
            own = self.deliveries.get((claim.digest, claim.subscriber_id))
            if own is not None and (own.status != "sending" or now - own.since < lease):
                results[claim.subscriber_id] = DigestClaimed("busy" if own.status == "sending" else "done")
                continue
            self.deliveries[(claim.digest, claim.subscriber_id)] = _Delivery("sending", now)
            lost = set()
            for post in claim.posts:
                record = self.deliveries.get((post, claim.subscriber_id))
                ours = record is not None and record.status == "digest" and record.digest == claim.digest
                stale = record is not None and record.status == "sending" and now - record.since >= lease
                if record is None or ours or stale:
                    self.deliveries[(post, claim.subscriber_id)] = _Delivery("digest", now, digest=claim.digest)
                else:
                    lost.add(post)
            results[claim.subscriber_id] = DigestClaimed("claimed", frozenset(lost))
        return results


class MemoryMailer:
    """Keeps sent emails; ``fail_after`` simulates a crash inside the send call after N
    sends; ``reject``/``throttle`` simulate provider refusals for given recipients."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.fail_after: int | None = None
        self.reject: set[str] = set()
        self.throttle: bool = False

    def send(self, email: OutgoingEmail) -> str:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise SimulatedCrash("the process died inside the send call")
        if self.throttle:
            raise RetryableError("throttled")
        if email.recipient in self.reject:
            raise RecipientRejected("MessageRejected")
        self.sent.append(email)
        return f"message-{len(self.sent)}"

    def to(self, recipient: str) -> list[OutgoingEmail]:
        return [email for email in self.sent if email.recipient == recipient]


class SimulatedCrash(Exception):
    """Raised by MemoryMailer to stand for a process dying mid-send."""


class MemoryTaskQueue:
    def __init__(self) -> None:
        self.batches: list[DeliveryBatch] = []
        self.calls = 0

    def send_batches(self, batches: Sequence[DeliveryBatch]) -> None:
        self.calls += 1
        self.batches.extend(batches)


class MemoryNotifyQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[PostPublished, int]] = []

    def send_post(self, post: PostPublished, delay_seconds: int = 0) -> None:
        self.sent.append((post, delay_seconds))


class MemoryAnnouncer:
    """Keeps what was announced; ``refuse``: slugs the topic refuses in a batch (published
    one by one only), as SNS refuses single entries of a PublishBatch."""

    def __init__(self) -> None:
        self.announced: list[PostPublished] = []
        self.calls = 0
        self.refuse: set[str] = set()

    def announce(self, post: PostPublished) -> None:
        self.calls += 1
        self.announced.append(post)

    def announce_many(self, posts: Sequence[PostPublished]) -> list[PostPublished]:
        refused = []
        for start in range(0, len(posts), 10):  # ten per call, as PublishBatch
            self.calls += 1
            for post in posts[start : start + 10]:
                if post.slug in self.refuse:
                    refused.append(post)
                else:
                    self.announced.append(post)
        return refused


class MemoryTags:
    """The site's tags, as the catalog would give them (normalized -> shown)."""

    def __init__(self, names: list[str] | None = None) -> None:
        from pressline.subscribers.addresses import normalize_tag

        self.tags = {normalize_tag(name): name for name in names or []}

    def known_tags(self) -> dict[str, str]:
        return dict(sorted(self.tags.items()))
