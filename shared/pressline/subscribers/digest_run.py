"""The digest run's core: start each due period once, and fan its audience out to Deliver.

Every few minutes the digest function asks which periods are due (``digests.due_periods``:
the latest daily and the latest weekly period whose cutoff has come). Each period is a
fan-out of Notify's kind (subscribers/fanout.py's ledger: a lease and a checkpoint), keyed
by the period's own key (``digest#daily#2026-12-04``; no slug holds ``#``), so a period
whose fan-out is ``done`` costs one conditional write per run and is never started again;
a run that finds another invocation's fresh lease leaves it alone; one that dies is resumed
from its last checkpoint by a later run (the lease runs out first).

For a period not yet done: seal the digest log at the cutoff (no post is logged before the
cutoff once the digests read the log; sealing again is a no-op), then page through the
period's audience (``DIGEST#daily`` / ``DIGEST#weekly``) and send DigestBatch messages of at
most 50 subscribers to Deliver's queue, each with the ``until`` of the rows that have one (a
final digest before going back to instant emails). Batches go before the checkpoint that
covers them: a crash in between sends them again, and Deliver's claims make that harmless.

Nothing here decides who gets which post: Deliver reads each subscriber as they are when
their digest is made (subscribers/digests.py, ``recipient_until`` and ``select``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pressline.models import DigestBatch
from pressline.subscribers.digests import DigestSchedule, Period, digest_key, due_periods
from pressline.subscribers.model import Member, digest_audience
from pressline.subscribers.ports import DigestLedger, FanoutLedger, FanoutState, LeaseHeld, SubscriberRepository

BATCH_SIZE = 50  # subscribers per DigestBatch (its limit)
PAGE_SIZE = 1000  # members read per query: 20 batches, 2 SendMessageBatch calls

RunStatus = Literal["done", "continue", "busy", "duplicate"]


class DigestQueue(Protocol):
    def send_batches(self, batches: Sequence[DigestBatch]) -> None:
        """Enqueue every batch (RetryableError: some may not have been)."""
        ...


@dataclass(frozen=True)
class PeriodResult:
    """What one run did for one period: ``done`` (fanned out now), ``duplicate`` (done
    before), ``busy`` (another invocation holds it) or ``continue`` (time ran short,
    progress saved: the next run goes on)."""

    period: Period
    status: RunStatus
    recipients: int = 0
    batches: int = 0


def digest_batches(period: Period, members: Sequence[Member]) -> list[DigestBatch]:
    """A page of the period's audience as DigestBatch messages of at most BATCH_SIZE."""
    batches = []
    for start in range(0, len(members), BATCH_SIZE):
        chunk = members[start : start + BATCH_SIZE]
        batches.append(
            DigestBatch(
                frequency=period.frequency,
                period=period.id,
                cutoff=period.cutoff,
                subscriber_ids=[member.id for member in chunk],
                until={member.id: member.until for member in chunk if member.until is not None},
            )
        )
    return batches


@dataclass(frozen=True)
class DigestRun:
    repository: SubscriberRepository
    fanouts: FanoutLedger
    log: DigestLedger
    deliveries: DigestQueue
    schedule: DigestSchedule
    clock: Callable[[], datetime]
    lease: timedelta
    page_size: int = PAGE_SIZE

    def run(self, owner: str, time_left: Callable[[], timedelta], margin: timedelta) -> list[PeriodResult]:
        """Start or resume every period due now (daily, then weekly); one result each. A period
        that fails does not keep the other from running: the first error is raised after both
        (the next run resumes the failed one from its checkpoint)."""
        results: list[PeriodResult] = []
        failure: Exception | None = None
        for period in due_periods(self.clock(), self.schedule):
            try:
                results.append(self.run_period(period, owner, time_left, margin))
            except Exception as error:
                failure = failure or error
        if failure is not None:
            raise failure
        return results

    def run_period(
        self, period: Period, owner: str, time_left: Callable[[], timedelta], margin: timedelta
    ) -> PeriodResult:
        key = digest_key(period)
        acquired = self.fanouts.acquire(key, owner, self.clock(), self.lease)
        if isinstance(acquired, LeaseHeld):
            return PeriodResult(period, "busy")
        if acquired.done:
            return PeriodResult(period, "duplicate")
        # Before any audience page: from here on, a post Notify logs is dated at or after the
        # cutoff (the next period's), so the log every digest of this period reads is complete.
        self.log.seal_log(period.cutoff)
        state: FanoutState = replace(acquired, announced=True)
        audience = digest_audience(period.frequency)
        recipients = batches = 0
        while True:
            if time_left() < margin:
                self.fanouts.save(state, self.clock(), self.lease, release=True)
                return PeriodResult(period, "continue", recipients, batches)
            members, cursor = self.repository.audience_page(audience, state.cursor, self.page_size)
            page = digest_batches(period, members)
            if page:
                self.deliveries.send_batches(page)
            recipients += len(members)
            batches += len(page)
            state = replace(
                state,
                cursor=cursor,
                audience=0 if cursor else 1,
                recipients=state.recipients + len(members),
                batches=state.batches + len(page),
                pages=state.pages + 1,
                done=cursor is None,
            )
            # Each page's batches are covered by the checkpoint right after them (a crash in
            # between sends them again: Deliver's claims make the repeat harmless).
            self.fanouts.save(state, self.clock(), self.lease, release=state.done)
            if state.done:
                return PeriodResult(period, "done", recipients, batches)
