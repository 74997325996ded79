"""The catalog: what Index knows about every post, and the port it is stored behind.

Layout in the posts table (one table, single-table design):

==========================  ==========  ===============================================
pk                          sk          what
==========================  ==========  ===============================================
``POST#<source key>``       ``POST``    one post (CatalogPost). Published posts carry
                                        gsi1pk=``POSTS``, scheduled ones ``SCHEDULED``,
                                        gsi1sk=``<utc iso date>#<slug>``: newest-first
                                        queries and "what is due" need no scan.
``SLUG#<slug>``             ``SLUG``    the source key that owns a slug (Validate reads it)
``FIRST#KEY#<key>`` /       ``FIRST``   first publication of a key / a slug; kept after
``FIRST#SLUG#<slug>``                   delete so a post is only ever announced once
``SITE``                    ``SUMMARY`` months and tags (per year) with their counts
``LIST#<listing id>``       ``LIST``    one materialised listing (see below)
``BLOB#RECENT`` /           ``BLOB``    Index's working state, zlib-compressed JSON: the
``BLOB#SEARCH#<yyyy-mm>``               newest-posts state and each month's search shard
==========================  ==========  ===============================================

Listings are the unit of constant cost. Each is bounded by time, never by site size:
``MONTH#<yyyy-mm>`` (a month's posts: its archive page, sitemap and search shard),
``TAGYEAR#<tag>#<yyyy>`` (a tag's posts in one year: a stable tag page) and
``TAGNEW#<tag>`` (a tag's newest posts: the tag's front page). A new post changes the
listings of its month and tags and nothing else, and all of them are read with one
BatchGetItem and written with one TransactWriteItems, whatever the size of the site.

What one new post costs (``make bench``: 18 AWS calls for a post with two tags, at 100,
1,000 and 10,000 posts): HeadObject of the source (is this version current?); one
BatchGetItem (the post, its slug, its first-publication markers, the summary, its
listings, and the two blobs: the newest-posts state -- the newest 20 with content, from
which the home page, the three feeds and the newest posts' neighbour links are made --
and its month's search shard); then PutObject of its page, of the previous newest post's
page (its "next" link), of its month's archive page, sitemap and search shard, of each
tag's front and year page, of the home page, the three feeds and the report; one
SendMessage (first publication) and one TransactWriteItems, which also stores both blobs.
The rendered post comes inside the update (Render sends it when it is under 192 KiB).
Pages that list months or tags (archive index, sitemap index, search manifest, tags
page) are written only when a month or a tag appears or disappears.

A blob that compresses to more than BLOB_LIMIT bytes is marked "external" and kept in S3
instead (the shard is public there anyway; the newest-posts state goes to
``state/index/recent.json``), which costs that update one GetObject more.

Limits this layout accepts: a month's listing is one item (DynamoDB's 400 KB: several
hundred posts in one month), and the summary grows with months and tags (thousands).
The gsi1 index is eventually consistent and is only used where that is harmless (the
scheduler, ``pressline rebuild``, and rebuilding a lost newest-posts state).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import Field

from pressline.models import Contract, ImageSet, PostMeta, RenderedPost
from pressline.posts.paths import rendered_key_of
from pressline.posts.slug import tag_slug

CatalogStatus = Literal["published", "scheduled", "draft"]

RECENT_SIZE = 20  # feeds carry the newest 20 posts with full content
HOME_SIZE = 10  # the home page shows the newest 10 with summaries
TAG_FRONT_SIZE = 20  # a tag's front page shows its newest 20


def utc_iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp: sorts as text in the same order as in time. (Formatted by
    hand: strftime was the costliest call of a large batch, and pads no year below 1000.)"""
    u = moment.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def order_key(date: datetime, slug: str) -> str:
    """Position of a post in the site's chronology (gsi1sk): date, then slug for ties."""
    return f"{utc_iso(date)}#{slug}"


def month_of(date: datetime, timezone: str) -> str:
    """The archive month a post belongs to, in the site's time zone: ``yyyy-mm``."""
    return date.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def rendered_object_key(source_key: str, version: str) -> str:
    """``posts.paths.rendered_key`` from a stored version token (the catalog keeps the token)."""
    return rendered_key_of(source_key, version)


def month_listing(month: str) -> str:
    return f"MONTH#{month}"


def tag_year_listing(tag: str, year: str) -> str:
    return f"TAGYEAR#{tag}#{year}"


def tag_front_listing(tag: str) -> str:
    return f"TAGNEW#{tag}"


class Entry(Contract):
    """A post as listings show it (everything a listing page, sitemap or feed line needs)."""

    slug: str
    title: str
    date: datetime
    updated: datetime | None = None
    summary: str = ""
    tags: tuple[str, ...] = ()
    # Where its rendered version is, so a neighbour's page can be re-rendered from a listing.
    source_key: str = ""
    version: str = ""
    # Its cover's variants up to 960 px (``indexing.images.for_listing``): listings show it.
    cover: ImageSet | None = None

    @cached_property
    def order(self) -> str:  # sorted by on every listing change: computed once per value
        return order_key(self.date, self.slug)

    @property
    def modified(self) -> datetime:
        return self.updated or self.date

    def link(self) -> PostMeta:
        """What a neighbour's previous/next link on a post page is made from."""
        return PostMeta(
            slug=self.slug,
            title=self.title,
            date=self.date,
            updated=self.updated,
            tags=self.tags,
            summary=self.summary,
        )


class Listing(Contract):
    """Entries newest first, at most one per slug."""

    entries: tuple[Entry, ...] = ()

    def replace(self, remove: Iterable[str] = (), add: Entry | None = None, limit: int | None = None) -> Listing:
        """Remove the given slugs, add an entry: set semantics, so applying twice is applying once."""
        drop = set(remove)
        if add is not None:
            drop.add(add.slug)
        kept = [entry for entry in self.entries if entry.slug not in drop]
        if add is not None:
            kept.append(add)
        kept.sort(key=lambda entry: entry.order, reverse=True)
        return Listing(entries=tuple(kept[:limit] if limit else kept))

    def __len__(self) -> int:
        return len(self.entries)


class TagSummary(Contract):
    name: str  # as the author wrote it first (the slug is the key)
    years: dict[str, int] = Field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(self.years.values())


class Summary(Contract):
    """The site's shape: which months and tags exist, with counts. Small (grows by 12 a year
    and by the number of tags) and read with the listings in the same call."""

    months: dict[str, int] = Field(default_factory=dict)
    tags: dict[str, TagSummary] = Field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.months.values())


class CatalogPost(Contract):
    """One source object's current state in the catalog."""

    source_key: str
    version: str  # posts.paths.version_token of the applied version
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    status: CatalogStatus
    slug: str
    title: str
    date: datetime
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    summary: str = ""
    applied_at: datetime
    # The old URL paths this post owns (``pressline.indexing.redirects``): each answers 301 here.
    aliases: tuple[str, ...] = ()
    # The site images its rendering shows (``indexing.images``: the cover first), and the cover's
    # variants as listings show them, None until they are published.
    images: tuple[str, ...] = ()
    cover: ImageSet | None = None

    @cached_property
    def order(self) -> str:  # sorted by on every listing change: computed once per value
        return order_key(self.date, self.slug)

    @property
    def public(self) -> bool:
        return self.status == "published"

    @property
    def tag_slugs(self) -> tuple[str, ...]:
        return unique_tag_slugs(self.tags)

    def entry(self) -> Entry:
        return Entry(
            slug=self.slug,
            title=self.title,
            date=self.date,
            updated=self.updated,
            summary=self.summary,
            tags=self.tags,
            source_key=self.source_key,
            version=self.version,
            cover=self.cover,
        )


def unique_tag_slugs(tags: Iterable[str]) -> tuple[str, ...]:
    """Tag slugs in the author's order, without repeats ("Python" and "python" are one tag)."""
    seen: dict[str, None] = {}
    for tag in tags:
        slug = tag_slug(tag)
        if slug:
            seen.setdefault(slug, None)
    return tuple(seen)


class RecentPost(Contract):
    """One of the newest published posts, with its content (feeds carry full content)."""

    post: CatalogPost
    rendered: RenderedPost


class Recent(Contract):
    """The newest RECENT_SIZE published posts, newest first: one object that the home page,
    the three feeds and the newest posts' neighbour links are made from (one read)."""

    posts: tuple[RecentPost, ...] = ()

    def replace(self, source_key: str, add: RecentPost | None) -> Recent:
        kept = [item for item in self.posts if item.post.source_key != source_key]
        if add is not None:
            kept.append(add)
        kept.sort(key=lambda item: item.post.order, reverse=True)
        return Recent(posts=tuple(kept))

    def trimmed(self) -> Recent:
        return Recent(posts=self.posts[:RECENT_SIZE])


# --------------------------------------------------------------------------- blobs
# DynamoDB items hold 400 KB; a transaction 4 MB. Compressed JSON above this stays in S3.
BLOB_LIMIT = 300_000
RECENT_BLOB = "RECENT"


def search_blob(month: str) -> str:
    return f"SEARCH#{month}"


class Blob(Contract):
    """Index's working state kept in the catalog, so that it is read in the snapshot's one
    BatchGetItem and written in the commit's one transaction: zlib-compressed JSON, or
    ``None`` when it was too large and lives in S3 ("external")."""

    packed: bytes | None = None

    @classmethod
    def of(cls, data: bytes) -> Blob:
        import zlib

        packed = zlib.compress(data, 6)
        return cls(packed=packed if len(packed) <= BLOB_LIMIT else None)

    @property
    def external(self) -> bool:
        return self.packed is None

    def data(self) -> bytes:
        import zlib

        if self.packed is None:
            raise ValueError("an external blob's data is in S3")
        return zlib.decompress(self.packed)


class Snapshot(Contract):
    """What one BatchGetItem returns for one change."""

    post: CatalogPost | None = None
    slug_owners: dict[str, str] = Field(default_factory=dict)  # slug -> source key
    first_published: dict[str, datetime] = Field(default_factory=dict)  # marker id -> when
    summary: Summary = Summary()
    listings: dict[str, Listing] = Field(default_factory=dict)  # absent id = empty listing
    blobs: dict[str, Blob] = Field(default_factory=dict)  # absent name = never stored


class Commit(Contract):
    """Everything one change writes to the catalog, applied atomically where the store allows.

    ``expected_version`` guards the post item (None: it must not exist): Index is serialised
    by its FIFO queue, so a failed guard means someone else wrote, and the change is retried.
    """

    source_key: str
    expected_version: str | None
    post: CatalogPost | None  # None removes the post item
    claim_slugs: tuple[str, ...] = ()
    release_slugs: tuple[str, ...] = ()
    first_published: dict[str, datetime] = Field(default_factory=dict)
    listings: dict[str, Listing | None] = Field(default_factory=dict)  # None: delete
    summary: Summary | None = None
    blobs: dict[str, Blob | None] = Field(default_factory=dict)  # None: delete


class CatalogKeys(Contract):
    """The items one read brings (``Catalog.read``): a whole batch's in one BatchGetItem."""

    posts: tuple[str, ...] = ()  # source keys
    slugs: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    blobs: tuple[str, ...] = ()


class CatalogItems(Contract):
    """What ``Catalog.read`` found. An asked-for key that is absent here does not exist.

    ``revision`` counts the site's commits (the summary item carries it): a batch commits
    only if nobody committed since it read, so two Index invocations never interleave."""

    posts: dict[str, CatalogPost] = Field(default_factory=dict)
    slug_owners: dict[str, str] = Field(default_factory=dict)
    first_published: dict[str, datetime] = Field(default_factory=dict)
    summary: Summary = Summary()
    revision: int = 0
    listings: dict[str, Listing] = Field(default_factory=dict)
    blobs: dict[str, Blob] = Field(default_factory=dict)


class PostWrite(Contract):
    """One post item written by a batch, guarded by the version the batch read (None: absent)."""

    expected_version: str | None
    post: CatalogPost | None  # None removes the post item


class CatalogChanges(Contract):
    """Everything one batch writes to the catalog (``Catalog.apply``): net values, so a
    retried batch writes the same. ``revision`` is the one the batch read; the summary is
    written with the next one, and the whole is refused if another commit came between."""

    revision: int
    posts: dict[str, PostWrite] = Field(default_factory=dict)  # source key -> write
    slugs: dict[str, str | None] = Field(default_factory=dict)  # slug -> owner; None releases it
    first_published: dict[str, datetime] = Field(default_factory=dict)
    listings: dict[str, Listing | None] = Field(default_factory=dict)  # None: delete
    summary: Summary
    blobs: dict[str, Blob | None] = Field(default_factory=dict)  # None: delete

    @property
    def empty(self) -> bool:
        return not (self.posts or self.slugs or self.first_published or self.listings or self.blobs)


def key_marker(source_key: str) -> str:
    return f"KEY#{source_key}"


def slug_marker(slug: str) -> str:
    return f"SLUG#{slug}"


class CatalogConflictError(Exception):
    """The post item changed between read and commit: the change is retried from the start."""


class Catalog(Protocol):
    """The catalog port. DynamoCatalog is the real one; MemoryCatalog the fake for tests.

    Index reads a batch's items with ``read`` and writes its net result with ``apply``;
    ``snapshot``/``commit`` are the same for one change (``pressline.indexing.overlay``
    gives the batch's changes that interface, in memory)."""

    def read(self, keys: CatalogKeys) -> CatalogItems:
        """One read (a BatchGetItem per 100 keys) of the items named, and the summary."""
        ...

    def apply(self, changes: CatalogChanges) -> None:
        """Write a batch's changes: CatalogConflictError if the revision or a post's version moved."""
        ...

    def snapshot(
        self,
        source_key: str,
        slugs: Iterable[str],
        markers: Iterable[str],
        listings: Iterable[str],
        blobs: Iterable[str] = (),
    ) -> Snapshot:
        """One read of the post item, slug owners, first-publication markers, summary, listings and blobs."""
        ...

    def listings(self, ids: Iterable[str]) -> dict[str, Listing]:
        """More listings (an edit that moved the post; a tag front page to refill)."""
        ...

    def blobs(self, names: Iterable[str]) -> dict[str, Blob]:
        """More blobs (the search shard of the month a post left)."""
        ...

    def published(
        self, *, older_than: str | None = None, newer_than: str | None = None, limit: int = 20
    ) -> list[CatalogPost]:
        """Published posts next to a position: older ones newest first, newer ones oldest first."""
        ...

    def due(self, now: datetime) -> list[CatalogPost]:
        """Scheduled posts whose date has come (oldest first)."""
        ...

    def commit(self, commit: Commit) -> None: ...

    def all_published(self) -> Iterator[CatalogPost]:
        """Every published post, newest first (``pressline rebuild``)."""
        ...

    def replace_derived(self, summary: Summary, listings: dict[str, Listing], blobs: dict[str, Blob]) -> None:
        """Replace the summary, every listing and every blob (``pressline rebuild``)."""
        ...
