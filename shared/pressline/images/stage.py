"""The Image stage: one ImageRequest (from Validate) -> the image's variants on the site, its
report, and an IndexUpdate(action="image") for Index.

Each request is reconciled with what S3 holds *now* (events duplicate and reorder; the bucket
does not lie), and what is sent names that version:

- **gone** (no current version): the stripped copy at ``media/<path>`` is deleted, the report
  says "unpublished", and Index is told (``image`` None): it deletes the variants it knows
  and re-renders the posts that show the image;
- **refused** by ``pressline.images.process`` (a bomb, a truncated or corrupt file, ...): the
  report says "rejected" with the reason, and nothing else changes: the previous version's
  variants and copy stay;
- **ok**: every variant is put at its URL's key (names carry a hash: cached for a year), and
  the widest fallback (JPEG or PNG, metadata stripped) also at ``media/<path>``, the
  original's URL, so every old link, feed and email that names it gets stripped bytes,
  never the original. Then the report "published" and the update with the ImageSet. Files
  first, report and update last: Index re-renders pages that reference only files that
  exist.

A duplicate request writes the same bytes and sends an equal update (Index recognises it).
A version replaced while it was being processed is left to the newer version's request
(outcome "stale"); replaced (or uploaded again after a delete) while the copy was being
written, the message is retried, and the retry publishes what S3 then holds: S3's current
version is checked before and after the writes, so the last writer is never a stale one for
long. Bad bytes never raise; only transient AWS errors and malformed messages
fail a message (SQS retries; poison reaches the DLQ by maxReceiveCount). Logs name keys
only, never bytes or EXIF contents.

In ``pressline.images`` (the image function's own layer, with Pillow), not the shared layer:
Pillow is imported with this module, since every request that is not a delete decodes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from pressline.errors import PoisonMessageError, RetryableError
from pressline.images.manifest import image_set
from pressline.images.variants import ImageResult, process
from pressline.models import ImageRequest, ImageSet, IndexUpdate, Problem, SourceRef
from pressline.posts.images import MAX_IMAGE_BYTES
from pressline.posts.paths import (
    HASHED_PREFIX,
    MAX_KEY_BYTES,
    MEDIA_PREFIX,
    POSTS_PREFIX,
    classify,
    file_key,
    key_bytes,
    key_digest,
    media_key,
    media_path,
    media_src,
)
from pressline.posts.report import build_report, write_report
from pressline.stages.batching import Batch, Handled

if TYPE_CHECKING:
    from pressline.adapters.queue import Queue
    from pressline.adapters.store import ObjectStore, StoredObject
    from pressline.config import Settings

logger = Logger(child=True)

Outcome = Literal["published", "rejected", "unpublished", "stale"]
# Variant names carry a hash of their bytes: a replaced image gets new names, so these never change.
VARIANT_CACHE_CONTROL = "public, max-age=31536000, immutable"
# The copy at the original's URL is replaced in place when the image is: as Validate's was.
ORIGINAL_CACHE_CONTROL = "public, max-age=86400"
Send = Callable[["Queue", BaseModel], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    source: ObjectStore
    site: ObjectStore
    index_queue: Queue
    bucket: str
    base_url: str = ""
    clock: Callable[[], datetime] = field(default=_utc_now)

    @classmethod
    def from_settings(cls, config: Settings) -> Dependencies:
        from pressline.adapters.queue import SqsQueue
        from pressline.adapters.store import S3Store

        return cls(
            source=S3Store(config.source_bucket),
            site=S3Store(config.site_bucket),
            index_queue=SqsQueue(config.index_queue_url),
            bucket=config.source_bucket,
            base_url=config.base_url,
        )


def parse_request(body: str) -> ImageRequest:
    try:
        request = ImageRequest.model_validate_json(body)
    except ValidationError as error:
        raise PoisonMessageError(f"not an image request ({error.error_count()} problems)") from error
    key = request.source.key
    if not key.startswith(POSTS_PREFIX) or classify(key) != "image":
        raise PoisonMessageError(f"not an image under {POSTS_PREFIX}: {key[:200]!r}")
    return request


def handle_batch(batch: Batch, deps: Dependencies) -> Handled[Outcome]:
    """Each message alone (one image's pixels in memory at a time); the updates to Index go
    out together when the batch ends."""
    outcomes: dict[str, list[Outcome]] = {}
    for message in batch.messages:
        outcome = batch.run(message, partial(handle_message, message.body, deps, partial(batch.send, message)))
        if outcome is not None:
            outcomes[message.message_id] = [outcome]
    return batch.handled(outcomes)


def handle_message(body: str, deps: Dependencies, send: Send) -> Outcome:
    request = parse_request(body)
    key = request.source.key
    stored = deps.source.get(key, limit=MAX_IMAGE_BYTES)
    if stored is None:
        return _gone(request.source, deps, send)
    source = SourceRef(
        bucket=deps.bucket,
        key=key,
        version_id=stored.version_id,
        etag=stored.etag,
        last_modified=stored.last_modified,
    )
    if stored.full_size > MAX_IMAGE_BYTES:  # Validate refuses these; a reordered event may not have
        message = f"is {stored.full_size:,} bytes; the limit for images is 10 MiB"
        return _rejected(source, message, (), deps)
    result = process(stored.body, key)
    if not result.ok:
        return _rejected(source, str(result.rejected), result.notes, deps)
    put_variants(key, result, deps.site)
    if not _still_current(stored, deps):
        # Replaced meanwhile: the newer version's request publishes it (its variants are
        # written; these are harmless files nothing names). Writing the copy, the report and
        # the update now could overwrite the newer version's.
        logger.info("Image replaced while processed; left to the newer version's request", extra={"key": key})
        return "stale"
    put_copy(key, result, deps.site)
    warnings = [Problem(field="file", message=note) for note in result.notes]
    report = build_report(
        source, "published", processed_at=deps.clock(), url=deps.base_url + media_path(key), warnings=warnings
    )
    write_report(deps.source, report)
    if not _still_current(stored, deps):
        # Replaced between the check above and these writes: they may have overwritten the
        # newer version's, so this message is retried, and its retry publishes the newer one.
        raise RetryableError(f"{key} was replaced while its copy was written; retried to publish the newer version")
    image = manifest(key, result)
    send(deps.index_queue, IndexUpdate(action="image", source=source, image=image))
    logger.info("Published image", extra={"key": key, "version": source.version_id, "variants": len(image.variants)})
    return "published"


# The longest variant name ``process`` gives: a stem of at most 80 ASCII characters, then
# "-1600w-" and 8 hex digits of hash, then ".avif" or ".webp".
LONGEST_VARIANT_NAME = 80 + len("-1600w-") + 8 + len(".avif")


def base_path(key: str) -> str:
    """The site folder the variants are published in, as a URL path (``/media/2026/``). A folder
    so deep that a variant's key would pass S3's 1,024 bytes is replaced by one named by the
    hash of the source key (``/media/by-hash/<sha256>/``, as reports are): the upload S3
    accepted is published, not retried until its message reaches the dead-letter queue."""
    folder = posixpath.dirname(media_key(key)).rstrip("/") + "/"
    if key_bytes(folder) + LONGEST_VARIANT_NAME > MAX_KEY_BYTES:
        folder = f"{MEDIA_PREFIX}{HASHED_PREFIX}{key_digest(key)}/"
    return quote("/" + folder)


def manifest(key: str, result: ImageResult) -> ImageSet:
    """What pages show the image at ``key`` with: its variants, as ``put_variants`` published them."""
    return image_set(result, base_path(key), src=media_src(key))


def put_variants(key: str, result: ImageResult, site: ObjectStore) -> None:
    """Every variant at its key in the site bucket (``pressline preview`` publishes them the same way)."""
    base = base_path(key)
    for variant in result.variants:
        target = file_key(base + quote(variant.name))
        site.put(target, variant.data, variant.content_type, cache_control=VARIANT_CACHE_CONTROL)


def put_copy(key: str, result: ImageResult, site: ObjectStore) -> None:
    """The widest fallback (JPEG or PNG, metadata stripped) at the original's own path, so every
    old link, feed and email that names it gets stripped bytes, never the original."""
    widest = result.of_format(result.fallback or "jpeg")[-1]  # ok: a fallback in every width
    site.put(media_key(key), widest.data, widest.content_type, cache_control=ORIGINAL_CACHE_CONTROL)


def _still_current(stored: StoredObject, deps: Dependencies) -> bool:
    """Whether S3's current version is still the one processed (one HEAD: cheap beside the
    decode, and it keeps a slow older request from overwriting a newer version's copy)."""
    head = deps.source.head(stored.key)
    if head is None:
        return False  # deleted meanwhile: the delete's request unpublishes it
    if stored.version_id is not None:
        return head.version_id == stored.version_id
    return head.etag == stored.etag


def _gone(request: SourceRef, deps: Dependencies, send: Send) -> Outcome:
    """The event's version names the delete (as Validate's delete of a post does)."""
    key = request.key
    source = SourceRef(bucket=deps.bucket, key=key, version_id=request.version_id, sequencer=request.sequencer)
    deps.site.delete(media_key(key))
    write_report(deps.source, build_report(source, "unpublished", processed_at=deps.clock()))
    if deps.source.head(key) is not None:
        # Uploaded again meanwhile, maybe published already: the retry finds it and publishes it.
        raise RetryableError(f"{key} was uploaded again while its copy was deleted; retried to publish it")
    send(deps.index_queue, IndexUpdate(action="image", source=source, image=None))
    logger.info("Image gone: copy deleted, Index told", extra={"key": key})
    return "unpublished"


def _rejected(source: SourceRef, reason: str, notes: tuple[str, ...], deps: Dependencies) -> Outcome:
    report = build_report(
        source,
        "rejected",
        processed_at=deps.clock(),
        errors=[Problem(field="file", message=reason)],
        warnings=[Problem(field="file", message=note) for note in notes],
    )
    write_report(deps.source, report)
    logger.info("Image rejected", extra={"key": source.key, "version": source.version_id})
    return "rejected"
