"""The pure decisions of Index: given what S3 says, what the catalog holds and this
update, is there anything to do, and what changes (listings, summary, newest posts,
neighbour links)? No I/O here; the stage feeds these functions and writes their results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pressline.errors import PoisonMessageError
from pressline.indexing.catalog import (
    RECENT_SIZE,
    TAG_FRONT_SIZE,
    CatalogPost,
    CatalogStatus,
    Entry,
    Listing,
    Recent,
    RecentPost,
    Summary,
    TagSummary,
    month_listing,
    month_of,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.images import sources_of
from pressline.models import IndexUpdate, RenderedPost, SourceRef
from pressline.posts.paths import version_token
from pressline.posts.slug import tag_slug


# --------------------------------------------------------------------------- freshness
@dataclass(frozen=True)
class Skip:
    """Nothing to apply: a duplicate or a stale message. ``reason`` goes to the log."""

    reason: str


@dataclass(frozen=True)
class Fetch:
    """The update names the current version: read its rendered post and apply it."""

    source: SourceRef
    # The newest upload of the key was rejected: its report (why) stays where the author reads it.
    keep_report: bool = False


@dataclass(frozen=True)
class Remove:
    """S3 no longer has the object: take the post down, whatever the message said."""

    reason: str


def sequencer_value(sequencer: str | None) -> int | None:
    """S3 sequencers are hex strings to compare as numbers of equal width."""
    if not sequencer:
        return None
    try:
        return int(sequencer, 16)
    except ValueError:
        return None


def check_source(
    update: IndexUpdate, head_version: str | None, exists: bool, current: CatalogPost | None
) -> Skip | Fetch | Remove:
    """Reconcile an update with what S3 says now (``head_version``: the version token of the
    object's current version). S3 is the authority: moto's events carry no sequencer, and
    S3 and SQS both duplicate and reorder, so the message only says *which* key to look at."""
    key = update.source.key
    if not exists:
        if current is None:
            return Skip(f"{key} is absent from S3 and from the catalog")
        return Remove(f"{key} no longer exists in S3")
    if update.action == "delete":
        return Skip(f"stale delete: {key} exists again (version {head_version})")
    token = version_token(update.source)
    if token != head_version:
        return Skip(f"stale: version {token} of {key} is not the current one ({head_version})")
    if current is not None and current.version != token:
        incoming, applied = sequencer_value(update.source.sequencer), sequencer_value(current.sequencer)
        if incoming is not None and applied is not None and incoming < applied:
            return Skip(f"stale: sequencer of {key} is older than the applied one")
    return Fetch(update.source)


# What S3's current version of a key is, as far as Index can tell, when it is not the
# version a "due" update names: rendered (valid: its own upsert applies it), rejected
# (Validate's report says so), or pending (Validate or Render has not decided yet).
HeadState = Literal["rendered", "rejected", "pending"]

# How long an undecided upload may hold a due post back. Validate and Render decide in
# seconds; one still undecided after this was lost (a dead-letter queue holds it) and
# must not keep the post from its date for ever. Redriven later, it applies as an edit.
PENDING_GRACE = timedelta(minutes=30)


def check_due(
    update: IndexUpdate,
    current: CatalogPost | None,
    head: SourceRef,
    state: HeadState,
    now: datetime,
) -> Skip | Fetch:
    """Reconcile a "due" update when S3's current version (``head``) is not the one it names.

    "Due" is about the catalog's version: it is stale when the catalog's version changed
    (or is no longer scheduled), not merely because S3 holds a newer upload. A rejected
    upload changes nothing, so the last valid version goes live at its date; a valid
    newer version is applied instead (what its own upsert will do; that one is then a
    duplicate); an undecided one is waited for, within PENDING_GRACE. Every outcome
    either changes the catalog (the scheduler stops asking for this version) or ends."""
    key, token = update.source.key, version_token(update.source)
    if current is None or current.version != token or current.status != "scheduled":
        return Skip(f"stale due: the catalog no longer holds version {token} of {key} as scheduled")
    if state == "rendered":
        return Fetch(head)
    if state == "rejected":
        return Fetch(update.source, keep_report=True)
    uploaded = head.last_modified
    if uploaded is None or now - uploaded > PENDING_GRACE:  # no age known: no reason to wait
        return Fetch(update.source)
    return Skip(f"due: waiting for version {version_token(head)} of {key} to be validated")


def check_past_rejected(update: IndexUpdate, current: CatalogPost | None, newer: bool) -> Skip | Fetch:
    """An upsert whose version S3 no longer holds as current because a *rejected* upload came
    after it. The rejected upload changes nothing, so this version still stands if it is
    newer than the catalog's: ``newer`` says whether S3's history of the key lists it after
    the catalog's version (the history's order, not upload times, which S3 gives to the
    second). Otherwise the rejection would freeze the post at an older version, the valid
    edit lost on its way to Index."""
    if current is None or current.version == version_token(update.source) or newer:
        return Fetch(update.source, keep_report=True)
    token, key = version_token(update.source), update.source.key
    return Skip(f"stale: version {token} of {key} is not newer than the applied one")


SUMMARY_LIMIT = 500  # characters a listing, feed entry or announcement carries


def clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """At most ``limit`` characters, cut at a space where there is one. Bounds every copy of
    a summary (listing items under DynamoDB's 400 KB, PostPublished under SQS's 256 KB),
    whatever the post: fifty "words" of a body can be a megabyte."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut).rstrip() + "…"


def target_post(rendered: RenderedPost, source: SourceRef, now: datetime) -> CatalogPost:
    """The catalog state a rendered version leads to. Scheduled vs published is decided
    against ``now``, not at render time: a message delayed past the date publishes."""
    meta = rendered.meta
    if rendered.status == "draft" or meta.draft:
        status: CatalogStatus = "draft"
    elif rendered.status in ("published", "scheduled"):
        status = "scheduled" if meta.date > now else "published"
    else:
        raise PoisonMessageError(f"{source.key}: a rendered post with status {rendered.status} cannot be indexed")
    return CatalogPost(
        source_key=source.key,
        version=version_token(source),
        version_id=source.version_id,
        etag=source.etag,
        sequencer=source.sequencer,
        status=status,
        slug=meta.slug,
        title=meta.title,
        date=meta.date,
        updated=meta.updated,
        tags=meta.tags,
        summary=clip(meta.summary),
        applied_at=now,
        images=sources_of(rendered),
    )


def is_duplicate(current: CatalogPost | None, target: CatalogPost) -> bool:
    """Same version, same status: applying it again would change nothing."""
    return current is not None and current.version == target.version and current.status == target.status


# --------------------------------------------------------------------------- listings
def year_of(month: str) -> str:
    return month[:4]


def listing_ids(post: CatalogPost | None, timezone: str) -> list[str]:
    """The listings a post appears in (only published posts appear anywhere)."""
    if post is None or not post.public:
        return []
    month = month_of(post.date, timezone)
    ids = [month_listing(month)]
    for tag in post.tag_slugs:
        ids += [tag_year_listing(tag, year_of(month)), tag_front_listing(tag)]
    return ids


@dataclass
class ListingChange:
    """What one change does to the listings and the site's shape."""

    listings: dict[str, Listing] = field(default_factory=dict)  # every touched listing, new value
    summary: Summary = field(default_factory=Summary)
    months: set[str] = field(default_factory=set)  # archive pages, sitemaps, search shards to rewrite
    tag_years: set[tuple[str, str]] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)  # tag front pages to rewrite
    short_fronts: set[str] = field(default_factory=set)  # tag fronts that lost an entry and must refill
    months_changed: bool = False  # a month appeared or disappeared
    tags_changed: bool = False  # a tag appeared or disappeared
    tag_counts_changed: bool = False  # a tag's count or name changed: the tags page shows them

    @property
    def structure_changed(self) -> bool:
        return self.months_changed or self.tags_changed


def change_listings(
    old: CatalogPost | None,
    new: CatalogPost | None,
    current: Mapping[str, Listing],
    summary: Summary,
    timezone: str,
) -> ListingChange:
    """Remove the old entry from the listings it was in, add the new one to its listings, and
    recount the touched months and tag-years. Counts are the lengths of the listings, never
    increments, so the result is the same however often it is computed."""
    old_ids, new_ids = listing_ids(old, timezone), listing_ids(new, timezone)
    change = ListingChange()
    new_entry = new.entry() if new is not None and new.public else None
    for listing_id in dict.fromkeys(old_ids + new_ids):
        listing = current.get(listing_id, Listing())
        remove = [old.slug] if old is not None and listing_id in old_ids else []
        add = new_entry if listing_id in new_ids else None
        kind, _, rest = listing_id.partition("#")
        if kind == "TAGNEW":
            change.tags.add(rest)
            others = listing.replace(remove=remove)
            known = summary.tags.get(rest)
            # A front page that lost an entry while older ones exist beyond it must be refilled
            # from the tag's year listings, or an edit that moves a post back in time would
            # leave the front short of a post it should show.
            if len(others) < len(listing) and known is not None and known.count - 1 > len(others):
                change.short_fronts.add(rest)
            change.listings[listing_id] = others.replace(add=add, limit=TAG_FRONT_SIZE)
            continue
        change.listings[listing_id] = listing.replace(remove=remove, add=add)
        if kind == "MONTH":
            change.months.add(rest)
        else:
            tag, _, year = rest.rpartition("#")
            change.tag_years.add((tag, year))
    change.summary = recount(summary, change.listings, names=tag_names(new))
    # The archive index, sitemap index and search manifest list months; the tags page and
    # the pages sitemap list tags. They are rewritten only when those sets change.
    change.months_changed = set(change.summary.months) != set(summary.months)
    change.tags_changed = set(change.summary.tags) != set(summary.tags)
    change.tag_counts_changed = _tag_counts(change.summary) != _tag_counts(summary)
    return change


def _tag_counts(summary: Summary) -> dict[str, tuple[str, int]]:
    return {tag: (info.name, info.count) for tag, info in summary.tags.items()}


def tag_names(post: CatalogPost | None) -> dict[str, str]:
    if post is None:
        return {}
    names: dict[str, str] = {}
    for tag in post.tags:
        names.setdefault(tag_slug(tag), tag)
    return names


def recount(summary: Summary, listings: Mapping[str, Listing], names: Mapping[str, str]) -> Summary:
    months = dict(summary.months)
    tags = {slug: TagSummary(name=info.name, years=dict(info.years)) for slug, info in summary.tags.items()}
    for listing_id, listing in listings.items():
        kind, _, rest = listing_id.partition("#")
        if kind == "MONTH":
            if listing.entries:
                months[rest] = len(listing)
            else:
                months.pop(rest, None)
        elif kind == "TAGYEAR":
            tag, _, year = rest.rpartition("#")
            info = tags.get(tag) or TagSummary(name=names.get(tag, tag))
            if listing.entries:
                info.years[year] = len(listing)
            else:
                info.years.pop(year, None)
            if info.years:
                tags[tag] = info
            else:
                tags.pop(tag, None)
    return Summary(months=dict(sorted(months.items())), tags=dict(sorted(tags.items())))


def front_refill_ids(tag: str, summary: Summary) -> list[str]:
    """The tag-year listings a tag's front page is refilled from: the newest years, as many
    as the summary's counts say hold its newest TAG_FRONT_SIZE posts."""
    info = summary.tags.get(tag)
    ids: list[str] = []
    covered = 0
    for year in sorted(info.years if info else {}, reverse=True):
        if covered >= TAG_FRONT_SIZE:
            break
        ids.append(tag_year_listing(tag, year))
        covered += info.years[year] if info else 0
    return ids


def refill_front(tag: str, summary: Summary, year_listings: Mapping[str, Listing]) -> Listing:
    """A tag's front page rebuilt from its year listings (already changed by this update)."""
    entries: list[Entry] = []
    for listing_id in front_refill_ids(tag, summary):
        entries.extend(year_listings.get(listing_id, Listing()).entries)
        if len(entries) >= TAG_FRONT_SIZE:
            break
    entries.sort(key=lambda entry: entry.order, reverse=True)
    return Listing(entries=tuple(entries[:TAG_FRONT_SIZE]))


# --------------------------------------------------------------------------- newest posts
def recent_without(recent: Recent, source_key: str) -> Recent:
    return recent.replace(source_key, None)


def recent_gap(others: Recent, published_others: int) -> int:
    """How many older posts must come from the catalog so that the newest-posts state,
    without the changed post, again holds the newest min(RECENT_SIZE, all) posts. Filling
    *before* the changed post is put back keeps an edit that moves a post back in time
    from taking the place of a newer one."""
    return max(0, min(RECENT_SIZE, published_others) - len(others.posts))


def finish_recent(others: Recent, fill: Iterable[RecentPost], new: RecentPost | None) -> Recent:
    merged = others
    for item in fill:
        merged = merged.replace(item.post.source_key, item)
    if new is not None and new.post.public:
        merged = merged.replace(new.post.source_key, new)
    return merged.trimmed()


def recent_signature(recent: Recent) -> list[tuple[str, str, str, str]]:
    """What the home page and feeds are made of: a cover's variants landing changes the home page."""
    return [
        (item.post.source_key, item.post.version, item.post.status, _cover_id(item.post))
        for item in recent.posts[:RECENT_SIZE]
    ]


def _cover_id(post: CatalogPost) -> str:
    return post.cover.variants[0].url if post.cover is not None and post.cover.variants else ""


# --------------------------------------------------------------------------- neighbours
NEIGHBOUR_REACH = 3  # posts known on each side: the two links of a neighbour, plus the post itself


def links(chain: list[Entry], source_key: str) -> tuple[Entry | None, Entry | None]:
    """(previous, next) of a post in a chain sorted newest first: the older and newer posts."""
    for index, entry in enumerate(chain):
        if entry.source_key == source_key:
            newer = chain[index - 1] if index > 0 else None
            older = chain[index + 1] if index + 1 < len(chain) else None
            return older, newer
    return None, None


def _link(entry: Entry | None) -> tuple[str, str] | None:
    return (entry.slug, entry.title) if entry is not None else None


def build_chain(fragment: Iterable[Entry], source_key: str, post: CatalogPost | None) -> list[Entry]:
    """The known part of the published chronology, with ``post`` in its place (if public)."""
    by_key = {entry.source_key: entry for entry in fragment if entry.source_key != source_key}
    if post is not None and post.public:
        by_key[source_key] = post.entry()
    return sorted(by_key.values(), key=lambda entry: entry.order, reverse=True)


@dataclass(frozen=True)
class NeighbourPage:
    entry: Entry
    previous: Entry | None
    next: Entry | None


def neighbours_to_rerender(
    fragment: Iterable[Entry], old: CatalogPost | None, new: CatalogPost | None
) -> list[NeighbourPage]:
    """Posts next to the old or the new position whose previous/next links change.

    ``fragment`` must hold NEIGHBOUR_REACH published posts on each side of both positions
    (or all there are), so that a neighbour's other link is known. A body-only edit
    changes no link and re-renders nobody."""
    items = list(fragment)
    changed = new if new is not None else old
    if changed is None:
        return []
    source_key = changed.source_key
    before, after = build_chain(items, source_key, old), build_chain(items, source_key, new)
    candidates: dict[str, Entry] = {}
    for chain, post in ((before, old), (after, new)):
        if post is not None and post.public:
            for neighbour in links(chain, source_key):
                if neighbour is not None:
                    candidates[neighbour.source_key] = neighbour
    pages = []
    for key in candidates:
        was = tuple(_link(entry) for entry in links(before, key))
        now_previous, now_next = links(after, key)
        if was != (_link(now_previous), _link(now_next)) and any(entry.source_key == key for entry in after):
            current = next(entry for entry in after if entry.source_key == key)
            pages.append(NeighbourPage(current, now_previous, now_next))
    return sorted(pages, key=lambda page: page.entry.order)


def uncovered_positions(
    positions: Iterable[tuple[str, str]],
    months: Mapping[str, Listing],
    newest: Iterable[Entry],
    source_key: str,
    *,
    complete: bool,
) -> list[tuple[str, str]]:
    """The positions whose neighbours the newest posts and the post's own month do not
    already reveal. The newest posts are every post since the oldest of them, and a month
    listing every post of its month: where a position lies within the newest posts, the
    union of the two holds its nearest neighbours (no other month may be counted: it would
    leave a gap), so a new post at the top of a new month reads no other month."""
    newest = [entry for entry in newest if entry.source_key != source_key]
    cutoff = "" if complete or not newest else min(entry.order for entry in newest)
    left = []
    for month, order in positions:
        own = months.get(month_listing(month), Listing()).entries
        union = {entry.source_key: entry for entry in [*own, *newest] if entry.source_key != source_key}
        older = sum(1 for entry in union.values() if entry.order < order)
        if order < cutoff or (older < NEIGHBOUR_REACH and not complete):
            left.append((month, order))
    return left


def months_for_neighbours(
    positions: Iterable[tuple[str, str]], months: Mapping[str, int], have: Mapping[str, Listing]
) -> list[str]:
    """Month listings to read so that NEIGHBOUR_REACH posts are known on each side of each
    (month, order) position. Counts come from the summary, so one read is enough; usually
    the post's own month suffices and nothing more is read."""
    ordered = sorted(months)
    needed: list[str] = []
    for month, order in positions:
        own = have.get(month_listing(month), Listing()).entries
        older_known = sum(1 for entry in own if entry.order < order)
        newer_known = sum(1 for entry in own if entry.order > order)
        older_months = [m for m in reversed(ordered) if m < month]
        newer_months = [m for m in ordered if m > month]
        for side, known in ((older_months, older_known), (newer_months, newer_known)):
            for other in side:
                if known >= NEIGHBOUR_REACH:
                    break
                needed.append(other)
                known += months[other]
    return [m for m in dict.fromkeys(needed) if month_listing(m) not in have]
