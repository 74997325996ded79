"""Who owns a slug: the port Validate and Render use to refuse a slug already
published from another source key.

The catalog belongs to the Index stage: for every slug it keeps the PostsTable item
``pk="SLUG#<slug>", sk="SLUG"`` with the owning ``source_key``. The DynamoDB reader
is ``pressline.adapters.slugs.DynamoSlugRegistry``.
"""

from __future__ import annotations

from typing import Protocol


class SlugRegistry(Protocol):
    def owner_of(self, slug: str) -> str | None:
        """The source key that holds ``slug`` in the catalog, or None."""
        ...


class MemorySlugRegistry:
    """A SlugRegistry from a dict (unit tests; ``pressline check`` across local files)."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.owners = dict(owners or {})

    def owner_of(self, slug: str) -> str | None:
        return self.owners.get(slug)
