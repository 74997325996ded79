"""The site's generated files, from catalog values: one set of generators for Index (a
batch's changes) and ``pressline rebuild`` (everything). Each writes through a
``SiteWriter`` and decides nothing about *whether* a file changes: callers say which.

Pages are handed over as the call that renders them (over immutable values): when every
change of a batch rewrites the home page, it is rendered once, with the last values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from pressline.indexing import feeds, search, sitemaps, views
from pressline.indexing import layout as paths
from pressline.indexing.catalog import Entry, Recent, Summary
from pressline.models import PostMeta, RenderedPost
from pressline.posts.paths import post_page_key
from pressline.site.pages import Site, render_post_page
from pressline.site.writer import HTML, SiteWriter

ATOM_TYPE = "application/atom+xml; charset=utf-8"


def post_page(
    rendered: RenderedPost, previous: Entry | None, following: Entry | None, site: Site, writer: SiteWriter
) -> None:
    """A post's page with its links to the older (``previous``) and newer post."""
    writer.put(
        post_page_key(rendered.meta.slug), partial(render_post_page, rendered, site, _link(previous), _link(following))
    )


def _link(entry: Entry | None) -> PostMeta | None:
    return entry.link() if entry is not None else None


def month_files(month: str, entries: Sequence[Entry], shard: str | None, site: Site, writer: SiteWriter) -> None:
    """A month's archive page, sitemap and search shard; no entries removes all three."""
    page = paths.directory_key(paths.month_path(month))
    if not entries:
        for gone in (page, paths.month_sitemap_key(month), paths.search_shard_key(month)):
            writer.delete(gone)
        return
    writer.put(page, partial(views.month_page, month, tuple(entries), site))
    writer.put(paths.month_sitemap_key(month), partial(sitemaps.month_sitemap, tuple(entries), site), "application/xml")
    if shard is not None:
        writer.put(paths.search_shard_key(month), shard, "application/json")


def tag_year_page(
    tag: str, year: str, summary: Summary, entries: Sequence[Entry], site: Site, writer: SiteWriter
) -> None:
    page = paths.directory_key(paths.tag_year_path(tag, year))
    if entries:
        writer.put(page, partial(views.tag_page, tag, summary, tuple(entries), site, year=year))
    else:
        writer.delete(page)


def tag_front_page(tag: str, summary: Summary, entries: Sequence[Entry], site: Site, writer: SiteWriter) -> None:
    """A tag's front page and its Atom feed (the same newest posts); both go with the tag."""
    page, feed = paths.directory_key(paths.tag_front_path(tag)), paths.tag_feed_key(tag)
    info = summary.tags.get(tag)
    if info is not None:
        writer.put(page, partial(views.tag_page, tag, summary, tuple(entries), site))
        writer.put(
            feed, partial(feeds.tag_atom, tag, info.name, tuple(entries), site), ATOM_TYPE, paths.feed_cache(site)
        )
    else:
        writer.delete(page)
        writer.delete(feed)


def write_structure(
    summary: Summary,
    site: Site,
    writer: SiteWriter,
    *,
    months: bool = True,
    tags: bool = True,
    chrome: bool = True,
    tag_counts: bool = True,
) -> None:
    """The files that depend only on which months (``months``) or tags (``tags``) exist, the
    tags page again when a tag's count changed (``tag_counts``: it shows them), and the static
    chrome (robots.txt, 404, the search page), written with the first post."""
    if months:
        writer.put(paths.ARCHIVE_INDEX, partial(views.archive_index_page, summary, site))
        writer.put(paths.SITEMAP_INDEX, partial(sitemaps.sitemap_index, summary.months, site), "application/xml")
        writer.put(paths.SEARCH_MANIFEST, partial(search.manifest, summary.months), "application/json")
    if tags or chrome or tag_counts:
        writer.put(paths.TAGS_INDEX, partial(views.tags_page, summary, site))
    if tags or chrome:  # the first post writes them even without tags: the sitemap index names one
        writer.put(paths.PAGES_SITEMAP, partial(sitemaps.pages_sitemap, summary.tags, site), "application/xml")
    if chrome:
        write_chrome(site, writer)


def write_chrome(site: Site, writer: SiteWriter) -> None:
    from importlib.resources import files

    writer.put(paths.ROBOTS, sitemaps.robots(site), "text/plain; charset=utf-8", paths.STATIC_CACHE)
    writer.put(paths.NOT_FOUND, views.not_found_page(site), HTML, paths.STATIC_CACHE)
    writer.put(paths.SEARCH_PAGE, views.search_page(site), HTML, paths.STATIC_CACHE)
    script = files("pressline.site").joinpath("static/search.js").read_text(encoding="utf-8")
    writer.put(paths.SEARCH_SCRIPT, script, "text/javascript; charset=utf-8", paths.STATIC_CACHE)


def write_newest(recent: Recent, site: Site, writer: SiteWriter, now: datetime) -> None:
    """The home page and the three feeds, from the newest-posts state."""
    newest = [item.post.entry() for item in recent.posts]
    writer.put(paths.HOME, partial(views.home_page, newest, site))
    cache = paths.feed_cache(site)
    writer.put(paths.ATOM, partial(feeds.atom, recent.posts, site, now), ATOM_TYPE, cache)
    writer.put(paths.RSS, partial(feeds.rss, recent.posts, site, now), "application/rss+xml; charset=utf-8", cache)
    writer.put(
        paths.JSON_FEED, partial(feeds.json_feed, recent.posts, site), "application/feed+json; charset=utf-8", cache
    )
