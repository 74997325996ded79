"""Feeds checked against the required elements of their specifications (Atom RFC 4287,
RSS 2.0, JSON Feed 1.1) and sitemaps parsed as the sitemaps.org protocol defines them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlparse

import pytest
from index_world import START, World

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
DAY = timedelta(days=1)
TRICKY_BODY = '<p>Fish &amp; chips &lt;3 — “quoted” <a href="/x?a=1&amp;b=2">link</a>\x0b</p>'


@pytest.fixture
def site(world: World) -> World:
    world.publish("posts/a.md", "Fish & Chips <3", START - 3 * DAY, tags=("food", "C++"), body=TRICKY_BODY)
    world.publish("posts/b.md", "Second", START - 2 * DAY, updated=START - DAY)
    world.publish("posts/c.md", "Third ]]> edge", START - DAY, slug="third", summary="Ends ]]> here")
    return world


def rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_atom_has_every_element_rfc_4287_requires(site: World) -> None:
    feed = ET.fromstring(site.text("feed.xml"))

    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{name}")) == 1, name
    rfc3339(feed.findtext(f"{ATOM}updated"))
    assert feed.find(f"{ATOM}author/{ATOM}name").text == "Test Site"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links == {"self": "https://blog.example/feed.xml", "alternate": "https://blog.example/"}
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == ["Third ]]> edge", "Second", "Fish & Chips <3"]
    for entry in entries:
        for name in ("id", "title", "updated", "published"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert urlparse(entry.findtext(f"{ATOM}id")).scheme == "https"
        assert rfc3339(entry.findtext(f"{ATOM}updated")) >= rfc3339(entry.findtext(f"{ATOM}published"))
        assert entry.find(f"{ATOM}link").get("rel") == "alternate"
        assert entry.find(f"{ATOM}content").get("type") == "html"
    # Full content, escaped once: a reader gets the HTML back (less the character XML forbids),
    # with the site's paths made absolute (a reader shows it away from the site).
    expected = TRICKY_BODY.replace("\x0b", "").replace('href="/x', 'href="https://blog.example/x')
    assert entries[2].findtext(f"{ATOM}content") == expected
    assert [c.get("term") for c in entries[2].findall(f"{ATOM}category")] == ["food", "C++"]
    assert feed.findtext(f"{ATOM}updated") == "2026-03-14T12:00:00Z"  # the newest change


def test_rss_has_every_element_rss_2_requires(site: World) -> None:
    rss = ET.fromstring(site.text("rss.xml"))

    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    for name in ("title", "link", "description"):
        assert channel.findtext(name), name
    self_link = channel.find(f"{ATOM}link")
    assert self_link.get("rel") == "self" and self_link.get("href") == "https://blog.example/rss.xml"
    items = channel.findall("item")
    assert len(items) == 3
    for item in items:
        assert item.findtext("title") and item.findtext("description")
        guid = item.find("guid")
        assert guid.get("isPermaLink") == "true" and guid.text == item.findtext("link")
        assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        assert item.findtext(f"{CONTENT}encoded")
    assert items[0].findtext("description") == "Ends ]]> here"


def test_json_feed_has_every_member_json_feed_1_1_requires(site: World) -> None:
    feed = site.json("feed.json")

    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Test Site"
    assert feed["feed_url"] == "https://blog.example/feed.json"
    assert feed["home_page_url"] == "https://blog.example/"
    assert len(feed["items"]) == 3
    for item in feed["items"]:
        assert item["id"] and item["url"].startswith("https://blog.example/posts/")
        assert item["content_html"]
        rfc3339(item["date_published"])
        rfc3339(item["date_modified"])
    assert feed["items"][2]["tags"] == ["food", "C++"]
    assert site.site_store.get("feed.json").content_type.startswith("application/feed+json")


def test_feeds_hold_the_newest_twenty(world: World) -> None:
    for day in range(25, 0, -1):
        world.publish(f"posts/{day}.md", f"Post {day}", START - day * DAY, slug=f"p{day}")

    assert len(ET.fromstring(world.text("feed.xml")).findall(f"{ATOM}entry")) == 20
    assert len(ET.fromstring(world.text("rss.xml")).find("channel").findall("item")) == 20
    assert len(world.json("feed.json")["items"]) == 20


def test_feeds_of_an_emptied_site_stay_valid(site: World) -> None:
    for key in ("posts/a.md", "posts/b.md", "posts/c.md"):
        site.apply(site.remove(key))

    feed = ET.fromstring(site.text("feed.xml"))
    assert feed.findall(f"{ATOM}entry") == [] and len(feed.findall(f"{ATOM}updated")) == 1
    assert ET.fromstring(site.text("rss.xml")).find("channel").findall("item") == []
    assert site.json("feed.json")["items"] == []
    assert "Nothing has been published yet" in site.text("index.html")


def sitemap_urls(world: World) -> set[str]:
    """Follow the sitemap index to every child and collect the URLs, as a crawler does."""
    index = ET.fromstring(world.text("sitemap.xml"))
    assert index.tag == f"{SITEMAP}sitemapindex"
    urls: set[str] = set()
    for loc in index.iter(f"{SITEMAP}loc"):
        path = urlparse(loc.text).path.lstrip("/")
        child = ET.fromstring(world.text(path))
        assert child.tag == f"{SITEMAP}urlset"
        entries = child.findall(f"{SITEMAP}url")
        assert len(entries) <= 50_000
        for url in entries:
            urls.add(url.findtext(f"{SITEMAP}loc"))
            modified = url.findtext(f"{SITEMAP}lastmod")
            if modified:
                rfc3339(modified)
    return urls


def test_the_sitemap_index_leads_to_every_published_post(world: World) -> None:
    world.publish("posts/jan.md", "January", START - 60 * DAY)
    world.publish("posts/feb.md", "February", START - 30 * DAY)
    world.publish("posts/mar.md", "March", START - DAY, tags=("t",))
    world.publish("posts/draft.md", "Hidden", START - DAY, draft=True)
    world.publish("posts/later.md", "Later", START + DAY)

    urls = sitemap_urls(world)

    posts = {url for url in urls if "/posts/" in url}
    assert posts == {f"https://blog.example/posts/{slug}/" for slug in ("january", "february", "march")}
    assert {"https://blog.example/", "https://blog.example/tags/t/", "https://blog.example/archive/"} <= urls


def test_robots_names_the_sitemap(site: World) -> None:
    assert site.text("robots.txt").splitlines()[-1] == "Sitemap: https://blog.example/sitemap.xml"


def test_a_site_without_tags_has_every_sitemap_the_index_names(world: World) -> None:
    world.publish("posts/a.md", "Untagged", START - DAY)

    assert "https://blog.example/posts/untagged/" in sitemap_urls(world)
    assert "No tags yet" in world.text("tags/index.html")


@pytest.mark.parametrize(
    "value",
    ["", "plain", "Fish & Chips <3 >", "&amp; stays escaped once", 'say "hi"', "it's", "both \" and '", "a\nb\rc\td"],
)
def test_feed_escaping_is_byte_for_byte_what_saxutils_gives(value: str) -> None:
    # The feeds escape without importing xml.sax.saxutils (cold start): the output must not change.
    from xml.sax.saxutils import escape, quoteattr

    from pressline.indexing.feeds import xml_escape, xml_quoteattr

    assert xml_escape(value) == escape(value)
    assert xml_quoteattr(value) == quoteattr(value)
