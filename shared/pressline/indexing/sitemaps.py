"""Sitemaps (sitemaps.org 0.9) sharded by month, a sitemap index, and robots.txt.

``sitemap.xml`` is always a sitemap index: one child per archive month plus one for the
listing pages. A new post rewrites only its month's child; the index changes only when a
month appears or disappears. A month stays far below the protocol's 50,000 URLs per file,
and the index below its 50,000 children (over 4,000 years of months).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pressline.indexing.catalog import Entry
from pressline.indexing.feeds import rfc3339, xml_escape
from pressline.indexing.layout import (
    PAGES_SITEMAP,
    SITEMAP_INDEX,
    absolute_post_url,
    month_sitemap_key,
    tag_front_path,
)
from pressline.site.pages import Site

NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000


def _urlset(urls: Iterable[tuple[str, str | None]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{NAMESPACE}">']
    for count, (loc, lastmod) in enumerate(urls, start=1):
        if count > MAX_URLS:
            raise ValueError(f"a sitemap holds at most {MAX_URLS} URLs")
        modified = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        lines.append(f"  <url><loc>{xml_escape(loc)}</loc>{modified}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def month_sitemap(entries: Sequence[Entry], site: Site) -> str:
    """Every published post of one month, with its last modification."""
    return _urlset((absolute_post_url(site, entry.slug), rfc3339(entry.modified)) for entry in entries)


def pages_sitemap(tags: Iterable[str], site: Site) -> str:
    """The pages that do not change with every post: home, archives, search, the tag front
    pages (archive months and tag years are linked from those), and the static pages
    (``pages/<name>.md``, with their last change), whether in the navigation or not."""
    paths = ["/", "/archive/", "/tags/", "/search/"]
    paths += [tag_front_path(tag) for tag in sorted(tags)]
    urls: list[tuple[str, str | None]] = [(site.absolute(path), None) for path in paths]
    urls += [(site.absolute(page.path), rfc3339(page.modified)) for page in site.static_pages]
    return _urlset(urls)


def sitemap_index(months: Iterable[str], site: Site) -> str:
    children = [PAGES_SITEMAP] + [month_sitemap_key(month) for month in sorted(months, reverse=True)]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<sitemapindex xmlns="{NAMESPACE}">']
    lines += [f"  <sitemap><loc>{xml_escape(site.absolute('/' + child))}</loc></sitemap>" for child in children]
    lines.append("</sitemapindex>")
    return "\n".join(lines) + "\n"


def robots(site: Site) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {site.absolute('/' + SITEMAP_INDEX)}\n"
