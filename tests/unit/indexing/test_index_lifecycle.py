"""The Index stage on in-memory fakes: each lifecycle case, end to end through every
generated file (pages, listings, feeds, sitemap, search) and the catalog."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from index_world import START, World

from pressline.indexing.announce import DEFAULT_ANNOUNCE_WINDOW
from pressline.indexing.memory import Crash

DAY = timedelta(days=1)


def everywhere(world: World, slug: str) -> dict[str, bool]:
    """Where a post's URL appears on the site."""
    path = f"/posts/{slug}/"
    url = f"https://blog.example{path}"
    shard = world.json("search/shards/2026-03.json") or {"posts": []}
    return {
        "page": world.text(f"posts/{slug}/index.html") is not None,
        "home": path in (world.text("index.html") or ""),
        "month": path in (world.text("archive/2026/03/index.html") or ""),
        "atom": url in (world.text("feed.xml") or ""),
        "rss": url in (world.text("rss.xml") or ""),
        "json": url in world.feed_urls(),
        "sitemap": url in (world.text("sitemaps/2026-03.xml") or ""),
        "search": any(doc["u"] == path for doc in shard["posts"]),
    }


def test_a_new_post_appears_everywhere_it_belongs(world: World) -> None:
    outcome = world.publish("posts/hello.md", "Hello World", START - DAY, tags=("Python", "AWS Lambda"))

    assert outcome.applied and outcome.status == "published"
    assert all(everywhere(world, "hello-world").values())
    assert "/posts/hello-world/" in world.text("tags/python/index.html")
    assert "/posts/hello-world/" in world.text("tags/aws-lambda/2026/index.html")
    assert ">AWS Lambda<" in world.text("tags/index.html")
    assert "/archive/2026/03/" in world.text("archive/index.html")
    assert "https://blog.example/sitemaps/2026-03.xml" in world.text("sitemap.xml")
    assert "Sitemap: https://blog.example/sitemap.xml" in world.text("robots.txt")
    assert world.text("404.html") and world.text("search/index.html") and world.text("search/search.js")
    assert world.json("search/manifest.json")["shards"] == [{"month": "2026-03", "url": "/search/shards/2026-03.json"}]
    report = world.report("posts/hello.md")
    assert report["status"] == "published" and report["url"] == "https://blog.example/posts/hello-world/"
    assert [message.slug for message in world.announcements()] == ["hello-world"]
    assert world.catalog.slugs == {"hello-world": "posts/hello.md"}


def test_an_edit_updates_its_page_listings_and_feeds_without_a_second_email(world: World) -> None:
    world.publish("posts/a.md", "Old Title", START - 2 * DAY, slug="a", tags=("one",))
    world.publish("posts/b.md", "Neighbour", START - DAY, slug="b")

    body = "<p>Fresh words</p>"
    outcome = world.publish("posts/a.md", "New Title", START - 2 * DAY, slug="a", tags=("two",), body=body)

    assert outcome.applied
    for key in ("posts/a/index.html", "index.html", "archive/2026/03/index.html", "feed.xml", "rss.xml"):
        assert "New Title" in world.text(key) and "Old Title" not in world.text(key), key
    assert "Fresh words" in world.text("feed.xml")
    assert "New Title" in world.text("posts/b/index.html")  # the neighbour's link text follows the title
    assert world.text("tags/one/index.html") is None and world.text("tags/one/2026/index.html") is None
    assert "/posts/a/" in world.text("tags/two/index.html")
    assert ">one<" not in world.text("tags/index.html")
    assert [message.slug for message in world.announcements()] == ["a", "b"]
    [doc] = [doc for doc in world.json("search/shards/2026-03.json")["posts"] if doc["u"] == "/posts/a/"]
    assert "fresh" in doc["w"]


def test_a_delete_removes_the_page_and_every_reference(world: World) -> None:
    world.publish("posts/keep.md", "Keep", START - 3 * DAY, tags=("t",))
    world.publish("posts/gone.md", "Gone", START - 2 * DAY, tags=("t", "solo"))
    world.publish("posts/last.md", "Last", START - DAY)

    outcome = world.apply(world.remove("posts/gone.md"))

    assert outcome.applied and outcome.status == "unpublished"
    assert not any(everywhere(world, "gone").values())
    assert "/posts/gone/" not in world.text("tags/t/index.html")
    assert world.text("tags/solo/index.html") is None and ">solo<" not in world.text("tags/index.html")
    assert "/posts/gone/" not in world.text("posts/keep/index.html")  # neighbours relinked
    assert 'href="/posts/last/"' in world.text("posts/keep/index.html")
    assert 'href="/posts/keep/"' in world.text("posts/last/index.html")
    assert "gone" not in world.catalog.slugs and "posts/gone.md" not in world.catalog.posts
    assert world.report("posts/gone.md")["status"] == "unpublished"


def test_deleting_the_last_post_of_a_month_removes_the_month(world: World) -> None:
    world.publish("posts/feb.md", "February", START - 30 * DAY)
    world.publish("posts/mar.md", "March", START - DAY)

    world.apply(world.remove("posts/feb.md"))

    assert world.text("archive/2026/02/index.html") is None
    assert world.site_store.get("sitemaps/2026-02.xml") is None
    assert world.site_store.get("search/shards/2026-02.json") is None
    assert "2026-02" not in world.text("sitemap.xml") and "2026/02" not in world.text("archive/index.html")
    assert [shard["month"] for shard in world.json("search/manifest.json")["shards"]] == ["2026-03"]


def test_a_draft_publishes_nothing(world: World) -> None:
    outcome = world.publish("posts/d.md", "Secret", START - DAY, draft=True)

    assert outcome.applied and outcome.status == "draft"
    assert not any(everywhere(world, "secret").values())
    assert world.report("posts/d.md")["status"] == "draft"
    assert world.announcements() == []


def test_a_draft_takes_down_a_live_post(world: World) -> None:
    world.publish("posts/p.md", "Live", START - DAY, slug="live")
    assert all(everywhere(world, "live").values())

    world.publish("posts/p.md", "Live", START - DAY, slug="live", draft=True)

    assert not any(everywhere(world, "live").values())
    assert world.report("posts/p.md")["status"] == "draft"
    # Back from draft: public again, but never announced twice.
    world.publish("posts/p.md", "Live", START - DAY, slug="live")
    assert all(everywhere(world, "live").values())
    assert len(world.announcements()) == 1


def test_a_post_deleted_and_uploaded_again_is_not_announced_again(world: World) -> None:
    world.publish("posts/p.md", "Again", START - DAY)
    world.apply(world.remove("posts/p.md"))
    world.publish("posts/p.md", "Again", START - DAY)

    assert all(everywhere(world, "again").values())
    assert len(world.announcements()) == 1


def test_a_scheduled_post_stays_private_until_due(world: World) -> None:
    from pressline.adapters.queue import MemoryQueue
    from pressline.stages.scheduler import SchedulerDeps, publish_due

    outcome = world.publish("posts/s.md", "Future", START + timedelta(hours=2), tags=("later",))
    assert outcome.status == "scheduled"
    assert not any(everywhere(world, "future").values())
    report = world.report("posts/s.md")
    assert report["status"] == "scheduled" and report["url"] == "https://blog.example/posts/future/"

    queue = MemoryQueue()
    scheduler = SchedulerDeps(world.catalog, queue, source_bucket="source-bucket", clock=lambda: world.now)
    assert publish_due(scheduler) == []  # not yet
    world.later(hours=2)
    [due] = publish_due(scheduler)
    assert due.action == "due" and queue.sent == [due]

    assert world.apply(due).status == "published"
    assert all(everywhere(world, "future").values())
    assert world.report("posts/s.md")["status"] == "published"
    assert [message.slug for message in world.announcements()] == ["future"]
    assert publish_due(scheduler) == []  # published posts are no longer due
    assert not world.apply(due).applied  # a repeated "due" is a duplicate


def test_a_duplicate_changes_nothing(world: World) -> None:
    update = world.upload("posts/x.md", "Once", START - DAY)
    world.apply(update)
    before = dict(world.site_store.objects)

    outcome = world.apply(update)

    assert not outcome.applied and "duplicate" in outcome.reason
    assert world.site_store.objects == before
    assert len(world.announcements()) == 1


def test_an_older_version_processed_late_never_overwrites_the_newer(world: World) -> None:
    first = world.upload("posts/x.md", "First Draft", START - DAY, slug="x")
    second = world.upload("posts/x.md", "Second Take", START - DAY, slug="x")
    third = world.upload("posts/x.md", "Final Words", START - DAY, slug="x")

    for update in (third, first, second, third):  # reordered and duplicated
        world.apply(update)

    assert "Final Words" in world.text("posts/x/index.html")
    assert "Final Words" in world.text("feed.xml") and "Second Take" not in world.text("feed.xml")
    assert world.report("posts/x.md")["version"] == third.source.version_id


def test_a_stale_delete_for_a_key_that_exists_again_is_dropped(world: World) -> None:
    world.publish("posts/x.md", "Back", START - DAY)
    late_delete = world.remove("posts/x.md")
    update = world.upload("posts/x.md", "Back", START - DAY)  # uploaded again before Index saw the delete

    assert not world.apply(late_delete).applied
    world.apply(update)
    assert all(everywhere(world, "back").values())


def test_an_upsert_for_a_key_already_gone_takes_the_post_down(world: World) -> None:
    update = world.upload("posts/x.md", "Short Lived", START - DAY)
    world.apply(update)
    world.source.delete("posts/x.md")  # the delete event is lost (moto sends none on versioned buckets)

    outcome = world.apply(update)  # a redelivery of the old upsert

    assert outcome.applied and outcome.status == "unpublished"
    assert not any(everywhere(world, "short-lived").values())


def test_a_crash_before_the_commit_is_retried_to_the_same_site(world: World) -> None:
    world.publish("posts/a.md", "Alpha", START - 2 * DAY)
    update = world.upload("posts/b.md", "Beta", START - DAY, tags=("t",))
    world.catalog.fail_next_commit = True
    with pytest.raises(Crash):
        world.apply(update)

    assert world.apply(update).applied  # the retry finishes the job
    assert all(everywhere(world, "beta").values())
    assert world.catalog.summary.months == {"2026-03": 2}
    assert world.catalog.summary.tags["t"].years == {"2026": 1}
    assert not world.apply(update).applied  # and then it is a duplicate


def test_a_slug_taken_by_another_file_is_rejected(world: World) -> None:
    world.publish("posts/one.md", "Same", START - DAY, slug="same")
    outcome = world.publish("posts/two.md", "Same Again", START - DAY, slug="same")

    assert not outcome.applied and outcome.status == "rejected"
    report = world.report("posts/two.md")
    assert report["status"] == "rejected" and report["errors"][0]["field"] == "slug"
    assert world.catalog.slugs["same"] == "posts/one.md"
    assert "Same Again" not in world.text("posts/same/index.html")


def test_the_owner_page_is_restored_when_a_losing_upload_overwrote_it(world: World) -> None:
    world.publish("posts/one.md", "Owner", START - 2 * DAY, slug="same")
    world.publish("posts/zero.md", "Older", START - 3 * DAY, slug="older")
    update = world.upload("posts/two.md", "Intruder", START - DAY, slug="same")
    world.site_store.put("posts/same/index.html", b"<p>Intruder</p>", "text/html")  # Render raced

    outcome = world.apply(update)

    assert outcome.status == "rejected" and outcome.written == ["posts/same/index.html"]
    page = world.text("posts/same/index.html")
    assert "Owner" in page and 'rel="prev" href="/posts/older/"' in page


def test_previous_and_next_links_follow_the_chronology(world: World) -> None:
    for day, slug in ((5, "a"), (3, "c"), (1, "e")):
        world.publish(f"posts/{slug}.md", slug.upper(), START - day * DAY, slug=slug)
    world.publish("posts/b.md", "B", START - 4 * DAY, slug="b")  # back-dated between a and c
    world.publish("posts/d.md", "D", START - 2 * DAY, slug="d")

    order = ["a", "b", "c", "d", "e"]
    for index, slug in enumerate(order):
        page = world.text(f"posts/{slug}/index.html")
        previous = order[index - 1] if index > 0 else None
        following = order[index + 1] if index + 1 < len(order) else None
        assert (f'rel="prev" href="/posts/{previous}/"' in page) == (previous is not None), slug
        if previous:
            assert f'rel="prev" href="/posts/{previous}/"' in page
        if following:
            assert f'rel="next" href="/posts/{following}/"' in page
        else:
            assert 'rel="next"' not in page


def test_a_body_only_edit_rewrites_no_neighbour(world: World) -> None:
    for day in (3, 2, 1):
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}")

    outcome = world.publish("posts/2.md", "Post 2", START - 2 * DAY, slug="p2", body="<p>Only the body.</p>")

    assert "posts/p1/index.html" not in outcome.written and "posts/p3/index.html" not in outcome.written
    assert "posts/p2/index.html" in outcome.written


def test_the_newest_twenty_are_in_the_feeds_and_an_older_edit_leaves_them_alone(world: World) -> None:
    for day in range(30, 0, -1):
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}")
    assert world.feed_urls() == [f"https://blog.example/posts/p{day}/" for day in range(1, 21)]
    assert 'href="/archive/2026/03/" rel="next"' in world.text("index.html")  # "older posts": the 11th post's month

    outcome = world.publish("posts/30.md", "Post 30 edited", START - 30 * DAY, slug="p30")
    assert "feed.xml" not in outcome.written and "index.html" not in outcome.written

    world.apply(world.remove("posts/5.md"))  # a gap in the newest twenty is refilled from the catalog
    assert world.feed_urls() == [f"https://blog.example/posts/p{day}/" for day in [*range(1, 5), *range(6, 22)]]

    # An edit that moves a newest post far back: the next newer post takes its place.
    world.publish("posts/1.md", "Post 1", START - 40 * DAY, slug="p1")
    assert world.feed_urls()[0] == "https://blog.example/posts/p2/"
    assert world.feed_urls()[-1] == "https://blog.example/posts/p22/"


def test_a_tag_front_page_is_refilled_when_a_newest_post_leaves_it(world: World) -> None:
    for day in range(25, 0, -1):
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}", tags=("busy",))
    front = world.text("tags/busy/index.html")
    assert "/posts/p20/" in front and "/posts/p21/" not in front

    world.apply(world.remove("posts/3.md"))

    front = world.text("tags/busy/index.html")
    assert "/posts/p3/" not in front and "/posts/p21/" in front
    assert "24 posts" in front


def test_several_uploads_of_one_key_end_in_the_latest_state(world: World) -> None:
    updates = [world.upload("posts/k.md", f"Take {n}", START - DAY, slug="k", tags=(f"v{n}",)) for n in range(5)]
    rng = random.Random(7)
    shuffled = updates[:]
    rng.shuffle(shuffled)
    for update in shuffled + updates:
        world.apply(update)

    assert "Take 4" in world.text("posts/k/index.html")
    assert "Take 4" in world.text("index.html") and "Take 3" not in world.text("index.html")
    assert set(world.catalog.summary.tags) == {"v4"}
    assert len(world.announcements()) == 1


def test_a_burst_of_a_hundred_posts_all_end_up_everywhere(world: World) -> None:
    rng = random.Random(100)
    updates = [
        world.upload(f"posts/burst-{n}.md", f"Burst {n}", START - timedelta(hours=rng.randint(1, 2000)), slug=f"b{n}")
        for n in range(100)
    ]
    rng.shuffle(updates)
    for update in updates + rng.sample(updates, 20):  # with duplicates
        world.apply(update)

    slugs = {f"b{n}" for n in range(100)}
    months = world.catalog.summary.months
    assert sum(months.values()) == 100
    listed = {e.slug for m in months for e in world.catalog.lists[f"MONTH#{m}"].entries}
    assert listed == slugs
    sitemap = "".join(world.text(f"sitemaps/{m}.xml") for m in months)
    archives = "".join(world.text(f"archive/{m[:4]}/{m[5:]}/index.html") for m in months)
    shards = [doc["u"] for m in months for doc in world.json(f"search/shards/{m}.json")["posts"]]
    for slug in slugs:
        assert f"https://blog.example/posts/{slug}/" in sitemap
        assert f'href="/posts/{slug}/"' in archives
    assert sorted(shards) == sorted(f"/posts/{slug}/" for slug in slugs)
    newest = sorted(world.catalog.posts.values(), key=lambda post: post.order, reverse=True)[:20]
    assert world.feed_urls() == [f"https://blog.example/posts/{post.slug}/" for post in newest]
    # Each post dated within the announce window emailed once; the older ones never (indexing.announce).
    recent = sorted(post.slug for post in world.catalog.posts.values() if START - post.date <= DEFAULT_ANNOUNCE_WINDOW)
    assert recent and len(recent) < 100
    assert sorted(message.slug for message in world.announcements()) == recent


def test_a_new_post_rewrites_only_the_pages_it_appears_on(world: World) -> None:
    for day in range(40, 0, -1):
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}", tags=("t", f"x{day % 3}"))

    outcome = world.publish("posts/new.md", "Newest", START - timedelta(hours=1), slug="new", tags=("t",))

    assert set(outcome.written) == {
        "posts/new/index.html",
        "posts/p1/index.html",  # the previous newest gains its "next" link
        "archive/2026/03/index.html",
        "sitemaps/2026-03.xml",
        "search/shards/2026-03.json",
        "tags/t/index.html",
        "tags/t/feed.xml",  # the tag's feed: its front page's newest posts
        "tags/t/2026/index.html",
        "tags/index.html",  # the tags page: "t" has one post more
        "index.html",
        "feed.xml",
        "rss.xml",
        "feed.json",
    }
    assert outcome.deleted == []


def test_author_text_is_escaped_in_every_listing(world: World) -> None:
    world.publish("posts/x.md", "<script>alert(1)</script>", START - DAY, slug="x", tags=("<b>tag</b>",))

    for key in ("index.html", "archive/2026/03/index.html", "tags/b-tag-b/index.html", "tags/index.html"):
        page = world.text(key)
        assert "<script>alert" not in page and "<b>tag" not in page, key
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in world.text("index.html")
    assert "&lt;script&gt;" in world.text("feed.xml")  # escaped once in XML: a reader sees the text
