"""The catalog as one batch of Index sees it: the stored catalog, read once, with the
batch's changes applied in memory one after another.

Each change of a batch is decided and generated against this overlay exactly as it would
be against the stored catalog after the changes before it, so a batch leaves the same
site as its changes applied one at a time (``tests/unit/indexing/test_index_batches.py``
checks it against ``pressline rebuild``). Nothing reaches the stored catalog until
``changes()`` hands the net result to ``Catalog.apply``: one commit per batch, whatever
its size, guarded by the revision read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pressline.indexing.catalog import (
    Blob,
    Catalog,
    CatalogChanges,
    CatalogKeys,
    CatalogPost,
    Commit,
    Listing,
    PostWrite,
    Snapshot,
    Summary,
)
from pressline.indexing.memory import MemoryCatalog

OverlayMark = tuple[
    dict[str, CatalogPost], dict[str, str], dict[str, datetime], Summary, dict[str, Listing], dict[str, Blob]
]


class CatalogOverlay(MemoryCatalog):
    """A MemoryCatalog that loads what it is asked for from ``base`` (once per item) and
    remembers what the base held, to write back only what the batch changed."""

    def __init__(self, base: Catalog) -> None:
        super().__init__()
        self.base = base
        self.base_posts: dict[str, CatalogPost | None] = {}
        self.base_slugs: dict[str, str | None] = {}
        self.base_markers: set[str] = set()
        self.base_lists: dict[str, Listing | None] = {}
        self.base_blobs: dict[str, Blob | None] = {}
        self.read_once = False  # the summary and revision come with the first read
        self.known_markers: set[str] = set()  # asked for, found or not

    # ----------------------------------------------------------------- reads
    def load(
        self,
        posts: Iterable[str] = (),
        slugs: Iterable[str] = (),
        markers: Iterable[str] = (),
        listings: Iterable[str] = (),
        blobs: Iterable[str] = (),
    ) -> None:
        """Read from the base whatever of these is not known yet, in one read."""
        keys = CatalogKeys(
            posts=tuple(k for k in dict.fromkeys(posts) if k not in self.base_posts),
            slugs=tuple(s for s in dict.fromkeys(slugs) if s not in self.base_slugs),
            markers=tuple(m for m in dict.fromkeys(markers) if m not in self.known_markers),
            listings=tuple(i for i in dict.fromkeys(listings) if i not in self.base_lists),
            blobs=tuple(n for n in dict.fromkeys(blobs) if n not in self.base_blobs),
        )
        if self.read_once and not (keys.posts or keys.slugs or keys.markers or keys.listings or keys.blobs):
            return
        found = self.base.read(keys)
        if not self.read_once:
            self.read_once, self.summary, self.revision = True, found.summary, found.revision
        for key in keys.posts:
            self.base_posts[key] = found.posts.get(key)
            if key in found.posts:
                self.posts[key] = found.posts[key]
        for slug in keys.slugs:
            self.base_slugs[slug] = found.slug_owners.get(slug)
            if slug in found.slug_owners:
                self.slugs[slug] = found.slug_owners[slug]
        self.known_markers.update(keys.markers)
        for marker, moment in found.first_published.items():
            self.base_markers.add(marker)
            self.markers[marker] = moment
        for listing_id in keys.listings:
            self.base_lists[listing_id] = found.listings.get(listing_id)
            if listing_id in found.listings:
                self.lists[listing_id] = found.listings[listing_id]
        for name in keys.blobs:
            self.base_blobs[name] = found.blobs.get(name)
            if name in found.blobs:
                self.stored_blobs[name] = found.blobs[name]

    def snapshot(
        self,
        source_key: str,
        slugs: Iterable[str],
        markers: Iterable[str],
        listings: Iterable[str],
        blobs: Iterable[str] = (),
    ) -> Snapshot:
        slugs, markers, listings, blobs = list(slugs), list(markers), list(listings), list(blobs)
        self.load([source_key], slugs, markers, listings, blobs)
        return super().snapshot(source_key, slugs, markers, listings, blobs)

    def listings(self, ids: Iterable[str]) -> dict[str, Listing]:
        ids = list(ids)
        self.load(listings=ids)
        return super().listings(ids)

    def blobs(self, names: Iterable[str]) -> dict[str, Blob]:
        names = list(names)
        self.load(blobs=names)
        return super().blobs(names)

    def published(
        self, *, older_than: str | None = None, newer_than: str | None = None, limit: int = 20
    ) -> list[CatalogPost]:
        # Only to rebuild a lost newest-posts state (rare): the stored catalog's index, which
        # does not see this batch's changes; the next change that touches the state mends it.
        return self.base.published(older_than=older_than, newer_than=newer_than, limit=limit)

    # ----------------------------------------------------------------- writes
    def commit(self, commit: Commit) -> None:
        """One change of the batch, in memory (guarded like the stored catalog's commit)."""
        self.load(
            [commit.source_key],
            [*commit.claim_slugs, *commit.release_slugs],
            commit.first_published,
            commit.listings,
            commit.blobs,
        )
        super().commit(commit)

    def mark(self) -> OverlayMark:
        """The batch's state now, to go back to if the change being made fails."""
        return (
            dict(self.posts),
            dict(self.slugs),
            dict(self.markers),
            self.summary,
            dict(self.lists),
            dict(self.stored_blobs),
        )

    def restore(self, mark: OverlayMark) -> None:
        posts, slugs, markers, summary, lists, blobs = mark
        self.posts, self.slugs, self.markers = dict(posts), dict(slugs), dict(markers)
        self.summary, self.lists, self.stored_blobs = summary, dict(lists), dict(blobs)

    def changes(self) -> CatalogChanges:
        """The net result of the batch: what differs from what the base held."""
        posts = {
            key: PostWrite(expected_version=before.version if before else None, post=self.posts.get(key))
            for key, before in self.base_posts.items()
            if self.posts.get(key) != before
        }
        slugs = {
            slug: self.slugs.get(slug) for slug, before in self.base_slugs.items() if self.slugs.get(slug) != before
        }
        slugs.update({slug: owner for slug, owner in self.slugs.items() if slug not in self.base_slugs})
        listings = {
            listing_id: self.lists.get(listing_id)
            for listing_id in {*self.base_lists, *self.lists}
            if self.lists.get(listing_id) != self.base_lists.get(listing_id)
        }
        blobs = {
            name: self.stored_blobs.get(name)
            for name in {*self.base_blobs, *self.stored_blobs}
            if self.stored_blobs.get(name) != self.base_blobs.get(name)
        }
        return CatalogChanges(
            revision=self.revision,
            posts=posts,
            slugs=slugs,
            first_published={m: at for m, at in self.markers.items() if m not in self.base_markers},
            listings=dict(sorted(listings.items())),
            summary=self.summary,
            blobs=dict(sorted(blobs.items())),
        )
