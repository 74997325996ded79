"""Markdown body -> sanitized HTML, and the summary.

cmarkgfm is GitHub's C implementation of CommonMark with the GFM extensions (tables,
strikethrough, autolinks) and footnotes. Raw HTML is let through cmark on purpose and
then sanitized by allow-list (``pressline.posts.sanitize``): authors keep harmless
HTML such as ``<kbd>`` or ``<details>``, and nothing else survives.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from pressline.models import Problem
from pressline.posts.sanitize import References, sanitize

SUMMARY_WORDS = 50
# Far above any real post (a quote in a quote in a list is 3), far below where sanitizing
# gets slow: html5ever's cost grows with the square of the depth (100 levels: ~1 ms;
# 20,000: 3.7 s; a 1 MiB body of '>' would take hours, so Render would time out forever).
MAX_NESTING = 100
MORE_DIVIDER = re.compile(r"<!--\s*more\s*-->", re.IGNORECASE)

_NOT_SUMMARY = re.compile(
    r"<pre\b.*?</pre>|<section class=\"footnotes\".*?</section>|<table\b.*?</table>|<figure\b.*?</figure>",
    re.DOTALL,
)
_FOOTNOTE_REF = re.compile(r"<sup class=\"footnote-ref\">.*?</sup>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|blockquote|div|dd|dt)>|<br\s*/?>")


@dataclass(frozen=True)
class RenderedBody:
    html: str
    summary: str
    images: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def markdown_to_html(markdown: str) -> str:
    """CommonMark + GFM tables, strikethrough, autolinks and footnotes; NOT sanitized."""
    from pressline.posts.commonmark import to_html

    return to_html(markdown)


# Counted as nesting: every element except the void ones and those whose start tag closes
# an open one of the same kind (``<li><li>`` is two siblings for the HTML parser, not two levels).
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
_NOT_NESTING = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option",
        "optgroup", "rt", "rp",
    }
)  # fmt: skip


def nests_deeper_than(fragment: str, limit: int = MAX_NESTING) -> bool:
    """Whether the elements of ``fragment`` (cmark's HTML: the block quotes and lists of the
    Markdown and the author's raw HTML alike) nest more than ``limit`` levels deep. Linear,
    and stops at the first element past the limit."""
    if fragment.count("<") - fragment.count("</") <= limit:  # too few start tags to get that deep
        return False
    depth = 0
    for close, name in _TAG_NAME.findall(fragment):
        if name.lower() in _NOT_NESTING:
            continue
        if close:
            depth = depth - 1 if depth else 0
        else:
            depth += 1
            if depth > limit:
                return True
    return False


def _text_of(fragment: str) -> str:
    """``html_to_text`` without joining the whitespace. Each substitution runs only when the
    text holds what it removes: most of them find nothing in most posts."""
    cut = fragment.find('<section class="footnotes"')
    text = fragment if cut == -1 else fragment[:cut]
    if "<" not in text:  # a heading's usual content
        return html.unescape(text)
    if '<sup class="footnote-ref">' in text:
        text = _FOOTNOTE_REF.sub("", text)
    if "<pre" in text or "<table" in text or "<figure" in text:
        text = _NOT_SUMMARY.sub(" ", text)
    return html.unescape(_TAG.sub("", _BLOCK_END.sub(" ", text)))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, without code blocks, tables, figures and footnotes."""
    return " ".join(_text_of(fragment).split())  # split() is ~20x faster than re's \s+


_HEADING = re.compile(r"<h([1-6])>(.*?)</h\1>", re.DOTALL)
# Ids the page itself uses, and the footnotes' own: a heading never takes them.
RESERVED_IDS = frozenset({"content", "subscribe-title", "subscribe-email"})


def anchor_headings(fragment: str) -> str:
    """Give each heading of a sanitized body an id from its text (``## Getting started`` ->
    ``id="getting-started"``), unique within the page, so sections can be linked to.
    Added after sanitizing: the ids are slugs (a-z, 0-9, hyphens) made here, not author input."""
    from pressline.posts.slug import slugify

    used: set[str] = set(RESERVED_IDS)

    def anchor(match: re.Match[str]) -> str:
        base = slugify(html_to_text(match.group(2)), max_length=60) or "section"
        if base.startswith(("fn-", "fnref-")):
            base = "section-" + base
        candidate, number = base, 1
        while candidate in used:
            candidate, number = f"{base}-{number}", number + 1
        used.add(candidate)
        return f'<h{match.group(1)} id="{candidate}">{match.group(2)}</h{match.group(1)}>'

    return _HEADING.sub(anchor, fragment) if "<h" in fragment else fragment


def lead(fragment: str, chars: int = 2500) -> str:
    """Enough of a body for a 50-word summary: up to the first paragraph end after ``chars``
    characters (footnotes come last, so they are never before the cut)."""
    end = fragment.find("</p>", chars) if len(fragment) > chars else -1
    return fragment if end == -1 else fragment[: end + 4]


def first_words(text: str, count: int = SUMMARY_WORDS) -> str:
    words = text.split(maxsplit=count)  # the rest, if any, stays in one piece
    if len(words) <= count:
        return " ".join(words)
    return " ".join(words[:count]).rstrip(".,;:!?-—") + "…"


def render_body(markdown: str, source_key: str, summary: str = "", unsafe_html: str | None = None) -> RenderedBody:
    """Render and sanitize a post body, and make its summary when none was given:
    the text before ``<!--more-->``, else the first ~50 words. ``unsafe_html`` is
    ``markdown_to_html(markdown)`` when the caller has it already (``check_post`` makes it
    to measure the nesting), so the body is parsed once."""
    references = References()
    if unsafe_html is None:
        unsafe_html = markdown_to_html(markdown)
    body_html = anchor_headings(sanitize(unsafe_html, source_key, references))
    if not summary:
        divider = MORE_DIVIDER.search(markdown) if "<!--" in markdown else None
        if divider:
            before = sanitize(markdown_to_html(markdown[: divider.start()]), source_key)
            summary = html_to_text(before)
        else:
            summary = first_words(_text_of(lead(body_html)))  # first_words joins the whitespace
    warnings = [
        Problem(field="body", message=f"{key} is an SVG image, which is not published; use PNG, JPEG, GIF or WebP")
        for key in dict.fromkeys(references.refused_images)
    ]
    return RenderedBody(body_html, summary, list(dict.fromkeys(references.images)), warnings)
