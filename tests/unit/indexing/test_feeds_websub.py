"""WebSub on the Index side, in memory: every feed names the hub (W3C WebSub 4 discovery in
Atom and RSS, JSON Feed 1.1 ``hubs``), each tag has an Atom feed that rebuild makes the same,
and a batch pings exactly the feeds whose bytes it changed, once each."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from index_world import START, World

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.indexing.layout import is_feed_key
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.rebuild import rebuild_site
from pressline.indexing.websub import (
    DIGEST_CHARS,
    FeedChanged,
    check_hub_url,
    digest,
    dump_digests,
    feed_changes,
    load_digests,
    ping_verdict,
    publish_form,
)
from pressline.site.pages import Site

HUB = "https://hub.example/publish"
TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
ATOM = "{http://www.w3.org/2005/Atom}"
DAY = timedelta(days=1)


def hub_world() -> World:
    world = World()
    world.site = replace(world.site, hub_url=HUB)
    world.deps.site = world.site
    world.deps.websub = MemoryQueue()
    return world


def pings(world: World) -> list[str]:
    """The feed URLs pinged so far (one FeedChanged each), in the order sent."""
    assert isinstance(world.deps.websub, MemoryQueue)
    sent = [message for message in world.deps.websub.sent if isinstance(message, FeedChanged)]
    return [message.topic for message in sent]


def links(feed: str, namespace: str = ATOM) -> dict[str, str]:
    """rel -> href of a feed's own links (Atom's link, RSS's atom:link)."""
    root = ET.fromstring(feed)
    channel = root if root.tag == f"{ATOM}feed" else root.find("channel")
    assert channel is not None
    return {link.get("rel", ""): link.get("href", "") for link in channel.findall(f"{namespace}link")}


MAIN_FEEDS = ["https://blog.example/feed.xml", "https://blog.example/rss.xml", "https://blog.example/feed.json"]


def tag_feeds(*tags: str) -> list[str]:
    return [f"https://blog.example/tags/{tag}/feed.xml" for tag in tags]


# --------------------------------------------------------------------------- discovery
def test_every_feed_names_the_hub_beside_its_own_url() -> None:
    world = hub_world()
    world.publish("posts/a.md", "Alpha", START - DAY, slug="a", tags=("News",))

    atom, rss, tag = world.text("feed.xml"), world.text("rss.xml"), world.text("tags/news/feed.xml")
    assert atom is not None and rss is not None and tag is not None
    assert links(atom) == {"self": "https://blog.example/feed.xml", "hub": HUB, "alternate": "https://blog.example/"}
    assert links(rss) == {"self": "https://blog.example/rss.xml", "hub": HUB}
    assert links(tag) == {
        "self": "https://blog.example/tags/news/feed.xml",
        "hub": HUB,
        "alternate": "https://blog.example/tags/news/",
    }
    assert world.json("feed.json")["hubs"] == [{"type": "WebSub", "url": HUB}]


def test_without_a_hub_no_feed_names_one_and_nothing_is_pinged() -> None:
    world = World()
    world.deps.websub = MemoryQueue()
    world.publish("posts/a.md", "Alpha", START - DAY, slug="a", tags=("news",))

    atom, rss, tag = world.text("feed.xml"), world.text("rss.xml"), world.text("tags/news/feed.xml")
    assert atom is not None and rss is not None and tag is not None
    assert "hub" not in links(atom) and "hub" not in links(rss) and "hub" not in links(tag)
    assert "hubs" not in world.json("feed.json")
    assert pings(world) == []


def test_a_tag_feed_lists_the_tags_newest_posts_as_its_front_page_does() -> None:
    world = hub_world()
    for day in range(25, 0, -1):
        tags = ("python",) if day % 2 else ("python", "aws")
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}", tags=tags)

    feed = ET.fromstring(world.text("tags/aws/feed.xml") or "")
    entries = [entry.findtext(f"{ATOM}id") for entry in feed.findall(f"{ATOM}entry")]
    assert entries == [f"https://blog.example/posts/p{day}/" for day in range(2, 26, 2)]
    assert feed.findtext(f"{ATOM}title") == "Test Site: aws"
    python = ET.fromstring(world.text("tags/python/feed.xml") or "").findall(f"{ATOM}entry")
    assert len(python) == 20  # the front page's newest twenty, not all 25
    first = python[0]
    assert first.findtext(f"{ATOM}summary") == "About Post 1."
    assert first.find(f"{ATOM}content") is None  # a listing holds no content: the summary only
    page = world.text("tags/aws/index.html") or ""
    assert '<link rel="alternate" type="application/atom+xml" title="Test Site: aws (Atom)"' in page
    assert 'href="/tags/aws/feed.xml"' in page


def test_a_tag_feed_goes_with_the_tags_last_post() -> None:
    world = hub_world()
    world.publish("posts/a.md", "Alpha", START - DAY, slug="a", tags=("gone", "kept"))
    world.publish("posts/b.md", "Beta", START - 2 * DAY, slug="b", tags=("kept",))

    world.apply(world.remove("posts/a.md"))

    assert world.text("tags/gone/feed.xml") is None and world.text("tags/gone/index.html") is None
    kept = ET.fromstring(world.text("tags/kept/feed.xml") or "")
    assert [e.findtext(f"{ATOM}id") for e in kept.findall(f"{ATOM}entry")] == ["https://blog.example/posts/b/"]


def test_rebuild_writes_the_same_feeds_as_indexing_did() -> None:
    world = hub_world()
    for day in range(12, 0, -1):
        tags = [tag for n, tag in enumerate(("python", "aws", "notes")) if day % (n + 2) == 0]
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}", tags=tuple(tags))
    world.apply(world.remove("posts/6.md"))  # a post leaves its three tags' feeds
    world.publish("posts/5.md", "Post 5 again", START - 5 * DAY, slug="p5", tags=("aws",))

    rebuilt, catalog, source = MemoryStore(), MemoryCatalog(), MemoryStore()
    catalog.posts = dict(world.catalog.posts)
    source.objects = dict(world.source.objects)
    rebuild_site(catalog, source, rebuilt, world.site, now=world.now)

    feeds = sorted(key for key in world.site_store.objects if is_feed_key(key))
    assert feeds == sorted(key for key in rebuilt.objects if is_feed_key(key))
    assert {"tags/python/feed.xml", "tags/aws/feed.xml", "tags/notes/feed.xml"} <= set(feeds)
    for key in feeds:
        assert rebuilt.objects[key].body == world.site_store.objects[key].body, key


# --------------------------------------------------------------------------- pings
def test_a_new_post_pings_the_main_feeds_and_its_tags_feeds_once_each() -> None:
    world = hub_world()
    world.publish("posts/a.md", "Alpha", START - DAY, slug="a", tags=("python", "aws", "Python"))

    assert sorted(pings(world)) == sorted(MAIN_FEEDS + tag_feeds("python", "aws"))


def test_a_duplicate_a_draft_and_a_scheduled_post_ping_nothing() -> None:
    world = hub_world()
    update = world.upload("posts/a.md", "Alpha", START - DAY, slug="a", tags=("python",))
    world.apply(update)
    before = len(pings(world))

    world.apply(update)  # the same message again (SQS delivers at least once)
    world.publish("posts/d.md", "Draft", START - DAY, slug="d", tags=("python",), draft=True)
    world.publish("posts/s.md", "Later", START + DAY, slug="s", tags=("python",))
    assert len(pings(world)) == before

    world.publish("posts/a.md", "Alpha", START - DAY, slug="a", tags=("python",))  # re-uploaded as it was
    assert len(pings(world)) == before


def test_an_edit_pings_only_the_feeds_whose_bytes_change() -> None:
    world = hub_world()
    world.publish("posts/a.md", "Alpha", START - DAY, slug="a", tags=("python",))
    world.publish("posts/b.md", "Beta", START - 2 * DAY, slug="b", tags=("aws",))
    before = len(pings(world))

    world.publish("posts/b.md", "Beta, corrected", START - 2 * DAY, slug="b", tags=("aws",))

    assert sorted(pings(world)[before:]) == sorted(MAIN_FEEDS + tag_feeds("aws"))


def test_a_batch_pings_each_changed_feed_once_however_many_changes_touch_it() -> None:
    from pressline.stages.index import index_batch

    world = hub_world()
    updates = [
        world.upload(f"posts/{n}.md", f"Post {n}", START - n * DAY, slug=f"p{n}", tags=("python",)) for n in range(1, 8)
    ]
    index_batch(updates, world.deps)

    assert sorted(pings(world)) == sorted(MAIN_FEEDS + tag_feeds("python"))
    assert isinstance(world.deps.websub, MemoryQueue)
    digests = {m.topic: m.digest for m in world.deps.websub.sent if isinstance(m, FeedChanged)}
    atom = world.site_store.objects["feed.xml"].body
    assert digests["https://blog.example/feed.xml"] == hashlib.sha256(atom).hexdigest()


def test_a_batch_that_crashes_before_its_commit_pings_again_when_retried() -> None:
    """At least once: the digests are committed with the catalog, so a retry of a batch that
    wrote its feeds (and maybe pinged) but never committed compares against the old ones."""
    from pressline.indexing.memory import Crash

    world = hub_world()
    update = world.upload("posts/a.md", "Alpha", START - DAY, slug="a", tags=("python",))
    world.catalog.fail_next_commit = True
    with pytest.raises(Crash):
        world.apply(update)
    assert world.text("feed.xml") is not None  # the feeds were written before the crash

    world.apply(update)  # SQS delivers the message again
    world.apply(update)  # and once more, after the commit: a duplicate

    assert Counter(pings(world)) == Counter({url: 2 for url in MAIN_FEEDS + tag_feeds("python")})


def test_feed_changes_pings_new_and_changed_feeds_and_forgets_deleted_ones() -> None:
    old = {"feed.xml": digest(b"old")[:DIGEST_CHARS], "tags/gone/feed.xml": "x" * DIGEST_CHARS}
    pending = {
        "feed.xml": b"new",
        "rss.xml": b"first",
        "tags/kept/feed.xml": b"same",
        "tags/gone/feed.xml": None,
        "index.html": b"<html>",  # not a feed
        "tags/kept/index.html": b"<html>",
    }
    known = {**old, "tags/kept/feed.xml": digest(b"same")[:DIGEST_CHARS]}

    pings, digests = feed_changes(pending, known, lambda key: f"https://blog.example/{key}")

    assert [(ping.topic, ping.digest) for ping in pings] == [
        ("https://blog.example/feed.xml", digest(b"new")),
        ("https://blog.example/rss.xml", digest(b"first")),
    ]
    assert digests == {
        "feed.xml": digest(b"new")[:DIGEST_CHARS],
        "rss.xml": digest(b"first")[:DIGEST_CHARS],
        "tags/kept/feed.xml": digest(b"same")[:DIGEST_CHARS],
    }
    assert load_digests(dump_digests(digests)) == digests
    assert load_digests(None) == {}


# --------------------------------------------------------------------------- the hub's side
@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        *[(status, "done") for status in (200, 202, 204)],
        *[(status, "retry") for status in (429, 500, 503)],
        *[(status, "refused") for status in (400, 403, 404, 301)],  # a redirect too: HubUrl is wrong
    ],
)
def test_what_a_hubs_answer_means(status: int, verdict: str) -> None:
    assert ping_verdict(status) == verdict


def test_the_ping_is_a_form_with_mode_publish_and_the_feed_url() -> None:
    form = parse_qs(publish_form("https://blog.example/tags/c++/feed.xml?x=1&y=2").decode("ascii"))
    assert form == {"hub.mode": ["publish"], "hub.url": ["https://blog.example/tags/c++/feed.xml?x=1&y=2"]}


@pytest.mark.parametrize("bad", ["hub.example", "ftp://hub.example/", "https://", "file:///etc/passwd"])
def test_a_hub_url_that_is_no_http_url_is_refused_naming_the_variable(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^HUB_URL: .* is not an http\(s\) URL with a host"):
        check_hub_url(bad)


def test_site_from_settings_reads_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    from pressline.config import settings

    monkeypatch.setenv("HUB_URL", f" {HUB} ")
    settings.cache_clear()
    try:
        assert Site.from_settings().hub_url == HUB
    finally:
        settings.cache_clear()


# --------------------------------------------------------------------------- the template's parameter
@pytest.mark.parametrize(
    "value", ["", "https://pubsubhubbub.appspot.com/", "https://hub.example:8443/p?k=1", "http://127.0.0.1:9000/hub"]
)
def test_hub_url_takes_https_or_a_hub_on_this_machine(value: str) -> None:
    from pressline.local.template import check_parameters, load_sam

    declared = load_sam(TEMPLATE)["Parameters"]
    assert check_parameters(declared, {"HubUrl": value}) == {"HubUrl": value}


@pytest.mark.parametrize("value", ["http://hub.example/", "hub.example", "https://", "http://127.0.0.2/", "ftp://h/"])
def test_hub_url_refuses_plain_http_elsewhere_naming_the_parameter(value: str) -> None:
    from pressline.local.template import ParameterError, check_parameters, load_sam

    declared = load_sam(TEMPLATE)["Parameters"]
    with pytest.raises(ParameterError, match="HubUrl: "):
        check_parameters(declared, {"HubUrl": value})


def test_feeds_are_revalidated_at_every_fetch_only_when_a_hub_fetches_them_at_once() -> None:
    from pressline.indexing.layout import LISTING_CACHE, feed_cache

    site = World().site
    assert feed_cache(replace(site, hub_url=HUB)) == "public, max-age=0, must-revalidate"
    assert feed_cache(site) == LISTING_CACHE  # without a hub, a minute's CDN copy is fine
