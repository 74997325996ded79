"""Index and the announce rule: a post from the past goes live everywhere but emails no one,
and its report says why; ``notify:`` in the front matter decides for one post; a scheduled
post is announced when it comes due; an import-sized batch announces only what is news."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from index_world import SOURCE_BUCKET, START, World

from pressline.stages.index import index_batch
from pressline.stages.scheduler import SchedulerDeps, publish_due

DAY = timedelta(days=1)


def is_live(world: World, slug: str) -> bool:
    path = f"/posts/{slug}/"
    return (
        world.text(f"posts/{slug}/index.html") is not None
        and path in (world.text("index.html") or "")
        and f"https://blog.example{path}" in world.feed_urls()
    )


def test_an_old_post_goes_live_without_an_email_and_its_report_says_why(world: World) -> None:
    outcome = world.publish("posts/2019/hello.md", "Hello from 2019", datetime(2019, 5, 1, 9, 30, tzinfo=UTC))

    assert outcome.applied and outcome.status == "published" and not outcome.announced
    assert is_live(world, "hello-from-2019")
    assert world.announcements() == []
    report = world.report("posts/2019/hello.md")
    assert report["status"] == "published" and report["announced"] is False
    assert report["announcement"] == (
        "dated 2019-05-01T09:30+00:00, older than the announce window of 72 hours when it was first published"
    )
    assert outcome.announcement == report["announcement"]  # in Index's log line too


def test_a_new_post_is_announced_and_its_report_says_so(world: World) -> None:
    world.publish("posts/fresh.md", "Fresh", START - DAY)

    assert [message.slug for message in world.announcements()] == ["fresh"]
    report = world.report("posts/fresh.md")
    assert report["announced"] is True and "within the announce window of 72 hours" in report["announcement"]


def test_notify_false_keeps_a_new_post_quiet(world: World) -> None:
    world.publish("posts/quiet.md", "Quiet", START - DAY, notify=False)

    assert is_live(world, "quiet") and world.announcements() == []
    report = world.report("posts/quiet.md")
    assert report["announced"] is False and report["announcement"] == "notify: false in the front matter"


def test_notify_true_announces_an_old_post(world: World) -> None:
    world.publish("posts/revived.md", "Revived", START - 400 * DAY, notify=True)

    assert [message.slug for message in world.announcements()] == ["revived"]
    assert world.report("posts/revived.md")["announcement"] == "announced: notify: true in the front matter"


def test_a_post_left_unannounced_is_never_announced_by_an_edit(world: World) -> None:
    world.publish("posts/old.md", "Old", START - 30 * DAY, slug="old")
    world.later(hours=1)
    # Its author asks for an email afterwards, and moves its date to today: its first publication is past.
    world.publish("posts/old.md", "Old", START, slug="old", notify=True, body="<p>Edited.</p>")

    assert world.announcements() == []
    report = world.report("posts/old.md")
    assert report["announced"] is False and "already published before" in report["announcement"]


def test_the_window_is_the_sites_setting(world: World) -> None:
    world.deps = dataclasses.replace(world.deps, announce_window=timedelta(hours=1))
    world.publish("posts/hour.md", "Within the hour", START - timedelta(minutes=59))
    world.publish("posts/two.md", "Two hours ago", START - timedelta(hours=2))

    assert [message.slug for message in world.announcements()] == ["within-the-hour"]
    assert "older than the announce window of 1 hour " in world.report("posts/two.md")["announcement"]


def test_a_draft_reports_it_is_never_announced(world: World) -> None:
    world.publish("posts/draft.md", "Draft", START - DAY, draft=True, notify=True)

    assert world.announcements() == []
    assert world.report("posts/draft.md")["announcement"] == "a draft is never announced"


def test_a_scheduled_post_is_announced_when_it_comes_due(world: World) -> None:
    due = START + 10 * DAY  # much further ahead than the window: its date, not its upload, counts
    world.publish("posts/later.md", "Later", due)
    report = world.report("posts/later.md")
    assert report["status"] == "scheduled" and report["announced"] is False
    assert report["announcement"] == "scheduled: it is announced when it goes live"

    world.now = due + timedelta(minutes=1)
    scheduler = SchedulerDeps(world.catalog, world.notify, source_bucket=SOURCE_BUCKET, clock=lambda: world.now)
    [update] = publish_due(scheduler)
    outcome = world.apply(update)

    assert outcome.status == "published" and outcome.announced and is_live(world, "later")
    assert [message.slug for message in world.announcements()] == ["later"]
    assert world.report("posts/later.md")["announced"] is True


def test_a_scheduled_post_with_notify_false_goes_live_quietly(world: World) -> None:
    due = START + DAY
    world.publish("posts/later.md", "Later", due, notify=False)
    assert "will not be announced" in world.report("posts/later.md")["announcement"]

    world.now = due + timedelta(minutes=1)
    scheduler = SchedulerDeps(world.catalog, world.notify, source_bucket=SOURCE_BUCKET, clock=lambda: world.now)
    [update] = publish_due(scheduler)
    world.apply(update)

    assert is_live(world, "later") and world.announcements() == []


def test_an_imported_batch_announces_only_the_new_post(world: World) -> None:
    # As an import writes them: old dates, notify: false; and one new post among them.
    updates = [
        world.upload(f"posts/imported/{n}.md", f"Imported {n}", START - (30 + n) * DAY, notify=False) for n in range(60)
    ]
    updates.insert(25, world.upload("posts/news.md", "News", START - timedelta(hours=2)))
    outcomes = index_batch(updates, world.deps)

    assert all(outcome.applied and outcome.status == "published" for outcome in outcomes)
    assert [message.slug for message in world.announcements()] == ["news"]
    assert world.catalog.summary.total == 61
    # Sent again (at least once): nothing changes, nobody is emailed.
    index_batch(updates, world.deps)
    assert [message.slug for message in world.announcements()] == ["news"]


posts = st.lists(
    st.tuples(
        st.integers(min_value=-10 * 24, max_value=2 * 24),  # hours from START: the past, the window, the future
        st.sampled_from([None, True, False]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=30, deadline=None)
@given(posts=posts, order=st.randoms(use_true_random=False), chunk=st.integers(min_value=1, max_value=12))
def test_any_order_and_any_batching_announce_exactly_the_news_once(
    posts: list[tuple[int, bool | None]], order: random.Random, chunk: int
) -> None:
    world = World()
    updates = [
        world.upload(f"posts/{n}.md", f"Post {n}", START + timedelta(hours=hours), slug=f"p{n}", notify=notify)
        for n, (hours, notify) in enumerate(posts)
    ]
    sent = updates + order.sample(updates, len(updates) // 2)  # S3 and SQS duplicate and reorder
    order.shuffle(sent)
    for start in range(0, len(sent), chunk):
        index_batch(sent[start : start + chunk], world.deps)

    news = {
        f"p{n}"
        for n, (hours, notify) in enumerate(posts)
        if hours <= 0 and (notify is True or (notify is None and -hours <= 72))
    }
    assert sorted(message.slug for message in world.announcements()) == sorted(news)
