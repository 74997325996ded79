"""Static pages in Index: ``pages/<name>.md`` at ``/<name>/``, in the navigation of every page
and in the sitemap, and in nothing else (no listing, feed, search shard or announcement).

State: one catalog blob, ``PAGES`` (``SitePages``: every page's applied version, title and
navigation), read with the batch's one BatchGetItem and written with its commit. Pages are
few (an About, a Contact, a Colophon), so the whole set is one small value; a page claims
no slug and has no post item, so nothing that lists posts (gsi1, listings, the newest-posts
state) can ever see one.

Decisions: the same freshness rules as posts (``indexing.decide``: S3's current version is
the authority; duplicates, stale and reordered messages skip), with two differences: a
page is never scheduled (a date to come publishes it now), and its name comes from its
source key, never from the rendering.

Navigation: every page of the site shows it, so when it changes (a page in the navigation
added, removed, retitled or reordered) the batch ends by writing every HTML page again
(``refresh_navigation``), each once, from the batch's last state: one GetObject per
published post (its rendering, unless the batch holds it), one read of every month and tag
listing (a BatchGetItem per 100), and one PutObject per post, month, tag page, tag year,
page and listing page. That is ``pressline rebuild``'s cost, paid only for a navigation
change; an edit of a page's body writes that page and, if its date moved, the sitemap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Literal

from pydantic import Field

from pressline.adapters.buffered import run_parallel
from pressline.indexing import generate, redirects, sitemaps, views
from pressline.indexing import layout as paths
from pressline.indexing.catalog import (
    RECENT_BLOB,
    Blob,
    Catalog,
    CatalogKeys,
    CatalogPost,
    Commit,
    Entry,
    Recent,
    month_listing,
    rendered_object_key,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.decide import Apply, Decision, Facts, Fail, decide
from pressline.indexing.plan import Skip, is_duplicate
from pressline.indexing.renderings import load_rendering, parse_recent
from pressline.indexing.transition import Batch, ChangeFiles, Outcome
from pressline.models import Contract, IndexUpdate, PostMeta, RenderedPost
from pressline.posts.pagerules import name_problems
from pressline.posts.paths import page_key, page_name, page_path
from pressline.site.pages import PageLink, Site
from pressline.site.staticpage import render_static_page
from pressline.site.writer import SiteWriter

PAGES_BLOB = "PAGES"
NOT_ANNOUNCED = "a page is never announced: only posts are"
PageStatus = Literal["published", "draft"]


class CatalogPage(Contract):
    """One page's applied version, as the navigation and the sitemap need it."""

    source_key: str
    version: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    status: PageStatus
    name: str
    title: str
    date: datetime
    updated: datetime | None = None
    nav_order: int | None = None
    nav: bool = True
    applied_at: datetime
    aliases: tuple[str, ...] = ()  # the old URLs it owns, each a 301 to it (indexing.redirects)

    @property
    def public(self) -> bool:
        return self.status == "published"

    @property
    def path(self) -> str:
        return page_path(self.name)

    def as_post(self) -> CatalogPost:
        """The shape ``indexing.decide`` reasons about (versions, status, dates)."""
        return CatalogPost(
            source_key=self.source_key,
            version=self.version,
            version_id=self.version_id,
            etag=self.etag,
            sequencer=self.sequencer,
            status=self.status,
            slug=self.name,
            title=self.title,
            date=self.date,
            updated=self.updated,
            applied_at=self.applied_at,
        )


class SitePages(Contract):
    """Every page in the catalog (published or draft), by source key."""

    pages: dict[str, CatalogPage] = Field(default_factory=dict)

    def replace(self, source_key: str, page: CatalogPage | None) -> SitePages:
        pages = {key: value for key, value in self.pages.items() if key != source_key}
        if page is not None:
            pages[source_key] = page
        return SitePages(pages=dict(sorted(pages.items())))

    @property
    def public(self) -> list[CatalogPage]:
        return sorted((page for page in self.pages.values() if page.public), key=lambda page: page.name)


# --------------------------------------------------------------------------- pure
def page_record(post: CatalogPost, meta: PostMeta) -> CatalogPage:
    """A page's catalog record from the target ``decide`` made and its rendering's meta."""
    return CatalogPage(
        source_key=post.source_key,
        version=post.version,
        version_id=post.version_id,
        etag=post.etag,
        sequencer=post.sequencer,
        status="draft" if post.status == "draft" else "published",
        name=page_name(post.source_key),
        title=post.title,
        date=post.date,
        updated=post.updated,
        nav_order=meta.nav_order,
        nav=meta.nav,
        applied_at=post.applied_at,
    )


def _link(page: CatalogPage) -> PageLink:
    return PageLink(path=page.path, title=page.title, modified=page.updated or page.date)


def navigation(pages: SitePages) -> tuple[PageLink, ...]:
    """The navigation: published pages with ``nav`` on, by ``nav_order`` (lowest first), then
    the ones without an order by title; the name settles ties, so the order is total."""
    shown = [page for page in pages.public if page.nav]
    shown.sort(key=lambda page: (page.nav_order is None, page.nav_order or 0, page.title.casefold(), page.name))
    return tuple(PageLink(path=page.path, title=page.title, modified=page.date) for page in shown)


def site_with_pages(site: Site, pages: SitePages) -> Site:
    """``site`` as every page of it is rendered: with its navigation and its pages (sitemap)."""
    return dataclasses.replace(site, nav=navigation(pages), static_pages=tuple(_link(page) for page in pages.public))


def nav_of(site: Site) -> tuple[tuple[str, str], ...]:
    """What the navigation shows (path and title, in order): what every page depends on."""
    return tuple((link.path, link.title) for link in site.nav)


def decide_page(update: IndexUpdate, facts: Facts, current: CatalogPage | None, now: datetime) -> Decision:
    """``indexing.decide`` for a page: the same freshness rules, no slug to own, never scheduled."""
    naming = name_problems(update.source.key)
    if naming:  # Validate refuses these: only a message made by hand gets here
        return Fail(f"{update.source.key[:120]!r} is not a page's key: {naming[0].message}")
    before = current.as_post() if current is not None else None
    decision = decide(update, facts, before, {}, now)
    if not isinstance(decision, Apply) or decision.new is None:
        return decision
    new = decision.new
    if new.status == "scheduled":  # a page is live once uploaded, whatever its date
        new = new.model_copy(update={"status": "published"})
    if is_duplicate(before, new):
        return Skip(f"duplicate: version {new.version} already applied")
    return dataclasses.replace(decision, new=new)


# --------------------------------------------------------------------------- in a batch
def read_pages(catalog: Catalog) -> SitePages:
    """The pages as the batch (or a rebuild) sees them: the PAGES blob."""
    found = catalog.read(CatalogKeys(blobs=(PAGES_BLOB,))).blobs.get(PAGES_BLOB)
    return load_pages(found)


def load_pages(blob: Blob | None) -> SitePages:
    if blob is None:
        return SitePages()
    return SitePages.model_validate_json(blob.data())


def pages_blob(pages: SitePages) -> Blob | None:
    if not pages.pages:
        return None
    blob = Blob.of(pages.model_dump_json().encode())
    if blob.external:  # thousands of pages: more than a navigation can show
        raise ValueError("the site's pages no longer fit the catalog's pages record; remove some pages")
    return blob


def batch_pages(batch: Batch) -> SitePages:
    return load_pages(batch.catalog.blobs([PAGES_BLOB]).get(PAGES_BLOB))


def apply_page(decision: Apply, batch: Batch) -> Outcome:
    """Take one page from ``decision.old`` to ``decision.new``: its file, the sitemap of
    pages when the set of pages changed, its report, and the PAGES blob."""
    key = decision.source.key
    pages = batch_pages(batch)
    old = pages.pages.get(key)
    new = page_record(decision.new, decision.rendered.meta) if decision.new and decision.rendered else None
    updated = pages.replace(key, new)
    blob = pages_blob(updated)
    site = site_with_pages(batch.site, updated)
    outcome = Outcome(key, applied=True, status=new.status if new else "unpublished")
    files = ChangeFiles(batch, outcome)
    name = page_name(key)
    if new is not None and new.public and decision.rendered is not None:
        files.put(page_key(name), partial(render_static_page, decision.rendered, name, site))
    elif old is not None and old.public:
        files.delete(page_key(name))
        redirects.restore_under(batch.catalog, page_key(name), key, files, site)  # an alias waiting under it
    aliases = redirects.change_aliases(  # its old URLs, as a post's (indexing.redirects)
        batch.catalog,
        key,
        held=old.aliases if old is not None else (),
        before=redirects.live(old.path if old is not None and old.public else None, old.aliases if old else ()),
        own_key=page_key(name) if new is not None else None,
        location=new.path if new is not None and new.public else None,
        requested=decision.rendered.meta.aliases if new is not None and decision.rendered else (),
        files=files,
        site=site,
    )
    if new is not None and new.aliases != aliases.kept:
        new = new.model_copy(update={"aliases": aliases.kept})
        blob = pages_blob(pages.replace(key, new))
    if site.static_pages != batch.site.static_pages:
        summary = batch.catalog.summary
        files.put(paths.PAGES_SITEMAP, partial(sitemaps.pages_sitemap, summary.tags, site), "application/xml")
    if decision.report:
        status = new.status if new is not None else "unpublished"
        source = decision.source if new is not None else decision.source.model_copy(update={"version_id": None})
        url = site.absolute(page_path(name)) if new is not None and new.public else None
        warnings = [*(decision.rendered.warnings if decision.rendered else ()), *aliases.warnings]
        batch.report(source, status, url=url, warnings=warnings, announced=False, announcement=NOT_ANNOUNCED)
    batch.catalog.commit(
        Commit(
            source_key=key,
            expected_version=None,
            post=None,
            claim_slugs=aliases.claims,
            release_slugs=aliases.releases,
            blobs={PAGES_BLOB: blob},
        )
    )
    batch.site = site  # last: a change that failed above leaves the batch's site as it was
    return outcome


def refresh_navigation(batch: Batch, before: tuple[tuple[str, str], ...]) -> list[str]:
    """When the batch changed the navigation, every HTML page again, once each, from the
    batch's last state (see the module's doc for the cost). Returns the keys written."""
    if nav_of(batch.site) == before:
        return []
    files = ChangeFiles(batch, Outcome("navigation", applied=True))
    write_every_page(batch, files)
    return files.written


def write_every_page(batch: Batch, writer: SiteWriter) -> None:
    """Every HTML page of the site, as the catalog overlay holds it now."""
    catalog, site = batch.catalog, batch.site
    summary = catalog.summary
    listings = catalog.listings(
        [month_listing(month) for month in summary.months]
        + [tag_front_listing(tag) for tag in summary.tags]
        + [tag_year_listing(tag, year) for tag, info in summary.tags.items() for year in info.years]
    )
    entries = sorted(
        (entry for month in summary.months for entry in listings.get(month_listing(month), _EMPTY).entries),
        key=lambda entry: entry.order,
        reverse=True,
    )
    contents = _renderings(batch, [(entry.source_key, entry.version) for entry in entries])
    for index, entry in enumerate(entries):
        rendered = contents.get((entry.source_key, entry.version))
        if rendered is None:
            continue  # its page stays as it was (logged where it was looked for)
        newer = entries[index - 1] if index > 0 else None
        older = entries[index + 1] if index + 1 < len(entries) else None
        generate.post_page(rendered, older, newer, site, writer)
    for month in summary.months:
        month_entries = tuple(listings.get(month_listing(month), _EMPTY).entries)
        writer.put(paths.directory_key(paths.month_path(month)), partial(views.month_page, month, month_entries, site))
    for tag, info in summary.tags.items():
        generate.tag_front_page(tag, summary, listings.get(tag_front_listing(tag), _EMPTY).entries, site, writer)
        for year in info.years:
            year_entries = listings.get(tag_year_listing(tag, year), _EMPTY).entries
            generate.tag_year_page(tag, year, summary, year_entries, site, writer)
    if RECENT_BLOB in catalog.blobs([RECENT_BLOB]):  # the first post wrote these (generate.write_structure)
        writer.put(paths.ARCHIVE_INDEX, partial(views.archive_index_page, summary, site))
        writer.put(paths.TAGS_INDEX, partial(views.tags_page, summary, site))
        generate.write_chrome(site, writer)
        newest = [item.post.entry() for item in _recent(batch).posts]
        writer.put(paths.HOME, partial(views.home_page, newest, site))
    write_pages(batch_pages(batch), _renderings_of_pages(batch), site, writer)


def write_pages(
    pages: SitePages, contents: dict[tuple[str, str], RenderedPost], site: Site, writer: SiteWriter
) -> None:
    """Every published page's file (a rebuild, or a navigation change)."""
    for page in pages.public:
        rendered = contents.get((page.source_key, page.version))
        if rendered is not None:
            writer.put(page_key(page.name), partial(render_static_page, rendered, page.name, site))


def _renderings_of_pages(batch: Batch) -> dict[tuple[str, str], RenderedPost]:
    return _renderings(batch, [(page.source_key, page.version) for page in batch_pages(batch).public])


def _renderings(batch: Batch, versions: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RenderedPost]:
    """The renderings of these versions: the batch's own, the others read in parallel."""
    wanted = list(versions)
    found = {at: batch.renderings[at] for at in wanted if at in batch.renderings}
    missing = [at for at in wanted if at not in found]

    def read(at: tuple[str, str]) -> None:
        rendered = load_rendering(batch.source, rendered_object_key(*at))
        if rendered is not None:
            found[at] = rendered

    run_parallel(partial(read, at) for at in missing)
    return found


def _recent(batch: Batch) -> Recent:
    blob = batch.catalog.blobs([RECENT_BLOB]).get(RECENT_BLOB)
    if blob is not None and not blob.external:
        return Recent.model_validate_json(blob.data())
    stored = batch.source.get(paths.RECENT_STATE)
    recent = parse_recent(stored.body, paths.RECENT_STATE) if stored is not None else None
    return recent or Recent()


class _Empty:
    entries: tuple[Entry, ...] = ()


_EMPTY = _Empty()
