"""What Index knows about each image beside a post (issue 14): its variants, and which posts show it.

The Image stage publishes an upload's variants and sends ``IndexUpdate(action="image")`` with
their ``ImageSet`` (or none: the image is gone). Index is the site's single writer, so it keeps
the manifest, in the catalog, one blob per image (``IMAGE#<src>``, ``src`` as rendered HTML names
it: ``/media/2026/harbour.jpg``), read in the batch's one BatchGetItem like every other blob:

- ``version``: the image version whose variants the record holds ("" before any);
- ``image``: those variants, or None (not uploaded yet, refused, or gone);
- ``posts``: the source keys of the posts whose rendering names the image (body or cover).

Posts and images arrive in any order, so either side can come first:

- a post applied before its image adds its key to the record (created empty if need be) and is
  shown with the image as it is, with a warning in its report;
- an image applied later finds the posts that show it in ``posts``, and Index writes their pages
  (and, for a cover, their listings) again, now with the variants.

Pure functions here; ``pressline.stages.index`` does the reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pressline.indexing.catalog import Blob
from pressline.models import Contract, ImageSet, Problem, RenderedPost, SourceRef
from pressline.posts.paths import file_key, media_src, version_token

IMAGE_PREFIX = "IMAGE#"
# A cover as listings carry it: the variants up to the fallback width (960), enough for a 12rem
# thumbnail on a 2x screen and a phone's full column, and for og:image (<= 1,200): ~6 URLs
# instead of ~9, since every listing entry of the post carries a copy.
LISTING_MAX_WIDTH = 960  # pressline.site.responsive.FALLBACK_WIDTH (imported by pages only: cold start)


def image_blob(src: str) -> str:
    return IMAGE_PREFIX + src


class ImageRecord(Contract):
    version: str = ""
    image: ImageSet | None = None
    posts: tuple[str, ...] = ()


def parse_record(blob: Blob | None) -> ImageRecord:
    if blob is None or blob.external:
        return ImageRecord()
    try:
        return ImageRecord.model_validate_json(blob.data())
    except ValueError:
        return ImageRecord()  # written by no Index of ours: treated as unknown, rewritten on the next change


def record_blob(record: ImageRecord) -> Blob | None:
    """The record's blob, or None (delete it) when it holds nothing: no variants, no post."""
    if record.image is None and not record.posts:
        return None
    return Blob.of(record.model_dump_json().encode())


def sources_of(rendered: RenderedPost | None) -> tuple[str, ...]:
    """The site images a rendering shows: its cover first, then the body's, once each."""
    if rendered is None:
        return ()
    if "<img" not in rendered.body_html and not rendered.meta.image:
        return ()  # most posts: nothing to tokenize, and no markup module to import
    from pressline.site.responsive import is_local, local_sources

    cover = (rendered.meta.image,) if rendered.meta.image and is_local(rendered.meta.image) else ()
    return tuple(dict.fromkeys(cover + local_sources(rendered.body_html)))


def cover_src(rendered: RenderedPost | None) -> str | None:
    image = rendered.meta.image if rendered is not None else None
    if not image:
        return None
    from pressline.site.responsive import is_local

    return image if is_local(image) else None


def for_listing(image: ImageSet | None) -> ImageSet | None:
    """The copy of a cover that listing entries carry (``LISTING_MAX_WIDTH``)."""
    if image is None:
        return None
    kept = tuple(v for v in image.variants if v.width <= LISTING_MAX_WIDTH)
    if not kept:  # every variant wider (cannot happen with process's widths): the narrowest of each type
        kept = tuple(image.of_type(t)[0] for t in dict.fromkeys(v.content_type for v in image.variants))
    return image.model_copy(update={"variants": kept})


def with_post(record: ImageRecord, key: str, shows: bool) -> ImageRecord:
    """The record with ``key`` among its posts (``shows``) or not: set semantics, idempotent."""
    posts = tuple(p for p in record.posts if p != key) + ((key,) if shows else ())
    return record if posts == record.posts else record.model_copy(update={"posts": tuple(sorted(posts))})


def missing_warnings(sources: Iterable[str], known: dict[str, ImageSet | None]) -> list[Problem]:
    """A warning for each image a post shows that has no variants (not uploaded yet, refused,
    deleted): the page shows it as written, and Index writes it again when the image lands."""
    return [
        Problem(
            field="image",
            message=f"{src} has no published variants yet (not uploaded, refused or deleted): the page links it "
            "as written, and shows it resized once it is published",
        )
        for src in sources
        if known.get(src) is None
    ]


@dataclass(frozen=True)
class ImageChange:
    """An image update to apply: the record's next value, and the variant files it retires."""

    src: str
    record: ImageRecord
    retired: tuple[str, ...]  # site keys of the old variants no longer in the record


def decide_image(
    image: ImageSet | None, source: SourceRef, head: SourceRef | None, record: ImageRecord
) -> ImageChange | str:
    """An image update against S3's current version of its key (``head``) and the record: the
    change, or why it is skipped (stale: S3 has moved on and a newer update follows; duplicate)."""
    src = media_src(source.key)
    if image is not None and image.src != src:
        return f"the variants name {image.src!r}, not {src!r}"
    if image is not None and (head is None or version_token(head) != version_token(source)):
        return f"stale: {source.key} is no longer at version {version_token(source)}"
    if image is None and head is not None:
        return f"stale: {source.key} was uploaded again after it was deleted"
    version = version_token(source) if image is not None else ""
    if record.version == version and record.image == image:
        return f"duplicate: {src} is already at version {version or '(gone)'}"
    kept = {v.url for v in image.variants} if image is not None else set()
    retired = tuple(
        file_key(v.url)
        for v in (record.image.variants if record.image is not None else ())
        if v.url not in kept and v.url.startswith("/") and not v.url.startswith("//")
    )
    return ImageChange(src, record.model_copy(update={"version": version, "image": image}), retired)
