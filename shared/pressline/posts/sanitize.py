"""Sanitizing rendered Markdown with nh3 (ammonia), by allow-list.

Whatever the author wrote, the output has no scripts, styles, event handlers, iframes,
objects, embeds or forms, and links and images only use http, https and mailto, or
relative URLs, which are rewritten here so that they resolve from the post's page:
an image beside the post (``pic.png``, ``./img/pic.png``) points at its published copy
under ``/media/``, and a link to another post's file (``other.md``) at that post's page.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from pressline.posts.paths import classify, media_path, post_path, resolve_relative

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
        "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "rp", "rt",
        "ruby", "s", "samp", "section", "small", "span", "strong", "sub", "summary", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
# Removed with everything inside them (the rest keep their text when their tag is dropped).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "textarea", "select", "title", "xmp"})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang", "id", "class", "aria-label"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start", "reversed"},
    "li": {"id"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "code": {"class"},
    "section": {"class"},
    "sup": {"class"},
    "time": {"datetime"},
    "details": {"open"},
    "bdo": {"dir"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener nofollow"

# cmark-gfm footnote ids are "fn-<label>" / "fnref-<label>" with the label percent-encoded.
_FOOTNOTE_ID = re.compile(r"^fn(?:ref)?-[A-Za-z0-9%_.~-]{1,64}$")
_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,32}$")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_ALLOWED_CLASSES = {"section": {"footnotes"}, "sup": {"footnote-ref"}, "a": {"footnote-backref"}}


@dataclass
class References:
    """What the relative URLs of one body pointed at (source keys), for warnings."""

    images: list[str] = field(default_factory=list)
    refused_images: list[str] = field(default_factory=list)


# The post being sanitized: nh3 calls the URL rewriter without any context of its own.
_SOURCE_KEY: ContextVar[str] = ContextVar("source_key")
_REFERENCES: ContextVar[References] = ContextVar("references")


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    if name == "id":
        return value if _FOOTNOTE_ID.match(value) else None
    if name == "class":
        if tag == "code":
            return value if _LANGUAGE_CLASS.match(value) else None
        return value if value in _ALLOWED_CLASSES.get(tag, ()) else None
    return value


def _rewrite_relative(url: str) -> str | None:
    if url.startswith("#") or (url.startswith("/") and not url.startswith("//")):
        return url
    if url.startswith("//"):  # protocol-relative: keep it on https
        return "https:" + url
    if url.startswith("\\") or url[:1].isspace():
        return None  # browsers read "\\host" and " //host" as other hosts
    split = _QUERY_OR_FRAGMENT.search(url)
    cut = split.start() if split else len(url)
    path, suffix = url[:cut], url[cut:]
    if not path:
        return url
    target = resolve_relative(_SOURCE_KEY.get(), unquote(path))
    if target is None:
        return url
    kind = classify(target)
    references = _REFERENCES.get(None)
    if kind == "image":
        if references is not None:
            references.images.append(target)
        return quote(media_path(target)) + suffix
    if kind == "refused-image":
        if references is not None:
            references.refused_images.append(target)
        return None
    if kind == "post":
        from pressline.posts.rules import default_slug

        slug = default_slug(target, "")
        return post_path(slug) + suffix if slug else url
    return url


@cache
def _cleaner() -> Any:
    import nh3

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
        url_relative=_rewrite_relative,
        set_tag_attribute_values={
            "img": {"loading": "lazy", "decoding": "async"},
            # A code block scrolls sideways on small screens: keyboard users must be able to reach it.
            "pre": {"tabindex": "0"},
        },
    )


_IMG_ADDED = 'loading="lazy" decoding="async"'
_IMG_ADDED_SWAPPED = 'decoding="async" loading="lazy"'


def sanitize(html: str, source_key: str, references: References | None = None) -> str:
    """Sanitize one post's HTML; relative URLs resolve against ``source_key``'s folder."""
    key_token = _SOURCE_KEY.set(source_key)
    refs_token = _REFERENCES.set(references or References())
    try:
        # nh3 adds an img's two attributes from a hash map, in an order random per process:
        # one order, so that two containers render a version to the same bytes (ETags, feeds).
        return str(_cleaner().clean(html)).replace(_IMG_ADDED_SWAPPED, _IMG_ADDED)
    finally:
        _SOURCE_KEY.reset(key_token)
        _REFERENCES.reset(refs_token)


def resolve_image(reference: str, source_key: str) -> str | None:
    """The public URL of a front matter ``image``: http(s) as is, a relative path via /media/."""
    if reference.lower().startswith(("http://", "https://")):
        return reference
    if reference.startswith("/") and not reference.startswith("//"):
        return reference
    target = resolve_relative(source_key, unquote(reference.split("#")[0].split("?")[0]))
    if target is None or classify(target) != "image":
        return None
    return quote(media_path(target))
