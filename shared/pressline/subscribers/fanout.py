"""Notify's core: page through a post's audiences and enqueue delivery batches, resumably.

The fan-out's progress (audience index + cursor) is checkpointed in the ledger under a
lease. The lease lets exactly one invocation work on a post at a time; the checkpoint lets
any invocation resume where the last one stopped: after a crash (the SQS retry resumes),
or when time runs short (it saves, releases the lease and asks for a continuation).
Batches are enqueued before the checkpoint that covers them, so a crash in between
enqueues them again; Deliver's ledger makes the repeat harmless. A checkpoint is written
when batches went out since the last one (and every recipient read is enqueued), or every
few pages / seconds whatever happened (to bound what a crash re-reads and keep the lease
fresh), and at the end: a post with no or few recipients costs one write besides the
lease. Recipients of small audiences share batches. Memory holds one page (a batch: the
first page of each distinct audience of its posts).

Every audience is queried, empty ones too (half a read unit each). Skipping them would
need a directory of non-empty audiences kept right by the sign-up code across deploys and
rollbacks, and reading it costs about what the empty queries it saves cost.

Several posts at once (``run_batch``: a burst of publications arrives ten to an SQS
batch) share what they can: one conditional write takes every lease (DynamoDB's
transaction, which cancels as a whole when a post already has a state: that post is
decided from what it returned and the rest is written again), one call announces ten
posts, each distinct audience is read once for the batch, the delivery batches of every
post whose audiences fit in a page go out together, and one write records them all as
done. The lease stays even when nobody is there to read: it is what keeps two copies of
one announcement, processed at the same time, from announcing twice, and it costs one
call per batch. A post that needs more than the shared first pages (an audience of more
than a page), or one whose share of a batched call failed, goes on alone as ``run``
would, from where the batch left it; whatever fails there fails that post only. A batch
of one post takes the single-post path: the same number of calls, and its lease write
costs half a transaction's write units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, ParamSpec

from pressline.models import DeliveryBatch, PostPublished
from pressline.subscribers.model import Member, audiences_for_post, first_audience
from pressline.subscribers.ports import (
    Announcer,
    Cursor,
    DigestLedger,
    FanoutLedger,
    FanoutState,
    LeaseHeld,
    LeaseLost,
    SubscriberRepository,
    TaskQueue,
)

BATCH_SIZE = 50  # recipients per delivery message (DeliveryBatch's limit)
PAGE_SIZE = 1000  # members read per query: 20 batches, 2 SendMessageBatch calls
CHECKPOINT_PAGES = 10  # at most this many pages between checkpoints (re-read, or re-enqueued, after a crash)
CHECKPOINT_INTERVAL = timedelta(seconds=10)  # and at most this long: the lease must stay fresh

FanoutStatus = Literal["done", "continue", "busy", "duplicate"]
Page = tuple[list[Member], Cursor | None]  # members of an audience and the cursor after them
Step = ParamSpec("Step")


@dataclass(frozen=True)
class FanoutResult:
    status: FanoutStatus
    recipients: int = 0  # enqueued by this invocation
    batches: int = 0
    pages: int = 0
    retry_after: timedelta = timedelta(0)  # busy: when the holder's lease runs out


@dataclass
class BatchOutcome:
    """What ``run_batch`` did: each slug's result (or the error that stopped its fan-out),
    and the shared calls that failed and sent their posts on alone (for the logs)."""

    results: dict[str, FanoutResult | Exception] = field(default_factory=dict)
    setbacks: list[str] = field(default_factory=list)

    def setback(self, step: str, error: Exception) -> None:
        self.setbacks.append(f"{step}: {type(error).__name__}: {error}")


@dataclass(frozen=True)
class Fanout:
    repository: SubscriberRepository
    ledger: FanoutLedger
    deliveries: TaskQueue
    announcer: Announcer
    clock: Callable[[], datetime]
    lease: timedelta
    page_size: int = PAGE_SIZE
    # The digest log (issue 15): each post is logged, under its lease and before any audience
    # is read, so that digests carry it to their subscribers (subscribers/digests.py).
    digest_log: DigestLedger | None = None

    def run(
        self, post: PostPublished, owner: str, time_left: Callable[[], timedelta], margin: timedelta
    ) -> FanoutResult:
        """Make as much progress as time allows on ``post``'s fan-out.

        ``done``: every audience read (now or before: ``duplicate``); ``continue``: stopped
        with less than ``margin`` left, progress saved and lease released; ``busy``:
        another invocation holds the lease."""
        now = self.clock()
        acquired = self.ledger.acquire(post.slug, owner, now, self.lease)
        if isinstance(acquired, LeaseHeld):
            return FanoutResult("busy", retry_after=max(acquired.until - now, timedelta(0)))
        if acquired.done:
            return FanoutResult("duplicate")
        return self._resume(post, acquired, time_left, margin)

    def run_batch(
        self, posts: Sequence[tuple[PostPublished, str]], time_left: Callable[[], timedelta], margin: timedelta
    ) -> BatchOutcome:
        """``run`` for several ``(post, owner)`` pairs, sharing the calls (see the module's
        docstring). For each slug (a repeated slug is one fan-out, its first owner's), its
        result or the error that stopped it: one post's failure is its own."""
        unique: dict[str, tuple[PostPublished, str]] = {}
        for post, owner in posts:
            unique.setdefault(post.slug, (post, owner))
        outcome = BatchOutcome()
        results = outcome.results
        if len(unique) == 1:  # the plain way: as many calls, and a lease write costs half a transaction's
            [(post, owner)] = unique.values()
            results[post.slug] = _attempt(self.run, post, owner, time_left, margin)
            return outcome
        try:
            pairs = [(slug, owner) for slug, (_, owner) in unique.items()]
            started = self.ledger.start_many(pairs, self.clock(), self.lease)
        except Exception as error:
            # The shared write failed (throttled, unreachable): each post alone, as one message would.
            outcome.setback("taking the leases together", error)
            for slug, (post, owner) in unique.items():
                results[slug] = _attempt(self.run, post, owner, time_left, margin)
            return outcome

        fresh: list[tuple[PostPublished, FanoutState]] = []
        for slug, (post, owner) in unique.items():
            state = started[slug]
            if state is None:  # another owner's progress, its lease run out: taken over alone
                results[slug] = _attempt(self.run, post, owner, time_left, margin)
            elif isinstance(state, LeaseHeld):
                results[slug] = FanoutResult("busy", retry_after=max(state.until - self.clock(), timedelta(0)))
            elif state.done:
                results[slug] = FanoutResult("duplicate")
            elif state.announced or state.pages:  # ours, with progress: it goes on alone
                results[slug] = _attempt(self._resume, post, state, time_left, margin)
            else:
                fresh.append((post, state))

        announced = self._announce_together(fresh, outcome, time_left, margin)
        pages = self._first_pages([post for post, _ in announced], outcome)
        small: list[tuple[PostPublished, FanoutState, list[str]]] = []
        large: list[tuple[PostPublished, FanoutState]] = []
        for post, state in announced:
            recipients = whole_audience(post, pages)
            if recipients is None:
                large.append((post, state))
            else:
                small.append((post, state, recipients))
        try:
            self._send([batch for post, _, ids in small for batch in delivery_batches(post, ids)])
        except Exception as error:
            # Some may have gone: each goes on alone and sends its own again (Deliver's
            # ledger makes a repeat harmless), failing alone.
            outcome.setback("sending the delivery batches together", error)
            large.extend((post, state) for post, state, _ in small)
            small = []
        finished = [finish(post, state, ids) for post, state, ids in small]
        # One write records the small ones done and the large ones' announcement (renewing
        # their lease) before they page on alone.
        self._save_together([state for state, _ in finished] + [state for _, state in large], outcome)
        for state, result in finished:
            results.setdefault(state.post, result)
        for post, state in large:
            if post.slug not in results:
                results[post.slug] = _attempt(self._advance, post, state, time_left, margin, pages)
        return outcome

    # ------------------------------------------------------------------ batch steps
    def _announce_together(
        self,
        fresh: list[tuple[PostPublished, FanoutState]],
        outcome: BatchOutcome,
        time_left: Callable[[], timedelta],
        margin: timedelta,
    ) -> list[tuple[PostPublished, FanoutState]]:
        """The fresh posts announced in as few calls as the topic takes; a post it refused,
        or all of them if the call failed, go on alone (announcing on their own)."""
        if not fresh:
            return []
        try:
            self._log([post for post, _ in fresh])
        except Exception as error:  # each logs (and announces) alone
            outcome.setback("logging for digests together", error)
            for post, state in fresh:
                outcome.results[post.slug] = _attempt(self._resume, post, state, time_left, margin)
            return []
        try:
            refused = {post.slug for post in self.announcer.announce_many([post for post, _ in fresh])}
        except Exception as error:
            outcome.setback("announcing together", error)
            refused = {post.slug for post, _ in fresh}
        announced = []
        for post, state in fresh:
            if post.slug in refused:
                outcome.results[post.slug] = _attempt(self._resume, post, state, time_left, margin)
            else:
                announced.append((post, replace(state, announced=True)))
        return announced

    def _first_pages(self, posts: list[PostPublished], outcome: BatchOutcome) -> dict[str, Page]:
        """The first page of every audience the posts reach, each read once. One that could
        not be read is left out: its posts page through it alone (and fail alone)."""
        pages: dict[str, Page] = {}
        for audience in dict.fromkeys(audience for post in posts for audience in audiences_for_post(post.tags)):
            try:
                pages[audience] = self.repository.audience_page(audience, None, self.page_size)
            except Exception as error:
                outcome.setback(f"reading the audience {audience}", error)
        return pages

    def _save_together(self, states: list[FanoutState], outcome: BatchOutcome) -> None:
        """Save ``states`` in one write, or each alone if that failed. A post whose save
        failed, or whose lease was lost, has that error as its result."""
        if not states:
            return
        try:
            lost = self.ledger.save_many(states, self.clock(), self.lease)
        except Exception as error:
            outcome.setback("saving together", error)
            lost = set()
            for state in states:
                try:
                    self.ledger.save(state, self.clock(), self.lease, release=state.done)
                except Exception as alone:
                    outcome.results[state.post] = alone
        for slug in lost:
            outcome.results[slug] = LeaseLost(f"fan-out of {slug} is now owned by another invocation")

    def _log(self, posts: list[PostPublished]) -> None:
        if self.digest_log is not None and posts:
            self.digest_log.log_posts([(post.slug, post.source_key) for post in posts], self.clock())

    def _send(self, batches: list[DeliveryBatch]) -> None:
        if batches:
            self.deliveries.send_batches(batches)

    # ------------------------------------------------------------------ one post
    def _resume(
        self, post: PostPublished, state: FanoutState, time_left: Callable[[], timedelta], margin: timedelta
    ) -> FanoutResult:
        if not state.announced:
            # Under the lease, before any batch. The first checkpoint records it (no write of
            # its own): a crash before that announces again, which an SNS subscriber must
            # bear anyway (SNS itself delivers at least once). The digest log keeps a post's
            # first entry, so logging it again changes nothing.
            self._log([post])
            self.announcer.announce(post)
            state = replace(state, announced=True)
        return self._advance(post, state, time_left, margin)

    def _advance(
        self,
        post: PostPublished,
        state: FanoutState,
        time_left: Callable[[], timedelta],
        margin: timedelta,
        first_pages: Mapping[str, Page] | None = None,
    ) -> FanoutResult:
        """Page on from ``state`` (ours, announced) until done or time is short.
        ``first_pages``: audiences' first pages already read (by the batch)."""
        audiences = audiences_for_post(post.tags)
        recipients = batches = pages = 0
        pending: list[str] = []  # recipients read but not yet enqueued: less than one batch
        sent_unsaved = False  # batches enqueued since the last checkpoint: a crash sends them again
        saved_at = self.clock()
        pages_unsaved = 0

        def enqueue(ids: list[str]) -> int:
            page_batches = delivery_batches(post, ids)
            self._send(page_batches)
            return len(page_batches)

        while state.audience < len(audiences):
            if time_left() < margin:
                batches += enqueue(pending)
                state = replace(state, batches=state.batches + (1 if pending else 0))
                self.ledger.save(state, self.clock(), self.lease, release=True)
                return FanoutResult("continue", recipients, batches, pages)
            audience = audiences[state.audience]
            read = (first_pages or {}).get(audience) if state.cursor is None else None
            members, cursor = read or self.repository.audience_page(audience, state.cursor, self.page_size)
            ids = [member.id for member in members if first_audience(member.tags, post.tags) == audience]
            pending.extend(ids)
            # Only whole batches go now; the rest waits for the next page (small audiences share batches).
            whole = len(pending) - len(pending) % BATCH_SIZE
            sent = enqueue(pending[:whole])
            pending = pending[whole:]
            recipients += len(ids)
            batches += sent
            pages += 1
            pages_unsaved += 1
            sent_unsaved = sent_unsaved or sent > 0
            state = replace(
                state,
                audience=state.audience if cursor else state.audience + 1,
                cursor=cursor,
                recipients=state.recipients + len(ids),
                batches=state.batches + sent,
                pages=state.pages + 1,
            )
            # A checkpoint must cover only enqueued recipients: save when batches went out and
            # nothing is pending, or flush the remainder now and then so that the lease and the
            # progress stay fresh. Pages that enqueued nothing need no save of their own: a
            # crash only reads them again (at most CHECKPOINT_PAGES of them). After the last
            # page, the final save below is the checkpoint.
            if state.audience == len(audiences):
                break
            due = pages_unsaved >= CHECKPOINT_PAGES or self.clock() - saved_at >= CHECKPOINT_INTERVAL
            if (sent_unsaved and not pending) or due:
                flushed = enqueue(pending)
                batches += flushed
                pending = []
                state = replace(state, batches=state.batches + flushed)
                self.ledger.save(state, self.clock(), self.lease)
                saved_at, pages_unsaved, sent_unsaved = self.clock(), 0, False
        batches += enqueue(pending)
        state = replace(state, batches=state.batches + (1 if pending else 0), done=True)
        self.ledger.save(state, self.clock(), self.lease, release=True)
        return FanoutResult("done", recipients, batches, pages)


def whole_audience(post: PostPublished, pages: Mapping[str, Page]) -> list[str] | None:
    """``post``'s recipients when each of its audiences was read whole in its first page
    (each recipient from the first audience of the post they are in); None if one goes on
    past its first page, or was not read."""
    recipients: list[str] = []
    for audience in audiences_for_post(post.tags):
        page = pages.get(audience)
        if page is None or page[1] is not None:
            return None
        recipients.extend(member.id for member in page[0] if first_audience(member.tags, post.tags) == audience)
    return recipients


def delivery_batches(post: PostPublished, ids: list[str]) -> list[DeliveryBatch]:
    return [
        DeliveryBatch(post=post, subscriber_ids=ids[start : start + BATCH_SIZE])
        for start in range(0, len(ids), BATCH_SIZE)
    ]


def finish(post: PostPublished, state: FanoutState, recipients: list[str]) -> tuple[FanoutState, FanoutResult]:
    """The done state and result of a fan-out whose every recipient was read at once and enqueued."""
    audiences = len(audiences_for_post(post.tags))
    batches = len(delivery_batches(post, recipients))
    done = replace(
        state,
        audience=audiences,
        cursor=None,
        announced=True,
        done=True,
        recipients=state.recipients + len(recipients),
        batches=state.batches + batches,
        pages=state.pages + audiences,
    )
    return done, FanoutResult("done", len(recipients), batches, audiences)


def _attempt(step: Callable[Step, FanoutResult], *args: Step.args, **kwargs: Step.kwargs) -> FanoutResult | Exception:
    """One post's step: its error is its result (a dying process, a BaseException, stops all)."""
    try:
        return step(*args, **kwargs)
    except Exception as error:
        return error
