"""What every source reader produces: one ``ImportedItem`` per post or page, the same shape
whatever the source, so that conversion, images, links and writing are written once.

Readers never raise on one bad item: they yield an ``ItemProblem`` for it and go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from pressline.models import Problem

ItemKind = Literal["post", "page"]
BodyFormat = Literal["markdown", "html"]


class ImportModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImportedAsset(ImportModel):
    """A file that comes with an item: inside the export (``data``) or beside the content
    (``path``, a local file). ``reference`` is how the item's body or front matter names it
    (a relative path or an old absolute URL), so that links can be rewritten to its new place."""

    name: str  # the file name to publish it under, beside the post
    reference: str
    path: str | None = None
    data: bytes | None = None


class ImportedComment(ImportModel):
    """A comment from the old site, kept for the comments feature (never published by import)."""

    source_id: str
    parent_id: str | None = None
    author: str = ""
    email: str | None = None
    url: str | None = None
    date: datetime | None = None
    body_html: str = ""
    status: Literal["approved", "pending", "spam", "trash"] = "approved"


class ImportedItem(ImportModel):
    """One post or page from an export, before conversion.

    ``source_id`` is stable across exports of the same site (WXR GUID or post id, Ghost id,
    a content file's path): re-importing keys on it. ``old_urls`` are the URLs (absolute or
    site-relative) the item answered at on the old site; each becomes an alias (301)."""

    source: str  # which reader: "wordpress", "ghost", "hugo", "jekyll"
    source_id: str
    kind: ItemKind = "post"
    slug: str
    title: str
    date: datetime | None = None
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    summary: str = ""
    author: str | None = None
    draft: bool = False
    body: str = ""
    body_format: BodyFormat = "markdown"
    image: str | None = None  # cover image: a URL or a path relative to the item
    canonical_url: str | None = None
    old_urls: tuple[str, ...] = ()
    assets: tuple[ImportedAsset, ...] = ()
    comments: tuple[ImportedComment, ...] = ()
    # Pages only: position in the site's navigation (None: not in it).
    nav_order: int | None = None
    warnings: tuple[Problem, ...] = ()


class ItemProblem(ImportModel):
    """An item a reader could not turn into an ``ImportedItem``: where, which, and why."""

    file: str
    item: str  # the item's id or title in the source, as the author would find it
    problem: Problem


class ImportSource(Protocol):
    """A reader of one export. ``site_url`` is the old site's address when the export says it
    (WXR's ``<wp:base_site_url>``, Ghost's ``url`` setting): the default download allow-list
    and the base for telling internal links from external ones."""

    @property
    def site_url(self) -> str | None: ...

    def items(self) -> Iterator[ImportedItem | ItemProblem]: ...


__all__ = ["ImportSource", "ImportedAsset", "ImportedComment", "ImportedItem", "ItemProblem"]
