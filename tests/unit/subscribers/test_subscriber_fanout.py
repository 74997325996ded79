"""Notify's fan-out: who is enqueued, once, and how it resumes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from subscriber_helpers import make_post

from pressline.subscribers import fanout as fanout_module
from pressline.subscribers.fanout import Fanout
from pressline.subscribers.memory import (
    FakeClock,
    MemoryAnnouncer,
    MemoryLedger,
    MemoryRepository,
    MemoryTaskQueue,
)
from pressline.subscribers.model import audiences_of
from pressline.subscribers.ports import FanoutState, LeaseHeld, LeaseLost

PLENTY = timedelta(minutes=5)
MARGIN = timedelta(seconds=20)


@pytest.fixture
def queue() -> MemoryTaskQueue:
    return MemoryTaskQueue()


@pytest.fixture
def announcer() -> MemoryAnnouncer:
    return MemoryAnnouncer()


@pytest.fixture
def fanout(
    repository: MemoryRepository,
    ledger: MemoryLedger,
    queue: MemoryTaskQueue,
    announcer: MemoryAnnouncer,
    clock: FakeClock,
) -> Fanout:
    return Fanout(repository, ledger, queue, announcer, clock, lease=timedelta(seconds=90), page_size=7)


def _seed(repository: MemoryRepository, count: int, tags: tuple[str, ...] = (), prefix: str = "s") -> list[str]:
    ids = [f"{prefix}{n:05d}" for n in range(count)]
    for sid in ids:
        for audience in audiences_of(tags):
            repository.audiences.setdefault(audience, {})[sid] = tags
    return ids


def _enqueued(queue: MemoryTaskQueue) -> list[str]:
    return [sid for batch in queue.batches for sid in batch.subscriber_ids]


def test_every_matching_subscriber_is_enqueued_once_in_batches_of_at_most_50(
    fanout: Fanout, repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer
) -> None:
    everyone = _seed(repository, 120)
    aws = _seed(repository, 30, ("aws",), "aws")
    both = _seed(repository, 10, ("aws", "python"), "both")
    _seed(repository, 40, ("rust",), "rust")
    post = make_post(tags=("AWS", "python"))
    result = fanout.run(post, "owner-1", lambda: PLENTY, MARGIN)
    assert result.status == "done"
    enqueued = _enqueued(queue)
    assert sorted(enqueued) == sorted(everyone + aws + both)
    assert len(enqueued) == len(set(enqueued)) == result.recipients
    assert all(1 <= len(batch.subscriber_ids) <= 50 for batch in queue.batches)
    assert all(batch.post == post for batch in queue.batches)
    assert announcer.announced == [post]


def test_a_post_without_tags_reaches_only_subscribers_without_tags(
    fanout: Fanout, repository: MemoryRepository, queue: MemoryTaskQueue
) -> None:
    everyone = _seed(repository, 3)
    _seed(repository, 3, ("aws",), "aws")
    fanout.run(make_post(tags=()), "owner-1", lambda: PLENTY, MARGIN)
    assert sorted(_enqueued(queue)) == everyone


def test_a_duplicate_notification_enqueues_nothing_and_announces_nothing(
    fanout: Fanout, repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer
) -> None:
    _seed(repository, 20)
    post = make_post()
    assert fanout.run(post, "owner-1", lambda: PLENTY, MARGIN).status == "done"
    batches = len(queue.batches)
    assert fanout.run(post, "owner-2", lambda: PLENTY, MARGIN).status == "duplicate"
    assert len(queue.batches) == batches
    assert len(announcer.announced) == 1


def test_near_the_time_limit_it_stops_and_the_next_run_resumes_where_it_stopped(
    fanout: Fanout, repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer
) -> None:
    everyone = _seed(repository, 50)
    tagged = _seed(repository, 12, ("aws",), "aws")
    post = make_post(tags=("aws",))
    budget = iter([PLENTY, PLENTY, PLENTY, timedelta(seconds=5)])  # three pages, then time is short
    first = fanout.run(post, "owner-1", lambda: next(budget, timedelta(0)), MARGIN)
    assert first.status == "continue" and first.pages == 3
    assert len(_enqueued(queue)) == 21
    rounds = 1
    while (result := fanout.run(post, f"owner-{rounds + 1}", lambda: PLENTY, MARGIN)).status == "continue":
        rounds += 1
    assert result.status == "done"
    enqueued = _enqueued(queue)
    assert sorted(enqueued) == sorted(everyone + tagged)
    assert len(enqueued) == len(set(enqueued))
    assert len(announcer.announced) == 1


def test_a_crash_mid_fanout_resumes_from_the_last_checkpoint(
    repository: MemoryRepository,
    ledger: MemoryLedger,
    queue: MemoryTaskQueue,
    announcer: MemoryAnnouncer,
    clock: FakeClock,
) -> None:
    everyone = _seed(repository, 200)
    calls = {"n": 0}

    class CrashingQueue(MemoryTaskQueue):
        def send_batches(self, batches):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("the process died")
            queue.send_batches(batches)

    # Pages of 10: every 5th page completes a batch of 50, which is enqueued and checkpointed.
    crashing = Fanout(repository, ledger, CrashingQueue(), announcer, clock, timedelta(seconds=90), page_size=10)
    post = make_post()
    with pytest.raises(RuntimeError):
        crashing.run(post, "owner-1", lambda: PLENTY, MARGIN)
    assert len(_enqueued(queue)) == 100
    # The crashed invocation still holds the lease: a duplicate must wait it out.
    again = Fanout(repository, ledger, queue, announcer, clock, timedelta(seconds=90), page_size=10)
    busy = again.run(post, "owner-2", lambda: PLENTY, MARGIN)
    assert busy.status == "busy" and busy.retry_after == timedelta(seconds=90)
    clock.advance(timedelta(seconds=91))
    assert again.run(post, "owner-2", lambda: PLENTY, MARGIN).status == "done"
    assert sorted(_enqueued(queue)) == everyone  # resumed after the last checkpoint: no repeats


def test_small_audiences_share_batches(fanout: Fanout, repository: MemoryRepository, queue: MemoryTaskQueue) -> None:
    _seed(repository, 3)
    _seed(repository, 4, ("aws",), "aws")
    _seed(repository, 5, ("python",), "py")
    result = fanout.run(make_post(tags=("aws", "python")), "owner-1", lambda: PLENTY, MARGIN)
    assert result.batches == 1 and len(queue.batches[0].subscriber_ids) == 12


def test_an_invocation_that_lost_its_lease_stops(
    fanout: Fanout, repository: MemoryRepository, ledger: MemoryLedger, clock: FakeClock
) -> None:
    _seed(repository, 30)
    post = make_post()
    state = ledger.acquire(post.slug, "owner-1", clock(), timedelta(seconds=90))
    assert isinstance(state, FanoutState)
    clock.advance(timedelta(seconds=91))
    assert isinstance(ledger.acquire(post.slug, "owner-2", clock(), timedelta(seconds=90)), FanoutState)
    with pytest.raises(LeaseLost):
        ledger.save(state, clock(), timedelta(seconds=90))


def test_subscribers_who_confirm_are_found_by_their_tags(
    fanout: Fanout, queue: MemoryTaskQueue, subscribe_confirmed: Callable[..., str]
) -> None:
    ada = subscribe_confirmed("ada@example.com", ("python",))
    eve = subscribe_confirmed("eve@example.com", ())
    subscribe_confirmed("bob@example.com", ("rust",))
    fanout.run(make_post(tags=("Python",)), "owner-1", lambda: PLENTY, MARGIN)
    assert sorted(_enqueued(queue)) == sorted([ada, eve])


class CountingLedger(MemoryLedger):
    """Counts the ledger's writes (each is one AWS call) and can fail the next save."""

    def __init__(self) -> None:
        super().__init__()
        self.acquires = 0
        self.saves: list[FanoutState] = []
        self.writes_at: list[datetime] = []  # acquire and every save: when the lease was renewed
        self.crash_on_save = False

    def acquire(self, post: str, owner: str, now: datetime, lease: timedelta) -> FanoutState | LeaseHeld:
        self.acquires += 1
        self.writes_at.append(now)
        return super().acquire(post, owner, now, lease)

    def save(self, state: FanoutState, now: datetime, lease: timedelta, *, release: bool = False) -> None:
        if self.crash_on_save:
            self.crash_on_save = False
            raise RuntimeError("the process died before the checkpoint")
        self.saves.append(state)
        self.writes_at.append(now)
        super().save(state, now, lease, release=release)


def _counting_fanout(
    repository: MemoryRepository,
    ledger: CountingLedger,
    queue: MemoryTaskQueue,
    announcer: MemoryAnnouncer,
    clock: FakeClock,
    page_size: int = 7,
) -> Fanout:
    return Fanout(repository, ledger, queue, announcer, clock, timedelta(seconds=90), page_size=page_size)


@pytest.mark.parametrize("members", [0, 1, 49])
def test_a_post_with_few_recipients_costs_one_lease_and_one_checkpoint(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock, members: int
) -> None:
    everyone = _seed(repository, members)
    ledger = CountingLedger()
    post = make_post(tags=("aws", "python", "rust"))  # four audiences, three of them empty
    result = _counting_fanout(repository, ledger, queue, announcer, clock, page_size=1000).run(
        post, "owner-1", lambda: PLENTY, MARGIN
    )
    assert result.status == "done" and result.pages == 4
    assert ledger.acquires == 1
    assert [(state.done, state.announced, state.recipients) for state in ledger.saves] == [(True, True, members)]
    assert _enqueued(queue) == everyone and queue.calls == (1 if members else 0)
    assert announcer.announced == [post]


def test_each_page_that_enqueued_batches_is_checkpointed(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    _seed(repository, 150)
    ledger = CountingLedger()
    result = _counting_fanout(repository, ledger, queue, announcer, clock, page_size=50).run(
        make_post(tags=("aws",)), "owner-1", lambda: PLENTY, MARGIN
    )
    assert result.status == "done" and result.batches == 3
    # A checkpoint after each page of 50 (one batch each), then the end (the empty TAG#aws read).
    assert [state.recipients for state in ledger.saves] == [50, 100, 150, 150]
    assert [state.done for state in ledger.saves] == [False, False, False, True]


def test_pages_that_enqueue_nothing_are_still_checkpointed_every_few_pages(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    # Readers of both tags are sent from TAG#aws; reading TAG#python finds nobody new.
    _seed(repository, 250, ("aws", "python"), "both")
    ledger = CountingLedger()
    result = _counting_fanout(repository, ledger, queue, announcer, clock, page_size=10).run(
        make_post(tags=("aws", "python")), "owner-1", lambda: PLENTY, MARGIN
    )
    assert result.status == "done" and result.recipients == 250
    pages = [0, *(state.pages for state in ledger.saves)]
    assert max(after - before for before, after in pairwise(pages)) <= fanout_module.CHECKPOINT_PAGES
    # TAG#aws's last page (batches sent), then twice in the middle of TAG#python, where nothing
    # was sent: a crash re-reads at most a few pages.
    assert [state.cursor for state in ledger.saves if state.audience == 2 and not state.done] == [
        None,
        {"offset": 100},
        {"offset": 200},
    ]


def test_the_lease_is_renewed_at_least_every_interval_even_without_batches(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    _seed(repository, 30, ("aws", "python"), "both")

    class SlowRepository(MemoryRepository):
        def audience_page(self, audience, cursor, limit):  # type: ignore[no-untyped-def]
            clock.advance(timedelta(seconds=4))  # a slow read
            return repository.audience_page(audience, cursor, limit)

    ledger = CountingLedger()
    fanout = Fanout(SlowRepository(), ledger, queue, announcer, clock, timedelta(seconds=90), page_size=1)
    assert fanout.run(make_post(tags=("aws", "python")), "owner-1", lambda: PLENTY, MARGIN).status == "done"
    # 61 pages of 4 s: the lease (90 s) is renewed at least every interval, whatever was sent.
    gaps = [after - before for before, after in pairwise(ledger.writes_at)]
    assert len(gaps) > 10
    assert max(gaps) <= fanout_module.CHECKPOINT_INTERVAL + timedelta(seconds=4)


def test_a_crash_before_the_first_checkpoint_announces_again_and_finishes(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 3)
    ledger = CountingLedger()
    ledger.crash_on_save = True
    fanout = _counting_fanout(repository, ledger, queue, announcer, clock)
    post = make_post()
    with pytest.raises(RuntimeError):
        fanout.run(post, "owner-1", lambda: PLENTY, MARGIN)
    clock.advance(timedelta(seconds=91))  # the dead invocation's lease runs out
    assert fanout.run(post, "owner-2", lambda: PLENTY, MARGIN).status == "done"
    # At least once: the announcement and the batch went out again; Deliver's ledger sends one email.
    assert announcer.announced == [post, post]
    assert sorted(_enqueued(queue)) == sorted(everyone * 2)
    assert fanout.run(post, "owner-3", lambda: PLENTY, MARGIN).status == "duplicate"
    assert len(announcer.announced) == 2
