"""Digests end to end on the memory fakes: the digest run (scheduler side), Notify's fan-out
and log, Deliver's instant emails and digests, through their public entry points.

Each post reaches each digest subscriber in exactly one digest, and never also as its own
email: under a repeated run, a duplicated batch, a crash between the claim and the send,
daylight-saving days, a post deleted or edited before its digest, and a switch back to
instant emails."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from subscriber_helpers import text_part

from pressline.errors import RetryableError
from pressline.indexing.catalog import CatalogPost
from pressline.indexing.memory import MemoryCatalog
from pressline.models import DeliveryBatch, DigestBatch, PostPublished
from pressline.subscribers.delivery import Delivery
from pressline.subscribers.digest_delivery import DigestDelivery
from pressline.subscribers.digest_run import DigestRun, PeriodResult
from pressline.subscribers.digests import DigestSchedule
from pressline.subscribers.fanout import Fanout
from pressline.subscribers.memory import (
    FakeClock,
    MemoryAnnouncer,
    MemoryLedger,
    MemoryMailer,
    MemoryRepository,
    MemoryTaskQueue,
    SimulatedCrash,
)
from pressline.subscribers.messages import OutgoingEmail, Site
from pressline.subscribers.model import Frequency
from pressline.subscribers.preferences import plan_preferences
from pressline.subscribers.service import Subscriptions
from pressline.subscribers.tokens import Keys

LEASE = timedelta(seconds=90)
MARGIN = timedelta(seconds=20)


class DigestQueue:
    def __init__(self) -> None:
        self.batches: list[DigestBatch] = []

    def send_batches(self, batches: Sequence[DigestBatch]) -> None:
        self.batches.extend(batches)


@dataclass
class World:
    """One site's subscribers, ledger, catalog and mailer, and the stages around them."""

    clock: FakeClock
    repository: MemoryRepository
    ledger: MemoryLedger
    mailer: MemoryMailer
    subscribe_confirmed: Callable[..., str]
    keys: Keys
    site: Site
    schedule: DigestSchedule
    catalog: MemoryCatalog = field(default_factory=MemoryCatalog)
    digest_queue: DigestQueue = field(default_factory=DigestQueue)
    delivery_queue: MemoryTaskQueue = field(default_factory=MemoryTaskQueue)
    runs: list[list[PeriodResult]] = field(default_factory=list)

    @property
    def run(self) -> DigestRun:
        return DigestRun(self.repository, self.ledger, self.ledger, self.digest_queue, self.schedule, self.clock, LEASE)

    @property
    def digests(self) -> DigestDelivery:
        return DigestDelivery(
            self.repository,
            self.ledger,
            self.catalog,
            self.mailer,
            self.keys,
            self.site,
            self.schedule.timezone,
            self.clock,
        )

    # -- subscribers
    def subscriber(self, address: str, frequency: Frequency = "instant", tags: tuple[str, ...] = ()) -> str:
        sid = self.subscribe_confirmed(address, tags)
        if frequency != "instant":
            self.choose(sid, frequency, tags)
        return sid

    def choose(self, sid: str, frequency: Frequency, tags: tuple[str, ...] = ()) -> None:
        """What the preferences page does: plan the change and apply it."""
        current = self.repository.preferences(sid)
        assert current is not None
        plan = plan_preferences(current.subscriber, current.rows, tags, frequency, self.clock())
        assert self.repository.apply_preferences(sid, current.version, plan)

    # -- posts
    def publish(self, slug: str, tags: tuple[str, ...] = (), title: str | None = None) -> PostPublished:
        """A post goes live (the catalog) and Notify announces it: logged for digests, and
        delivery batches for instant subscribers, delivered at once."""
        key = f"posts/{slug}.md"
        self.catalog.posts[key] = catalog_post(key, slug, title or slug.title(), tags, self.clock())
        post = PostPublished(
            slug=slug,
            title=title or slug.title(),
            summary=f"About {slug}.",
            url=f"{self.site.url}/posts/{slug}/",
            tags=tags,
            published_at=self.clock(),
            source_key=key,
        )
        fanout = Fanout(
            self.repository,
            self.ledger,
            self.delivery_queue,
            MemoryAnnouncer(),
            self.clock,
            LEASE,
            digest_log=self.ledger,
        )
        assert fanout.run(post, "notify", lambda: timedelta(minutes=5), MARGIN).status == "done"
        self.deliver_instant()
        return post

    def deliver_instant(self) -> None:
        delivery = Delivery(self.repository, self.ledger, self.mailer, self.keys, self.site, self.clock)
        batches: list[DeliveryBatch] = list(self.delivery_queue.batches)
        self.delivery_queue.batches.clear()
        for batch in batches:
            delivery.deliver(batch)

    # -- the digest function and Deliver
    def tick(self) -> list[DigestBatch]:
        """One scheduled run, then Deliver for each batch it sent; the batches."""
        self.runs.append(self.run.run("digest", lambda: timedelta(minutes=5), MARGIN))
        batches = list(self.digest_queue.batches)
        self.digest_queue.batches.clear()
        for batch in batches:
            self.digests.deliver(batch)
        return batches

    def at(self, moment: datetime) -> World:
        assert moment >= self.clock(), "time only moves forward"
        self.clock.now = moment
        return self

    # -- what arrived
    def digests_to(self, address: str) -> list[OutgoingEmail]:
        return [email for email in self.mailer.to(address) if email.tags.get("kind") == "digest"]

    def posts_to(self, address: str) -> list[OutgoingEmail]:
        return [email for email in self.mailer.to(address) if email.tags.get("kind") == "post"]


def catalog_post(key: str, slug: str, title: str, tags: tuple[str, ...], now: datetime) -> CatalogPost:
    return CatalogPost(
        source_key=key,
        version="v1",
        status="published",
        slug=slug,
        title=title,
        date=now,
        tags=tags,
        summary=f"About {slug}.",
        applied_at=now,
    )


def titles(email: OutgoingEmail, world: World) -> list[str]:
    """The post titles a digest lists, in order (its text part: one block per post)."""
    text = text_part(email.raw)
    return [line for line in text.splitlines() if line in {post.title for post in world.catalog.posts.values()}]


# A Tuesday; the daily digest at 07:00 UTC, the weekly one on Mondays.
MORNING = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
CUTOFF = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def make_world(
    clock: FakeClock,
    repository: MemoryRepository,
    ledger: MemoryLedger,
    mailer: MemoryMailer,
    subscriptions: Subscriptions,
    subscribe_confirmed: Callable[..., str],
    keys: Keys,
    site: Site,
    schedule: DigestSchedule,
    start: datetime,
) -> World:
    clock.now = start
    world = World(clock, repository, ledger, mailer, subscribe_confirmed, keys, site, schedule)
    return world


@pytest.fixture
def world(
    clock: FakeClock,
    repository: MemoryRepository,
    ledger: MemoryLedger,
    mailer: MemoryMailer,
    subscriptions: Subscriptions,
    subscribe_confirmed: Callable[..., str],
    keys: Keys,
    site: Site,
) -> World:
    found = make_world(
        clock,
        repository,
        ledger,
        mailer,
        subscriptions,
        subscribe_confirmed,
        keys,
        site,
        DigestSchedule("UTC", 7, 0),
        MORNING,
    )
    # The periods due when the site starts (yesterday's, last Monday's) run empty.
    found.tick()
    return found


# --------------------------------------------------------------------------- the run
def test_a_daily_digest_holds_the_posts_since_the_last_one_once(world: World) -> None:
    daily = world.subscriber("daily@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first")
    world.at(MORNING + timedelta(minutes=20)).publish("second")
    assert world.at(CUTOFF - timedelta(minutes=1)).tick() == []  # yesterday's period is done already
    assert world.digests_to("daily@example.com") == [] and world.posts_to("daily@example.com") == []

    [batch] = world.at(CUTOFF + timedelta(minutes=5)).tick()
    assert batch.period == "daily#2026-12-01" and batch.subscriber_ids == [daily] and batch.cutoff == CUTOFF
    [digest] = world.digests_to("daily@example.com")
    assert digest.subject == "Pressline Test: 2 new posts (daily digest)"
    assert titles(digest, world) == ["First", "Second"]
    assert "About first." in text_part(digest.raw)
    assert digest.tags == {"kind": "digest", "subscriber": daily}

    # The schedule runs again within the period, and the day after with nothing new.
    assert world.at(CUTOFF + timedelta(minutes=20)).tick() == []
    world.at(CUTOFF + timedelta(days=1, minutes=5)).tick()
    assert len(world.digests_to("daily@example.com")) == 1

    # The next post is in the next digest only.
    world.publish("third")
    world.at(CUTOFF + timedelta(days=2, minutes=5)).tick()
    _, second = world.digests_to("daily@example.com")
    assert titles(second, world) == ["Third"] and second.subject.endswith(": 1 new post (daily digest)")


def test_an_instant_subscriber_gets_each_post_alone_and_no_digest(world: World) -> None:
    world.subscriber("instant@example.com")
    world.subscriber("daily@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first")
    world.publish("second")
    world.at(CUTOFF + timedelta(minutes=5)).tick()
    assert [email.subject for email in world.posts_to("instant@example.com")] == ["First", "Second"]
    assert world.digests_to("instant@example.com") == []
    assert len(world.digests_to("daily@example.com")) == 1 and world.posts_to("daily@example.com") == []


def test_weekly_subscribers_get_the_week_in_one_digest_on_the_weekday(world: World) -> None:
    world.subscriber("weekly@example.com", "weekly", ("rust",))
    world.at(MORNING + timedelta(minutes=10)).publish("rusty", ("rust",))
    world.publish("other", ("go",))
    world.at(MORNING + timedelta(days=3)).publish("later", ("Rust",))
    for day in range(3, 7):  # Friday to next Monday morning: dailies run, no weekly yet
        world.at(CUTOFF + timedelta(days=day, minutes=-5)).tick()
    assert world.digests_to("weekly@example.com") == []
    world.at(datetime(2026, 12, 7, 7, 14, tzinfo=UTC)).tick()  # Monday at 07:14
    [digest] = world.digests_to("weekly@example.com")
    assert titles(digest, world) == ["Rusty", "Later"] and "(weekly digest)" in digest.subject


# --------------------------------------------------------------------------- Deliver
def test_a_duplicated_digest_batch_sends_one_digest(world: World) -> None:
    world.subscriber("daily@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first")
    world.at(CUTOFF + timedelta(minutes=1)).run.run("digest", lambda: timedelta(minutes=5), MARGIN)
    [batch] = world.digest_queue.batches
    first = world.digests.deliver(batch)
    second = world.digests.deliver(batch)
    assert len(first.sent) == 1 and second.sent == [] and len(second.already_sent) == 1
    assert len(world.digests_to("daily@example.com")) == 1


def test_a_crash_between_claim_and_send_resends_the_same_posts_only(world: World) -> None:
    sid = world.subscriber("daily@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first", ("a",))
    world.publish("second", ("b",))
    world.at(CUTOFF + timedelta(minutes=1)).run.run("digest", lambda: timedelta(minutes=5), MARGIN)
    [batch] = world.digest_queue.batches
    world.mailer.fail_after = len(world.mailer.sent)  # the process dies in the send call
    with pytest.raises(SimulatedCrash):
        world.digests.deliver(batch)
    world.mailer.fail_after = None
    # Meanwhile: a new post (the next period's) and a change of tags that no longer match "first".
    world.publish("third", ("a",))
    world.choose(sid, "daily", ("b",))
    with pytest.raises(RetryableError):  # the dead sender's claim is fresh: wait for its lease
        world.digests.deliver(batch)
    world.at(world.clock() + timedelta(minutes=5))
    world.digests.deliver(batch)
    [digest] = world.digests_to("daily@example.com")
    assert titles(digest, world) == ["First", "Second"]  # what was claimed, as claimed
    world.at(CUTOFF + timedelta(days=1, minutes=1)).tick()
    assert [titles(email, world) for email in world.digests_to("daily@example.com")] == [["First", "Second"]]


def test_a_throttled_digest_is_sent_by_the_retry(world: World) -> None:
    world.subscriber("one@example.com", "daily")
    world.subscriber("two@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first")
    world.at(CUTOFF + timedelta(minutes=1)).run.run("digest", lambda: timedelta(minutes=5), MARGIN)
    [batch] = world.digest_queue.batches
    world.mailer.throttle = True
    with pytest.raises(RetryableError):
        world.digests.deliver(batch)
    world.mailer.throttle = False
    world.digests.deliver(batch)  # at once: the claims were released
    assert len(world.digests_to("one@example.com")) == len(world.digests_to("two@example.com")) == 1


def test_a_digest_the_provider_refuses_for_good_is_not_tried_again(world: World) -> None:
    world.subscriber("refused@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first")
    world.mailer.reject.add("refused@example.com")
    world.at(CUTOFF + timedelta(minutes=1)).run.run("digest", lambda: timedelta(minutes=5), MARGIN)
    [batch] = world.digest_queue.batches
    assert len(world.digests.deliver(batch).rejected) == 1
    world.mailer.reject.clear()
    assert len(world.digests.deliver(batch).already_sent) == 1  # a redelivery: refused is final
    world.at(CUTOFF + timedelta(days=1, minutes=1)).tick()  # nor is the post carried to the next digest
    assert world.digests_to("refused@example.com") == []


def test_a_post_deleted_before_the_digest_is_left_out_and_an_edited_one_shown_as_it_is(world: World) -> None:
    world.subscriber("daily@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("kept")
    world.publish("gone")
    world.publish("draft")
    world.publish("edited")
    del world.catalog.posts["posts/gone.md"]
    world.catalog.posts["posts/draft.md"] = world.catalog.posts["posts/draft.md"].model_copy(update={"status": "draft"})
    world.catalog.posts["posts/edited.md"] = world.catalog.posts["posts/edited.md"].model_copy(
        update={"title": "Edited <now>"}
    )
    world.at(CUTOFF + timedelta(minutes=1)).tick()
    [digest] = world.digests_to("daily@example.com")
    text = text_part(digest.raw)
    assert "Kept" in text and "Edited <now>" in text and "Gone" not in text and "Draft" not in text
    assert "Edited &lt;now&gt;" in digest.raw.decode() or "Edited &lt;now&gt;" in _html(digest)
    assert digest.subject.endswith("2 new posts (daily digest)")


def test_a_subscriber_back_to_instant_gets_a_final_digest_and_then_each_post_alone(world: World) -> None:
    sid = world.subscriber("switch@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("before")
    world.at(MORNING + timedelta(minutes=30))
    world.choose(sid, "instant")
    world.at(MORNING + timedelta(minutes=40)).publish("after")
    assert [email.subject for email in world.posts_to("switch@example.com")] == ["After"]
    world.at(CUTOFF + timedelta(minutes=1)).tick()
    [final] = world.digests_to("switch@example.com")
    assert titles(final, world) == ["Before"]
    world.publish("later")
    world.at(CUTOFF + timedelta(days=1, minutes=1)).tick()
    assert len(world.digests_to("switch@example.com")) == 1
    assert [email.subject for email in world.posts_to("switch@example.com")] == ["After", "Later"]
    current = world.repository.preferences(sid)
    assert current is not None and current.subscriber.digest_from is None
    assert not any(audience.startswith("DIGEST#") for audience in current.rows)


def test_a_post_being_sent_as_an_instant_email_holds_the_subscriber_back(world: World) -> None:
    """A subscriber who switched to the digest while an instant email of a post was being sent:
    the digest waits (it may be released, then the digest carries it) instead of moving on."""
    world.subscriber("other@example.com", "daily")
    sid = world.subscriber("late@example.com")
    world.at(MORNING + timedelta(minutes=10))
    post = world.publish("first")
    world.ledger.deliveries.pop(("first", sid))  # as if its email had not been sent yet...
    world.mailer.sent[:] = [email for email in world.mailer.sent if email.recipient != "late@example.com"]
    world.choose(sid, "daily")
    world.at(CUTOFF + timedelta(minutes=1)).run.run("digest", lambda: timedelta(minutes=5), MARGIN)
    assert world.ledger.claim(post.slug, sid, world.clock(), LEASE) == "claimed"  # ...but were being sent now
    [batch] = world.digest_queue.batches
    with pytest.raises(RetryableError):
        world.digests.deliver(batch)
    assert len(world.digests_to("other@example.com")) == 1 and world.digests_to("late@example.com") == []
    world.ledger.release(post.slug, sid)  # the instant sender was refused: the digest carries it
    world.digests.deliver(batch)
    [digest] = world.digests_to("late@example.com")
    assert titles(digest, world) == ["First"] and len(world.digests_to("other@example.com")) == 1


def test_a_suppressed_or_deleted_subscriber_gets_no_digest(world: World) -> None:
    gone = world.subscriber("gone@example.com", "daily")
    world.at(MORNING + timedelta(minutes=10)).publish("first")
    world.at(CUTOFF + timedelta(minutes=1)).run.run("digest", lambda: timedelta(minutes=5), MARGIN)
    world.repository.delete(gone)
    [batch] = world.digest_queue.batches
    result = world.digests.deliver(batch)
    assert result.skipped == [gone] and world.digests_to("gone@example.com") == []


# --------------------------------------------------------------------------- daylight saving
@pytest.mark.parametrize(
    ("zone", "hour", "day", "cutoff"),
    [
        # New York springs forward at 02:00 on 8 March 2026: 02:30 does not exist, 03:00 EDT does.
        ("America/New_York", 2, datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        # Paris falls back at 03:00 on 25 October 2026: 02:00 happens twice, the first counts.
        ("Europe/Paris", 2, datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
        # Lord Howe springs forward by half an hour (02:00 UTC+10:30 -> 02:30 UTC+11 on 4 October 2026).
        ("Australia/Lord_Howe", 2, datetime(2026, 10, 3, 0, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),
        # Kolkata is half an hour off UTC all year: a 15-minute schedule meets it.
        ("Asia/Kolkata", 7, datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 3, 8, 1, 30, tzinfo=UTC)),
    ],
)
def test_one_digest_on_a_daylight_saving_day_at_its_cutoff(
    clock: FakeClock,
    repository: MemoryRepository,
    ledger: MemoryLedger,
    mailer: MemoryMailer,
    subscriptions: Subscriptions,
    subscribe_confirmed: Callable[..., str],
    keys: Keys,
    site: Site,
    zone: str,
    hour: int,
    day: datetime,
    cutoff: datetime,
) -> None:
    world = make_world(
        clock,
        repository,
        ledger,
        mailer,
        subscriptions,
        subscribe_confirmed,
        keys,
        site,
        DigestSchedule(zone, hour, 0),
        day,
    )
    world.tick()
    world.subscriber("daily@example.com", "daily")
    world.at(day + timedelta(minutes=5)).publish("first")
    # Every 15 minutes for two days, as the schedule runs (on the quarter hours).
    moment = day.replace(minute=0) + timedelta(minutes=15)
    sent_at: list[datetime] = []
    while moment < day + timedelta(days=2):
        world.at(moment).tick()
        if len(world.digests_to("daily@example.com")) > len(sent_at):
            sent_at.append(moment)
        moment += timedelta(minutes=15)
    assert sent_at[:1] == [cutoff]  # the run on the cutoff's quarter hour sends it
    assert len(world.digests_to("daily@example.com")) == 1  # the next day's is empty


def _html(email: OutgoingEmail) -> str:
    from email import message_from_bytes, policy

    message = message_from_bytes(email.raw, policy=policy.default)
    part = message.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    assert part is not None
    return str(part.get_content())
