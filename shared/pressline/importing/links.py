"""Links and image references in an imported body: finding them, and rewriting them.

Pure. An imported body links to the old site in two ways that must not survive the move:
images (``![alt](https://old.example/wp-content/uploads/a.jpg)``, ``<img src=…>``), which would
keep hotlinking the old site, and links to other imported items (``https://old.example/2019/05/hello/``,
``/about/``, ``../hello``), which must point at their new pages. ``rewrite`` walks a Markdown body
(inline HTML included, fenced code left alone) and lets the caller decide each destination;
``LinkTargets`` maps every old URL of every imported item to its new path.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

from pressline.posts.paths import IMAGE_TYPES

Kind = Literal["post", "page"]
# What an image callback answers: a new destination, KEEP (leave it), or DROP (replace the
# image by its alt text: it could not be brought over and must not hotlink the old site).
KEEP = "\x00keep"
DROP = "\x00drop"

# Markdown inline links and images: ``[text](dest "title")``; the text may hold one level of
# brackets (a linked image ``[![alt](src)](href)``), the destination may be ``<…>``.
# Neither crosses a blank line: a paragraph ends there, and a link with it.
_IN_TEXT = r"[^\[\]\\\n]|\\.|\n(?![ \t]*\n)"
_TEXT = rf"(?:{_IN_TEXT}|\[(?:{_IN_TEXT})*\])*"
_DEST = r"<[^<>\n]*>|(?:[^\s()<>\\]|\\.|\((?:[^\s()\\]|\\.)*\))+"
_TITLE = r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\)"
_INLINE = re.compile(rf"(?P<bang>!?)\[(?P<text>{_TEXT})\]\(\s*(?P<dest>{_DEST})?(?P<title>\s+(?:{_TITLE}))?\s*\)")
# Images alone: a first pass over them, so that the image inside a linked image is seen.
_IMAGE = re.compile(rf"(?P<bang>!)\[(?P<text>{_TEXT})\]\(\s*(?P<dest>{_DEST})?(?P<title>\s+(?:{_TITLE}))?\s*\)")
# Reference definitions: ``[label]: dest "title"`` on a line of their own.
_DEFINITION = re.compile(rf"^(?P<lead> {{0,3}}\[[^\]\n]+\]:[ \t]*)(?P<dest>{_DEST})", re.MULTILINE)
_AUTOLINK = re.compile(r"<(?P<dest>https?://[^\s<>]+)>", re.IGNORECASE)
# Inline HTML tags that carry a URL, and the attributes of one.
# A tag never spans a blank line (it ends the paragraph, and Markdown's HTML with it), and
# outside quotes never holds a '<'.
_LINE_BREAK = r"\n(?![ \t]*\n)"
_TAG = re.compile(
    rf"<(?P<name>img|a|source)\b(?P<attrs>(?:[^<>\"'\n]|{_LINE_BREAK}|\"(?:[^\"\n]|{_LINE_BREAK})*\""
    rf"|'(?:[^'\n]|{_LINE_BREAK})*')*)>",
    re.IGNORECASE,
)
_ATTRIBUTE = re.compile(r"(?P<name>[^\s=/>\"']+)(?:\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
# srcset and sizes list more copies of an image on the old host; the sanitizer drops them from
# the page, and they are dropped from the source too, so that no old-host URL stays in it.
_DROPPED_ATTRIBUTES = frozenset({"srcset", "sizes", "data-src", "data-srcset", "data-orig-file", "data-large-file"})
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)


def host_of(url: str | None) -> str | None:
    """The lower-case host of an absolute http(s) URL, without a leading ``www.``, or None."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower().removeprefix("www.")


def is_image_url(url: str) -> bool:
    """Whether ``url``'s path ends like an image file (a link to a full-size image)."""
    try:
        path = urlsplit(url).path.lower()
    except ValueError:
        return False
    return path.endswith((*IMAGE_TYPES, ".svg", ".svgz"))


def old_path(url: str, site_url: str | None, base: str | None = None) -> str | None:
    """The path (and query) ``url`` names on the old site, or None when it names another site.

    ``url`` may be absolute on the old host (``www.`` or not, http or https), site-relative
    (``/2019/05/hello/``) or relative to ``base`` (the linking item's old URL). The path is
    percent-decoded, and ``index.html``, a trailing slash and a fragment are dropped, so that
    every spelling of one page gives one key; the query is kept (WordPress's ``/?p=123``)."""
    url = url.strip()
    if not url or url.startswith(("#", "mailto:", "data:")):
        return None
    try:
        if base and not urlsplit(url).scheme and not url.startswith("/"):
            url = urljoin(base, url)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        if parts.scheme.lower() not in ("http", "https", "") or host_of(
            url if parts.scheme else "https:" + url
        ) != host_of(site_url):
            return None
    elif not parts.path.startswith("/"):
        return None
    path = unquote(parts.path) or "/"
    path = posixpath.normpath(path) if path not in ("", "/") else "/"
    path = re.sub(r"/index\.html?$", "", path).rstrip("/") or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def new_path(slug: str, kind: Kind) -> str:
    """Where an imported item is published: posts at ``/posts/<slug>/``, pages at ``/<slug>/``."""
    return f"/posts/{slug}/" if kind == "post" else f"/{slug}/"


@dataclass
class LinkTargets:
    """Every old URL of every imported item (as ``old_path`` keys) and the new path it moved to."""

    site_url: str | None
    paths: dict[str, str] = field(default_factory=dict)
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)  # (old path, kept, ignored)
    # New paths of drafts and scheduled items: a link to one answers 404 until it is out.
    unpublished: set[str] = field(default_factory=set)

    def add(self, old_urls: Iterable[str], target: str) -> None:
        for url in old_urls:
            key = old_path(url, self.site_url)
            if key is None:
                continue
            kept = self.paths.setdefault(key, target)
            if kept != target:
                self.duplicates.append((key, kept, target))

    def target_of(self, url: str, base: str | None = None) -> str | None:
        key = old_path(url, self.site_url, base)
        return None if key is None else self.paths.get(key)


# --------------------------------------------------------------------------- rewriting
@dataclass(frozen=True)
class Reference:
    """One destination found in a body: the URL as written (entities and ``<>`` removed), and
    whether it is an image's source (``image``) or a link's target."""

    url: str
    image: bool


# The callback: the new destination for a reference, KEEP or DROP (DROP only matters for
# images and links: the image becomes its alt text, the link its text).
Decide = Callable[[Reference], str]


@dataclass
class Rewritten:
    text: str
    changed: int = 0
    dropped: int = 0


def rewrite(markdown: str, decide: Decide) -> Rewritten:
    """``markdown`` with every link and image destination outside fenced code replaced as
    ``decide`` says."""
    result = Rewritten("")
    pieces: list[str] = []
    for chunk, is_code in _split_fences(markdown):
        pieces.append(chunk if is_code else _rewrite_prose(chunk, decide, result))
    result.text = "".join(pieces)
    return result


def _split_fences(markdown: str) -> list[tuple[str, bool]]:
    """``markdown`` cut into prose and fenced code blocks (a fence never closed runs to the end)."""
    chunks: list[tuple[str, bool]] = []
    position = 0
    while (opening := _FENCE.search(markdown, position)) is not None:
        chunks.append((markdown[position : opening.start()], False))
        marker = opening.group(1)
        closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$", re.MULTILINE)
        line_end = markdown.find("\n", opening.end())
        found = closing.search(markdown, line_end + 1) if line_end != -1 else None
        end = len(markdown) if found is None else found.end()
        chunks.append((markdown[opening.start() : end], True))
        position = end
    chunks.append((markdown[position:], False))
    return chunks


def _rewrite_prose(text: str, decide: Decide, result: Rewritten) -> str:
    text = _TAG.sub(lambda match: _rewrite_tag(match, decide, result), text)
    # Images before links, so that the image inside a linked image is decided on its own.
    text = _IMAGE.sub(lambda match: _rewrite_inline(match, decide, result, images=True), text)
    text = _INLINE.sub(lambda match: _rewrite_inline(match, decide, result, images=False), text)
    text = _DEFINITION.sub(lambda match: _rewrite_definition(match, decide, result), text)
    return _AUTOLINK.sub(lambda match: _rewrite_autolink(match, decide, result), text)


def _unescape_destination(dest: str) -> str:
    if dest.startswith("<") and dest.endswith(">"):
        dest = dest[1:-1]
    return html.unescape(re.sub(r"\\(.)", r"\1", dest))


def _markdown_destination(url: str) -> str:
    """A destination as Markdown writes it: in ``<>`` when it has spaces or brackets."""
    if re.search(r"[\s()<>]", url):
        return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">"
    return url


def _rewrite_inline(match: re.Match[str], decide: Decide, result: Rewritten, *, images: bool) -> str:
    is_image = bool(match.group("bang"))
    if is_image != images or match.group("dest") is None:
        return match.group(0)
    choice = decide(Reference(_unescape_destination(match.group("dest")), is_image))
    if choice == KEEP:
        return match.group(0)
    if choice == DROP:
        result.dropped += 1
        return match.group("text")  # an image's alt text, a link's text
    result.changed += 1
    title = match.group("title") or ""
    return f"{match.group('bang')}[{match.group('text')}]({_markdown_destination(choice)}{title})"


def _rewrite_definition(match: re.Match[str], decide: Decide, result: Rewritten) -> str:
    url = _unescape_destination(match.group("dest"))
    choice = decide(Reference(url, is_image_url(url)))
    if choice == KEEP:
        return match.group(0)
    if choice == DROP:
        result.dropped += 1
        return match.group("lead") + "<>"
    result.changed += 1
    return match.group("lead") + _markdown_destination(choice)


def _rewrite_autolink(match: re.Match[str], decide: Decide, result: Rewritten) -> str:
    choice = decide(Reference(match.group("dest"), False))
    if choice in (KEEP, DROP):
        return match.group(0)
    result.changed += 1
    return f"[{choice}]({_markdown_destination(choice)})"


def _rewrite_tag(match: re.Match[str], decide: Decide, result: Rewritten) -> str:
    name = match.group("name").lower()
    attributes = [
        (found.group("name"), found.group("value")) for found in _ATTRIBUTE.finditer(match.group("attrs") or "")
    ]
    attribute = "href" if name == "a" else "src"
    kept: list[str] = []
    changed = False
    for key, value in attributes:
        lower = key.lower()
        if lower in _DROPPED_ATTRIBUTES:
            changed = True
            continue
        if lower == attribute and value is not None:
            url = html.unescape(value.strip("\"'"))
            choice = decide(Reference(url, name != "a"))
            if choice == DROP:
                result.dropped += 1
                if name == "img":
                    alt = next((v for k, v in attributes if k.lower() == "alt" and v), None)
                    return html.escape(html.unescape(alt.strip("\"'"))) if alt else ""
                return ""  # a link's opening tag goes; its text and closing tag stay harmless
            if choice != KEEP:
                value = '"' + html.escape(choice, quote=True) + '"'
                result.changed += 1
                changed = True
        kept.append(key if value is None else f"{key}={value}")
    if not changed:
        return match.group(0)
    closing = "/" if match.group(0).endswith("/>") else ""
    return f"<{match.group('name')}{''.join(' ' + item for item in kept if item != '/')}{closing}>"


def references(markdown: str) -> list[Reference]:
    """Every destination ``rewrite`` would offer, in order (each once)."""
    found: list[Reference] = []

    def collect(reference: Reference) -> str:
        if reference not in found:
            found.append(reference)
        return KEEP

    rewrite(markdown, collect)
    return found


__all__ = [
    "DROP",
    "KEEP",
    "LinkTargets",
    "Reference",
    "Rewritten",
    "host_of",
    "is_image_url",
    "new_path",
    "old_path",
    "references",
    "rewrite",
]
