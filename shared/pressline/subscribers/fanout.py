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
lease. Recipients of small audiences share batches. Memory holds one page.

Every audience is queried, empty ones too (half a read unit each). Skipping them would
need a directory of non-empty audiences kept right by the sign-up code across deploys and
rollbacks, and reading it costs about what the empty queries it saves cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from pressline.models import DeliveryBatch, PostPublished
from pressline.subscribers.model import audiences_for_post, first_audience
from pressline.subscribers.ports import Announcer, FanoutLedger, LeaseHeld, SubscriberRepository, TaskQueue

BATCH_SIZE = 50  # recipients per delivery message (DeliveryBatch's limit)
PAGE_SIZE = 1000  # members read per query: 20 batches, 2 SendMessageBatch calls
CHECKPOINT_PAGES = 10  # at most this many pages between checkpoints (re-read, or re-enqueued, after a crash)
CHECKPOINT_INTERVAL = timedelta(seconds=10)  # and at most this long: the lease must stay fresh

FanoutStatus = Literal["done", "continue", "busy", "duplicate"]


@dataclass(frozen=True)
class FanoutResult:
    status: FanoutStatus
    recipients: int = 0  # enqueued by this invocation
    batches: int = 0
    pages: int = 0
    retry_after: timedelta = timedelta(0)  # busy: when the holder's lease runs out


@dataclass(frozen=True)
class Fanout:
    repository: SubscriberRepository
    ledger: FanoutLedger
    deliveries: TaskQueue
    announcer: Announcer
    clock: Callable[[], datetime]
    lease: timedelta
    page_size: int = PAGE_SIZE

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
        state = acquired
        if state.done:
            return FanoutResult("duplicate")
        if not state.announced:
            # Under the lease, before any batch. The first checkpoint records it (no write of
            # its own): a crash before that announces again, which an SNS subscriber must
            # bear anyway (SNS itself delivers at least once).
            self.announcer.announce(post)
            state = replace(state, announced=True)

        audiences = audiences_for_post(post.tags)
        recipients = batches = pages = 0
        pending: list[str] = []  # recipients read but not yet enqueued: less than one batch
        sent_unsaved = False  # batches enqueued since the last checkpoint: a crash sends them again
        saved_at = now
        pages_unsaved = 0

        def enqueue(ids: list[str]) -> int:
            page_batches = [
                DeliveryBatch(post=post, subscriber_ids=ids[start : start + BATCH_SIZE])
                for start in range(0, len(ids), BATCH_SIZE)
            ]
            if page_batches:
                self.deliveries.send_batches(page_batches)
            return len(page_batches)

        while state.audience < len(audiences):
            if time_left() < margin:
                batches += enqueue(pending)
                state = replace(state, batches=state.batches + (1 if pending else 0))
                self.ledger.save(state, self.clock(), self.lease, release=True)
                return FanoutResult("continue", recipients, batches, pages)
            audience = audiences[state.audience]
            members, cursor = self.repository.audience_page(audience, state.cursor, self.page_size)
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
