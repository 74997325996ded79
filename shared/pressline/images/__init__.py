"""Images uploaded beside posts, made into responsive variants without metadata (issue 14).

Pure functions over bytes, no AWS: ``process(data, name)`` gives the variants to publish or
the reason the upload is refused. Pillow is imported there (``variants``), so that module
belongs to the image stage's own layer only (the ``images`` extra), never to the shared layer.
``markup`` (the ``<picture>`` pages show) needs no Pillow: the names are imported lazily here,
so Render and Index can import ``pressline.images.markup`` without loading Pillow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pressline.images.markup import (
        CONTENT_SIZES,
        LISTING_SIZES,
        ImageSet,
        ImageVariant,
        Responsive,
        cover,
        image_set,
        responsive,
        share_url,
    )
    from pressline.images.variants import ImageResult, Limits, Variant, process

_MODULES = {
    "ImageResult": "variants",
    "Limits": "variants",
    "Variant": "variants",
    "process": "variants",
    "CONTENT_SIZES": "markup",
    "LISTING_SIZES": "markup",
    "ImageSet": "markup",
    "ImageVariant": "markup",
    "Responsive": "markup",
    "cover": "markup",
    "image_set": "markup",
    "responsive": "markup",
    "share_url": "markup",
}

__all__ = [
    "CONTENT_SIZES",
    "LISTING_SIZES",
    "ImageResult",
    "ImageSet",
    "ImageVariant",
    "Limits",
    "Responsive",
    "Variant",
    "cover",
    "image_set",
    "process",
    "responsive",
    "share_url",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'pressline.images' has no attribute {name!r}")
    return getattr(import_module(f"pressline.images.{module}"), name)
