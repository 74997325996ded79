"""Where Index writes: the site bucket keys and public paths of every generated file.

Post pages and tag paths come from ``pressline.posts.paths`` so every stage agrees.
"""

from __future__ import annotations

from pressline.posts.paths import post_url
from pressline.site.pages import Site

HOME = "index.html"
ARCHIVE_INDEX = "archive/index.html"
TAGS_INDEX = "tags/index.html"
ATOM = "feed.xml"
RSS = "rss.xml"
JSON_FEED = "feed.json"
SITEMAP_INDEX = "sitemap.xml"
PAGES_SITEMAP = "sitemaps/pages.xml"
ROBOTS = "robots.txt"
NOT_FOUND = "404.html"
SEARCH_PAGE = "search/index.html"
SEARCH_SCRIPT = "search/search.js"
SEARCH_MANIFEST = "search/manifest.json"
RECENT_STATE = "state/index/recent.json"  # in the SOURCE bucket: private working state

# Listings and feeds change with every post: let CDNs and browsers revalidate soon.
LISTING_CACHE = "public, max-age=60, stale-while-revalidate=300"
# With a WebSub hub, the hub fetches a feed the moment it is pinged: a CDN copy up to a minute
# old (or stale for five) would hand it the feed from before the change. Revalidated every time
# (CloudFront keeps it for its minimum TTL, 1 s; an unchanged feed is a 304 from S3).
HUB_FEED_CACHE = "public, max-age=0, must-revalidate"


def feed_cache(site: Site) -> str:
    """A feed's Cache-Control: revalidated on every fetch when a hub is told of its changes."""
    return HUB_FEED_CACHE if site.hub_url else LISTING_CACHE


STATIC_CACHE = "public, max-age=3600"


def directory_key(path: str) -> str:
    """``/a/b/`` -> ``a/b/index.html``."""
    return path.lstrip("/") + "index.html"


def month_path(month: str) -> str:
    """``yyyy-mm`` -> ``/archive/yyyy/mm/``. The date rules keep years four-digit; a shorter
    one (``strftime("%Y")`` gives ``1`` for year 1 on Linux) is padded, never a 1-digit folder."""
    year, number = month.split("-")
    return f"/archive/{year.zfill(4)}/{number.zfill(2)}/"


def tag_front_path(tag: str) -> str:
    return f"/tags/{tag}/"


def tag_year_path(tag: str, year: str) -> str:
    return f"/tags/{tag}/{year}/"


def tag_feed_path(tag: str) -> str:
    """A tag's Atom feed (its newest posts), beside its front page."""
    return f"/tags/{tag}/{TAG_FEED_NAME}"


def tag_feed_key(tag: str) -> str:
    return tag_feed_path(tag).lstrip("/")


TAG_FEED_NAME = "feed.xml"
MAIN_FEEDS = (ATOM, RSS, JSON_FEED)


def is_feed_key(key: str) -> bool:
    """One of the site's feeds: the three main ones, or a tag's (``tags/<tag>/feed.xml``)."""
    if key in MAIN_FEEDS:
        return True
    parts = key.split("/")
    return len(parts) == 3 and parts[0] == "tags" and parts[1] != "" and parts[2] == TAG_FEED_NAME


def month_sitemap_key(month: str) -> str:
    return f"sitemaps/{month}.xml"


def search_shard_key(month: str) -> str:
    return f"search/shards/{month}.json"


def tagline(site: Site) -> str:
    """The feeds' description (the site has no separate description parameter)."""
    return f"The latest posts from {site.title}"


def absolute_post_url(site: Site, slug: str) -> str:
    return post_url(slug, site.url)
