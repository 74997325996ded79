"""The manifest entry of an uploaded image (``pressline.site.responsive.ImageSet``, what pages
show it with) from what ``process`` made of it. In the image stage's package: it needs
``ImageResult``, and pages need only the ``ImageSet``."""

from __future__ import annotations

from urllib.parse import quote

from pressline.images.variants import ImageResult
from pressline.models import ImageSet, ImageVariant
from pressline.site.responsive import CONTENT_TYPES


def image_set(result: ImageResult, base_path: str, *, src: str) -> ImageSet:
    """The manifest entry of ``result`` (from ``process``), its variants published under
    ``base_path`` (``/media/2026/``); ``src`` is the image's path in the rendered HTML (the
    sanitizer writes ``quote(media_path(source_key))``)."""
    if not result.ok or result.fallback is None or not result.variants:
        raise ValueError(f"{src}: the image was refused ({result.rejected}): it has no variants to show")
    base = base_path if base_path.endswith("/") else base_path + "/"
    variants = tuple(
        ImageVariant(
            content_type=CONTENT_TYPES[variant.format],
            width=variant.width,
            height=variant.height,
            url=base + quote(variant.name),
        )
        for variant in result.variants
    )
    return ImageSet(
        src=src, width=result.width, height=result.height, fallback=CONTENT_TYPES[result.fallback], variants=variants
    )
