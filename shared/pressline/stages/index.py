"""Index stage: apply one IndexUpdate to the catalog and to every generated file.

The FIFO queue hands updates over one at a time (one message group), and S3 is asked
what is current before anything is applied, so a duplicate or stale message changes
nothing. Everything public is written *before* the catalog commit, which is last and
guarded by the version it read: a crash anywhere is retried from the start and writes
the same files again (every write is a pure function of catalog state and the update);
once the commit is done, a retry is recognised as a duplicate.

Cost per change is bounded by the listings the post is in (its month, its tags), never
by the size of the site: see ``pressline.indexing.catalog`` for the layout.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Protocol

from pressline.adapters.queue import Queue
from pressline.adapters.store import ObjectStore
from pressline.config import Settings
from pressline.errors import PoisonMessageError, RetryableError
from pressline.indexing import feeds, search, sitemaps, views
from pressline.indexing import layout as paths
from pressline.indexing.catalog import (
    RECENT_BLOB,
    RECENT_SIZE,
    Blob,
    Catalog,
    CatalogConflictError,
    CatalogPost,
    Commit,
    Entry,
    Listing,
    Recent,
    RecentPost,
    Snapshot,
    Summary,
    key_marker,
    month_listing,
    month_of,
    rendered_object_key,
    search_blob,
    slug_marker,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.plan import (
    PENDING_GRACE,
    Fetch,
    HeadState,
    ListingChange,
    Remove,
    Skip,
    build_chain,
    change_listings,
    check_due,
    check_past_rejected,
    check_source,
    finish_recent,
    front_refill_ids,
    is_duplicate,
    links,
    listing_ids,
    months_for_neighbours,
    neighbours_to_rerender,
    recent_gap,
    recent_signature,
    recent_without,
    refill_front,
    target_post,
    uncovered_positions,
)
from pressline.models import (
    IndexUpdate,
    PostMeta,
    PostPublished,
    PostStatus,
    Problem,
    RenderedPost,
    Report,
    SourceRef,
)
from pressline.posts.paths import post_page_key, post_path, rendered_key, report_key, version_token
from pressline.posts.report import build_report, write_report
from pressline.site.pages import Site, render_post_page

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

logger = logging.getLogger("pressline.index")

HTML = "text/html; charset=utf-8"


@dataclass
class IndexDeps:
    source: ObjectStore  # the source bucket: posts, rendered posts, reports, index state
    site_store: ObjectStore  # the site bucket
    catalog: Catalog
    notify: Queue
    site: Site
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass
class Outcome:
    """What one update did (for logs, metrics and tests)."""

    key: str
    applied: bool
    reason: str = ""
    status: PostStatus | None = None
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    announced: bool = False


# --------------------------------------------------------------------------- entry point
def apply_update(update: IndexUpdate, deps: IndexDeps) -> Outcome:
    source = update.source
    now = deps.clock()
    head = deps.source.head(source.key)
    if head is None:
        snapshot = deps.catalog.snapshot(source.key, (), (), (), blobs=[RECENT_BLOB])
        decision = check_source(update, None, exists=False, current=snapshot.post)
        if isinstance(decision, Skip) or snapshot.post is None:
            return Outcome(source.key, applied=False, reason=getattr(decision, "reason", ""))
        return _apply(snapshot.post, None, None, snapshot, deps, now, source)
    head_ref = SourceRef(
        bucket=source.bucket,
        key=source.key,
        version_id=head.version_id,
        etag=head.etag,
        last_modified=head.last_modified,
    )
    head_version = version_token(head_ref)
    keep_report = False
    if update.action == "due" and version_token(source) != head_version:
        due = _resolve_due(update, head_ref, deps, now)
        if isinstance(due, Skip):
            return Outcome(source.key, applied=False, reason=due.reason)
        # From here on the resolved version is treated as the current one.
        update = IndexUpdate(action=update.action, source=due.source, slug=update.slug)
        source, head_version, keep_report = due.source, version_token(due.source), due.keep_report
    elif update.action == "upsert" and version_token(source) != head_version and _rejected(deps.source, head_ref):
        past = _check_past_rejected(update, deps)
        if isinstance(past, Skip):
            return Outcome(source.key, applied=False, reason=past.reason)
        head_version, keep_report = version_token(source), True
    early = check_source(update, head_version, exists=True, current=None)
    if isinstance(early, Skip):
        return Outcome(source.key, applied=False, reason=early.reason)
    rendered = _carried(update, source) or _rendered_version(deps.source, source)
    if rendered is None and update.action == "due":
        return _unschedule(update, deps, now)
    if rendered is None:
        # Render stores it before it sends the update, and S3 reads are consistent: it will
        # not appear later. Retrying would hold the whole site's FIFO group for nothing.
        raise PoisonMessageError(f"{source.key}: rendered version {head_version} is missing; upload the post again")
    target = target_post(rendered, source, now)
    snapshot = deps.catalog.snapshot(
        source.key,
        slugs=[target.slug],
        markers=[key_marker(source.key), slug_marker(target.slug)],
        listings=listing_ids(target, deps.site.timezone),
        blobs=[RECENT_BLOB, *(search_blob(month) for month in _months(target, deps))],
    )
    decision = check_source(update, head_version, exists=True, current=snapshot.post)
    if isinstance(decision, Skip | Remove):
        return Outcome(source.key, applied=False, reason=getattr(decision, "reason", ""))
    assert isinstance(decision, Fetch)
    if is_duplicate(snapshot.post, target):
        return Outcome(source.key, applied=False, reason=f"duplicate: version {target.version} already applied")
    owner = snapshot.slug_owners.get(target.slug)
    if owner is not None and owner != source.key:
        return _reject_slug(source, target, owner, rendered, deps, now)
    return _apply(snapshot.post, target, rendered, snapshot, deps, now, source, report=not keep_report)


def _carried(update: IndexUpdate, source: SourceRef) -> RenderedPost | None:
    """The rendered post Render sent inside the update, if it is of this very version."""
    carried = update.rendered
    if carried is not None and version_token(carried.source) == version_token(source):
        return carried
    return None


def _rendered_version(store: ObjectStore, source: SourceRef) -> RenderedPost | None:
    stored = store.get(rendered_key(source))
    return RenderedPost.model_validate_json(stored.body) if stored is not None else None


def _months(post: CatalogPost | None, deps: IndexDeps) -> list[str]:
    return [month_of(post.date, deps.site.timezone)] if post is not None and post.public else []


def _resolve_due(update: IndexUpdate, head: SourceRef, deps: IndexDeps, now: datetime) -> Skip | Fetch:
    """A "due" update while S3 holds another version than the one it names: find out what
    that version is (valid and rendered, rejected, or undecided) and let ``check_due`` say
    which version goes live. Only this rare case costs the extra reads."""
    current = deps.catalog.snapshot(update.source.key, (), (), ()).post
    state: HeadState = "pending"
    if current is not None and current.version == version_token(update.source) and current.status == "scheduled":
        # The report first: a version Index itself refused (its slug belongs to another
        # post) is rendered too, and applying it again would change nothing.
        if _rejected(deps.source, head):
            state = "rejected"
        elif deps.source.head(rendered_key(head)) is not None:
            state = "rendered"
    decision = check_due(update, current, head, state, now)
    if isinstance(decision, Fetch) and state == "pending":
        logger.warning(
            "Version %s of %s is still undecided after %s; the scheduled version goes live",
            version_token(head),
            head.key,
            PENDING_GRACE,
        )
    return decision


HISTORY_CHECKED = 20  # versions of a key looked through to order two of them


def _check_past_rejected(update: IndexUpdate, deps: IndexDeps) -> Skip | Fetch:
    """Is the update's version newer than the catalog's? S3's version history says (rare path)."""
    current = deps.catalog.snapshot(update.source.key, (), (), ()).post
    return check_past_rejected(update, current, _newer_in_history(update.source, current, deps))


def _newer_in_history(source: SourceRef, current: CatalogPost | None, deps: IndexDeps) -> bool:
    if current is None or source.version_id is None:
        return False
    history = [version.version_id for version in deps.source.history(source.key, HISTORY_CHECKED).versions]
    if source.version_id not in history:
        return False  # older than every version listed
    if current.version_id not in history:
        return True  # the catalog's version is older than every version listed
    return history.index(source.version_id) < history.index(current.version_id)


def _rejected(source: ObjectStore, head: SourceRef) -> bool:
    """Validate's verdict on this exact version, from the report it wrote (its only record)."""
    stored = source.get(report_key(head.key))
    if stored is None:
        return False
    try:
        report = Report.model_validate_json(stored.body)
    except ValueError:
        return False
    return report.status == "rejected" and report.version == head.version_id


def _unschedule(update: IndexUpdate, deps: IndexDeps, now: datetime) -> Outcome:
    """A scheduled post whose rendered version is gone can never go live: it leaves the
    schedule (else the scheduler would ask for it every minute for ever) and the report
    asks for a new upload. It was never public, so no page changes."""
    source = update.source
    snapshot = deps.catalog.snapshot(source.key, (), (), (), blobs=[RECENT_BLOB])
    post = snapshot.post
    if post is None or post.version != version_token(source) or post.status != "scheduled":
        return Outcome(source.key, applied=False, reason=f"stale due: version {version_token(source)} is not scheduled")
    logger.error("Rendered version %s of %s is missing; taken off the schedule", post.version, source.key)
    outcome = _apply(post, None, None, snapshot, deps, now, source, report=False)
    problem = Problem(field="file", message="its rendered version is missing, so it cannot go live; upload it again")
    write_report(deps.source, build_report(source, "rejected", processed_at=now, errors=[problem]))
    outcome.reason = "rendered version missing: taken off the schedule"
    return outcome


# --------------------------------------------------------------------------- applying
def _apply(
    old: CatalogPost | None,
    new: CatalogPost | None,
    rendered: RenderedPost | None,
    snapshot: Snapshot,
    deps: IndexDeps,
    now: datetime,
    source: SourceRef,
    *,
    report: bool = True,
) -> Outcome:
    """Take the site from ``old`` to ``new`` (None: absent): public files first, commit last."""
    outcome = Outcome(source.key, applied=True, status=new.status if new else "unpublished")
    writer = _Writer(deps.site_store, outcome)
    change, known = _plan_listings(old, new, snapshot, deps)
    recent, recent_stored = _load_recent(deps, snapshot)
    blobs: dict[str, Blob | None] = {}
    _write_post_pages(source.key, old, new, rendered, snapshot, change, known, recent, deps, writer)
    _write_listings(old, new, rendered, change, snapshot, deps, writer, blobs, chrome=not recent_stored)
    _write_recent(source.key, new, rendered, change, known, recent, recent_stored, deps, writer, blobs, now)
    writer.flush()  # every page is in place before the announcement, the report and the commit
    markers = _announce(new, snapshot, deps, outcome, now)
    if report:
        _report(source, new, rendered, deps, now)
    commit = Commit(
        source_key=source.key,
        expected_version=old.version if old else None,
        post=new,
        claim_slugs=(new.slug,) if new is not None and (old is None or old.slug != new.slug) else (),
        release_slugs=(old.slug,) if old is not None and (new is None or new.slug != old.slug) else (),
        first_published=markers,
        listings={listing_id: (item if item.entries else None) for listing_id, item in change.listings.items()},
        summary=change.summary if change.listings else None,
        blobs=blobs,
    )
    try:
        deps.catalog.commit(commit)
    except CatalogConflictError as error:
        raise RetryableError(f"{source.key}: the catalog changed while this update was applied") from error
    return outcome


def _plan_listings(
    old: CatalogPost | None, new: CatalogPost | None, snapshot: Snapshot, deps: IndexDeps
) -> tuple[ListingChange, dict[str, Listing]]:
    """The listings' new values, and every listing read so far (for neighbour links)."""
    tz = deps.site.timezone
    listings = dict(snapshot.listings)
    missing = [listing_id for listing_id in listing_ids(old, tz) if listing_id not in listings]
    if missing:  # an edit that moved the post to another month or other tags
        listings.update(deps.catalog.listings(missing))
    change = change_listings(old, new, listings, snapshot.summary, tz)
    _refill_fronts(change, listings, deps.catalog)
    return change, {**listings, **change.listings}


def _write_post_pages(
    key: str,
    old: CatalogPost | None,
    new: CatalogPost | None,
    rendered: RenderedPost | None,
    snapshot: Snapshot,
    change: ListingChange,
    known: dict[str, Listing],
    recent: Recent,
    deps: IndexDeps,
    writer: _Writer,
) -> None:
    """The post's own page, and its old and new neighbours' pages where their links change."""
    site, tz = deps.site, deps.site.timezone
    positions = [(month_of(post.date, tz), post.order) for post in (old, new) if post is not None and post.public]
    month_entries = [entry for i, item in known.items() if i.startswith("MONTH#") for entry in item.entries]
    newest = [item.post.entry() for item in recent.posts]
    positions = uncovered_positions(positions, known, newest, key, complete=len(newest) < RECENT_SIZE)
    extra = months_for_neighbours(positions, {**snapshot.summary.months, **change.summary.months}, known)
    if extra:
        for listing in deps.catalog.listings([month_listing(month) for month in extra]).values():
            month_entries.extend(listing.entries)
    fragment = month_entries + newest
    if new is not None and new.public and rendered is not None:
        previous, following = links(build_chain(fragment, key, new), key)
        writer.put(post_page_key(new.slug), render_post_page(rendered, site, _meta(previous), _meta(following)))
    if old is not None and old.public and (new is None or not new.public or new.slug != old.slug):
        writer.delete(post_page_key(old.slug))
    contents = {item.post.source_key: item.rendered for item in recent.posts}
    for neighbour in neighbours_to_rerender(fragment, old, new):
        entry = neighbour.entry
        content = contents.get(entry.source_key) or _rendered(deps.source, entry)
        if content is None:
            logger.warning("No rendered post for neighbour %s; its links stay as they were", entry.slug)
            continue
        page_html = render_post_page(content, site, _meta(neighbour.previous), _meta(neighbour.next))
        writer.put(post_page_key(entry.slug), page_html)


def _write_listings(
    old: CatalogPost | None,
    new: CatalogPost | None,
    rendered: RenderedPost | None,
    change: ListingChange,
    snapshot: Snapshot,
    deps: IndexDeps,
    writer: _Writer,
    blobs: dict[str, Blob | None],
    *,
    chrome: bool,
) -> None:
    """Month archives with their sitemaps and search shards, tag pages, and the pages that
    list months or tags when a month or a tag appeared or disappeared."""
    site = deps.site
    shards = dict(snapshot.blobs)
    # The month an edit or a delete took the post from was not in the snapshot (unknown then).
    unread = [search_blob(m) for m in change.months if search_blob(m) not in shards and m in snapshot.summary.months]
    if unread:
        shards.update(deps.catalog.blobs(unread))
    for month in sorted(change.months):
        entries = change.listings[month_listing(month)].entries
        known = month in snapshot.summary.months
        blobs[search_blob(month)] = _write_month(month, entries, old, new, rendered, shards, known, deps, writer)
    for tag, year in sorted(change.tag_years):
        listing = change.listings[tag_year_listing(tag, year)]
        page = paths.directory_key(paths.tag_year_path(tag, year))
        if listing.entries:
            writer.put(page, views.tag_page(tag, change.summary, listing.entries, site, year=year))
        else:
            writer.delete(page)
    for tag in sorted(change.tags):
        page = paths.directory_key(paths.tag_front_path(tag))
        if tag in change.summary.tags:
            entries = change.listings[tag_front_listing(tag)].entries
            writer.put(page, views.tag_page(tag, change.summary, entries, site))
        else:
            writer.delete(page)
    write_structure(change.summary, site, writer, months=change.months_changed, tags=change.tags_changed, chrome=chrome)


def _write_recent(
    key: str,
    new: CatalogPost | None,
    rendered: RenderedPost | None,
    change: ListingChange,
    known: dict[str, Listing],
    recent: Recent,
    recent_stored: bool,
    deps: IndexDeps,
    writer: _Writer,
    blobs: dict[str, Blob | None],
    now: datetime,
) -> None:
    """The newest-posts state, and the home page and feeds made from it, when it changes.
    The state is committed with the catalog (or, too large for it, put in S3 first)."""
    others = recent_without(recent, key)
    published_others = change.summary.total - (1 if new is not None and new.public else 0)
    fill = _fill_recent(others, recent_gap(others, published_others), key, change, known, deps)
    added = RecentPost(post=new, rendered=rendered) if new is not None and new.public and rendered else None
    updated = finish_recent(others, fill, added)
    if recent_signature(updated) != recent_signature(recent) or not recent_stored:
        write_newest(updated, deps.site, writer, now)
        state = updated.model_dump_json().encode()
        blobs[RECENT_BLOB] = blob = Blob.of(state)
        if blob.external:
            deps.source.put(paths.RECENT_STATE, state, "application/json")


def _announce(
    new: CatalogPost | None, snapshot: Snapshot, deps: IndexDeps, outcome: Outcome, now: datetime
) -> dict[str, datetime]:
    """Send PostPublished when a post goes public for the first time (neither its source key
    nor its slug was ever public); returns the first-publication markers to commit.

    Sent before the commit: if the commit fails, the retry announces again, and Notify and
    Deliver's ledger keep subscribers to one email (at least once, never lost)."""
    if new is None or not new.public:
        return {}
    wanted = [key_marker(new.source_key), slug_marker(new.slug)]
    if not any(marker in snapshot.first_published for marker in wanted):
        deps.notify.send(_announcement(new, deps.site, now))
        outcome.announced = True
    return {marker: now for marker in wanted if marker not in snapshot.first_published}


def _refill_fronts(change: ListingChange, listings: dict[str, Listing], catalog: Catalog) -> None:
    if not change.short_fronts:
        return
    wanted = [listing_id for tag in change.short_fronts for listing_id in front_refill_ids(tag, change.summary)]
    years = {**catalog.listings([i for i in wanted if i not in listings and i not in change.listings]), **listings}
    years.update(change.listings)
    for tag in change.short_fronts:
        change.listings[tag_front_listing(tag)] = refill_front(tag, change.summary, years)


def _write_month(
    month: str,
    entries: tuple[Entry, ...],
    old: CatalogPost | None,
    new: CatalogPost | None,
    rendered: RenderedPost | None,
    shards: dict[str, Blob],
    existed: bool,
    deps: IndexDeps,
    writer: _Writer,
) -> Blob | None:
    """A month's archive page, sitemap and search shard; returns the shard's blob to commit
    (None: the month is gone)."""
    site, tz = deps.site, deps.site.timezone
    page = paths.directory_key(paths.month_path(month))
    shard_key = paths.search_shard_key(month)
    if not entries:
        for gone in (page, paths.month_sitemap_key(month), shard_key):
            writer.delete(gone)
        return None
    writer.put(page, views.month_page(month, entries, site))
    writer.put(paths.month_sitemap_key(month), sitemaps.month_sitemap(entries, site), "application/xml")
    docs = search.load_shard(_shard_data(month, shards.get(search_blob(month)), existed, deps))
    remove = [post_path(old.slug)] if old is not None and old.public and month_of(old.date, tz) == month else []
    add = None
    if new is not None and new.public and rendered is not None and month_of(new.date, tz) == month:
        add = search.document(new, rendered.body_html)
    shard = search.dump_shard(month, search.update_shard(docs, remove, add))
    writer.put(shard_key, shard, "application/json")
    return Blob.of(shard.encode("utf-8"))


def _shard_data(month: str, blob: Blob | None, existed: bool, deps: IndexDeps) -> bytes | None:
    """A month's search shard as last written: from the catalog, else (too large for it, or
    written before shards were kept there) the public file; a new month has none."""
    if blob is not None and not blob.external:
        return blob.data()
    if blob is None and not existed:
        return None
    stored = deps.site_store.get(paths.search_shard_key(month))
    return stored.body if stored is not None else None


def write_structure(
    summary: Summary, site: Site, writer: SiteWriter, *, months: bool = True, tags: bool = True, chrome: bool = True
) -> None:
    """The files that depend only on which months (``months``) or tags (``tags``) exist,
    and the static chrome (robots.txt, 404, the search page), written with the first post."""
    if months:
        writer.put(paths.ARCHIVE_INDEX, views.archive_index_page(summary, site))
        writer.put(paths.SITEMAP_INDEX, sitemaps.sitemap_index(summary.months, site), "application/xml")
        writer.put(paths.SEARCH_MANIFEST, search.manifest(summary.months), "application/json")
    if tags or chrome:  # the first post writes them even without tags: the sitemap index names one
        writer.put(paths.TAGS_INDEX, views.tags_page(summary, site))
        writer.put(paths.PAGES_SITEMAP, sitemaps.pages_sitemap(summary.tags, site), "application/xml")
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
    newest = [item.post.entry() for item in recent.posts]
    writer.put(paths.HOME, views.home_page(newest, site))
    writer.put(paths.ATOM, feeds.atom(recent.posts, site, now), "application/atom+xml; charset=utf-8")
    writer.put(paths.RSS, feeds.rss(recent.posts, site, now), "application/rss+xml; charset=utf-8")
    writer.put(paths.JSON_FEED, feeds.json_feed(recent.posts, site), "application/feed+json; charset=utf-8")


# --------------------------------------------------------------------------- helpers
class SiteWriter(Protocol):
    def put(self, key: str, text: str, content_type: str = ..., cache_control: str = ...) -> None: ...
    def delete(self, key: str) -> None: ...


PARALLEL_WRITES = 8  # S3 requests in flight at once: a change's writes take about two round trips


@cache
def _writers(size: int | None = None) -> ThreadPoolExecutor:
    """One pool per container (threads are not started again for every change)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=size or PARALLEL_WRITES, thread_name_prefix="index-writer")


class _Writer:
    """Collects one change's writes to the site bucket (and records them), then makes them
    all at once in ``flush``: they are independent objects, so they go in parallel, and a
    change costs about one S3 round trip instead of one per page. A failure of any of them
    fails the flush, and the change is retried whole (every write is idempotent)."""

    def __init__(self, store: ObjectStore, outcome: Outcome) -> None:
        self.store = store
        self.outcome = outcome
        self.pending: dict[str, tuple[bytes, str, str] | None] = {}  # key -> (body, type, cache); None deletes

    def put(self, key: str, text: str, content_type: str = HTML, cache_control: str = paths.LISTING_CACHE) -> None:
        self.pending[key] = (text.encode("utf-8"), content_type, cache_control)
        self.outcome.written.append(key)

    def delete(self, key: str) -> None:
        self.pending[key] = None
        self.outcome.deleted.append(key)

    def flush(self) -> None:
        tasks, self.pending = list(self.pending.items()), {}
        if len(tasks) <= 1 or PARALLEL_WRITES <= 1:  # one at a time, in this thread
            for task in tasks:
                self._make(task)
            return
        from concurrent.futures import wait
        from contextvars import copy_context

        # Each write runs in a copy of this context: what the invocation set (correlation,
        # instrumentation, injected faults) holds in the worker threads too.
        pool = _writers(PARALLEL_WRITES)
        futures = [pool.submit(copy_context().run, self._make, task) for task in tasks]
        wait(futures)
        for future in futures:
            future.result()  # the first failure is raised, once every write has ended

    def _make(self, task: tuple[str, tuple[bytes, str, str] | None]) -> None:
        key, write = task
        if write is None:
            self.store.delete(key)
        else:
            body, content_type, cache_control = write
            self.store.put(key, body, content_type, cache_control=cache_control)


def _meta(entry: Entry | None) -> PostMeta | None:
    return entry.link() if entry is not None else None


def _rendered(source: ObjectStore, entry: Entry | CatalogPost) -> RenderedPost | None:
    stored = source.get(rendered_object_key(entry.source_key, entry.version))
    return RenderedPost.model_validate_json(stored.body) if stored else None


def _load_recent(deps: IndexDeps, snapshot: Snapshot) -> tuple[Recent, bool]:
    """The newest-posts state, and whether it was stored (if not, the home page and feeds
    are written whatever the change, so the first post creates them)."""
    blob = snapshot.blobs.get(RECENT_BLOB)
    if blob is not None and not blob.external:
        return Recent.model_validate_json(blob.data()), True
    total = snapshot.summary.total
    if blob is None and total == 0:
        return Recent(), False
    stored = deps.source.get(paths.RECENT_STATE)  # too large for the catalog, or from before it kept it
    if stored is not None:
        return Recent.model_validate_json(stored.body), True
    if total == 0:
        return Recent(), False
    # Lost, or a catalog from before this state existed: read it from the catalog once.
    logger.warning("Newest-posts state missing; reading it from the catalog")
    return Recent(posts=tuple(_recent_items(deps.catalog.published(limit=RECENT_SIZE), deps))), False


def _fill_recent(
    others: Recent, gap: int, key: str, change: ListingChange, known: dict[str, Listing], deps: IndexDeps
) -> list[RecentPost]:
    """The next older posts after the newest-posts state, from the month listings (the
    base table, strongly consistent: a post removed a moment ago cannot come back, as it
    could from the eventually consistent gsi1). The summary's counts say which months to
    read, so one BatchGetItem serves, plus one GetObject per post brought in."""
    if gap <= 0:
        return []
    tz = deps.site.timezone
    last = others.posts[-1].post if others.posts else None
    start = month_of(last.date, tz) if last else "9999-99"
    months, enough = [], 0
    for month in sorted(change.summary.months, reverse=True):
        if month <= start and enough < gap + RECENT_SIZE:
            months.append(month)
            enough += change.summary.months[month]
    ids = [month_listing(month) for month in months]
    listings = {i: known[i] for i in ids if i in known}
    listings.update(deps.catalog.listings([i for i in ids if i not in known]))
    have = {item.post.source_key for item in others.posts} | {key}
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
        content = _rendered(deps.source, entry)
        if content is None:
            logger.warning("No rendered post for %s; left out of the feeds", entry.source_key)
            continue
        items.append(RecentPost(post=_catalog_post(entry, content), rendered=content))
    return items


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
    )


def _recent_items(posts: Iterable[CatalogPost], deps: IndexDeps) -> list[RecentPost]:
    items = []
    for post in posts:
        content = _rendered(deps.source, post)
        if content is None:
            logger.warning("No rendered post for %s; left out of the feeds", post.source_key)
            continue
        items.append(RecentPost(post=post, rendered=content))
    return items


def _announcement(post: CatalogPost, site: Site, now: datetime) -> PostPublished:
    return PostPublished(
        slug=post.slug,
        title=post.title,
        summary=post.summary,
        url=paths.absolute_post_url(site, post.slug),
        tags=post.tags,
        published_at=now,
        source_key=post.source_key,
    )


def _report(
    source: SourceRef, new: CatalogPost | None, rendered: RenderedPost | None, deps: IndexDeps, now: datetime
) -> None:
    status: PostStatus = new.status if new is not None else "unpublished"
    report = build_report(
        source if new is not None else SourceRef(bucket=source.bucket, key=source.key),
        status,
        processed_at=now,
        slug=new.slug if new else None,
        base_url=deps.site.url,
        warnings=rendered.warnings if rendered else (),
    )
    write_report(deps.source, report)


def _reject_slug(
    source: SourceRef, target: CatalogPost, owner: str, rendered: RenderedPost, deps: IndexDeps, now: datetime
) -> Outcome:
    """Two source files claim one slug (both passed Validate at once): the first keeps it.

    Render may already have written the loser's page over the owner's: the owner's page is
    written again from the catalog."""
    problem = Problem(field="slug", message=f"the slug {target.slug!r} is already used by {owner}")
    report = build_report(source, "rejected", processed_at=now, errors=[problem], warnings=rendered.warnings)
    write_report(deps.source, report)
    outcome = Outcome(source.key, applied=False, reason=f"slug {target.slug} belongs to {owner}", status="rejected")
    snapshot = deps.catalog.snapshot(owner, (), (), (), blobs=[RECENT_BLOB])
    kept = snapshot.post
    content = _rendered(deps.source, kept) if kept is not None and kept.public else None
    if kept is not None and content is not None:
        known = deps.catalog.listings([month_listing(month_of(kept.date, deps.site.timezone))])
        recent, _ = _load_recent(deps, snapshot)
        unchanged = ListingChange(summary=snapshot.summary)
        writer = _Writer(deps.site_store, outcome)
        _write_post_pages(owner, kept, kept, content, snapshot, unchanged, known, recent, deps, writer)
        writer.flush()
    return outcome


def parse_update(body: str) -> IndexUpdate:
    return IndexUpdate.model_validate(json.loads(body))


# --------------------------------------------------------------------------- Lambda shell
def dependencies_from_settings(config: Settings) -> IndexDeps:
    from pressline.adapters.queue import SqsQueue
    from pressline.adapters.store import S3Store
    from pressline.indexing.dynamo import DynamoCatalog

    return IndexDeps(
        source=S3Store(config.source_bucket),
        site_store=S3Store(config.site_bucket),
        catalog=DynamoCatalog(config.posts_table),
        notify=SqsQueue(config.notify_queue_url),
        site=Site.from_settings(config),
    )
