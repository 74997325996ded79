"""A comment's text to safe HTML, and to plain text.

Readers write a small Markdown subset: paragraphs, emphasis, strong, inline code, code
blocks and links. cmark renders it with raw HTML off (no ``CMARK_OPT_UNSAFE``: an HTML
block or inline tag becomes nothing), then nh3 keeps exactly ``ALLOWED_TAGS`` (``br`` is a
paragraph's hard line break); everything else (images, headings, lists, quotes, tables)
loses its tag and keeps its text, as if written plainly. Links get ``rel="nofollow ugc
noopener"`` (search engines must not reward comment spam) and only http, https and mailto
URLs: no relative ones (a comment has no folder to resolve them in), and the scheme is read
the way the posts' sanitizer reads it (``has_refused_scheme``: "java\\tscript:", fullwidth,
percent-encoded). The text is at most 5,000 characters (``validate``), which bounds cmark's
and html5ever's work whatever its shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from typing import Any

from pressline.posts.sanitize import has_refused_scheme

ALLOWED_TAGS = frozenset({"p", "br", "em", "strong", "code", "pre", "a"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"
# Dropped with what is inside them: their text is not prose (and never shown as such).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "textarea", "title", "xmp"})
# What an HTML tokenizer reads as the start of markup: "<" then a letter, "/", "!" or "?".
_MARKUP_START = re.compile(r"<(?=[A-Za-z/!?])")


@dataclass(frozen=True)
class RenderedComment:
    html: str  # safe to put in a page, a feed's content, an HTML email
    text: str  # for plain-text emails and feed summaries: no markup left


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    # nh3 also lets its generic attributes (lang, title) through on every tag: none here.
    if tag == "a" and name == "rel":
        return LINK_REL  # the one nh3 adds itself
    if name not in ALLOWED_ATTRIBUTES.get(tag, ()):
        return None
    return None if has_refused_scheme(value) else value


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
        url_relative="deny",
    )


def _cmark_html(text: str) -> str:
    import cmarkgfm
    from cmarkgfm.cmark import Options

    # VALIDATE_UTF8: a lone surrogate (refused by validate, possible from other callers) is
    # replaced, not passed through. No UNSAFE: raw HTML is omitted by cmark itself.
    return str(
        cmarkgfm.markdown_to_html(
            text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), options=Options.CMARK_OPT_VALIDATE_UTF8
        )
    )


def to_html(text: str) -> str:
    """The comment's Markdown as sanitized HTML with only ``ALLOWED_TAGS``."""
    return str(_cleaner().clean(_cmark_html(text))).strip()


class _Text(HTMLParser):
    """Plain text of the sanitized HTML: paragraphs and code blocks separated by blank lines,
    a link's URL after its text when they differ."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            shown = "".join(self._link_text)
            if self._href and self._href not in (shown, f"mailto:{shown}"):
                self.parts.append(f" ({self._href})")
            self._href = None
        elif tag in ("p", "pre"):
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self._href is not None:
            self._link_text.append(data)


def to_text(safe_html: str) -> str:
    """The plain text of ``to_html``'s output (a ``<br>`` is followed by cmark's own newline).

    What a reader typed as ``<script>`` is escaped text in the HTML and would be markup again
    here, for a mail client or feed reader that takes text for HTML: a space goes after every
    "<" an HTML tokenizer would read as the start of a tag ("< script>" is text to every
    parser), which keeps "x<y" in a code sample readable where removing it would not."""
    parser = _Text()
    parser.feed(safe_html)
    parser.close()
    text = "\n".join(line.rstrip() for line in _MARKUP_START.sub("< ", "".join(parser.parts)).split("\n"))
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def render(text: str) -> RenderedComment:
    """The comment ``text`` (validated) as HTML and as plain text."""
    safe = to_html(text)
    return RenderedComment(html=safe, text=to_text(safe))
