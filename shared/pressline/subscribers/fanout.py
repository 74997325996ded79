"""Notify's core: page through a post's audiences and enqueue delivery batches, resumably.

The fan-out's progress (audience index + cursor) is checkpointed in the ledger after
every page, under a lease, so that exactly one invocation works on a post at a time and
any invocation can resume where the last one stopped: after a crash (the SQS retry
resumes), or when time runs short (it saves, releases and asks for a continuation).
A page's batches are enqueued before its checkpoint, so a crash between the two enqueues
that page again; Deliver's ledger makes the repeat harmless. Memory holds one page.
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
PAGE_SIZE = 1000  # members read per query: 20 batches, 2 SendMessageBatch calls, 1 checkpoint

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
        while state.audience < len(audiences):
            if time_left() < margin:
                self.ledger.save(state, self.clock(), self.lease, release=True)
                return FanoutResult("continue", recipients, batches, pages)
            audience = audiences[state.audience]
            members, cursor = self.repository.audience_page(audience, state.cursor, self.page_size)
            ids = [member.id for member in members if first_audience(member.tags, post.tags) == audience]
            page_batches = [
                DeliveryBatch(post=post, subscriber_ids=ids[start : start + BATCH_SIZE])
                for start in range(0, len(ids), BATCH_SIZE)
            ]
            if page_batches:
                self.deliveries.send_batches(page_batches)
            recipients += len(ids)
            batches += len(page_batches)
            pages += 1
            state = replace(
                state,
                audience=state.audience if cursor else state.audience + 1,
                cursor=cursor,
                recipients=state.recipients + len(ids),
                batches=state.batches + len(page_batches),
                pages=state.pages + 1,
            )
            self.ledger.save(state, self.clock(), self.lease)
        self.ledger.save(replace(state, done=True), self.clock(), self.lease, release=True)
        return FanoutResult("done", recipients, batches, pages)
