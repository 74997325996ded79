"""Images uploaded beside posts: checked by their first bytes, then published as is.

The content type comes from what the bytes are, not from the file name, so a file
that merely ends in ``.png`` is never served with an image type it does not have.
SVG is refused: it is a document that can carry scripts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from pressline.models import Problem
from pressline.posts.paths import IMAGE_TYPES, POSTS_PREFIX, REFUSED_IMAGE_SUFFIXES, classify, resolve_relative

MAX_IMAGE_BYTES = 10 * 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
)


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` by its signature, or None."""
    for signature, offset, content_type in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class ImageCheck:
    content_type: str | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def check_image(data: bytes, key: str) -> ImageCheck:
    """The content type to publish ``data`` with, or the errors that refuse it."""
    lower = key.lower()
    if lower.endswith(REFUSED_IMAGE_SUFFIXES):
        message = "is an SVG image, which is not published (SVG can carry scripts); upload PNG, JPEG, GIF or WebP"
        return ImageCheck(None, [Problem(field="file", message=message)])
    if len(data) > MAX_IMAGE_BYTES:
        message = f"is {len(data):,} bytes; the limit for images is 10 MiB"
        return ImageCheck(None, [Problem(field="file", message=message)])
    actual = sniff(data)
    if actual is None:
        return ImageCheck(None, [Problem(field="file", message="is not a PNG, JPEG, GIF or WebP image")])
    expected = next((kind for suffix, kind in IMAGE_TYPES.items() if lower.endswith(suffix)), None)
    if expected is not None and actual != expected:
        kind = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP"}[actual]
        message = f"is a {kind} image despite its name; it is published as {actual}"
        return ImageCheck(actual, warnings=[Problem(field="file", message=message)])
    return ImageCheck(actual)


def cover_problem(reference: str, source_key: str) -> str | None:
    """Why the front matter's ``image`` will not show as the author means, or None: the same
    cases as ``sanitize.resolve_image`` (which then drops it) and a plain http URL (kept, but
    an https page shows it as insecure or not at all)."""
    lower, shown = reference.lower(), clipped(reference)
    if lower.startswith("https://"):
        return None
    if lower.startswith("http://"):
        return f"'{shown}' is not https: browsers block it or mark the page insecure; use https://"
    if reference.startswith("/") and not reference.startswith("//"):
        return None  # a path on the site itself
    path = unquote(reference.split("#")[0].split("?")[0])
    target = resolve_relative(source_key, path)
    if target is None:
        return (
            f"'{shown}' leads out of the {POSTS_PREFIX} folder, where images are published from; "
            "it is ignored: put the image beside the post"
        )
    kind = classify(target)
    if kind == "refused-image":
        return (
            f"'{shown}' is an SVG image, which is not published (SVG can carry scripts); it is ignored: "
            "use PNG, JPEG, GIF or WebP"
        )
    if kind != "image":
        kinds = ", ".join(suffix.lstrip(".") for suffix in IMAGE_TYPES)
        return f"'{shown}' is not an image file ({kinds}); it is ignored"
    return None


def clipped(text: str, length: int = 80) -> str:
    """``text`` for a message: a value may be as long as the front matter (64 KiB)."""
    return text if len(text) <= length else text[: length - 1] + "…"
