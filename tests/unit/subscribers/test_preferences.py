"""The preferences rules (subscribers/preferences.py) with the digests' selection: whatever a
subscriber switches to and when, each post reaches them exactly once.

The model: posts are announced over time; Notify enqueues an instant email for the subscriber
only if they are in an instant audience then, and Deliver sends it some time later only if
they are still an instant subscriber and nothing else claimed the post; digest runs start
some minutes after each period's cutoff and do what the digest sender does (read the
audience rows, ``recipient_until``, ``window_of``, ``select``, claim, ``finish_digest``).
The subscriber's frequency and tags change at random moments, DST changes included."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.subscribers.digests import (
    IN_FLIGHT,
    CurrentPost,
    DigestSchedule,
    LogEntry,
    Record,
    digest_key,
    due_periods,
    recipient_until,
    select,
    window_of,
)
from pressline.subscribers.memory import MemoryRepository
from pressline.subscribers.model import DIGEST_PREFIX, Frequency, Member, Subscriber, wants
from pressline.subscribers.preferences import plan_finish, plan_preferences

LEASE = timedelta(minutes=5)
SID = "s1"
# Around the 2026 DST changes of New York (8 March, 1 November) and Paris (29 March, 25 October).
STARTS = [datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 3, 26, tzinfo=UTC)]


@dataclass
class World:
    repository: MemoryRepository
    schedule: DigestSchedule
    now: datetime
    log: list[LogEntry] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)
    in_flight: list[tuple[datetime, str]] = field(default_factory=list)  # (when Deliver runs, slug)
    runs_done: set[str] = field(default_factory=set)
    tags_of: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def subscriber(self) -> Subscriber | None:
        return self.repository.get_many([SID]).get(SID)

    def rows(self) -> dict[str, Member]:
        current = self.repository.preferences(SID)
        return current.rows if current else {}

    # -- Notify and Deliver
    def publish(self, slug: str, tags: tuple[str, ...], delay: timedelta) -> None:
        self.tags_of[slug] = tags
        self.log.append(LogEntry(slug=slug, source_key=f"posts/{slug}.md", logged_at=self.now))
        instant_rows = {a: r for a, r in self.rows().items() if not a.startswith(DIGEST_PREFIX)}
        if any(wants(row.tags, tags) for row in instant_rows.values()):
            self.in_flight.append((self.now + delay, slug))

    def deliver(self, slug: str) -> None:
        subscriber = self.subscriber()
        if subscriber is None or subscriber.frequency != "instant" or slug in self.records:
            return
        self.records[slug] = Record(status="sent", since=self.now)
        self.received[slug] += 1

    # -- the digest run
    def run_digests(self) -> None:
        for period in due_periods(self.now, self.schedule):
            if period.id in self.runs_done or self.now - period.cutoff > timedelta(days=2):
                continue
            self.runs_done.add(period.id)
            key = digest_key(period)
            page, _ = self.repository.audience_page(DIGEST_PREFIX + period.frequency, None, 100)
            for member in page:
                subscriber = self.subscriber()
                go, until = recipient_until(subscriber, period.frequency, member.until)
                assert subscriber is not None
                window = window_of(subscriber, period.cutoff, until) if go else None
                current = {
                    entry.source_key: CurrentPost(
                        slug=entry.slug,
                        title=entry.slug,
                        summary="",
                        tags=self.tags_of[entry.slug],
                        date=entry.logged_at,
                        published=True,
                    )
                    for entry in self.log
                }
                selection = select(
                    self.log,
                    current,
                    self.records,
                    digest=key,
                    window=window,
                    subscriber_tags=subscriber.tags,
                    now=self.now,
                    lease=LEASE,
                )
                assert not selection.busy  # instant claims are instantaneous here
                for slug in selection.claim:
                    self.records[slug] = Record(status="digest", since=self.now, digest=key)
                for item in selection.items:
                    self.received[item.key] += 1
                self.repository.finish_digest(SID, period.frequency, period.cutoff)

    def advance(self, delta: timedelta) -> None:
        end = self.now + delta
        while self.now < end:
            step = min(timedelta(minutes=15), end - self.now)
            self.now += step
            for when, slug in sorted(self.in_flight):
                if when <= self.now:
                    self.in_flight.remove((when, slug))
                    self.deliver(slug)
            self.run_digests()

    def change(self, tags: tuple[str, ...], frequency: Frequency) -> None:
        current = self.repository.preferences(SID)
        assert current is not None
        plan = plan_preferences(current.subscriber, current.rows, tags, frequency, self.now)
        assert self.repository.apply_preferences(SID, current.version, plan)


actions = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.sampled_from([(), ("aws",), ("rust",)]), st.integers(0, 180)),
        st.tuples(st.just("change"), st.sampled_from(["instant", "daily", "weekly"]), st.integers(0, 0)),
        st.tuples(st.just("wait"), st.just(()), st.integers(1, 36 * 60)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    actions=actions,
    start=st.sampled_from(STARTS),
    zone=st.sampled_from(["America/New_York", "Europe/Paris", "Asia/Kolkata"]),
    hour=st.integers(0, 23),
    weekday=st.integers(0, 6),
)
def test_whatever_is_switched_and_when_each_post_reaches_the_subscriber_exactly_once(
    actions: list[tuple[str, object, int]], start: datetime, zone: str, hour: int, weekday: int
) -> None:
    repository = MemoryRepository()
    assert repository.request_confirmation(SID, "s1@example.com", start, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm(SID, (), start) == "confirmed"
    world = World(repository, DigestSchedule(timezone=zone, hour=hour, weekday=weekday), start)
    for number, (kind, value, minutes) in enumerate(actions):
        if kind == "publish":
            assert isinstance(value, tuple)
            world.publish(f"post-{number}", value, timedelta(minutes=minutes))
        elif kind == "change":
            world.change((), value)  # type: ignore[arg-type]
        else:
            world.advance(timedelta(minutes=minutes))
        world.advance(timedelta(minutes=1))
    world.advance(timedelta(days=8))  # every email in flight delivered, every digest due run
    # Every tagless subscriber wants every post: each arrived exactly once, by whatever carried it.
    assert world.received == Counter({entry.slug: 1 for entry in world.log})
    final = world.subscriber()
    assert final is not None
    rows = world.rows()
    assert not any(row.until for row in rows.values())  # no final digest left owed
    if final.frequency == "instant":
        assert final.digest_from is None and set(rows) == {"ALL"}
    else:
        assert set(rows) == {DIGEST_PREFIX + final.frequency}


def test_a_tag_change_applies_to_the_next_digest_and_posts_no_longer_wanted_are_not_sent() -> None:
    start = STARTS[0]
    repository = MemoryRepository()
    assert repository.request_confirmation(SID, "s1@example.com", start, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm(SID, ("aws",), start) == "confirmed"
    world = World(repository, DigestSchedule(timezone="UTC", hour=7, weekday=0), start)
    world.change(("aws",), "daily")
    world.publish("aws-post", ("aws",), timedelta(0))
    world.publish("rust-post", ("rust",), timedelta(0))
    world.change(("rust",), "daily")  # before the digest: it is made with the tags as they are then
    world.advance(timedelta(days=1, hours=8))
    assert world.received == Counter({"rust-post": 1})


def test_plans_name_every_row_they_leave_and_finishing_twice_changes_nothing() -> None:
    now = STARTS[0]
    subscriber = Subscriber(id=SID, address="a@example.com", status="confirmed", tags=("aws",), created_at=now)
    rows = {"TAG#aws": Member(id=SID, tags=("aws",))}
    weekly = plan_preferences(subscriber, rows, ("aws", "rust"), "weekly", now + timedelta(days=20))
    assert weekly.delete == {"TAG#aws"} and set(weekly.put) == {"DIGEST#weekly"}
    # Confirmed 20 days before: the window reaches back over the emails that can be in flight.
    assert weekly.subscriber.digest_from == now + timedelta(days=20) - IN_FLIGHT
    back = plan_preferences(weekly.subscriber, weekly.put, ("rust",), "instant", now + timedelta(days=21))
    assert set(back.put) == {"TAG#rust", "DIGEST#weekly"}
    assert back.put["DIGEST#weekly"].until == now + timedelta(days=21)
    cutoff = now + timedelta(days=22)
    finished = plan_finish(back.subscriber, back.put, "weekly", cutoff)
    assert finished is not None and finished.delete == {"DIGEST#weekly"} and finished.subscriber.digest_from is None
    rest = {a: r for a, r in back.put.items() if a not in finished.delete}
    assert plan_finish(finished.subscriber, rest, "weekly", cutoff) is None


def test_the_reach_back_covers_the_longest_an_instant_email_can_be_on_its_way() -> None:
    """IN_FLIGHT must outlast an announcement's Notify message and its delivery batch (each at
    most maxReceiveCount receives of a visibility timeout before its DLQ), as template.yaml sets them."""
    from pathlib import Path

    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((Path(__file__).resolve().parents[3] / "template.yaml").read_text(encoding="utf-8"))
    resources = template["Resources"]

    def life(queue: str) -> timedelta:
        properties = resources[queue]["Properties"]
        receives = int(properties["RedrivePolicy"]["maxReceiveCount"])
        return timedelta(seconds=int(properties["VisibilityTimeout"]) * receives)

    assert life("NotifyQueue") + life("DeliveryQueue") <= IN_FLIGHT / 2  # room for a resumed fan-out
