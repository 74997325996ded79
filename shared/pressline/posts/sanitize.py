"""Sanitizing rendered Markdown with nh3 (ammonia), by allow-list.

Whatever the author wrote, the output has no scripts, styles, event handlers, iframes,
objects, embeds or forms, and links and images only use http, https and mailto, or
relative URLs, which are rewritten here so that they resolve from the post's page:
an image beside the post (``pic.png``, ``./img/pic.png``) points at its published copy
under ``/media/``, and a link to another post's file (``other.md``) at that post's page.

Also here, because they are the same trust decision: ``sanitize_rendered`` (a stored
rendering's body sanitized again, on its way out of a bucket authors can write to) and
``strip_markup`` (the one function that makes a summary text, wherever it appears).
"""

from __future__ import annotations

import re
import unicodedata
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

from pressline.posts.paths import classify, media_src, post_path, resolve_relative

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
# A URL's scheme, once everything but printable ASCII is gone (see ``has_refused_scheme``).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]+")
# The ids ``markdown.anchor_headings`` gives headings after sanitizing: slugs, at most 60
# characters, "section-" before one that would look like a footnote's, "-<n>" when repeated.
_HEADING_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+){0,40}$")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


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


def has_refused_scheme(url: str) -> bool:
    """Whether ``url`` names a scheme other than http, https and mailto, however it is spelled.

    Browsers remove ASCII tabs and newlines anywhere in a URL and C0 controls and spaces around
    it (WHATWG URL), and a feed reader or mail client may go further (NFKC folds fullwidth
    letters and colons into ASCII ones, a zero-width space may be dropped). So the scheme is read
    after NFKC and after removing every character that is not printable ASCII: "java\x0bscript:",
    "java\u200bscript:" and a fullwidth "javascript:" are all javascript. A relative URL never
    has a scheme, so nothing a post can legitimately link to is refused.
    """
    head = url[:256]  # a scheme is short, even spelled "%EF%BD%8A…"; the cap keeps this cheap
    if "%" in head:  # cmark percent-encodes a Markdown link's "java\x0bscript:" as "java%0Bscript:"
        head = unquote(head)
    if head.isascii():
        compact = _NOT_PRINTABLE_ASCII.sub("", head)
    else:
        compact = _NOT_PRINTABLE_ASCII.sub("", unicodedata.normalize("NFKC", head))
    match = _SCHEME.match(compact)
    return match is not None and match.group(1).lower() not in URL_SCHEMES


def _rewrite_relative(url: str) -> str | None:
    # nh3 (the url crate, as WHATWG) already refused "javascript:", "java\tscript:" and
    # " javascript:"; what it could not parse as a URL with a scheme ("java\x0bscript:") comes here.
    if has_refused_scheme(url):
        return None
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
        return media_src(target) + suffix
    if kind == "refused-image":
        if references is not None:
            references.refused_images.append(target)
        return None
    if kind == "post":
        from pressline.posts.rules import default_slug

        slug = default_slug(target, "")
        return post_path(slug) + suffix if slug else url
    return url


def _filter_rendered_attribute(tag: str, name: str, value: str) -> str | None:
    """``_filter_attribute``, and the ids ``anchor_headings`` gives headings (none reserved by
    the page or the footnotes), so that Render's own output comes through unchanged."""
    if name == "id" and tag in _HEADINGS:
        from pressline.posts.markdown import RESERVED_IDS

        fits = _HEADING_ID.match(value) and not value.startswith(("fn-", "fnref-"))
        return value if fits and value not in RESERVED_IDS else None
    return _filter_attribute(tag, name, value)


@cache
def _cleaner(rendered: bool = False) -> Any:
    import nh3

    attributes = {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
    if rendered:
        for heading in _HEADINGS:
            attributes.setdefault(heading, set()).add("id")
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=attributes,
        attribute_filter=_filter_rendered_attribute if rendered else _filter_attribute,
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
# An img as nh3 writes it: name="value" attributes, with any '"' in a value escaped.
_IMG_TAG = re.compile(r'<img(?:\s+[^\s="<>/]+(?:="[^"]*")?)*\s*/?>')
_IMG_ADDED_ATTRIBUTES = re.compile(r' (?:loading="lazy"|decoding="async")')


def _in_one_order(html: str) -> str:
    """nh3 adds an img's two attributes from a hash map, in an order random per process, and
    between the others when it dropped one (an img without its src): one order, the author's
    attributes then ``loading`` and ``decoding``, so that two containers render a version to the
    same bytes (ETags, feeds) and sanitizing it again gives those bytes back."""
    if "<img" not in html:
        return html
    html = html.replace(_IMG_ADDED_SWAPPED, _IMG_ADDED)

    def order(match: re.Match[str]) -> str:
        tag = match.group(0)
        if tag.endswith(f" {_IMG_ADDED}>"):
            return tag
        return _IMG_ADDED_ATTRIBUTES.sub("", tag[:-1]).rstrip() + f" {_IMG_ADDED}>"

    return _IMG_TAG.sub(order, html)


def sanitize(html: str, source_key: str, references: References | None = None) -> str:
    """Sanitize one post's HTML; relative URLs resolve against ``source_key``'s folder."""
    key_token = _SOURCE_KEY.set(source_key)
    refs_token = _REFERENCES.set(references or References())
    try:
        return _in_one_order(str(_cleaner().clean(html)))
    finally:
        _SOURCE_KEY.reset(key_token)
        _REFERENCES.reset(refs_token)


def sanitize_rendered(html: str, source_key: str) -> str:
    """A stored rendering's body (``RenderedPost.body_html``) sanitized again, with the same
    allow-list: whatever was written there, only what ``sanitize`` lets through comes out.
    Idempotent on Render's output (the same bytes back), heading ids included."""
    key_token = _SOURCE_KEY.set(source_key)
    refs_token = _REFERENCES.set(References())
    try:
        return _in_one_order(str(_cleaner(rendered=True).clean(html)))
    finally:
        _SOURCE_KEY.reset(key_token)
        _REFERENCES.reset(refs_token)


# What an HTML tokenizer reads as markup: "<" then a letter (a tag), "/" (an end tag), "!"
# (a comment or doctype) or "?" (a processing instruction, a bogus comment). Any other "<",
# as in "a < b", is text to every parser, so it stays.
_MARKUP = re.compile(r"<[A-Za-z/!?][^<>]*>")
_MARKUP_START = re.compile(r"<+(?=[A-Za-z/!?])")


def strip_markup(text: str) -> str:
    """A one-line text with everything an HTML parser would read as markup removed: a summary.

    Summaries are shown as text everywhere (listings, meta and og:description, JSON-LD, Atom,
    RSS, JSON Feed, search, emails), and always escaped; but a feed reader or mail client that
    takes text for HTML would run ``<img src=x onerror=…>``, so none is left. Linear: complete
    tags go in one pass, then the "<" of whatever tag is left unclosed or formed by joining
    what surrounded a removed one ("<<b>script>"); a run of "<" goes whole, so no new one forms.
    Entities stay as written: decoded once by a confused reader, they are still only text.
    """
    if "<" in text:
        text = _MARKUP_START.sub("", _MARKUP.sub(" ", text))
    return " ".join(text.split())


def resolve_image(reference: str, source_key: str) -> str | None:
    """The public URL of a front matter ``image``: http(s) as is, a relative path via /media/."""
    if reference.lower().startswith(("http://", "https://")):
        return reference
    if reference.startswith("/") and not reference.startswith("//"):
        return reference
    target = resolve_relative(source_key, unquote(reference.split("#")[0].split("?")[0]))
    if target is None or classify(target) != "image":
        return None
    return media_src(target)
