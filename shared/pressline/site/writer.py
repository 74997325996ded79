"""How generated files reach the site bucket: the generators write text through a
``SiteWriter``; ``SiteFiles`` puts it in an ObjectStore and records what was written.

Index hands it a ``BufferedStore`` (``pressline.adapters.buffered``), so a batch's files
are written once each, together, after the whole batch is generated; ``pressline
rebuild`` does the same, flushing as it goes.
"""

from __future__ import annotations

from typing import Protocol

from pressline.adapters.store import ObjectStore
from pressline.indexing.layout import LISTING_CACHE

HTML = "text/html; charset=utf-8"


class SiteWriter(Protocol):
    def put(self, key: str, text: str, content_type: str = ..., cache_control: str = ...) -> None: ...
    def delete(self, key: str) -> None: ...


class SiteFiles:
    """A SiteWriter over a store, keeping the keys written and deleted (in order, once each)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.written: list[str] = []
        self.deleted: list[str] = []

    def put(self, key: str, text: str, content_type: str = HTML, cache_control: str = LISTING_CACHE) -> None:
        self.store.put(key, text.encode("utf-8"), content_type, cache_control=cache_control)
        self.written.append(key)

    def delete(self, key: str) -> None:
        self.store.delete(key)
        self.deleted.append(key)
