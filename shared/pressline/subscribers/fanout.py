"""Notify's core: page through a post's audiences and enqueue delivery batches, resumably.

The fan-out's progress (audience index + cursor) is checkpointed in the ledger under a
lease whenever every recipient read so far is enqueued (and at least every few pages).
The lease lets exactly one invocation work on a post at a time; the checkpoint lets any
invocation resume where the last one stopped: after a crash (the SQS retry resumes), or
when time runs short (it saves, releases the lease and asks for a continuation).
Batches are enqueued before the checkpoint that covers them, so a crash in between
enqueues them again; Deliver's ledger makes the repeat harmless. Recipients of small
audiences share batches. Memory holds one page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from pressline.models import DeliveryBatch, PostPublished
from pressline.subscribers.model import audiences_for_post, first_audience
from pressline.subscribers.ports import Announcer, FanoutLedger, SubscriberRepository, TaskQueue

BATCH_SIZE = 50  # recipients per delivery message (DeliveryBatch's limit)
PAGE_SIZE = 1000  # members read per query: 20 batches, 2 SendMessageBatch calls
CHECKPOINT_PAGES = 10  # at most this many pages between checkpoints (re-enqueued after a crash)
CHECKPOINT_INTERVAL = timedelta(seconds=10)  # and at most this long: the lease must stay fresh

FanoutStatus = Literal["done", "continue", "busy", "duplicate"]


@dataclass(frozen=True)
class FanoutResult:
    status: FanoutStatus
    recipients: int = 0  # enqueued by this invocation
    batches: int = 0
    pages: int = 0


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
        state = self.ledger.acquire(post.slug, owner, self.clock(), self.lease)
        if state is None:
            return FanoutResult("busy")
        if state.done:
            return FanoutResult("duplicate")
        if not state.announced:
            # Under the lease: at most a crash between publish and save repeats it.
            self.announcer.announce(post)
            state = replace(state, announced=True)
            self.ledger.save(state, self.clock(), self.lease)

        audiences = audiences_for_post(post.tags)
        recipients = batches = pages = 0
        pending: list[str] = []  # recipients read but not yet enqueued: less than one batch
        saved_at = self.clock()
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
            state = replace(
                state,
                audience=state.audience if cursor else state.audience + 1,
                cursor=cursor,
                recipients=state.recipients + len(ids),
                batches=state.batches + sent,
                pages=state.pages + 1,
            )
            # A checkpoint must cover only enqueued recipients: save when nothing is pending,
            # or flush the remainder now and then so the lease and the progress stay fresh.
            if not pending or pages_unsaved >= CHECKPOINT_PAGES or self.clock() - saved_at >= CHECKPOINT_INTERVAL:
                flushed = enqueue(pending)
                batches += flushed
                pending = []
                state = replace(state, batches=state.batches + flushed)
                self.ledger.save(state, self.clock(), self.lease)
                saved_at, pages_unsaved = self.clock(), 0
        batches += enqueue(pending)
        state = replace(state, batches=state.batches + (1 if pending else 0), done=True)
        self.ledger.save(state, self.clock(), self.lease, release=True)
        return FanoutResult("done", recipients, batches, pages)
