"""How generated files reach the site bucket: the generators write text through a
``SiteWriter``; ``SiteFiles`` puts it in an ObjectStore and records what was written.

Index hands it a ``BufferedStore`` (``pressline.adapters.buffered``), so a batch's files
are written once each, together, after the whole batch is generated; ``pressline
rebuild`` does the same, flushing as it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pressline.adapters.buffered import BufferedStore
from pressline.adapters.store import ObjectStore
from pressline.indexing.layout import LISTING_CACHE

HTML = "text/html; charset=utf-8"

# A file's text, or the function that makes it (called once, when the file is written: a
# page that each change of a batch touches is rendered once, from the batch's last values).
Text = str | Callable[[], str]


class SiteWriter(Protocol):
    def put(
        self, key: str, text: Text, content_type: str = ..., cache_control: str = ..., *, redirect: str | None = ...
    ) -> None: ...
    def delete(self, key: str) -> None: ...


class SiteFiles:
    """A SiteWriter over a store, keeping the keys written and deleted (in order, once each)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.written: list[str] = []
        self.deleted: list[str] = []

    def put(
        self,
        key: str,
        text: Text,
        content_type: str = HTML,
        cache_control: str = LISTING_CACHE,
        *,
        redirect: str | None = None,  # an old URL's object: S3's WebsiteRedirectLocation (indexing.redirects)
    ) -> None:
        if callable(text) and isinstance(self.store, BufferedStore) and redirect is None:
            self.store.put_later(key, lambda: text().encode("utf-8"), content_type, cache_control)
        else:
            body = text() if callable(text) else text
            self.store.put(key, body.encode("utf-8"), content_type, cache_control=cache_control, redirect=redirect)
        self.written.append(key)

    def delete(self, key: str) -> None:
        self.store.delete(key)
        self.deleted.append(key)
