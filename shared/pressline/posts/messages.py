"""Index updates as the FIFO index queue wants them: one group, deterministic dedup ids."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pressline.models import IndexUpdate, RenderedPost, SourceRef
from pressline.posts.paths import version_token

INDEX_GROUP = "site"  # one group: Index applies site-wide changes one at a time


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


# A rendered post travels inside its update up to this size (SQS takes 256 KiB per
# message, attributes included); a larger one is read from its stored rendering.
INLINE_RENDERED_BYTES = 192 * 1024


def upsert(source: SourceRef, slug: str, rendered: RenderedPost | None = None) -> tuple[IndexUpdate, str]:
    """Render -> Index: this version is rendered. Dedup id: key + version + action."""
    update = IndexUpdate(action="upsert", source=source, slug=slug, rendered=rendered)
    if rendered is not None and len(update.model_dump_json().encode("utf-8")) > INLINE_RENDERED_BYTES:
        update = IndexUpdate(action="upsert", source=source, slug=slug)
    return update, _digest("upsert", source.key, version_token(source))


def delete(source: SourceRef, event_time: datetime) -> tuple[IndexUpdate, str]:
    """Validate -> Index: the source object is gone. Dedup id: key + version (or "deleted") +
    event time, so a later delete of a re-uploaded post is not mistaken for a duplicate."""
    marker = source.version_id or "deleted"
    return IndexUpdate(action="delete", source=source), _digest("delete", source.key, marker, event_time.isoformat())
