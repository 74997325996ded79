"""The messages between stages, built in one place: what each carries, and up to what size.

The Index queue is a standard queue: Index orders changes itself (S3's current version and
the catalog's), so updates carry no group or deduplication id, and a duplicate is one
Index recognises.
"""

from __future__ import annotations

from pressline.adapters.queue import message_body
from pressline.adapters.store import StoredObject
from pressline.models import IndexUpdate, RenderedPost, RenderRequest, SourceRef

# A rendered post travels inside its update up to this size (SQS takes 256 KiB per
# message, attributes included); a larger one is read from its stored rendering.
INLINE_RENDERED_BYTES = 192 * 1024
# A post's source travels inside its render request up to this size (the whole message,
# as JSON: quotes and control characters are escaped, so the text alone says too little).
# Ten of them still fit two SendMessageBatch calls; a larger post is read by Render.
INLINE_SOURCE_BYTES = 128 * 1024


def _size(message: IndexUpdate | RenderRequest) -> int:
    """The message's size as SQS counts it: its body, as the queue sends it."""
    return len(message_body(message).encode("utf-8"))


def render_request(source: SourceRef, stored: StoredObject) -> RenderRequest:
    """Validate -> Render: ``source`` passed validation; ``stored`` is what the same read
    brought (its bytes, which go along when small, whole and UTF-8)."""
    request = RenderRequest(source=source)
    whole = stored.full_size == len(stored.body) and stored.version_id == source.version_id
    if not whole or source.version_id is None:  # no version to name the bytes by: Render reads
        return request
    try:
        text = stored.body.decode("utf-8")
    except UnicodeDecodeError:  # Validate rejects these; never carry what is not text
        return request
    carried = RenderRequest(source=source, text=text)
    return carried if _size(carried) <= INLINE_SOURCE_BYTES else request


def upsert(source: SourceRef, slug: str, rendered: RenderedPost | None = None) -> IndexUpdate:
    """Render -> Index: this version is rendered (and here it is, when small)."""
    update = IndexUpdate(action="upsert", source=source, slug=slug, rendered=rendered)
    if rendered is not None and _size(update) > INLINE_RENDERED_BYTES:
        update = IndexUpdate(action="upsert", source=source, slug=slug)
    return update


def delete(source: SourceRef) -> IndexUpdate:
    """Validate -> Index: the source object is gone."""
    return IndexUpdate(action="delete", source=source)
