"""Generate one change of a batch: take the site from a post's ``old`` state to its ``new``
one (None: absent) against the batch (``Batch``), which holds the catalog overlay and the
pending writes. Nothing here reaches AWS but reads the batch has not made yet (a listing
of another month for neighbour links, a rendered post for a neighbour's page): the
writes wait in the batch until the whole batch has been generated.

Cost per change is bounded by the listings the post is in (its month, its tags), never by
the size of the site: see ``pressline.indexing.catalog`` for the layout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pressline.adapters.buffered import BufferedStore, Pending
from pressline.indexing import generate, images, redirects, search
from pressline.indexing import layout as paths
from pressline.indexing.announce import DEFAULT_ANNOUNCE_WINDOW, Announcement, announcement
from pressline.indexing.catalog import (
    RECENT_BLOB,
    RECENT_SIZE,
    Blob,
    CatalogPost,
    Commit,
    Entry,
    Listing,
    Recent,
    RecentPost,
    Snapshot,
    key_marker,
    month_listing,
    month_of,
    rendered_object_key,
    search_blob,
    slug_marker,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.overlay import CatalogOverlay, OverlayMark
from pressline.indexing.plan import (
    ListingChange,
    build_chain,
    change_listings,
    finish_recent,
    front_refill_ids,
    links,
    listing_ids,
    months_for_neighbours,
    neighbours_to_rerender,
    recent_gap,
    recent_signature,
    recent_without,
    refill_front,
    uncovered_positions,
)
from pressline.indexing.renderings import load_rendering, parse_recent
from pressline.indexing.websub import FeedChanged
from pressline.models import EmailContent, ImageSet, PostPublished, PostStatus, Problem, RenderedPost, SourceRef
from pressline.posts.paths import post_page_key, post_path
from pressline.posts.report import build_report, write_report
from pressline.site.pages import Site
from pressline.site.writer import SiteFiles

logger = logging.getLogger("pressline.index")


@dataclass
class Outcome:
    """What one update did (for logs, metrics, reports and tests)."""

    key: str
    applied: bool
    reason: str = ""
    status: PostStatus | None = None
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    announced: bool = False
    announcement: str = ""  # why it was announced or not (indexing.announce), as its report says
    failed: bool = False  # it could never apply: its message goes to the dead-letter queue


@dataclass(frozen=True)
class BatchMark:
    catalog: OverlayMark
    source: dict[str, Pending]
    site_store: dict[str, Pending]
    announced: int


class Batch:
    """One batch's unit of work: the catalog as the batch has changed it so far, and every
    write waiting for the batch's end (site files, reports and state, announcements)."""

    def __init__(
        self,
        catalog: CatalogOverlay,
        source: BufferedStore,
        site_store: BufferedStore,
        site: Site,
        now: datetime,
        announce_window: timedelta = DEFAULT_ANNOUNCE_WINDOW,
    ):
        self.catalog = catalog
        self.source = source
        self.site_store = site_store
        self.site = site
        self.now = now
        self.announce_window = announce_window  # older posts are not announced (indexing.announce)
        self.announcements: list[PostPublished] = []
        # The feeds whose bytes the batch changed, to ping the WebSub hub about (indexing.websub).
        self.pings: list[FeedChanged] = []
        self.renderings: dict[tuple[str, str], RenderedPost] = {}  # (key, version): read or carried
        self._images: dict[str, tuple[Blob, ImageSet | None]] = {}  # src -> (its record's blob, parsed)

    def mark(self) -> BatchMark:
        """Where the batch stands, to go back to when the change being generated fails."""
        return BatchMark(self.catalog.mark(), self.source.mark(), self.site_store.mark(), len(self.announcements))

    def restore(self, mark: BatchMark) -> None:
        self.catalog.restore(mark.catalog)
        self.source.restore(mark.source)
        self.site_store.restore(mark.site_store)
        del self.announcements[mark.announced :]

    def rendered(self, entry: Entry | CatalogPost) -> RenderedPost | None:
        """A listed post's rendered version (for a neighbour's page or the feeds)."""
        known = self.renderings.get((entry.source_key, entry.version))
        if known is not None:
            return known
        return load_rendering(self.source, rendered_object_key(entry.source_key, entry.version))

    def image(self, src: str) -> ImageSet | None:
        """The published variants of a site image, as the batch's catalog has them now (pages are
        rendered when the batch is written, so they see the batch's last values). Asked of the
        records the batch has read; ``load_images`` reads a neighbour's."""
        blob = self.catalog.stored_blobs.get(images.image_blob(src))
        if blob is None:
            return None
        cached = self._images.get(src)
        if cached is None or cached[0] is not blob:
            cached = (blob, images.parse_record(blob).image)
            self._images[src] = cached
        return cached[1]

    def load_images(self, rendered: RenderedPost | None) -> None:
        """Read the image records a rendering shows that the batch has not read (one BatchGetItem,
        none when it shows no image or they are known: a neighbour's page, made from its rendering)."""
        names = [images.image_blob(src) for src in images.sources_of(rendered)]
        if names:
            self.catalog.load(blobs=names)

    def report(self, source: SourceRef, status: PostStatus, **details: object) -> None:
        write_report(self.source, build_report(source, status, processed_at=self.now, **details))  # type: ignore[arg-type]


class ChangeFiles(SiteFiles):
    """The batch's site files, recording what this change wrote in its outcome."""

    def __init__(self, batch: Batch, outcome: Outcome) -> None:
        super().__init__(batch.site_store)
        self.written = outcome.written
        self.deleted = outcome.deleted


class Transition:
    """One change: ``old`` to ``new`` for ``source``'s key, read in ``snapshot``."""

    def __init__(
        self,
        batch: Batch,
        source: SourceRef,
        old: CatalogPost | None,
        new: CatalogPost | None,
        rendered: RenderedPost | None,
        snapshot: Snapshot,
    ) -> None:
        self.batch, self.source, self.old, self.new, self.rendered = batch, source, old, new, rendered
        self.snapshot = snapshot
        self.key = source.key
        self.site = batch.site
        self.tz = batch.site.timezone
        self.outcome = Outcome(self.key, applied=True, status=new.status if new else "unpublished")
        self.files = ChangeFiles(batch, self.outcome)
        self.blobs: dict[str, Blob | None] = {}
        self.alias_warnings: list[Problem] = []  # aliases refused (indexing.redirects), for the report
        self.announcement: Announcement | None = None  # the announce rule's verdict, for the report

    # ----------------------------------------------------------------- the change
    def apply(self, *, report: bool = True) -> Outcome:
        """Generate the change's files and commit it to the batch's catalog."""
        change, known = self._plan_listings()
        recent, recent_stored = self._load_recent()
        self._write_post_pages(change, known, recent)
        aliases = self._write_redirects()
        self._write_listings(change, chrome=not recent_stored)
        self._write_recent(change, known, recent, recent_stored)
        markers = self._announce()
        self._record_images()
        if report:
            self._report()
        old, new = self.old, self.new
        self.batch.catalog.commit(
            Commit(
                source_key=self.key,
                expected_version=old.version if old else None,
                post=new,
                claim_slugs=((new.slug,) if new is not None and (old is None or old.slug != new.slug) else ())
                + aliases.claims,
                release_slugs=((old.slug,) if old is not None and (new is None or new.slug != old.slug) else ())
                + aliases.releases,
                first_published=markers,
                listings={i: (item if item.entries else None) for i, item in change.listings.items()},
                summary=change.summary if change.listings else None,
                blobs=self.blobs,
            )
        )
        return self.outcome

    def _record_images(self) -> None:
        """Each image the post shows, or stopped showing, knows it in its record
        (``indexing.images``): an image published later finds the pages to write again."""
        old = self.old.images if self.old is not None else ()
        new = self.new.images if self.new is not None else ()
        names = {src: images.image_blob(src) for src in dict.fromkeys(old + new)}
        if not names:
            return
        stored = self.batch.catalog.blobs(names.values())
        for src, name in names.items():
            record = images.parse_record(stored.get(name))
            updated = images.with_post(record, self.key, src in new)
            if updated != record or name not in stored:
                self.blobs[name] = images.record_blob(updated)

    def _write_redirects(self) -> redirects.AliasChange:
        """The post's old URLs (``pressline.indexing.redirects``); from here on ``new`` keeps
        only the aliases it owns, as the catalog will."""
        requested = self.rendered.meta.aliases if self.new is not None and self.rendered is not None else ()
        aliases = redirects.apply_aliases(
            self.batch.catalog, self.key, self.old, self.new, requested, self.files, self.site
        )
        self.new, self.alias_warnings = aliases.post, aliases.warnings
        return aliases

    def restore_owner_page(self) -> None:
        """Rewrite this (unchanged) post's page: another upload claimed its slug, and the
        site must show the owner's page whatever was written meanwhile."""
        self._write_post_pages(ListingChange(summary=self.snapshot.summary), self._own_month(), self._load_recent()[0])

    def _own_month(self) -> dict[str, Listing]:
        post = self.new
        return self.batch.catalog.listings([month_listing(month_of(post.date, self.tz))]) if post else {}

    # ----------------------------------------------------------------- listings
    def _plan_listings(self) -> tuple[ListingChange, dict[str, Listing]]:
        """The listings' new values, and every listing read so far (for neighbour links)."""
        catalog = self.batch.catalog
        listings = dict(self.snapshot.listings)
        missing = [i for i in listing_ids(self.old, self.tz) if i not in listings]
        if missing:  # an edit that moved the post to another month or other tags
            listings.update(catalog.listings(missing))
        change = change_listings(self.old, self.new, listings, self.snapshot.summary, self.tz)
        if change.short_fronts:
            wanted = [i for tag in change.short_fronts for i in front_refill_ids(tag, change.summary)]
            years = {
                **catalog.listings([i for i in wanted if i not in listings and i not in change.listings]),
                **listings,
            }
            years.update(change.listings)
            for tag in change.short_fronts:
                change.listings[tag_front_listing(tag)] = refill_front(tag, change.summary, years)
        return change, {**listings, **change.listings}

    def _write_listings(self, change: ListingChange, *, chrome: bool) -> None:
        """Month archives with their sitemaps and search shards, tag pages, and the pages that
        list months or tags when a month or a tag appeared or disappeared."""
        summary = self.snapshot.summary
        shards = dict(self.snapshot.blobs)
        # The month an edit or a delete took the post from was not in the snapshot (unknown then).
        unread = [search_blob(m) for m in change.months if search_blob(m) not in shards and m in summary.months]
        if unread:
            shards.update(self.batch.catalog.blobs(unread))
        for month in sorted(change.months):
            entries = change.listings[month_listing(month)].entries
            shard = (
                self._shard(month, shards.get(search_blob(month)), existed=month in summary.months) if entries else None
            )
            generate.month_files(month, entries, shard, self.site, self.files)
            self.blobs[search_blob(month)] = Blob.of(shard.encode("utf-8")) if shard is not None else None
        for tag, year in sorted(change.tag_years):
            entries = change.listings[tag_year_listing(tag, year)].entries
            generate.tag_year_page(tag, year, change.summary, entries, self.site, self.files)
        for tag in sorted(change.tags):
            entries = change.listings[tag_front_listing(tag)].entries
            generate.tag_front_page(tag, change.summary, entries, self.site, self.files)
        generate.write_structure(
            change.summary,
            self.site,
            self.files,
            months=change.months_changed,
            tags=change.tags_changed,
            chrome=chrome,
            tag_counts=change.tag_counts_changed,
        )

    def _shard(self, month: str, blob: Blob | None, *, existed: bool) -> str:
        """The month's search shard with this change in it."""
        old, new, rendered = self.old, self.new, self.rendered
        docs = search.load_shard(self._shard_data(month, blob, existed))
        remove = (
            [post_path(old.slug)] if old is not None and old.public and month_of(old.date, self.tz) == month else []
        )
        add = None
        if new is not None and new.public and rendered is not None and month_of(new.date, self.tz) == month:
            add = search.document(new, rendered.body_html, self.site)
        return search.dump_shard(month, search.update_shard(docs, remove, add))

    def _shard_data(self, month: str, blob: Blob | None, existed: bool) -> bytes | None:
        """A month's search shard as last written: from the catalog, else (too large for it, or
        written before shards were kept there) the public file; a new month has none."""
        if blob is not None and not blob.external:
            return blob.data()
        if blob is None and not existed:
            return None
        stored = self.batch.site_store.get(paths.search_shard_key(month))
        return stored.body if stored is not None else None

    # ----------------------------------------------------------------- post pages
    def _write_post_pages(self, change: ListingChange, known: dict[str, Listing], recent: Recent) -> None:
        """The post's own page, and its old and new neighbours' pages where their links change."""
        old, new, key = self.old, self.new, self.key
        positions = [
            (month_of(post.date, self.tz), post.order) for post in (old, new) if post is not None and post.public
        ]
        month_entries = [entry for i, item in known.items() if i.startswith("MONTH#") for entry in item.entries]
        newest = [item.post.entry() for item in recent.posts]
        positions = uncovered_positions(positions, known, newest, key, complete=len(newest) < RECENT_SIZE)
        extra = months_for_neighbours(positions, {**self.snapshot.summary.months, **change.summary.months}, known)
        if extra:
            for listing in self.batch.catalog.listings([month_listing(month) for month in extra]).values():
                month_entries.extend(listing.entries)
        fragment = month_entries + newest
        if new is not None and new.public and self.rendered is not None:
            previous, following = links(build_chain(fragment, key, new), key)
            generate.post_page(self.rendered, previous, following, self.site, self.files)
        if old is not None and old.public and (new is None or not new.public or new.slug != old.slug):
            self.files.delete(post_page_key(old.slug))
            # An alias that waited under the page answers again (a real page wins over an alias).
            redirects.restore_under(self.batch.catalog, post_page_key(old.slug), self.key, self.files, self.site)
        contents = {item.post.source_key: item.rendered for item in recent.posts}
        for neighbour in neighbours_to_rerender(fragment, old, new):
            entry = neighbour.entry
            content = contents.get(entry.source_key) or self.batch.rendered(entry)
            if content is None:
                logger.warning("No rendered post for neighbour %s; its links stay as they were", entry.slug)
                continue
            self.batch.load_images(content)  # its page shows its images' variants too
            generate.post_page(content, neighbour.previous, neighbour.next, self.site, self.files)

    # ----------------------------------------------------------------- newest posts
    def _load_recent(self) -> tuple[Recent, bool]:
        """The newest-posts state, and whether it was stored (if not, the home page and feeds
        are written whatever the change, so the first post creates them)."""
        blob = self.snapshot.blobs.get(RECENT_BLOB)
        if blob is not None and not blob.external:
            return Recent.model_validate_json(blob.data()), True
        total = self.snapshot.summary.total
        if blob is None and total == 0:
            return Recent(), False
        stored = self.batch.source.get(paths.RECENT_STATE)  # too large for the catalog, or from before it kept it
        recent = parse_recent(stored.body, paths.RECENT_STATE) if stored is not None else None  # made safe again
        if recent is not None:
            return recent, True
        if total == 0:
            return Recent(), False
        # Lost, or a catalog from before this state existed: read it from the catalog once.
        logger.warning("Newest-posts state missing; reading it from the catalog")
        return Recent(posts=tuple(self._with_content(self.batch.catalog.published(limit=RECENT_SIZE)))), False

    def _write_recent(self, change: ListingChange, known: dict[str, Listing], recent: Recent, stored: bool) -> None:
        """The newest-posts state, and the home page and feeds made from it, when it changes.
        The state is committed with the catalog (or, too large for it, put in S3 first)."""
        new, rendered = self.new, self.rendered
        others = recent_without(recent, self.key)
        published_others = change.summary.total - (1 if new is not None and new.public else 0)
        fill = self._fill_recent(others, recent_gap(others, published_others), change, known)
        added = RecentPost(post=new, rendered=rendered) if new is not None and new.public and rendered else None
        updated = finish_recent(others, fill, added)
        if recent_signature(updated) != recent_signature(recent) or not stored:
            generate.write_newest(updated, self.site, self.files, self.batch.now)
            state = updated.model_dump_json().encode()
            self.blobs[RECENT_BLOB] = blob = Blob.of(state)
            if blob.external:
                self.batch.source.put(paths.RECENT_STATE, state, "application/json")

    def _fill_recent(
        self, others: Recent, gap: int, change: ListingChange, known: dict[str, Listing]
    ) -> list[RecentPost]:
        """The next older posts after the newest-posts state, from the month listings (the
        base table, strongly consistent: a post removed a moment ago cannot come back, as it
        could from the eventually consistent gsi1). The summary's counts say which months to
        read, so one BatchGetItem serves, plus one GetObject per post brought in."""
        if gap <= 0:
            return []
        last = others.posts[-1].post if others.posts else None
        start = month_of(last.date, self.tz) if last else "9999-99"
        months, enough = [], 0
        for month in sorted(change.summary.months, reverse=True):
            if month <= start and enough < gap + RECENT_SIZE:
                months.append(month)
                enough += change.summary.months[month]
        ids = [month_listing(month) for month in months]
        listings = {i: known[i] for i in ids if i in known}
        listings.update(self.batch.catalog.listings([i for i in ids if i not in known]))
        have = {item.post.source_key for item in others.posts} | {self.key}
        entries = sorted(
            (
                entry
                for listing in listings.values()
                for entry in listing.entries
                if entry.source_key not in have and (last is None or entry.order < last.order)
            ),
            key=lambda entry: entry.order,
            reverse=True,
        )
        items = []
        for entry in entries[:gap]:
            content = self.batch.rendered(entry)
            if content is None:
                logger.warning("No rendered post for %s; left out of the feeds", entry.source_key)
                continue
            items.append(RecentPost(post=_catalog_post(entry, content), rendered=content))
        return items

    def _with_content(self, posts: Iterable[CatalogPost]) -> list[RecentPost]:
        items = []
        for post in posts:
            content = self.batch.rendered(post)
            if content is None:
                logger.warning("No rendered post for %s; left out of the feeds", post.source_key)
                continue
            items.append(RecentPost(post=post, rendered=content))
        return items

    # ----------------------------------------------------------------- announcement, report
    def _announce(self) -> dict[str, datetime]:
        """Queue PostPublished when the announce rule says so (``indexing.announce``: a post's
        first publication, neither its source key nor its slug ever public, that is news);
        returns the first-publication markers to commit, announced or not, so that a post
        left unannounced is never announced later by an edit.

        Sent before the commit: if the commit fails, the retry announces again, and Notify and
        Deliver's ledger keep subscribers to one email (at least once, never lost)."""
        new, now = self.new, self.batch.now
        if new is None:
            return {}
        wanted = [key_marker(new.source_key), slug_marker(new.slug)]
        first = self.snapshot.first_published
        verdict = announcement(
            new.status,
            new.date,
            self.rendered.meta.notify if self.rendered is not None else None,
            first_publication=not any(marker in first for marker in wanted),
            now=now,
            window=self.batch.announce_window,
            zone=self.site.zone,
        )
        self.announcement, self.outcome.announcement = verdict, verdict.reason
        if not new.public:
            return {}
        if verdict.announce:
            email = self.rendered.meta.email if self.rendered is not None else None
            self.batch.announcements.append(_announcement(new, self.site, now, email))
            self.outcome.announced = True
        return {marker: now for marker in wanted if marker not in first}

    def _report(self) -> None:
        new, rendered = self.new, self.rendered
        self.batch.report(
            self.source if new is not None else SourceRef(bucket=self.source.bucket, key=self.key),
            new.status if new is not None else "unpublished",
            slug=new.slug if new else None,
            base_url=self.site.url,
            warnings=[*(rendered.warnings if rendered else ()), *self.alias_warnings, *self._image_warnings()],
            announced=self.announcement.announce if self.announcement else None,
            announcement=self.announcement.reason if self.announcement else None,
        )

    def _image_warnings(self) -> list[Problem]:
        shown = self.new.images if self.new is not None else ()
        return images.missing_warnings(shown, {src: self.batch.image(src) for src in shown})


def _catalog_post(entry: Entry, content: RenderedPost) -> CatalogPost:
    """A published post's catalog record, from its listing entry and its rendered version."""
    return CatalogPost(
        source_key=entry.source_key,
        version=entry.version,
        version_id=content.source.version_id,
        etag=content.source.etag,
        sequencer=content.source.sequencer,
        status="published",
        slug=entry.slug,
        title=entry.title,
        date=entry.date,
        updated=entry.updated,
        tags=entry.tags,
        summary=entry.summary,
        applied_at=content.rendered_at,
        images=images.sources_of(content),
        cover=entry.cover,
    )


def _announcement(post: CatalogPost, site: Site, now: datetime, email: EmailContent | None) -> PostPublished:
    return PostPublished(
        slug=post.slug,
        title=post.title,
        summary=post.summary,
        url=paths.absolute_post_url(site, post.slug),
        tags=post.tags,
        published_at=now,
        source_key=post.source_key,
        email=email,
        version=post.version,  # its rendering is the body of a full email (Deliver)
    )


def slug_problem(slug: str, owner: str) -> Problem:
    return Problem(field="slug", message=f"the slug {slug!r} is already used by {owner}")
