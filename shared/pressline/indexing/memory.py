"""An in-memory Catalog with the same contract as DynamoCatalog, for unit tests and
for tools that work on a catalog without AWS."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from pressline.indexing.catalog import (
    Blob,
    CatalogChanges,
    CatalogConflictError,
    CatalogItems,
    CatalogKeys,
    CatalogPost,
    Commit,
    Listing,
    Snapshot,
    Summary,
    utc_iso,
)


class Crash(BaseException):
    """Tests: the process dies here (a timeout, the memory limit). Nothing in the code catches
    it, as nothing outlives a killed Lambda invocation."""


class MemoryCatalog:
    def __init__(self) -> None:
        self.posts: dict[str, CatalogPost] = {}
        self.slugs: dict[str, str] = {}
        self.markers: dict[str, datetime] = {}
        self.summary = Summary()
        self.lists: dict[str, Listing] = {}
        self.stored_blobs: dict[str, Blob] = {}
        self.revision = 0  # DynamoCatalog's summary without a revision reads as 0 too
        self.commits = 0
        self.fail_next_commit = False  # tests: a crash just before the catalog is written

    def snapshot(
        self,
        source_key: str,
        slugs: Iterable[str],
        markers: Iterable[str],
        listings: Iterable[str],
        blobs: Iterable[str] = (),
    ) -> Snapshot:
        return Snapshot(
            post=self.posts.get(source_key),
            slug_owners={slug: self.slugs[slug] for slug in slugs if slug in self.slugs},
            first_published={marker: self.markers[marker] for marker in markers if marker in self.markers},
            summary=self.summary,
            listings=self.listings(listings),
            blobs=self.blobs(blobs),
        )

    def read(self, keys: CatalogKeys) -> CatalogItems:
        return CatalogItems(
            posts={key: self.posts[key] for key in keys.posts if key in self.posts},
            slug_owners={slug: self.slugs[slug] for slug in keys.slugs if slug in self.slugs},
            first_published={marker: self.markers[marker] for marker in keys.markers if marker in self.markers},
            summary=self.summary,
            revision=self.revision,
            listings=self.listings(keys.listings),
            blobs=self.blobs(keys.blobs),
        )

    def apply(self, changes: CatalogChanges) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise Crash("injected crash before the catalog commit")
        if changes.revision != self.revision:
            raise CatalogConflictError(f"revision {changes.revision} read, {self.revision} now")
        for source_key, write in changes.posts.items():
            current = self.posts.get(source_key)
            if (current.version if current else None) != write.expected_version:
                raise CatalogConflictError(source_key)
        self.commits += 1
        self.revision += 1
        for source_key, write in changes.posts.items():
            if write.post is None:
                self.posts.pop(source_key, None)
            else:
                self.posts[source_key] = write.post
        for slug, owner in changes.slugs.items():
            if owner is None:
                self.slugs.pop(slug, None)
            else:
                self.slugs[slug] = owner
        self._store_derived(changes.first_published, changes.listings, changes.blobs)
        self.summary = changes.summary

    def blobs(self, names: Iterable[str]) -> dict[str, Blob]:
        return {name: self.stored_blobs[name] for name in names if name in self.stored_blobs}

    def listings(self, ids: Iterable[str]) -> dict[str, Listing]:
        return {listing_id: self.lists[listing_id] for listing_id in ids if listing_id in self.lists}

    def published(
        self, *, older_than: str | None = None, newer_than: str | None = None, limit: int = 20
    ) -> list[CatalogPost]:
        public = sorted((post for post in self.posts.values() if post.public), key=lambda post: post.order)
        if newer_than is not None:
            return [post for post in public if post.order > newer_than][:limit]
        older = [post for post in reversed(public) if older_than is None or post.order < older_than]
        return older[:limit]

    def due(self, now: datetime) -> list[CatalogPost]:
        bound = utc_iso(now) + "~"  # every order key at or before now sorts below this
        scheduled = (post for post in self.posts.values() if post.status == "scheduled" and post.order <= bound)
        return sorted(scheduled, key=lambda post: post.order)

    def commit(self, commit: Commit) -> None:
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise Crash("injected crash before the catalog commit")
        current = self.posts.get(commit.source_key)
        if (current.version if current else None) != commit.expected_version:
            raise CatalogConflictError(commit.source_key)
        self.commits += 1
        if commit.post is None:
            self.posts.pop(commit.source_key, None)
        else:
            self.posts[commit.source_key] = commit.post
        for slug in commit.release_slugs:
            self.slugs.pop(slug, None)
        for slug in commit.claim_slugs:
            self.slugs[slug] = commit.source_key
        self._store_derived(commit.first_published, commit.listings, commit.blobs)
        if commit.summary is not None:
            self.summary = commit.summary

    def _store_derived(
        self,
        first_published: dict[str, datetime],
        listings: dict[str, Listing | None],
        blobs: dict[str, Blob | None],
    ) -> None:
        """Markers (the first moment stays), listings and blobs (None or empty: removed)."""
        for marker, moment in first_published.items():
            self.markers.setdefault(marker, moment)
        for listing_id, listing in listings.items():
            if listing is None or not listing.entries:
                self.lists.pop(listing_id, None)
            else:
                self.lists[listing_id] = listing
        for name, blob in blobs.items():
            if blob is None:
                self.stored_blobs.pop(name, None)
            else:
                self.stored_blobs[name] = blob

    def all_published(self) -> Iterator[CatalogPost]:
        yield from self.published(limit=len(self.posts) + 1)

    def replace_derived(self, summary: Summary, listings: dict[str, Listing], blobs: dict[str, Blob]) -> None:
        self.revision = 0  # as DynamoCatalog: the rebuilt summary carries no revision
        self.summary = summary
        self.lists = {listing_id: listing for listing_id, listing in listings.items() if listing.entries}
        # As DynamoCatalog: search shards are replaced; the other blobs (image records, the feeds'
        # digests) are not derived from the posts and stay unless given.
        kept = {name: blob for name, blob in self.stored_blobs.items() if not name.startswith("SEARCH#")}
        self.stored_blobs = {**kept, **blobs}
