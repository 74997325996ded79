"""Every output, for every corpus input: the class test of "whatever a reader or mail client
sees is safe".

Each accepted corpus entry is rendered (``stages.render.render``, what Render runs) and
applied by Index through its public entry point (``stages.index.apply_update``) on an
in-memory site; then ``pressline rebuild``'s ``rebuild_site`` regenerates it all from the
catalog. Every object the site holds is checked by ``html_safety``: pages (post, home, tag,
archive, search, 404), the Atom, RSS and JSON feeds (HTML fields as pages, summaries as text
even read as HTML, links), sitemaps (every ``<loc>`` on the site), search shards; and the
announcement email of each post (HTML part as a page), with its summary and with the whole
post. Summaries are checked as text wherever they appear (meta and og:description, JSON-LD,
listings, feeds, search, emails).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import sys
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from html_safety import (
    assert_feed_safe,
    assert_json_feed_safe,
    assert_plain_text,
    assert_safe,
    assert_sitemap_safe,
    dangerous_url,
)
from test_corpus import MANIFEST, load

from pressline.indexing.renderings import trusted
from pressline.models import IndexUpdate, PostPublished, SourceRef
from pressline.posts.paths import rendered_key
from pressline.stages.render import render

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "unit" / "indexing"))

from index_world import World  # type: ignore[import-not-found]  # noqa: E402

ACCEPTED = [
    (name, expected)
    for section in ("files", "generated")
    for name, expected in sorted(MANIFEST[section].items())
    if expected["status"] == "accepted" and "known_bug" not in expected and "pipeline_known_bug" not in expected
]
_DESCRIPTIONS = re.compile(
    r'<meta (?:name|property)="(?:description|og:description|twitter:description)" content="([^"]*)"'
)
_LISTING_SUMMARY = re.compile(r'<p class="p-summary">(.*?)</p>', re.DOTALL)
_JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.DOTALL)


def _publish_corpus(world: World) -> list[str]:
    """Every accepted entry through Render's pure core and Index's entry point."""
    published = []
    for name, expected in ACCEPTED:
        raw, key = load(name, expected)
        world.source.put(key, raw, "text/markdown")
        head = world.source.head(key)
        assert head is not None
        ref = SourceRef(bucket="source-bucket", key=key, version_id=head.version_id, etag=head.etag)
        made = render(raw, ref, uploaded_at=world.now, site=world.site, now=world.now)
        assert made.post is not None, f"{name}: {made.errors}"
        again = trusted(made.post)  # what Index and rebuild make of it when they read it back
        assert again.body_html == made.post.body_html, f"{name}: sanitizing Render's body again changed it"
        assert again.meta.model_copy(update={"summary": made.post.meta.summary}) == made.post.meta, name
        world.source.put(rendered_key(ref), made.post.model_dump_json().encode(), "application/json")
        world.apply(IndexUpdate(action="upsert", source=ref, slug=made.post.meta.slug, rendered=made.post))
        published.append(name)
    return published


def _check_site(world: World, where: str) -> None:
    checked: dict[str, int] = {}
    for key in sorted(world.site_store.objects):
        text = world.text(key) or ""
        at = f"{where} {key}"
        kind = key.rsplit(".", 1)[-1] if "." in key else "other"
        checked[kind] = checked.get(kind, 0) + 1
        if key.endswith(".html"):
            assert_safe(text, at)
            for description in _DESCRIPTIONS.findall(text):
                assert_safe(html.unescape(description), f"{at} description")
            for block in _JSON_LD.findall(text):
                data = json.loads(block)
                assert_safe(str(data.get("description", "")), f"{at} JSON-LD description")
        elif key in ("feed.xml", "rss.xml"):
            assert_feed_safe(text, at)
        elif key == "feed.json":
            assert_json_feed_safe(json.loads(text), at)
        elif key.endswith(".xml"):
            assert_sitemap_safe(text, world.site.url, at)
        elif key.startswith("search/") and key.endswith(".json"):
            _check_search(json.loads(text), at)
    # Every kind of output was there to check: pages, feeds, sitemaps, search (manifest, shards).
    assert checked.get("html", 0) > 40 and checked.get("xml", 0) >= 4 and checked.get("json", 0) >= 3, checked


def _check_search(data: Any, where: str) -> None:
    """The manifest's shard URLs and each shard's post links are paths on the site (the search
    script shows every text with textContent, so texts cannot run)."""
    if "shards" in data:
        assert data["shards"], f"{where}: no shards"
        for shard in data["shards"]:
            assert shard["url"].startswith("/search/shards/"), f"{where}: {shard['url']!r}"
        return
    assert data["posts"], f"{where}: an empty shard"
    for doc in data["posts"]:
        assert doc["u"].startswith("/posts/") and not dangerous_url(doc["u"]), f"{where}: {doc['u']!r}"


def _summaries(world: World) -> dict[str, list[str]]:
    """Every place a summary is shown, with what it shows there."""
    found: dict[str, list[str]] = {}
    for key in sorted(world.site_store.objects):
        text = world.text(key) or ""
        if key.endswith(".html"):
            found[f"{key} descriptions"] = [html.unescape(d) for d in _DESCRIPTIONS.findall(text)]
            found[f"{key} JSON-LD"] = [str(json.loads(b).get("description", "")) for b in _JSON_LD.findall(text)]
            found[f"{key} listing"] = [html.unescape(s) for s in _LISTING_SUMMARY.findall(text)]
        elif key.startswith("search/shards/"):
            found[key] = [doc["s"] for doc in json.loads(text)["posts"]]
        elif key == "feed.json":
            found[key] = [item.get("summary", "") for item in json.loads(text)["items"]]
    for announcement in world.announcements():
        found[f"email {announcement.slug}"] = [announcement.summary, *_email_parts(world, announcement)]
    return found


def _email_parts(world: World, post: PostPublished, *, full: bool = False) -> list[str]:
    """The announcement's HTML part, checked as a page, and its summary paragraph's text; with
    ``full``, the email of the whole post, its body read as Deliver reads it (issue 15)."""
    from pressline.subscribers.bodies import RenderedBodies
    from pressline.subscribers.messages import Site as MailSite
    from pressline.subscribers.messages import SubscriberLinks, post_email

    site = MailSite(title=world.site.title, url=world.site.url, api_url=world.site.api_url, sender="a@blog.example")
    links = SubscriberLinks(
        f"{site.api_url}/subscriptions/unsubscribe?token=t", f"{site.api_url}/subscriptions/preferences?token=p"
    )
    body = RenderedBodies(world.source).body_of(post) if full else None
    assert body is not None or not full, f"{post.slug}: Deliver found no body to send"
    email = post_email(site, post, "reader@example.com", "s1", links, (), world.now, body)
    message = message_from_bytes(email.raw)
    parts = [part for part in message.walk() if isinstance(part, Message) and not part.is_multipart()]
    texts = []
    for part in parts:
        payload = part.get_payload(decode=True)
        body = payload.decode("utf-8") if isinstance(payload, bytes) else ""
        if part.get_content_type() == "text/html":
            assert_safe(body, f"email {post.slug} HTML part")
            paragraphs = re.findall(r'<p style="margin:0 0 24px;">(.*?)</p>', body, re.DOTALL)
            texts += [html.unescape(p) for p in paragraphs if not p.startswith("<a href=")]  # not the button
    return texts


@pytest.fixture(scope="module")
def corpus_site() -> World:
    world = World()
    # Every first publication announced, however old the entry's date: its email is an output to check too.
    world.deps = dataclasses.replace(world.deps, announce_window=timedelta.max)
    _publish_corpus(world)
    return world


def test_every_output_of_every_corpus_input_is_safe(corpus_site: World) -> None:
    assert len(world_posts := [k for k in corpus_site.site_store.objects if k.startswith("posts/")]) >= 40, world_posts
    _check_site(corpus_site, "Index:")
    announcements = corpus_site.announcements()
    assert len(announcements) >= 40  # one per first publication
    for announcement in announcements:
        assert _email_parts(corpus_site, announcement) or not announcement.summary
        _email_parts(corpus_site, announcement, full=True)  # the whole post's email is checked as a page too


def test_a_rebuild_of_the_whole_corpus_is_safe_too(corpus_site: World) -> None:
    from pressline.indexing.rebuild import rebuild_site

    rebuild_site(corpus_site.catalog, corpus_site.source, corpus_site.site_store, corpus_site.site, now=corpus_site.now)
    _check_site(corpus_site, "rebuild:")


def test_summaries_are_text_in_the_feeds_and_post_pages(corpus_site: World) -> None:
    """What feeds.py and pages.py make of any summary, whatever the catalog holds."""
    for place, texts in _summaries(corpus_site).items():
        if place.endswith(("descriptions", "JSON-LD")) or place == "feed.json":
            for text in texts:
                assert_plain_text(text, place)
    for feed in ("feed.xml", "rss.xml"):
        assert_feed_safe(corpus_site.text(feed) or "", feed)


def test_summaries_are_text_everywhere(corpus_site: World) -> None:
    for place, texts in _summaries(corpus_site).items():
        for text in texts:
            assert_plain_text(text, place)
