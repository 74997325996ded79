"""The digest run (the digest function's core) on the memory fakes: each due period is fanned
out once, in batches of at most 50 with each row's ``until``, resumably, whatever the runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pressline.errors import RetryableError
from pressline.models import DigestBatch
from pressline.subscribers.digest_run import DigestRun
from pressline.subscribers.digests import DigestSchedule
from pressline.subscribers.memory import FakeClock, MemoryLedger, MemoryRepository
from pressline.subscribers.model import Frequency
from pressline.subscribers.preferences import plan_preferences

LEASE = timedelta(seconds=90)
MARGIN = timedelta(seconds=20)
PLENTY = timedelta(minutes=5)
SCHEDULE = DigestSchedule("Europe/Paris", 7, 0)  # 07:00 in Paris (06:00 UTC in winter), weekly on Mondays
TUESDAY = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
CUTOFF = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


class Queue:
    def __init__(self) -> None:
        self.batches: list[DigestBatch] = []

    def send_batches(self, batches: Sequence[DigestBatch]) -> None:
        self.batches.extend(batches)


def subscribe(repository: MemoryRepository, sid: str, frequency: Frequency, now: datetime) -> None:
    repository.request_confirmation(sid, f"{sid}@example.org", now, timedelta(0), timedelta(days=1))
    assert repository.confirm(sid, (), now) == "confirmed"
    choose(repository, sid, frequency, now)


def choose(repository: MemoryRepository, sid: str, frequency: Frequency, now: datetime) -> None:
    current = repository.preferences(sid)
    assert current is not None
    assert repository.apply_preferences(
        sid, current.version, plan_preferences(current.subscriber, current.rows, (), frequency, now)
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TUESDAY)


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def run(repository: MemoryRepository, ledger: MemoryLedger, queue: Queue, clock: FakeClock) -> DigestRun:
    started = DigestRun(repository, ledger, ledger, queue, SCHEDULE, clock, LEASE, page_size=25)
    started.run("start", lambda: PLENTY, MARGIN)  # the periods already due when the site starts
    return started


def test_each_period_is_fanned_out_once_however_often_the_schedule_runs(
    run: DigestRun, repository: MemoryRepository, queue: Queue, clock: FakeClock
) -> None:
    for n in range(120):
        subscribe(repository, f"d{n}", "daily", clock())
    subscribe(repository, "w", "weekly", clock())
    assert [result.status for result in run.run("early", lambda: PLENTY, MARGIN)] == ["duplicate", "duplicate"]
    clock.now = CUTOFF
    [daily, weekly] = run.run("on time", lambda: PLENTY, MARGIN)
    assert (daily.period.id, daily.status, daily.recipients) == ("daily#2026-12-01", "done", 120)
    assert weekly.status == "duplicate"  # Monday's: done when the site started
    for minutes in (15, 30, 600):
        clock.now = CUTOFF + timedelta(minutes=minutes)
        assert [result.status for result in run.run(f"again {minutes}", lambda: PLENTY, MARGIN)] == [
            "duplicate",
            "duplicate",
        ]
    assert all(len(batch.subscriber_ids) <= 50 for batch in queue.batches)
    ids = [sid for batch in queue.batches for sid in batch.subscriber_ids]
    assert sorted(ids) == sorted(f"d{n}" for n in range(120))
    assert {(batch.period, batch.frequency, batch.cutoff) for batch in queue.batches} == {
        ("daily#2026-12-01", "daily", CUTOFF)
    }


def test_a_final_digests_batch_carries_the_rows_until(
    run: DigestRun, repository: MemoryRepository, queue: Queue, clock: FakeClock
) -> None:
    subscribe(repository, "stays", "daily", clock())
    subscribe(repository, "leaves", "daily", clock())
    clock.advance(timedelta(minutes=30))
    choose(repository, "leaves", "instant", clock())
    clock.now = CUTOFF
    run.run("on time", lambda: PLENTY, MARGIN)
    [batch] = queue.batches
    assert batch.subscriber_ids == ["stays", "leaves"] and batch.until == {"leaves": TUESDAY + timedelta(minutes=30)}


def test_the_log_is_sealed_at_the_cutoff_before_the_audience_is_read(
    run: DigestRun, ledger: MemoryLedger, clock: FakeClock
) -> None:
    clock.now = CUTOFF + timedelta(minutes=3)
    run.run("on time", lambda: PLENTY, MARGIN)
    # Notify logs a post a moment late (its clock, or its write, behind the run's): it is dated
    # at the seal, so it belongs to the next period.
    assert ledger.log_posts([("late", "posts/late.md")], CUTOFF - timedelta(seconds=1)) == CUTOFF


def test_a_run_out_of_time_saves_its_place_and_the_next_one_goes_on(
    run: DigestRun, repository: MemoryRepository, queue: Queue, clock: FakeClock
) -> None:
    for n in range(60):
        subscribe(repository, f"d{n}", "daily", clock())
    clock.now = CUTOFF
    times = iter([PLENTY])  # one page, then time is short
    [daily, _] = run.run("short", lambda: next(times, timedelta(seconds=1)), MARGIN)
    assert (daily.status, daily.recipients) == ("continue", 25)
    clock.advance(timedelta(minutes=15))  # the next scheduled run: the lease was released
    [daily, _] = run.run("next", lambda: PLENTY, MARGIN)
    assert (daily.status, daily.recipients) == ("done", 35)
    ids = [sid for batch in queue.batches for sid in batch.subscriber_ids]
    assert sorted(ids) == sorted(f"d{n}" for n in range(60))


def test_a_period_another_run_holds_is_left_to_it_until_its_lease_runs_out(
    run: DigestRun, repository: MemoryRepository, ledger: MemoryLedger, queue: Queue, clock: FakeClock
) -> None:
    subscribe(repository, "d", "daily", clock())
    clock.now = CUTOFF
    ledger.acquire("digest#daily#2026-12-01", "another run", clock(), LEASE)
    [daily, _] = run.run("this run", lambda: PLENTY, MARGIN)
    assert daily.status == "busy" and queue.batches == []
    clock.advance(LEASE)  # the other run died
    [daily, _] = run.run("this run", lambda: PLENTY, MARGIN)
    assert daily.status == "done" and [batch.subscriber_ids for batch in queue.batches] == [["d"]]


def test_a_weekly_period_starts_on_its_weekday_at_its_hour(
    run: DigestRun, repository: MemoryRepository, queue: Queue, clock: FakeClock
) -> None:
    subscribe(repository, "w", "weekly", clock())
    clock.now = datetime(2026, 12, 7, 5, 59, tzinfo=UTC)  # Monday 06:59 in Paris
    run.run("early", lambda: PLENTY, MARGIN)
    assert queue.batches == [] or all(batch.frequency == "daily" for batch in queue.batches)
    clock.now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    [_, weekly] = run.run("on time", lambda: PLENTY, MARGIN)
    assert (weekly.period.id, weekly.status, weekly.recipients) == ("weekly#2026-W50", "done", 1)


def test_a_period_that_fails_does_not_hold_the_other_back(
    run: DigestRun, repository: MemoryRepository, queue: Queue, clock: FakeClock
) -> None:
    class DailyRefused(Queue):
        def send_batches(self, batches: Sequence[DigestBatch]) -> None:
            if any(batch.frequency == "daily" for batch in batches):
                raise RetryableError("SQS refused the batch")
            super().send_batches(batches)

    subscribe(repository, "d", "daily", clock())
    subscribe(repository, "w", "weekly", clock())
    clock.now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # Monday: both periods due
    refusing = DailyRefused()
    with pytest.raises(RetryableError):
        replace(run, deliveries=refusing).run("first", lambda: PLENTY, MARGIN)
    assert [batch.subscriber_ids for batch in refusing.batches] == [["w"]]  # the weekly went all the same
    clock.advance(timedelta(minutes=15))  # the next run: the failed period's lease has run out
    [daily, weekly] = run.run("next", lambda: PLENTY, MARGIN)
    assert (daily.status, weekly.status) == ("done", "duplicate")
    assert [batch.subscriber_ids for batch in queue.batches] == [["d"]]
