"""Atom (RFC 4287), RSS 2.0 and JSON Feed 1.1 of the newest posts, with full content, and
each tag's Atom feed of its newest posts. With a WebSub hub (``Site.hub_url``), every feed
names it beside its own URL (W3C WebSub 4: ``rel="hub"`` and ``rel="self"``; JSON Feed's
``hubs``), so a feed reader subscribes to the hub instead of polling.

Pure functions of the newest-posts state: the same posts give byte-identical feeds, so a
feed reader's conditional GET sees no change when nothing changed. Summaries are text with
any markup removed (``strip_markup``): Atom says ``type="text"``, but a reader that ignores it
would otherwise run ``<img src=x onerror=…>``, and RSS's ``description`` is HTML by custom.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from pressline.indexing.catalog import Entry, RecentPost
from pressline.indexing.layout import (
    ATOM,
    JSON_FEED,
    RSS,
    absolute_post_url,
    tag_feed_path,
    tag_front_path,
    tagline,
)
from pressline.models import ImageSet
from pressline.posts.sanitize import strip_markup
from pressline.site.pages import Site

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "Pressline"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 forbids even escaped; a stray one would make the whole feed invalid.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# What xml.sax.saxutils' escape and quoteattr replace (the same output, byte for byte), without
# importing it: it imports urllib.request, a few milliseconds of Index's cold start. Chained
# str.replace, as saxutils does: over 20x faster than str.translate on a feed's full content.
_TEXT_ENTITIES = (("&", "&amp;"), (">", "&gt;"), ("<", "&lt;"))  # "&" first
_ATTRIBUTE_ENTITIES = (*_TEXT_ENTITIES, ("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;"))


def xml_escape(value: str) -> str:
    """``&``, ``<`` and ``>`` escaped, as ``xml.sax.saxutils.escape``."""
    for character, entity in _TEXT_ENTITIES:
        value = value.replace(character, entity)
    return value


def xml_quoteattr(value: str) -> str:
    """An attribute value with its quotes, as ``xml.sax.saxutils.quoteattr``: double quotes
    unless the value has some and no single quote; ``&quot;`` when it has both."""
    escaped = value
    for character, entity in _ATTRIBUTE_ENTITIES:
        escaped = escaped.replace(character, entity)
    if '"' not in escaped:
        return f'"{escaped}"'
    if "'" not in escaped:
        return f"'{escaped}'"
    return '"{}"'.format(escaped.replace('"', "&quot;"))


def _text(value: str) -> str:
    return xml_escape(_NOT_XML.sub("", value))


def _attr(value: str) -> str:
    return xml_quoteattr(_NOT_XML.sub("", value))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def feed_updated(posts: Sequence[RecentPost], fallback: datetime) -> datetime:
    """The newest change among the posts (``fallback`` for an empty site)."""
    return max((item.post.updated or item.post.date for item in posts), default=fallback)


@dataclass(frozen=True)
class FeedEntry:
    """One post as an Atom feed shows it: the main feed's carry their content, a tag feed's
    (made from the tag's listing, which holds no content) their summary only."""

    slug: str
    title: str
    date: datetime
    updated: datetime | None
    tags: tuple[str, ...]
    summary: str
    author: str | None = None
    content_html: str | None = None


# A site path in a sanitized body's src or href (nh3 writes every attribute in double quotes).
_SITE_PATH = re.compile(r'(\s(?:src|href)=")/(?!/)')


def content_html(body_html: str, site: Site) -> str:
    """A post's body as feeds carry it: site paths made absolute, since a feed reader shows the
    content away from the site (JSON Feed has no base URL; Atom's xml:base is ignored by many).
    An image beside a post is then ``https://<site>/media/...``, where the Image stage publishes
    its widest JPEG or PNG variant without metadata: what every reader and mail client shows."""
    if '="/' not in body_html:
        return body_html
    base = site.url.rstrip("/")
    return _SITE_PATH.sub(lambda match: f"{match.group(1)}{base}/", body_html)


def _recent_entry(item: RecentPost, site: Site) -> FeedEntry:
    post = item.post
    return FeedEntry(
        post.slug,
        post.title,
        post.date,
        post.updated,
        post.tags,
        post.summary,
        item.rendered.meta.author,
        content_html(item.rendered.body_html, site),
    )


def _listed_entry(entry: Entry) -> FeedEntry:
    return FeedEntry(entry.slug, entry.title, entry.date, entry.updated, entry.tags, entry.summary)


def atom(posts: Sequence[RecentPost], site: Site, fallback: datetime) -> str:
    """The site's Atom feed: its newest posts with full content."""
    entries = [_recent_entry(item, site) for item in posts]
    return _atom(entries, site, fallback, "/" + ATOM, "/", site.title, tagline(site))


def tag_atom(tag: str, name: str, entries: Sequence[Entry], site: Site) -> str:
    """A tag's Atom feed (``/tags/<tag>/feed.xml``): the tag's newest posts, as its front
    page lists them, with their summaries (the listing holds no content). A pure function of
    the listing (no clock): a tag with no posts has no feed, so its date is never the epoch's."""
    return _atom(
        [_listed_entry(entry) for entry in entries],
        site,
        EPOCH,
        tag_feed_path(tag),
        tag_front_path(tag),
        f"{site.title}: {name}",
        f"Posts tagged “{name}” on {site.title}",
    )


def _atom(
    entries: Sequence[FeedEntry], site: Site, fallback: datetime, path: str, home: str, title: str, subtitle: str
) -> str:
    newest = max((entry.updated or entry.date for entry in entries), default=fallback)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>{_text(site.absolute(home))}</id>",
        f'  <title type="text">{_text(title)}</title>',
        f'  <subtitle type="text">{_text(subtitle)}</subtitle>',
        f"  <updated>{rfc3339(newest)}</updated>",
        f"  <author><name>{_text(site.title)}</name></author>",
        f'  <link rel="self" type="application/atom+xml" href={_attr(site.absolute(path))}/>',
    ]
    if site.hub_url:  # WebSub discovery (W3C WebSub 4): the hub beside the topic's self link
        lines.append(f'  <link rel="hub" href={_attr(site.hub_url)}/>')
    lines += [
        f'  <link rel="alternate" type="text/html" href={_attr(site.absolute(home))}/>',
        f"  <generator>{GENERATOR}</generator>",
    ]
    for entry in entries:
        url = absolute_post_url(site, entry.slug)
        lines += [
            "  <entry>",
            f"    <id>{_text(url)}</id>",
            f'    <title type="text">{_text(entry.title)}</title>',
            f'    <link rel="alternate" type="text/html" href={_attr(url)}/>',
            f"    <published>{rfc3339(entry.date)}</published>",
            f"    <updated>{rfc3339(entry.updated or entry.date)}</updated>",
        ]
        if entry.author:
            lines.append(f"    <author><name>{_text(entry.author)}</name></author>")
        lines += [f"    <category term={_attr(tag)}/>" for tag in entry.tags]
        summary = strip_markup(entry.summary)
        if summary:
            lines.append(f'    <summary type="text">{_text(summary)}</summary>')
        if entry.content_html is not None:
            lines.append(f'    <content type="html">{_text(entry.content_html)}</content>')
        lines.append("  </entry>")
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def rss(posts: Sequence[RecentPost], site: Site, fallback: datetime) -> str:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel>",
        f"  <title>{_text(site.title)}</title>",
        f"  <link>{_text(site.absolute('/'))}</link>",
        f"  <description>{_text(tagline(site))}</description>",
        f'  <atom:link href={_attr(site.absolute("/" + RSS))} rel="self" type="application/rss+xml"/>',
    ]
    if site.hub_url:  # WebSub discovery in RSS: an atom:link, as for the self link
        lines.append(f'  <atom:link href={_attr(site.hub_url)} rel="hub"/>')
    lines += [
        f"  <lastBuildDate>{rfc822(feed_updated(posts, fallback))}</lastBuildDate>",
        f"  <generator>{GENERATOR}</generator>",
    ]
    for item in posts:
        post = item.post
        url = absolute_post_url(site, post.slug)
        lines += [
            "  <item>",
            f"    <title>{_text(post.title)}</title>",
            f"    <link>{_text(url)}</link>",
            f'    <guid isPermaLink="true">{_text(url)}</guid>',
            f"    <pubDate>{rfc822(post.date)}</pubDate>",
            # HTML by custom: the title a summary-less post falls back to is made text too (it may
            # be "Why <script> tags block rendering"; found by the trust boundary's class test).
            f"    <description>{_text(strip_markup(post.summary) or strip_markup(post.title))}</description>",
        ]
        lines += [f"    <category>{_text(tag)}</category>" for tag in post.tags]
        lines += [
            f"    <content:encoded>{_text(content_html(item.rendered.body_html, site))}</content:encoded>",
            "  </item>",
        ]
    lines += ["</channel>", "</rss>"]
    return "\n".join(lines) + "\n"


def _share_url(cover: ImageSet, site: Site) -> str | None:
    from pressline.site.responsive import share_url  # the markup module: imported when a post has a cover

    return share_url(cover, site.url)


def json_feed(posts: Sequence[RecentPost], site: Site) -> str:
    items = []
    for item in posts:
        post, meta = item.post, item.rendered.meta
        url = absolute_post_url(site, post.slug)
        entry: dict[str, object] = {
            "id": url,
            "url": url,
            "title": post.title,
            "content_html": content_html(item.rendered.body_html, site),
            "summary": strip_markup(post.summary),
            "date_published": rfc3339(post.date),
            "date_modified": rfc3339(post.updated or post.date),
            "tags": list(post.tags),
        }
        if meta.author:
            entry["authors"] = [{"name": meta.author}]
        shared = _share_url(post.cover, site) if post.cover is not None else None
        if shared:  # the cover's <= 1,200-px JPEG or PNG: what every reader displays
            entry["image"] = shared
        elif meta.image:
            entry["image"] = meta.image if "://" in meta.image else site.absolute("/" + meta.image.lstrip("/"))
        items.append(entry)
    feed = {
        "version": JSON_FEED_VERSION,
        "title": site.title,
        "home_page_url": site.absolute("/"),
        "feed_url": site.absolute("/" + JSON_FEED),
        "description": tagline(site),
        "authors": [{"name": site.title}],
    }
    if site.hub_url:  # JSON Feed 1.1 "hubs": endpoints to subscribe to for real-time notifications
        feed["hubs"] = [{"type": "WebSub", "url": site.hub_url}]
    feed["items"] = items
    return json.dumps(feed, ensure_ascii=False, indent=1) + "\n"
