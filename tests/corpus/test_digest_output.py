"""The digest email of every corpus post is safe (issue 15): the class test of "whatever a mail
client sees is safe", for digests. Every post the corpus publishes, read back from the catalog
as Deliver reads it (``digest_delivery.current_posts``), is listed in one digest; its HTML part
is checked as a page, each summary shown is text, and every link is the post's own URL."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from zoneinfo import ZoneInfo

from html_safety import assert_plain_text, assert_safe, assert_url
from test_every_output import corpus_site  # noqa: F401  (the fixture: the corpus published on an in-memory site)

from pressline.subscribers.digest_delivery import current_posts, digest_email
from pressline.subscribers.digests import DigestItem
from pressline.subscribers.messages import Site, SubscriberLinks
from pressline.subscribers.model import Subscriber

_SUMMARY = re.compile(r'<p style="margin:0;">(.*?)</p>', re.DOTALL)
_LINK = re.compile(r'<h2[^>]*><a href="([^"]*)"')


def test_the_digest_of_every_corpus_post_is_safe(corpus_site: object) -> None:  # noqa: F811 (the fixture)
    world = corpus_site
    keys = [key for key, post in world.catalog.posts.items() if post.public]  # type: ignore[attr-defined]
    current = current_posts(world.catalog, keys)  # type: ignore[attr-defined]
    assert len(current) >= 40
    items = [
        DigestItem(key=post.slug, slug=post.slug, title=post.title, summary=post.summary, tags=post.tags,
                   date=post.date, published_at=post.date)
        for post in current.values()
    ]  # fmt: skip
    site = Site(
        title="Corpus <b>blog</b>",
        url="https://blog.example",
        api_url="https://api.blog.example",
        sender="a@blog.example",
    )
    links = SubscriberLinks("https://api.blog.example/u?token=t", "https://api.blog.example/p?token=p")
    now = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)
    reader = Subscriber(id="s1", address="reader@example.com", status="confirmed", created_at=now)
    email = digest_email(site, "daily", items, reader, links, ZoneInfo("Europe/Paris"), now)
    message = message_from_bytes(email.raw)
    assert "\n" not in str(message["Subject"]) and str(message["Subject"]).endswith(
        f"{len(items)} new posts (daily digest)"
    )
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
        for part in message.walk()
        if isinstance(part, Message) and not part.is_multipart()
    }
    assert_safe(parts["text/html"], "digest HTML part")
    listing = parts["text/html"].split("<hr", 1)[0]  # the posts, before the footer
    assert len(_SUMMARY.findall(listing)) == sum(1 for item in items if item.summary)
    for summary in _SUMMARY.findall(listing):
        assert_plain_text(html.unescape(summary), "digest summary")
    found = [html.unescape(url) for url in _LINK.findall(parts["text/html"])]
    assert len(found) == len(items)
    for url in found:
        assert_url(url, "digest link")
        assert url.startswith("https://blog.example/posts/")
    assert "reader@example.com" not in parts["text/plain"]  # the footer names no address
