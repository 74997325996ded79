"""Index stage: apply a whole batch of IndexUpdates to the catalog and the site, in five steps.

1. **read** everything the batch needs, once: S3's current version of each key (HEAD, in
   parallel), the renderings (carried inside the updates, else read), Validate's verdict
   where a rejected upload overtook an update, and the catalog's items for all the keys
   (one BatchGetItem per 100 items) into the batch's catalog overlay;
2. **decide** each update with one pure function (``pressline.indexing.decide``): apply,
   skip (a duplicate, a stale message), refuse a slug, unschedule, or fail;
3. **generate** each applied change in memory against the overlay, in order, so every
   change sees the ones before it (``pressline.indexing.transition``): pages, listings,
   feeds, sitemaps and search shards wait in the batch, each key once with its last value.
   A change that fails (bad data, a bug) is rolled back and failed alone: the rest go on;
4. **write** the site files (in parallel, each once per batch), then reports and state;
5. **commit**: the announcements and, with a WebSub hub, one ping per feed whose bytes the
   batch changed (SendMessageBatch each; ``pressline.indexing.websub``), then the catalog's
   net changes in as few transactions as DynamoDB allows, guarded by the revision the batch read.

Public files are written *before* the commit: a crash anywhere is retried from the start
and writes the same files again (every write is a pure function of catalog state and the
updates); once the commit is done, a retry is recognised as a duplicate. If another
invocation committed in between, the batch is read and generated again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from pressline.adapters.buffered import BufferedStore, run_parallel
from pressline.adapters.queue import Queue
from pressline.adapters.store import ObjectHead, ObjectStore
from pressline.config import Settings
from pressline.errors import RetryableError
from pressline.indexing import images, redirects, websub
from pressline.indexing.announce import DEFAULT_ANNOUNCE_WINDOW
from pressline.indexing.catalog import (
    RECENT_BLOB,
    Blob,
    Catalog,
    CatalogConflictError,
    CatalogPost,
    key_marker,
    month_listing,
    month_of,
    search_blob,
    slug_marker,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.decide import Apply, Decision, Facts, Fail, RejectSlug, Unschedule, decide
from pressline.indexing.overlay import CatalogOverlay
from pressline.indexing.pages import (
    PAGES_BLOB,
    apply_page,
    batch_pages,
    decide_page,
    nav_of,
    refresh_navigation,
    site_with_pages,
)
from pressline.indexing.plan import Skip, listing_ids
from pressline.indexing.renderings import load_rendering
from pressline.indexing.transition import Batch, ChangeFiles, Outcome, Transition, slug_problem
from pressline.indexing.websub import FeedChanged
from pressline.models import IndexUpdate, Problem, RenderedPost, Report, SourceRef
from pressline.posts.paths import (
    POSTS_PREFIX,
    is_page_key,
    media_src,
    post_page_key,
    rendered_key,
    report_key,
    version_token,
)
from pressline.posts.slug import tag_slug
from pressline.site.pages import Site

__all__ = ["IndexDeps", "Outcome", "apply_update", "index_batch", "parse_update"]

logger = logging.getLogger("pressline.index")

COMMIT_ATTEMPTS = 3  # another invocation committed meanwhile: read and generate again
HISTORY_CHECKED = 20  # versions of a key looked through to order two of them


@dataclass
class IndexDeps:
    source: ObjectStore  # the source bucket: posts, rendered posts, reports, index state
    site_store: ObjectStore  # the site bucket
    catalog: Catalog
    notify: Queue
    site: Site
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # A post dated further back than this at its first publication emails no one (ANNOUNCE_WINDOW_HOURS).
    announce_window: timedelta = DEFAULT_ANNOUNCE_WINDOW
    # The WebSub queue: one FeedChanged per feed a batch changed (None: no hub, no pings).
    websub: Queue | None = None


@dataclass
class ReadUpdate:
    """One update with what the read step learnt about its key."""

    update: IndexUpdate
    facts: Facts = field(default_factory=lambda: Facts(head=None))


def apply_update(update: IndexUpdate, deps: IndexDeps) -> Outcome:
    """One update alone: a batch of one."""
    return index_batch([update], deps)[0]


def index_batch(updates: Sequence[IndexUpdate], deps: IndexDeps) -> list[Outcome]:
    """Apply ``updates`` (any order, duplicates welcome); one Outcome each, in order.

    A failure of our own code while the batch is written or committed (each change's own
    failures are isolated while it is generated) is isolated too: the batch is applied
    again one update at a time, so that only the update that causes it fails."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _apply_batch(updates, deps)
    except (RetryableError, ClientError, BotoCoreError):
        raise
    except Exception as error:
        if len(updates) > 1:
            logger.exception("A batch of %d failed; applying its updates one at a time", len(updates))
            return [outcome for update in updates for outcome in index_batch([update], deps)]
        logger.exception("Index update of %s failed; set aside", updates[0].source.key)
        batch = _open_batch(deps)
        outcome = _fail(updates[0].source, f"{type(error).__name__}: {error}", batch)
        write_batch(batch)
        return [outcome]


def _apply_batch(updates: Sequence[IndexUpdate], deps: IndexDeps) -> list[Outcome]:
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        batch = _open_batch(deps)
        read = read_batch(updates, batch)  # 1. read
        nav = nav_of(batch.site)
        outcomes = [generate_change(item, batch) for item in read]  # 2. decide and 3. generate, in order
        refresh_navigation(batch, nav)  # every page shows the static pages' navigation: all again if it changed
        write_batch(batch)  # 4. write
        try:
            commit_batch(batch, deps.notify, deps.catalog, deps.websub)  # 5. commit
        except CatalogConflictError:
            logger.warning("The catalog changed while a batch of %d was applied (try %d)", len(updates), attempt)
            continue
        return outcomes
    raise RetryableError(f"the catalog kept changing while a batch of {len(updates)} updates was applied")


def _open_batch(deps: IndexDeps) -> Batch:
    return Batch(
        catalog=CatalogOverlay(deps.catalog),
        source=BufferedStore(deps.source),
        site_store=BufferedStore(deps.site_store),
        site=deps.site,
        now=deps.clock(),
        announce_window=deps.announce_window,
    )


# --------------------------------------------------------------------------- 1. read
def read_batch(updates: Sequence[IndexUpdate], batch: Batch) -> list[ReadUpdate]:
    """S3's current versions, the renderings and the catalog items the batch needs."""
    source = batch.source
    keys = list(dict.fromkeys(update.source.key for update in updates))
    heads = _current_versions(source, keys, updates)
    read = [_facts(update, heads[update.source.key], source) for update in updates]
    _read_renderings(read, source)
    for item in read:  # a neighbour's page in the same batch needs no read of its rendering
        batch.renderings.update({(item.update.source.key, token): r for token, r in item.facts.renderings.items()})
    _prefetch_catalog(read, batch)
    batch.site = site_with_pages(batch.site, batch_pages(batch))  # the navigation every page shows
    batch.site = replace(batch.site, images=batch.image)  # pages show the variants the catalog knows
    return read


LISTED_FROM = 30  # keys in a batch from which listing every post's current version may cost less


def _current_versions(
    store: BufferedStore, keys: list[str], updates: Sequence[IndexUpdate]
) -> dict[str, SourceRef | None]:
    """S3's current version of each key: a HEAD each, in parallel, or for a large batch one
    listing of ``posts/`` per 1,000 versions, if that takes fewer calls than a tenth of the
    HEADs (S3 lists consistently); a bulk upload of 1,000 posts costs one or two calls."""
    buckets = {update.source.key: update.source.bucket for update in updates}
    listed = store.current_versions(POSTS_PREFIX, max_pages=len(keys) // 10) if len(keys) >= LISTED_FROM else None
    heads: dict[str, ObjectHead | None] = dict(listed) if listed is not None else {}
    unlisted = keys if listed is None else [key for key in keys if not key.startswith(POSTS_PREFIX)]  # pages/
    run_parallel(partial(_read_head, store, key, heads) for key in unlisted)
    return {key: _source_ref(buckets[key], head) if (head := heads.get(key)) else None for key in keys}


def _read_head(store: BufferedStore, key: str, heads: dict[str, ObjectHead | None]) -> None:
    heads[key] = store.head(key)


def _source_ref(bucket: str, head: ObjectHead) -> SourceRef:
    return SourceRef(
        bucket=bucket, key=head.key, version_id=head.version_id, etag=head.etag, last_modified=head.last_modified
    )


def _facts(update: IndexUpdate, head: SourceRef | None, store: BufferedStore) -> ReadUpdate:
    """What is known before the renderings: Validate's verdict and the key's history, read
    only in the rare case that the update is not of S3's current version."""
    item = ReadUpdate(update, Facts(head=head))
    if head is None or version_token(update.source) == version_token(head) or update.action == "delete":
        return item
    rejected = _rejected(store, head)
    history: tuple[str, ...] = ()
    if update.action == "upsert" and rejected:
        history = tuple(version.version_id or "" for version in store.history(head.key, HISTORY_CHECKED).versions)
    item.facts = Facts(head=head, head_rejected=rejected, history=history)
    return item


def _rejected(store: BufferedStore, head: SourceRef) -> bool:
    """Validate's verdict on this exact version, from the report it wrote (its only record)."""
    stored = store.get(report_key(head.key))
    if stored is None:
        return False
    try:
        report = Report.model_validate_json(stored.body)
    except ValueError:
        return False
    return report.status == "rejected" and report.version == head.version_id


def _read_renderings(read: list[ReadUpdate], store: BufferedStore) -> None:
    """The renderings the decisions may need: the update's own version (carried inside the
    update when small, else read) and, for a "due" update that S3 has moved past, S3's
    current version. All reads in parallel."""
    carried: list[dict[str, RenderedPost]] = []
    wanted: dict[tuple[str, str], SourceRef] = {}  # (key, version token) -> version
    for item in read:
        update, head = item.update, item.facts.head
        own: dict[str, RenderedPost] = {}
        carried.append(own)
        if head is None or update.action in ("delete", "image"):
            continue
        token = version_token(update.source)
        if update.rendered is not None and version_token(update.rendered.source) == token:
            own[token] = update.rendered
        elif token == version_token(head) or item.facts.head_rejected or update.action == "due":
            wanted[update.source.key, token] = update.source
        if update.action == "due" and token != version_token(head) and not item.facts.head_rejected:
            wanted[head.key, version_token(head)] = head
    found: dict[tuple[str, str], RenderedPost] = {}
    run_parallel(partial(_read_rendering, store, at, ref, found) for at, ref in wanted.items())
    by_key: dict[str, dict[str, RenderedPost]] = {}
    for (key, token), rendered in found.items():
        by_key.setdefault(key, {})[token] = rendered
    for item, own in zip(read, carried, strict=True):
        facts = item.facts
        item.facts = Facts(
            facts.head, {**by_key.get(item.update.source.key, {}), **own}, facts.head_rejected, facts.history
        )


def _read_rendering(
    store: BufferedStore, at: tuple[str, str], source: SourceRef, found: dict[tuple[str, str], RenderedPost]
) -> None:
    rendered = load_rendering(store, rendered_key(source))  # author-writable bucket: made safe again
    if rendered is not None:
        found[at] = rendered


def _prefetch_catalog(read: list[ReadUpdate], batch: Batch) -> None:
    """One read of the catalog items of every key, slug and listing the batch names; a
    second one only for the listings of posts that move or go (what the first one found)."""
    tz = batch.site.timezone
    keys, slugs, listings, blobs = [], [], [], [RECENT_BLOB, PAGES_BLOB]
    if batch.site.hub_url:  # the feeds' digests: which feeds a batch changes (indexing.websub)
        blobs.append(websub.FEEDS_BLOB)
    aliases: list[str] = []  # the claims of the renderings' aliases (indexing.redirects)
    staying: set[tuple[str, str]] = set()  # (key, slug) a rendering keeps: that post's page stays
    for item in read:
        if item.update.action == "image":  # its record, then the posts that show it (below)
            blobs.append(images.image_blob(media_src(item.update.source.key)))
            continue
        keys.append(item.update.source.key)
        if is_page_key(item.update.source.key):
            continue  # a page is in no listing and claims no slug (indexing.pages)
        for rendered in item.facts.renderings.values():
            blobs += [images.image_blob(src) for src in images.sources_of(rendered)]
            try:
                meta = rendered.meta
                month = month_of(meta.date, tz)
            except (OverflowError, ValueError) as error:  # refused by the rules; failed alone later
                logger.warning("Rendering of %s has no place in the site: %s", item.update.source.key, error)
                continue
            slugs.append(meta.slug)
            aliases += redirects.wanted_names(meta.aliases, ())
            staying.add((item.update.source.key, meta.slug))
            listings.append(month_listing(month))
            blobs.append(search_blob(month))
            for tag in dict.fromkeys(tag_slug(tag) for tag in meta.tags):
                if tag:
                    listings += [tag_year_listing(tag, month[:4]), tag_front_listing(tag)]
    markers = [key_marker(key) for key in keys] + [slug_marker(slug) for slug in slugs]
    catalog = batch.catalog
    catalog.load(keys, [*slugs, *aliases], markers, listings, blobs)
    moved: list[str] = []
    held: list[str] = []  # the aliases posts hold, and any alias waiting under a page that may go
    showing: list[str] = []  # the posts an image of the batch is shown on (written again)
    for item in read:
        if item.update.action == "image":
            blob = catalog.stored_blobs.get(images.image_blob(media_src(item.update.source.key)))
            showing += images.parse_record(blob).posts
    for key in keys:
        post = catalog.posts.get(key)
        if post is not None:
            blobs += [images.image_blob(src) for src in post.images]  # the ones it may stop showing
            held += redirects.wanted_names((), post.aliases)
            if post.public and (key, post.slug) not in staying:
                held.append(redirects.claim_name(post_page_key(post.slug)))
        try:
            moved += listing_ids(post, tz)
            if post is not None and post.public:
                blobs.append(search_blob(month_of(post.date, tz)))
        except (OverflowError, ValueError):
            continue
    catalog.load(showing, slugs=held, listings=moved, blobs=blobs)


# --------------------------------------------------------------------------- 2. decide, 3. generate
def generate_change(item: ReadUpdate, batch: Batch) -> Outcome:
    """Decide one update against the batch as the changes before it left it, and generate
    it. A failure of our own code or data fails this update alone (rolled back, reported);
    AWS's failures are transient and fail the batch, to be retried."""
    from botocore.exceptions import BotoCoreError, ClientError

    update = item.update
    mark = batch.mark()
    try:
        if update.action == "image":
            return apply_image(update, item.facts.head, batch)
        if is_page_key(update.source.key):
            current = batch_pages(batch).pages.get(update.source.key)
            page_decision = decide_page(update, item.facts, current, batch.now)
            if isinstance(page_decision, Apply):
                return apply_page(page_decision, batch)
            return carry_out(page_decision, update, batch)
        catalog = batch.catalog
        slugs = [rendered.meta.slug for rendered in item.facts.renderings.values()]
        snapshot = catalog.snapshot(update.source.key, slugs, (), ())
        decision = decide(update, item.facts, snapshot.post, snapshot.slug_owners, batch.now)
        return carry_out(decision, update, batch)
    except (RetryableError, ClientError, BotoCoreError):
        raise
    except Exception as error:
        batch.restore(mark)
        logger.exception("Index update of %s failed; set aside", update.source.key)
        return _fail(update.source, f"{type(error).__name__}: {error}", batch)


def carry_out(decision: Decision, update: IndexUpdate, batch: Batch) -> Outcome:
    """Generate what the decision says, in the batch."""
    key = update.source.key
    if isinstance(decision, Skip):
        return Outcome(key, applied=False, reason=decision.reason)
    if isinstance(decision, Fail):
        return _fail(update.source, decision.reason, batch)
    if isinstance(decision, RejectSlug):
        return _reject_slug(decision, batch)
    if isinstance(decision, Unschedule):
        return _unschedule(decision, batch)
    return _apply(decision, batch)


def _apply(decision: Apply, batch: Batch) -> Outcome:
    new, tz = decision.new, batch.site.timezone
    key = decision.source.key
    cover = images.cover_src(decision.rendered)
    if new is not None and cover is not None:  # listings show its variants once they are published
        new = new.model_copy(update={"cover": images.for_listing(batch.image(cover))})
    if new is None:
        snapshot = batch.catalog.snapshot(key, (), (), (), blobs=[RECENT_BLOB])
    else:
        months = [month_of(new.date, tz)] if new.public else []
        snapshot = batch.catalog.snapshot(
            key,
            slugs=[new.slug],
            markers=[key_marker(key), slug_marker(new.slug)],
            listings=listing_ids(new, tz),
            blobs=[RECENT_BLOB, *(search_blob(month) for month in months)],
        )
    transition = Transition(batch, decision.source, decision.old, new, decision.rendered, snapshot)
    return transition.apply(report=decision.report)


def apply_image(update: IndexUpdate, head: SourceRef | None, batch: Batch) -> Outcome:
    """An image's variants published (or the image gone): its record takes them, the variants it
    replaces are deleted, and every public post that shows it is written again, its page and,
    for a cover, its listings (``indexing.images``). The post's own report is left as it is."""
    src = media_src(update.source.key)
    name = images.image_blob(src)
    record = images.parse_record(batch.catalog.blobs([name]).get(name))
    change = images.decide_image(update.image, update.source, head, record)
    if isinstance(change, str):
        return Outcome(update.source.key, applied=False, reason=change)
    outcome = Outcome(update.source.key, applied=True, status="published" if update.image else "unpublished")
    files = ChangeFiles(batch, outcome)
    for key in change.retired:
        files.delete(key)
    blob = images.record_blob(change.record)
    if blob is None:
        batch.catalog.stored_blobs.pop(name, None)
    else:
        batch.catalog.stored_blobs[name] = blob
    for key in change.record.posts:
        post = batch.catalog.posts.get(key)
        content = batch.rendered(post) if post is not None and post.public else None
        if post is None or content is None:
            continue  # a draft, a scheduled post, or gone: its page is made when it is published
        batch.load_images(content)
        covered = images.cover_src(content) == src
        new = post.model_copy(update={"cover": images.for_listing(update.image)}) if covered else post
        _rewrite(post, new, content, batch, outcome)
    return outcome


def _rewrite(old: CatalogPost, new: CatalogPost, content: RenderedPost, batch: Batch, outcome: Outcome) -> None:
    """A published post's page (and listings, home page and feeds where they show its cover)
    written again as a change from itself to itself: the same generators as any change."""
    month = month_of(new.date, batch.site.timezone)
    snapshot = batch.catalog.snapshot(
        new.source_key,
        slugs=[new.slug],
        markers=[key_marker(new.source_key), slug_marker(new.slug)],
        listings=listing_ids(new, batch.site.timezone),
        blobs=[RECENT_BLOB, search_blob(month)],
    )
    source = SourceRef(
        bucket=content.source.bucket,
        key=new.source_key,
        version_id=new.version_id,
        etag=new.etag,
        sequencer=new.sequencer,
    )
    rewritten = Transition(batch, source, old, new, content, snapshot).apply(report=False)
    outcome.written += rewritten.written
    outcome.deleted += rewritten.deleted


def _reject_slug(decision: RejectSlug, batch: Batch) -> Outcome:
    """The slug's owner keeps it; the owner's page is written again from the catalog, in
    case anything wrote over it meanwhile."""
    source, owner = decision.source, decision.owner
    batch.report(
        source, "rejected", errors=[slug_problem(decision.target.slug, owner)], warnings=decision.rendered.warnings
    )
    outcome = Outcome(
        source.key, applied=False, reason=f"slug {decision.target.slug} belongs to {owner}", status="rejected"
    )
    snapshot = batch.catalog.snapshot(owner, (), (), (), blobs=[RECENT_BLOB])
    kept = snapshot.post
    content = batch.rendered(kept) if kept is not None and kept.public else None
    if kept is not None and content is not None:
        restored = Transition(batch, content.source, kept, kept, content, snapshot)
        restored.restore_owner_page()
        outcome.written = restored.outcome.written
    return outcome


def _unschedule(decision: Unschedule, batch: Batch) -> Outcome:
    """Off the schedule; the report asks for a new upload. It was never public, so no page changes."""
    logger.error(
        "Rendered version %s of %s is missing; taken off the schedule", decision.post.version, decision.source.key
    )
    snapshot = batch.catalog.snapshot(decision.source.key, (), (), (), blobs=[RECENT_BLOB])
    outcome = Transition(batch, decision.source, decision.post, None, None, snapshot).apply(report=False)
    problem = Problem(field="file", message="its rendered version is missing, so it cannot go live; upload it again")
    batch.report(decision.source, "rejected", errors=[problem])
    outcome.reason = "rendered version missing: taken off the schedule"
    return outcome


def _fail(source: SourceRef, reason: str, batch: Batch) -> Outcome:
    """The author's report says why; the handler moves the message to the dead-letter queue."""
    problem = Problem(field="file", message=f"this version could not be published: {reason[:500]}")
    batch.report(source, "failed", errors=[problem])
    return Outcome(source.key, applied=False, reason=reason, status="failed", failed=True)


# --------------------------------------------------------------------------- 4. write
def write_batch(batch: Batch) -> None:
    """Every site file the batch touched, once each; then the reports and the working state
    (a report says "published" only once the page is out). Every page is rendered first, so
    that a page that cannot be rendered stops the batch before anything is written."""
    batch.site_store.materialize()
    if batch.site.hub_url:
        batch.pings = changed_feeds(batch)
    batch.site_store.flush()
    batch.source.flush()


def changed_feeds(batch: Batch) -> list[FeedChanged]:
    """The feeds whose bytes this batch changes (``indexing.websub``'s rule: against the
    digests the catalog recorded), and the new digests put in the batch's catalog, to be
    committed with it (read and written with the catalog's own calls: no request of its own)."""
    pending = {key: write.data() if write is not None else None for key, write in batch.site_store.pending.items()}
    stored = batch.catalog.blobs([websub.FEEDS_BLOB]).get(websub.FEEDS_BLOB)
    known = websub.load_digests(stored.data() if stored is not None and not stored.external else None)
    pings, digests = websub.feed_changes(pending, known, lambda key: batch.site.absolute("/" + key))
    if digests != known:
        blob = Blob.of(websub.dump_digests(digests))
        if blob.external:  # thousands of tags: not kept, so every feed written is pinged (at least once)
            logger.warning("The feeds' digests (%d feeds) are too large for the catalog; not kept", len(digests))
        else:
            batch.catalog.stored_blobs[websub.FEEDS_BLOB] = blob
    return pings


# --------------------------------------------------------------------------- 5. commit
def commit_batch(batch: Batch, notify: Queue, catalog: Catalog, websub_queue: Queue | None = None) -> None:
    """Announcements first (a retry announces again; Notify's ledger keeps it to one email),
    and the WebSub pings of the feeds the batch changed (written already, so a hub fetches
    the new bytes; their digests are committed with the catalog, so an attempt that fails
    before its commit pings again when retried: at least once), then the catalog, last:
    once it is committed, the batch is done."""
    if batch.announcements:
        notify.send_batch(batch.announcements)
    if batch.pings and websub_queue is not None:
        websub_queue.send_batch(batch.pings)  # SendMessageBatch, 10 a call
    changes = batch.catalog.changes()
    if not changes.empty:
        catalog.apply(changes)


def parse_update(body: str) -> IndexUpdate:
    return IndexUpdate.model_validate(json.loads(body))


# --------------------------------------------------------------------------- Lambda shell
def dependencies_from_settings(config: Settings) -> IndexDeps:
    import os

    from pressline.adapters.queue import SqsQueue
    from pressline.adapters.store import S3Store
    from pressline.indexing.dynamo import DynamoCatalog

    site = Site.from_settings(config)
    websub_url = os.environ.get("WEBSUB_QUEUE_URL", "")
    return IndexDeps(
        source=S3Store(config.source_bucket),
        site_store=S3Store(config.site_bucket),
        catalog=DynamoCatalog(config.posts_table),
        notify=SqsQueue(config.notify_queue_url),
        site=site,
        announce_window=config.announce_window,
        websub=SqsQueue(websub_url) if site.hub_url and websub_url else None,
    )
