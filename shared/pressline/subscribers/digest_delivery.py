"""Deliver's digests: one email per subscriber of a DigestBatch, holding each of their posts once.

For a batch (at most 50 subscribers of one period), in as few reads as the stores allow:
the subscribers (``get_many``), the digest's own record of each (a retry after a crash finds
its claim there), the digest log's days their windows cover, the catalog's current version
of the posts logged then (one batched read), and every (post, subscriber) delivery record;
then, for each subscriber, the pure ``digests.select`` decides the posts, ``claim_digests``
claims them all at once, and the email goes.

Exactly once (subscribers/digests.py): the (post, subscriber) record, whoever claims it first
(an instant email or a digest), is what carries a post to a subscriber; a digest claims its
own record (``digest#<period>``) and its posts in one transaction, sends, marks its own
record ``sent``, and only then moves the subscriber's window on (``finish_digest``). A retry
after a crash between the claim and the send finds its own record ``sending`` and its posts
claimed by it, and sends those again (they are its own: they are in no other digest); only
a crash inside the send call itself can repeat a digest, as with an instant email.

Per subscriber: an empty digest sends nothing and moves the window on; a post an instant
email is being sent for right now (``busy``: the subscriber switched meanwhile) holds that
subscriber back (retried with the batch: it may yet be released, and the window must not
move past it); a throttled send releases the digest's own claim and retries. One
subscriber's wait never holds the others back: they are sent, and the retried batch finds
them done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from pressline.errors import RetryableError
from pressline.models import DigestBatch
from pressline.posts.paths import post_url
from pressline.subscribers import messages
from pressline.subscribers.digests import (
    MAX_WINDOW,
    CurrentPost,
    DigestItem,
    LogEntry,
    Period,
    Record,
    Selection,
    Window,
    digest_key,
    log_days,
    recipient_until,
    select,
    window_of,
)
from pressline.subscribers.model import Subscriber
from pressline.subscribers.ports import (
    DeliveryLedger,
    DigestClaim,
    DigestLedger,
    Mailer,
    RecipientRejected,
    SubscriberRepository,
    unique,
)
from pressline.subscribers.tokens import Keys

if TYPE_CHECKING:
    from pressline.indexing.catalog import Catalog

# As an instant email's (subscribers/delivery.py): longer than Deliver's timeout, shorter
# than the delivery queue's visibility timeout.
DIGEST_LEASE = timedelta(minutes=5)


class DigestDeliveryLedger(DeliveryLedger, DigestLedger, Protocol):
    """The ledger a digest needs: the delivery records (its own is one) and the digest log."""


@dataclass
class DigestResult:
    sent: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # nothing new for them: no email, window moved on
    already_sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unknown, unconfirmed, suppressed
    rejected: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


def current_posts(catalog: Catalog, source_keys: Sequence[str]) -> dict[str, CurrentPost]:
    """The catalog's posts among ``source_keys`` as they are now, in one batched read (absent:
    deleted)."""
    from pressline.indexing.catalog import CatalogKeys

    if not source_keys:
        return {}
    found = catalog.read(CatalogKeys(posts=tuple(dict.fromkeys(source_keys)))).posts
    return {
        key: CurrentPost(
            slug=post.slug,
            title=post.title,
            summary=post.summary,
            tags=post.tags,
            date=post.date,
            published=post.public,
        )
        for key, post in found.items()
    }


def digest_subject(site: messages.Site, frequency: str, count: int) -> str:
    return f"{site.title}: {count} new post{'' if count == 1 else 's'} ({frequency} digest)"


def digest_email(
    site: messages.Site,
    frequency: str,
    items: Sequence[DigestItem],
    subscriber: Subscriber,
    links: messages.SubscriberLinks,
    zone: ZoneInfo,
    now: datetime,
) -> messages.OutgoingEmail:
    """The digest email of ``items`` (in publication order) to one subscriber (pure)."""
    posts = [
        {
            "title": messages.one_line(item.title),
            "url": post_url(item.slug, site.url),
            "summary": item.summary,
            "date": _display_date(item.date, zone),
        }
        for item in items
    ]
    subject = digest_subject(site, frequency, len(items))
    context: dict[str, object] = {
        **messages.footer_context(site, links, subscriber.tags),
        "posts": posts,
        "frequency": frequency,
        "heading": messages.one_line(subject),
        "preheader": messages.preheader(" · ".join(post["title"] for post in posts)),
    }
    html = messages._render("emails/digest.html", **context)
    text = messages._render("emails/digest.txt", **context)
    return messages.subscriber_email(
        site, subscriber.address, subject, text, html, now, links, kind="digest", subscriber_id=subscriber.id
    )


def _display_date(moment: datetime, zone: ZoneInfo) -> str:
    try:
        local = moment.astimezone(zone)
    except OverflowError:  # a date at the calendar's edge: its own offset
        local = moment
    return f"{local.day} {local:%B %Y}"


@dataclass(frozen=True)
class _Recipient:
    subscriber: Subscriber
    window: Window | None  # None: no longer due this digest (only what it claimed is sent)
    reads: Window | None  # the log span to read: the window, or all a retry's claims can be in


@dataclass(frozen=True)
class DigestDelivery:
    repository: SubscriberRepository
    ledger: DigestDeliveryLedger
    catalog: Catalog
    mailer: Mailer
    keys: Keys
    site: messages.Site
    timezone: str
    clock: Callable[[], datetime]
    lease: timedelta = DIGEST_LEASE

    def deliver(self, batch: DigestBatch) -> DigestResult:
        """Send ``batch``'s digest to each of its subscribers who is due one and has not had it.

        Raises RetryableError when some must wait (a post being sent as an instant email, the
        digest being sent by another invocation, the provider throttling); what was sent
        stays sent, and the retry finds it done."""
        period = Period(batch.frequency, batch.period, batch.cutoff)
        digest = digest_key(period)
        result = DigestResult()
        ids = unique(batch.subscriber_ids)
        subscribers = self.repository.get_many(ids)
        own = self.ledger.digest_records(digest, [sid for sid in ids if sid in subscribers], [])
        recipients: dict[str, _Recipient] = {}
        for sid in ids:
            subscriber = subscribers.get(sid)
            if subscriber is None or not subscriber.can_receive_posts:
                result.skipped.append(sid)
                continue
            record = own.get((digest, sid))
            if record is not None and record.status != "sending":
                result.already_sent.append(sid)  # sent (or refused) before: only the window is left
                self.repository.finish_digest(sid, batch.frequency, batch.cutoff)
                continue
            due, until = recipient_until(subscriber, batch.frequency, batch.until.get(sid))
            if not due and record is None:
                result.skipped.append(sid)  # moved to another frequency: that digest carries their posts
                continue
            window = window_of(subscriber, batch.cutoff, until) if due else None
            # A retry's claimed posts were logged before the cutoff, within MAX_WINDOW of it,
            # whatever the window says now (a later digest may have moved it on meanwhile).
            reads = Window(batch.cutoff - MAX_WINDOW, batch.cutoff) if record is not None else window
            recipients[sid] = _Recipient(subscriber, window, reads)
        if not recipients:
            return result

        entries, current, records = self._read(digest, recipients)
        now = self.clock()
        selections: dict[str, Selection] = {}
        for sid, recipient in recipients.items():
            selection = select(
                entries,
                current,
                {post: record for (post, owner), record in records.items() if owner == sid},
                digest=digest,
                window=recipient.window,
                subscriber_tags=recipient.subscriber.tags,
                now=now,
                lease=self.lease,
            )
            if selection.busy:
                result.busy.append(sid)  # wait: the instant email may yet be released to us
            elif not selection.items:
                result.empty.append(sid)
                self.repository.finish_digest(sid, batch.frequency, batch.cutoff)
            else:
                selections[sid] = selection
        # Built before anything is claimed (pure): an email that cannot be made claims nothing.
        emails = {
            sid: self._email(batch, recipients[sid].subscriber, selection.items)
            for sid, selection in selections.items()
        }

        claimed = self.ledger.claim_digests(
            [DigestClaim(digest, sid, selection.claim) for sid, selection in selections.items()], now, self.lease
        )
        throttled: RetryableError | None = None
        unsent: list[str] = []  # claimed, then not sent because the provider throttled
        for sid, selection in selections.items():
            outcome = claimed[sid]
            if throttled is not None:
                if outcome.outcome == "claimed":
                    unsent.append(sid)
                continue
            if outcome.outcome == "busy":
                result.busy.append(sid)
                continue
            if outcome.outcome == "done":
                result.already_sent.append(sid)
                self.repository.finish_digest(sid, batch.frequency, batch.cutoff)
                continue
            items = [item for item in selection.items if item.key not in outcome.lost]
            if not items:  # every post went another way meanwhile: nothing to send
                self.ledger.release(digest, sid)
                result.empty.append(sid)
                self.repository.finish_digest(sid, batch.frequency, batch.cutoff)
                continue
            try:
                email = (
                    emails[sid]
                    if len(items) == len(selection.items)
                    else self._email(batch, recipients[sid].subscriber, items)
                )
                self._send(batch, digest, sid, email, result)
            except RetryableError as error:  # the provider throttles: send no more now
                throttled = error
        if throttled is not None:
            self.ledger.release_many(digest, unsent)  # in one call: the retry claims them again at once
            raise throttled
        if result.busy:
            raise RetryableError(f"{len(result.busy)} subscriber(s) of {batch.period} must wait for a send in progress")
        return result

    def _read(
        self, digest: str, recipients: Mapping[str, _Recipient]
    ) -> tuple[list[LogEntry], dict[str, CurrentPost], dict[tuple[str, str], Record]]:
        """The log entries the recipients' spans cover, those posts in the catalog now, and
        the recipients' records of them: three batched reads for the whole batch."""
        spans = [recipient.reads for recipient in recipients.values() if recipient.reads and not recipient.reads.empty]
        days = sorted({day for span in spans for day in log_days(span.start, span.end)})
        entries = [
            entry
            for entry in (self.ledger.read_log(days) if days else [])
            if any(entry.logged_at in span for span in spans)
        ]
        current = current_posts(self.catalog, [entry.source_key for entry in entries])
        wanted = [
            entry.slug for entry in entries if (post := current.get(entry.source_key)) is not None and post.published
        ]
        records = self.ledger.digest_records(digest, list(recipients), list(dict.fromkeys(wanted))) if wanted else {}
        return entries, current, records

    def _email(self, batch: DigestBatch, subscriber: Subscriber, items: Sequence[DigestItem]) -> messages.OutgoingEmail:
        return digest_email(
            self.site,
            batch.frequency,
            items,
            subscriber,
            messages.subscriber_links(self.site, self.keys, subscriber.id),
            ZoneInfo(self.timezone),
            self.clock(),
        )

    def _send(
        self, batch: DigestBatch, digest: str, sid: str, email: messages.OutgoingEmail, result: DigestResult
    ) -> None:
        try:
            message_id = self.mailer.send(email)
        except RecipientRejected as error:
            # Refused for good: the posts stay claimed by this digest (never sent another way).
            self.ledger.mark_rejected(digest, sid, str(error), self.clock())
            result.rejected.append(sid)
            self.repository.finish_digest(sid, batch.frequency, batch.cutoff)
            return
        except RetryableError:
            # Certainly not sent: the retry claims its own record again and finds its posts.
            self.ledger.release(digest, sid)
            raise
        self.ledger.mark_sent(digest, sid, message_id, self.clock())
        result.sent.append(sid)
        self.repository.finish_digest(sid, batch.frequency, batch.cutoff)
