"""Notify's fan-out: who is enqueued, once, and how it resumes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from subscriber_helpers import make_post

from pressline.errors import RetryableError
from pressline.models import PostPublished
from pressline.subscribers import fanout as fanout_module
from pressline.subscribers.fanout import Fanout, FanoutResult
from pressline.subscribers.memory import (
    FakeClock,
    MemoryAnnouncer,
    MemoryLedger,
    MemoryRepository,
    MemoryTaskQueue,
)
from pressline.subscribers.model import audiences_of, wants
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


# --------------------------------------------------------------------------- batches of posts
class CountingRepository(MemoryRepository):
    """Counts audience reads; ``fail``: audiences whose read raises (a throttled query)."""

    def __init__(self, source: MemoryRepository) -> None:
        super().__init__()
        self.records, self.suppressed, self.audiences = source.records, source.suppressed, source.audiences
        self.reads: list[tuple[str, object]] = []
        self.fail: set[str] = set()

    def audience_page(self, audience, cursor, limit):  # type: ignore[no-untyped-def]
        self.reads.append((audience, cursor))
        if audience in self.fail:
            raise RetryableError(f"throttled reading {audience}")
        return super().audience_page(audience, cursor, limit)


class BatchLedger(CountingLedger):
    """Also counts the batched writes (one AWS call each, whatever their size)."""

    def __init__(self) -> None:
        super().__init__()
        self.start_calls = 0
        self.save_calls = 0
        self.batched_saves: list[list[FanoutState]] = []

    def start_many(self, posts, now, lease):  # type: ignore[no-untyped-def]
        self.start_calls += 1
        return super().start_many(posts, now, lease)

    def save_many(self, states, now, lease):  # type: ignore[no-untyped-def]
        self.save_calls += 1
        self.batched_saves.append(list(states))
        lost = set()
        for state in states:
            try:
                MemoryLedger.save(self, state, now, lease, release=state.done)
            except LeaseLost:
                lost.add(state.post)
        return lost


def _batch_fanout(
    repository: MemoryRepository,
    ledger: MemoryLedger,
    queue: MemoryTaskQueue,
    announcer: MemoryAnnouncer,
    clock: FakeClock,
    page_size: int = 1000,
) -> Fanout:
    return Fanout(repository, ledger, queue, announcer, clock, timedelta(seconds=90), page_size=page_size)


def _by_post(queue: MemoryTaskQueue) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for batch in queue.batches:
        found.setdefault(batch.post.slug, []).extend(batch.subscriber_ids)
    return found


def _expected(repository: MemoryRepository, post: PostPublished) -> list[str]:
    members: dict[str, tuple[str, ...]] = {}
    for audience in repository.audiences.values():
        members.update(audience)
    return sorted(sid for sid, tags in members.items() if wants(tags, post.tags))


def _owned(posts: list[PostPublished], run: str = "r1") -> list[tuple[PostPublished, str]]:
    return [(post, f"{run}:{post.slug}") for post in posts]


def test_a_batch_shares_the_lease_write_the_announcement_the_reads_the_sends_and_the_save(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    _seed(repository, 3)
    _seed(repository, 2, ("aws",), "aws")
    _seed(repository, 4, ("python", "rust"), "pyrust")
    counting, ledger = CountingRepository(repository), BatchLedger()
    posts = [make_post(f"post-{n}", tags=(("aws",), ("python",), ("aws", "python"), ())[n % 4]) for n in range(10)]
    outcome = _batch_fanout(counting, ledger, queue, announcer, clock).run_batch(_owned(posts), lambda: PLENTY, MARGIN)
    assert {slug: result.status for slug, result in outcome.results.items()} == {p.slug: "done" for p in posts}  # type: ignore[union-attr]
    assert not outcome.setbacks
    enqueued = _by_post(queue)
    for post in posts:
        assert sorted(enqueued[post.slug]) == _expected(repository, post)
    assert all(len(b.subscriber_ids) <= 50 for b in queue.batches)
    assert announcer.announced == posts  # each once, in order
    # One lease write, one announcement call, one read per distinct audience, one send, one save.
    assert (ledger.start_calls, ledger.acquires, announcer.calls, queue.calls, ledger.save_calls) == (1, 0, 1, 1, 1)
    assert sorted(counting.reads) == sorted((audience, None) for audience in ("ALL", "TAG#aws", "TAG#python"))
    assert all(state.done for state, _ in ledger.fanouts.values())


def test_posts_with_nobody_to_read_cost_the_batch_four_calls_and_the_reads(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    counting, ledger = CountingRepository(repository), BatchLedger()
    posts = [make_post(f"post-{n}", tags=("aws", "python")) for n in range(10)]
    outcome = _batch_fanout(counting, ledger, queue, announcer, clock).run_batch(_owned(posts), lambda: PLENTY, MARGIN)
    assert all(r.status == "done" and r.recipients == 0 for r in outcome.results.values())  # type: ignore[union-attr]
    assert (ledger.start_calls, announcer.calls, len(counting.reads), queue.calls, ledger.save_calls) == (1, 1, 3, 0, 1)


def test_duplicates_in_a_batch_and_posts_already_done_are_fanned_out_once(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 5)
    ledger = BatchLedger()
    fanout = _batch_fanout(repository, ledger, queue, announcer, clock)
    first, second, third = (make_post(f"post-{n}") for n in range(3))
    fanout.run_batch(_owned([first, second]), lambda: PLENTY, MARGIN)
    # Redelivered alongside a new one, twice in the same batch, in another order.
    outcome = fanout.run_batch(
        [(second, "r2:a"), (third, "r2:b"), (first, "r2:c"), (third, "r2:d"), (second, "r2:e")], lambda: PLENTY, MARGIN
    )
    assert {slug: r.status for slug, r in outcome.results.items()} == {  # type: ignore[union-attr]
        "post-1": "duplicate",
        "post-2": "done",
        "post-0": "duplicate",
    }
    assert {slug: sorted(ids) for slug, ids in _by_post(queue).items()} == {
        p.slug: everyone for p in (first, second, third)
    }
    assert [post.slug for post in announcer.announced] == ["post-0", "post-1", "post-2"]


def test_a_post_another_invocation_holds_is_busy_and_the_others_go_through(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    _seed(repository, 2)
    ledger = BatchLedger()
    held, free = make_post("held"), make_post("free")
    assert isinstance(ledger.acquire("held", "someone-else", clock(), timedelta(seconds=90)), FanoutState)
    clock.advance(timedelta(seconds=30))
    outcome = _batch_fanout(repository, ledger, queue, announcer, clock).run_batch(
        _owned([held, free]), lambda: PLENTY, MARGIN
    )
    busy = outcome.results["held"]
    assert isinstance(busy, FanoutResult) and busy.status == "busy" and busy.retry_after == timedelta(seconds=60)
    assert outcome.results["free"] == FanoutResult("done", 2, 1, 1)
    assert set(_by_post(queue)) == {"free"} and announcer.announced == [free]


def test_a_post_whose_lease_ran_out_on_another_owner_is_taken_over_with_its_progress(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 120)
    ledger = BatchLedger()
    post, other = make_post("resumed"), make_post("other")
    # A dead invocation announced it and enqueued the first 50 before its last checkpoint.
    ledger.fanouts["resumed"] = (
        FanoutState("resumed", "dead", cursor={"offset": 50}, announced=True, recipients=50, batches=1, pages=1),
        clock() + timedelta(seconds=90),
    )
    clock.advance(timedelta(seconds=91))
    outcome = _batch_fanout(repository, ledger, queue, announcer, clock, page_size=50).run_batch(
        _owned([post, other]), lambda: PLENTY, MARGIN
    )
    assert outcome.results["resumed"] == FanoutResult("done", 70, 2, 2)
    assert sorted(_by_post(queue)["resumed"]) == everyone[50:]
    assert [p.slug for p in announcer.announced] == ["other"]  # the resumed one was announced before


def test_a_post_with_an_audience_larger_than_a_page_pages_on_alone_from_the_shared_first_page(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    _seed(repository, 4)
    tagged = _seed(repository, 25, ("aws",), "aws")
    counting, ledger = CountingRepository(repository), BatchLedger()
    posts = [make_post("big", tags=("aws",)), make_post("small")]
    outcome = _batch_fanout(counting, ledger, queue, announcer, clock, page_size=10).run_batch(
        _owned(posts), lambda: PLENTY, MARGIN
    )
    assert [outcome.results[p.slug].status for p in posts] == ["done", "done"]  # type: ignore[union-attr]
    enqueued = _by_post(queue)
    assert sorted(enqueued["big"]) == _expected(repository, posts[0]) and len(enqueued["big"]) == 4 + len(tagged)
    assert sorted(enqueued["small"]) == _expected(repository, posts[1])
    # Each first page read once (shared), then TAG#aws paged on by the big post alone.
    assert sorted(counting.reads, key=str) == sorted(
        [("ALL", None), ("TAG#aws", None), ("TAG#aws", {"offset": 10}), ("TAG#aws", {"offset": 20})], key=str
    )
    # The big post's announcement was recorded with the small one's end, before it paged on.
    [together] = ledger.batched_saves
    assert [(state.post, state.announced, state.done, state.pages) for state in together] == [
        ("small", True, True, 1),
        ("big", True, False, 0),
    ]


def test_a_refused_announcement_goes_on_alone_and_the_others_are_not_held_back(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 3)
    announcer.refuse = {"refused"}
    posts = [make_post("refused"), make_post("fine")]
    outcome = _batch_fanout(repository, BatchLedger(), queue, announcer, clock).run_batch(
        _owned(posts), lambda: PLENTY, MARGIN
    )
    assert all(r.status == "done" for r in outcome.results.values())  # type: ignore[union-attr]
    assert sorted(p.slug for p in announcer.announced) == ["fine", "refused"]  # refused in the batch, sent alone
    assert {slug: sorted(ids) for slug, ids in _by_post(queue).items()} == {"refused": everyone, "fine": everyone}


def test_an_audience_that_cannot_be_read_fails_only_the_posts_that_need_it(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 3)
    counting, ledger = CountingRepository(repository), BatchLedger()
    counting.fail = {"TAG#broken"}
    posts = [make_post("broken", tags=("broken",)), make_post("fine", tags=("aws",))]
    fanout = _batch_fanout(counting, ledger, queue, announcer, clock)
    outcome = fanout.run_batch(_owned(posts), lambda: PLENTY, MARGIN)
    assert isinstance(outcome.results["broken"], RetryableError)
    assert outcome.results["fine"] == FanoutResult("done", 3, 1, 2)
    assert outcome.setbacks and "TAG#broken" in outcome.setbacks[0]
    # The retry (the same message, another invocation after the lease) finishes it, once.
    counting.fail = set()
    clock.advance(timedelta(seconds=91))
    retried = fanout.run_batch([(posts[0], "r2:broken")], lambda: PLENTY, MARGIN)
    assert retried.results["broken"] == FanoutResult("done", 3, 1, 2)
    assert {slug: sorted(ids) for slug, ids in _by_post(queue).items()} == {"broken": everyone, "fine": everyone}
    # Its announcement was recorded by the batch's shared save before it failed: not repeated.
    assert sorted(p.slug for p in announcer.announced) == ["broken", "fine"]


def test_a_failed_shared_send_sends_each_post_alone_and_each_recipient_at_least_once(
    repository: MemoryRepository, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 60)

    class FlakyQueue(MemoryTaskQueue):
        def send_batches(self, batches):  # type: ignore[no-untyped-def]
            super().send_batches(batches[:1])  # part of the call went out
            if len({b.post.slug for b in batches}) > 1:
                raise RetryableError("SQS refused 3 delivery batch(es)")
            super().send_batches(batches[1:])

    queue = FlakyQueue()
    posts = [make_post("one"), make_post("two")]
    outcome = _batch_fanout(repository, BatchLedger(), queue, announcer, clock).run_batch(
        _owned(posts), lambda: PLENTY, MARGIN
    )
    assert all(r.status == "done" for r in outcome.results.values())  # type: ignore[union-attr]
    assert {slug: sorted(set(ids)) for slug, ids in _by_post(queue).items()} == {"one": everyone, "two": everyone}
    assert len(announcer.announced) == 2  # the announcement is not repeated by the fallback


def test_a_lost_lease_at_the_shared_save_fails_that_post_only(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    _seed(repository, 2)

    class StolenLedger(BatchLedger):
        def save_many(self, states, now, lease):  # type: ignore[no-untyped-def]
            self.fanouts["stolen"] = (FanoutState("stolen", "thief"), now + lease)
            return super().save_many(states, now, lease)

    outcome = _batch_fanout(repository, StolenLedger(), queue, announcer, clock).run_batch(
        _owned([make_post("stolen"), make_post("kept")]), lambda: PLENTY, MARGIN
    )
    assert isinstance(outcome.results["stolen"], LeaseLost)
    assert outcome.results["kept"] == FanoutResult("done", 2, 1, 1)


def test_a_failed_shared_lease_write_runs_every_post_alone(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    everyone = _seed(repository, 2)

    class ThrottledLedger(BatchLedger):
        def start_many(self, posts, now, lease):  # type: ignore[no-untyped-def]
            raise RetryableError("DynamoDB transact_write_items: ThrottlingException")

    ledger = ThrottledLedger()
    posts = [make_post("a"), make_post("b")]
    outcome = _batch_fanout(repository, ledger, queue, announcer, clock).run_batch(
        _owned(posts), lambda: PLENTY, MARGIN
    )
    assert all(r.status == "done" for r in outcome.results.values())  # type: ignore[union-attr]
    assert ledger.acquires == 2 and len(outcome.setbacks) == 1
    assert {slug: sorted(ids) for slug, ids in _by_post(queue).items()} == {"a": everyone, "b": everyone}


# --------------------------------------------------------------------------- the class: crashes anywhere
class Crash(BaseException):
    """The process died (not an Exception: nothing in the core may catch it)."""


class CrashingPorts:
    """Every port call counted; the ``crash_at``-th raises Crash, before or after doing its work."""

    def __init__(self, crash_at: int | None, after: bool) -> None:
        self.calls = 0
        self.crash_at = crash_at
        self.after = after

    def wrap(self, target: object, names: tuple[str, ...]) -> object:
        ports = self

        class Wrapped:
            def __getattr__(self, name: str) -> object:
                attribute = getattr(target, name)
                if name not in names:
                    return attribute

                def call(*args: object, **kwargs: object) -> object:
                    ports.calls += 1
                    crash = ports.calls == ports.crash_at
                    if crash and not ports.after:
                        raise Crash(name)
                    result = attribute(*args, **kwargs)
                    if crash:
                        raise Crash(f"{name} (after its work)")
                    return result

                return call

        return Wrapped()


TAG_POOL = ("aws", "python", "rust")
tag_sets = st.lists(st.sampled_from(TAG_POOL), max_size=2, unique=True).map(tuple)


def _crash_run(
    subscribers: list[tuple[str, ...]],
    post_tags: list[tuple[str, ...]],
    duplicates: list[int],
    page_size: int,
    crash_at: int | None,
    after: bool,
) -> int:
    """One scenario: a batch (with repeats) that may die at its ``crash_at``-th port call,
    then redeliveries in another order until every post is done; checks what was enqueued
    and announced. The number of port calls the first invocation made."""
    repository = MemoryRepository()
    for n, tags in enumerate(subscribers):
        for audience in audiences_of(tags):
            repository.audiences.setdefault(audience, {})[f"s{n:02d}"] = tags
    posts = [make_post(f"post-{n}", tags=tags) for n, tags in enumerate(post_tags)]
    batch = posts + [posts[index % len(posts)] for index in duplicates]
    clock, ledger, queue, announcer = FakeClock(), MemoryLedger(), MemoryTaskQueue(), MemoryAnnouncer()
    ports = CrashingPorts(crash_at, after)
    fanout = Fanout(
        ports.wrap(repository, ("audience_page",)),  # type: ignore[arg-type]
        ports.wrap(ledger, ("acquire", "save", "start_many", "save_many")),  # type: ignore[arg-type]
        ports.wrap(queue, ("send_batches",)),  # type: ignore[arg-type]
        ports.wrap(announcer, ("announce", "announce_many")),  # type: ignore[arg-type]
        clock,
        timedelta(seconds=90),
        page_size=page_size,
    )
    crashed = False
    try:
        outcome = fanout.run_batch(_owned(batch, "r0"), lambda: PLENTY, MARGIN)
        assert all(isinstance(r, FanoutResult) for r in outcome.results.values()), outcome.results
    except Crash:
        crashed = True
    calls = ports.calls
    # SQS redelivers whatever is not done, in another order, until every post is done.
    pending = {post.slug: post for post in posts}
    for attempt in range(1, 6):
        clock.advance(timedelta(seconds=91))  # past any dead invocation's lease
        outcome = fanout.run_batch(_owned(list(pending.values())[::-1], f"r{attempt}"), lambda: PLENTY, MARGIN)
        for slug, result in outcome.results.items():
            assert isinstance(result, FanoutResult), result
            if result.status in ("done", "duplicate"):
                pending.pop(slug)
        if not pending:
            break
    assert not pending
    enqueued = _by_post(queue)
    for post in posts:
        assert sorted(set(enqueued.get(post.slug, []))) == _expected(repository, post), (crash_at, after, post.tags)
    announced = Counter(post.slug for post in announcer.announced)
    assert set(announced) == {post.slug for post in posts}
    if not crashed:  # without a crash: each recipient enqueued once, each post announced once
        assert all(len(ids) == len(set(ids)) for ids in enqueued.values())
        assert set(announced.values()) == {1}
    return calls


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    subscribers=st.lists(tag_sets, max_size=14),
    post_tags=st.lists(tag_sets, min_size=2, max_size=6),
    duplicates=st.lists(st.integers(0, 5), max_size=3),
    page_size=st.sampled_from([2, 5, 1000]),
)
def test_whatever_crashes_and_however_announcements_repeat_every_match_is_enqueued_and_nobody_else(
    subscribers: list[tuple[str, ...]], post_tags: list[tuple[str, ...]], duplicates: list[int], page_size: int
) -> None:
    calls = _crash_run(subscribers, post_tags, duplicates, page_size, None, False)
    for crash_at in range(1, calls + 1):  # every call the batch makes, before and after its work
        for after in (False, True):
            _crash_run(subscribers, post_tags, duplicates, page_size, crash_at, after)


# --------------------------------------------------------------------------- the digest log (issue 15)
def test_every_announced_post_is_logged_for_digests_once_at_its_first_announcement(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    from dataclasses import replace

    _seed(repository, 3)
    ledger = BatchLedger()
    fanout = replace(_batch_fanout(repository, ledger, queue, announcer, clock), digest_log=ledger)
    posts = [make_post(f"post-{n}") for n in range(3)]
    first_at = clock()
    fanout.run_batch(_owned(posts), lambda: PLENTY, MARGIN)
    clock.advance(timedelta(minutes=3))
    alone = make_post("post-alone")
    fanout.run(alone, "owner-2", lambda: PLENTY, MARGIN)
    # Redelivered later: still logged at the first announcement.
    clock.advance(timedelta(minutes=3))
    fanout.run_batch(_owned([posts[1], alone], "r2"), lambda: PLENTY, MARGIN)
    logged = {entry.slug: entry for entry in ledger.read_log([first_at.date().isoformat()])}
    assert set(logged) == {"post-0", "post-1", "post-2", "post-alone"}
    assert all(logged[post.slug].logged_at == first_at for post in posts)
    assert logged["post-alone"].logged_at == first_at + timedelta(minutes=3)
    assert {entry.source_key for entry in logged.values()} == {p.source_key for p in [*posts, alone]}


def test_a_failed_shared_log_write_runs_every_post_alone_and_none_is_announced_unlogged(
    repository: MemoryRepository, queue: MemoryTaskQueue, announcer: MemoryAnnouncer, clock: FakeClock
) -> None:
    from dataclasses import replace

    _seed(repository, 2)

    class FlakyLog(BatchLedger):
        def log_posts(self, posts, now):  # type: ignore[no-untyped-def]
            if len(posts) > 1:
                raise RetryableError("throttled")
            return super().log_posts(posts, now)

    ledger = FlakyLog()
    fanout = replace(_batch_fanout(repository, ledger, queue, announcer, clock), digest_log=ledger)
    posts = [make_post(f"post-{n}") for n in range(3)]
    outcome = fanout.run_batch(_owned(posts), lambda: PLENTY, MARGIN)
    assert outcome.setbacks
    assert {slug: r.status for slug, r in outcome.results.items()} == {p.slug: "done" for p in posts}  # type: ignore[union-attr]
    assert {e.slug for e in ledger.read_log([clock().date().isoformat()])} == {p.slug for p in posts}
    assert sorted(p.slug for p in announcer.announced) == [p.slug for p in posts]
