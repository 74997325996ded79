"""Who owns a slug: the port Validate uses to refuse a slug already published from
another source key.

The catalog belongs to the Index stage: for every slug it keeps the PostsTable item
``pk="SLUG#<slug>", sk="SLUG"`` with the owning ``source_key``. The DynamoDB reader
is ``pressline.adapters.slugs.DynamoSlugRegistry``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class SlugRegistry(Protocol):
    def owners_of(self, slugs: Collection[str]) -> dict[str, str]:
        """The source key that holds each of ``slugs`` in the catalog (a slug nobody holds
        is absent): one read for a whole batch of posts."""
        ...


class MemorySlugRegistry:
    """A SlugRegistry from a dict (unit tests; ``pressline check`` across local files)."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.owners = dict(owners or {})

    def owners_of(self, slugs: Collection[str]) -> dict[str, str]:
        return {slug: self.owners[slug] for slug in slugs if slug in self.owners}
