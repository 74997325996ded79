"""The markup pages show images with: ``<picture>`` in AVIF, WebP and a fallback, with
``srcset``, ``sizes``, ``width`` and ``height`` (issue 14). Pure functions, no Pillow, no AWS.

- ``ImageSet`` (``pressline.models``: the Image stage sends it to Index) is the manifest entry of
  one uploaded image; ``pressline.images.manifest.image_set`` makes it from what ``process`` made.
  This module is in the shared layer (pages are made by Index); ``pressline.images`` is not.
- ``responsive(body_html, images)`` rewrites every ``<img>`` of a sanitized body whose ``src`` is
  in the manifest into a ``<picture>``; every other byte of the body is kept as it is. An image
  not in the manifest (not uploaded yet, deleted) is left as it is with a warning for the post's
  report: never a broken page. External images are left alone, silently.
- ``cover(image_set, alt, eager=...)`` is the markup of a post's cover image (the top of its page,
  or beside it in a listing with ``sizes=LISTING_SIZES``); ``share_url`` the absolute URL of the
  variant og:image, feeds and emails point at.

Order: nh3 with the project's settings strips ``<picture>``, ``<source>``, ``srcset``, ``sizes``
and ``fetchpriority`` (``tests/unit/images/test_markup.py`` checks it), so ``responsive`` runs
after the last sanitizing (``sanitize_rendered`` included), when the page is made.

The body is tokenized with ``html.parser`` (``convert_charrefs=False``), never searched with a
regex: only the ``<img>`` tags it reports are replaced, by their offsets in the text. Every value
written is escaped with ``html.escape(quote=True)``, and every variant URL is checked first (a
site path or an https URL, nothing that could end an attribute or a ``srcset`` entry): an image
with a bad one is left as it is, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, unquote

from pressline.models import ImageSet, ImageVariant, Problem

# The content column of style.css: ``main`` is ``max-width: var(--measure)`` (42rem) with
# 1.25rem of padding each side, in ``box-sizing: border-box``: 39.5rem wide at most, the
# viewport less 2.5rem below 42rem. (rem in a media query is the browser's 16 px, as in sizes.)
CONTENT_SIZES = "(max-width: 42rem) calc(100vw - 2.5rem), 39.5rem"
# A cover beside a post in a listing: the full column on a phone, a thumbnail beside the
# text from 36rem up. The listing's CSS must give it that width (12rem) when it is added.
LISTING_SIZES = "(max-width: 36rem) calc(100vw - 2.5rem), 12rem"
SHARE_WIDTH = 1200  # og:image, feeds and emails: ImageResult.share's limit
FALLBACK_WIDTH = 960  # the <img src> of a browser without srcset

MODERN_TYPES = ("image/avif", "image/webp")  # <source> order: the browser takes the first it knows
FALLBACK_TYPES = frozenset({"image/jpeg", "image/png"})
# a variant format as ``pressline.images.process`` names it -> its content type
CONTENT_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}

# A URL written into src and srcset: a site path ("/media/..."; not "//host") or https, with
# nothing that ends an attribute or a srcset entry (quotes, spaces, "<", ">", commas, "\").
_SAFE_URL = re.compile(r"^(?:/(?!/)|https://[A-Za-z0-9.-]+(?::\d{1,5})?/)[A-Za-z0-9\-._~/%!$&()*+;=:@]*$")
_EXTERNAL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")


@dataclass(frozen=True)
class Responsive:
    html: str
    warnings: list[Problem] = field(default_factory=list)


def responsive(
    body_html: str, images: Mapping[str, ImageSet], *, sizes: str = CONTENT_SIZES, eager_first: bool = True
) -> Responsive:
    """``body_html`` with each manifest image as a ``<picture>``; the first ``<img>`` of the body
    (whichever it is) loads eagerly with ``fetchpriority="high"`` when ``eager_first``, the others
    lazily. ``<img>`` already inside a ``<picture>`` is kept, so a second pass changes nothing."""
    scanner = _ImgScanner(body_html)
    scanner.feed(body_html)
    scanner.close()
    parts: list[str] = []
    warnings: list[Problem] = []
    warned: set[str] = set()
    done = 0
    for index, tag in enumerate(scanner.images):
        if tag.in_picture:
            continue  # already made responsive (a second pass), but still the body's first image
        parts.append(body_html[done : tag.start])
        done = tag.end
        replacement, problem = _rewrite(tag, images, sizes, eager=eager_first and index == 0)
        parts.append(replacement if replacement is not None else tag.text)
        if problem is not None and problem.message not in warned:
            warned.add(problem.message)
            warnings.append(problem)
    parts.append(body_html[done:])
    return Responsive("".join(parts), warnings)


def local_sources(body_html: str) -> tuple[str, ...]:
    """The ``src`` of every ``<img>`` of a body that is a path on the site (what the manifest is
    asked for), in order, once each; external images and data are not the site's to resize."""
    if "<img" not in body_html:
        return ()  # most bodies: no tokenizing
    scanner = _ImgScanner(body_html)
    scanner.feed(body_html)
    scanner.close()
    found = (tag.attributes.get("src") or "" for tag in scanner.images)
    return tuple(dict.fromkeys(src for src in found if src and is_local(src)))


def is_local(src: str) -> bool:
    """A path on the site ("/media/2026/harbour.jpg"), not a URL of another host."""
    return src.startswith("/") and not src.startswith("//") and not _EXTERNAL.match(src)


def cover(image: ImageSet, alt: str, *, eager: bool, sizes: str = CONTENT_SIZES) -> str:
    """A cover image's ``<picture>``: ``eager`` for the top of a post page, lazy in listings
    (with ``sizes=LISTING_SIZES``). "" when a variant URL is unsafe (the page shows no cover)."""
    if _unsafe(image) is not None:
        return ""
    return _picture(image, {"alt": alt}, sizes, eager=eager)


def share_url(image: ImageSet, site_url: str) -> str | None:
    """The absolute URL of the widest fallback (JPEG or PNG) variant up to 1,200 pixels wide:
    what og:image, feeds and emails show, as every client displays it. None when there is none."""
    fitting = [v for v in image.of_type(image.fallback) if v.width <= SHARE_WIDTH and _SAFE_URL.match(v.url)]
    if not fitting:
        return None
    url = fitting[-1].url
    return url if url.startswith("https://") else site_url.rstrip("/") + url


@dataclass(frozen=True)
class _Img:
    start: int  # offsets of the whole tag in the body
    end: int
    text: str
    attributes: dict[str, str | None]
    in_picture: bool


class _ImgScanner(HTMLParser):
    """The ``<img>`` tags of a body, with their offsets, and whether each is in a ``<picture>``."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        self.images: list[_Img] = []
        self._picture_depth = 0
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "picture":
            self._picture_depth += 1
        elif tag == "img":
            self._found(attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._found(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "picture" and self._picture_depth:
            self._picture_depth -= 1

    def _found(self, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text()
        if text is None:
            return
        line, column = self.getpos()
        start = self._line_starts[line - 1] + column
        attributes: dict[str, str | None] = {}
        for name, value in attrs:
            attributes.setdefault(name, value)  # the first of a repeated attribute, as a browser does
        self.images.append(_Img(start, start + len(text), text, attributes, self._picture_depth > 0))


def _rewrite(
    tag: _Img, images: Mapping[str, ImageSet], sizes: str, *, eager: bool
) -> tuple[str | None, Problem | None]:
    src = tag.attributes.get("src") or ""
    if not src or _EXTERNAL.match(src):
        return None, None  # an external image (or none): not ours to resize
    image = images.get(src) or images.get(unquote(src)) or images.get(quote(unquote(src)))
    if image is None:
        shown = _short(src)
        return None, Problem(
            field="image",
            message=f"{shown} is not published (not uploaded yet, or deleted): the page shows it as it is, "
            "and in its resized sizes once it is uploaded",
        )
    bad = _unsafe(image)
    if bad is not None:
        return None, Problem(field="image", message=f"{_short(src)}: {bad}: the image is shown as it is")
    return _picture(image, tag.attributes, sizes, eager=eager), None


def _picture(image: ImageSet, attributes: Mapping[str, str | None], sizes: str, *, eager: bool) -> str:
    """The ``<picture>`` of ``image``, keeping the author's ``alt`` and ``title``, and the size
    the author gave (``width``, ``height`` or both, in pixels): the other side then follows the
    image's aspect ratio, and ``sizes`` is that width. Otherwise the image's own size."""
    width, height = image.width, image.height
    wanted_width, wanted_height = _pixels(attributes.get("width")), _pixels(attributes.get("height"))
    if wanted_width or wanted_height:
        width = wanted_width or max(1, round(image.width * (wanted_height or 0) / image.height))
        height = wanted_height or max(1, round(image.height * width / image.width))
        sizes = f"{width}px"
    size = escape(sizes, quote=True)
    sources = "".join(
        f'<source type="{content_type}" srcset="{_srcset(variants)}" sizes="{size}">'
        for content_type in MODERN_TYPES
        if (variants := image.of_type(content_type))
    )
    fallbacks = image.of_type(image.fallback)
    fitting = [v for v in fallbacks if v.width <= FALLBACK_WIDTH]
    src = (fitting[-1] if fitting else fallbacks[0]).url
    kept = "".join(
        f' {name}="{escape(value, quote=True)}"'
        for name in ("alt", "title")
        if (value := attributes.get(name)) is not None
    )
    loading = ' fetchpriority="high"' if eager else ' loading="lazy"'
    img = (
        f'<img src="{escape(src, quote=True)}" srcset="{_srcset(fallbacks)}" sizes="{size}" '
        f'width="{width}" height="{height}"{kept}{loading} decoding="async">'
    )
    return f"<picture>{sources}{img}</picture>"


def _pixels(value: str | None) -> int | None:
    """A width or height attribute in whole pixels ("300"), or None (absent, "50%", "0", junk)."""
    text = (value or "").strip()
    return int(text) if len(text) <= 5 and text.isascii() and text.isdigit() and 0 < int(text) <= 10_000 else None


def _srcset(variants: Sequence[ImageVariant]) -> str:
    return escape(", ".join(f"{v.url} {v.width}w" for v in variants), quote=True)


def _unsafe(image: ImageSet) -> str | None:
    """Why the manifest entry cannot be shown (a variant URL that is not a safe site path or
    https URL, no fallback every client displays), or None."""
    for variant in image.variants:
        if not _SAFE_URL.match(variant.url) or "javascript:" in variant.url.lower():
            return f"the variant URL {_short(variant.url)!r} is not a site path or an https URL"
    if image.fallback not in FALLBACK_TYPES or not image.of_type(image.fallback):
        return f"it has no JPEG or PNG variant for every client (fallback {_short(image.fallback)!r})"
    return None


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:119] + "…"
