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
from pressline.posts.sanitize import References, sanitize, strip_markup

SUMMARY_WORDS = 50
# Far above any real post (a quote in a quote in a list is 3), far below where sanitizing
# gets slow: html5ever's cost grows with the square of the depth (100 levels: ~1 ms;
# 20,000: 3.7 s; a 1 MiB body of '>' would take hours, so Render would time out forever).
MAX_NESTING = 100
MORE_DIVIDER = re.compile(r"<!--\s*more\s*-->", re.IGNORECASE)
# cmark-gfm bounds what link references and table rows expand to, but not footnotes: each
# reference to a note adds ~180 characters of HTML (its link, and a link back in the note), so
# 1 MiB of "[^a]" made 73 MB of HTML in 7 s of cmark alone. Counted before cmark runs ("[^" in
# code counts too: a real post has a few dozen).
MAX_FOOTNOTE_MARKS = 10_000
# What cmark may make of a body: 4x the largest post, far above real posts (prose is ~1.1x,
# code full of "<" 4x), below where sanitizing and the page cost seconds. A table row that is
# a single "a" is filled with all the header's cells: 6 KB of Markdown made 5 MB of HTML.
MAX_BODY_HTML = 4 * 1024 * 1024

# Not in a summary: code blocks, tables, figures (from their start to their first end tag), and
# footnote marks. Removed by _remove, not by re.sub of "<table\b.*?</table>": in a lead cut off
# inside nested tables, each unclosed start scanned to the end (100 of them in 1 MiB: 0.5 s).
_NOT_SUMMARY = re.compile(r"<(pre|table|figure)\b")
_FOOTNOTE_REF = re.compile(r"<(sup) class=\"footnote-ref\">")
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


# How deep the HTML parser's tree gets, estimated from the tags alone and never (but by a small
# factor) below the parser's own depth: html5ever's time grows with the square of the depth, so
# the estimate must not be fooled. Three ways it was (issue 12): an end tag that closes nothing
# ("<div></span>" repeated), elements it skipped that do nest ("<rt><rt>" outside a ruby,
# "<optgroup>" outside a select), and names cut short ("<my-a></my-b>" read as "my" twice).
# So it keeps a stack of open elements and follows the parser's rules that shrink it (WHATWG
# HTML, "in body" insertion mode), conservatively: where it is unsure, an element stays open.
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][^\t\n\f\r />]*)")
_VOID = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "hr", "image", "img", "input",
        "keygen", "link", "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip
# A start tag pops these when they are the current element (<li><li> are siblings, not two levels).
_CLOSED_BY_START = {
    "p": frozenset({"p"}),
    "li": frozenset({"li", "p"}),
    "dt": frozenset({"dt", "dd", "p"}),
    "dd": frozenset({"dt", "dd", "p"}),
    "option": frozenset({"option"}),
    "optgroup": frozenset({"option"}),  # not another optgroup: outside a select they nest
    "tr": frozenset({"td", "th", "tr"}),
    "td": frozenset({"td", "th"}),
    "th": frozenset({"td", "th"}),
}
# An end tag of these closes everything above the element, up to a scope boundary.
_BLOCK_ENDS = frozenset(
    {
        "address", "article", "aside", "blockquote", "button", "center", "dd", "details", "dialog", "dir",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hgroup", "li", "listing", "main", "menu", "nav", "ol", "p", "pre", "search",
        "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_SCOPE_BOUNDARIES = frozenset(
    {
        "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "mi", "mo",
        "mn", "ms", "mtext", "annotation-xml", "foreignobject", "desc", "title",
    }
)  # fmt: skip
_EXTRA_BOUNDARIES = {"li": frozenset({"ol", "ul"}), "p": frozenset({"button"})}
# Any other end tag closes only through elements that are not "special"; above one, it is ignored.
_SPECIAL = _BLOCK_ENDS | _SCOPE_BOUNDARIES | {"body", "frameset", "iframe", "noembed", "noframes", "noscript"}
_SPECIAL |= {"plaintext", "script", "select", "style", "textarea", "xmp", "head", "frame", "colgroup"}
# Closed by another element's end tag, these are re-opened by the parser at the next text (the
# "active formatting elements"), so they still count until their own end tag.
_FORMATTING = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"}
)


_RUBY_PARTS = frozenset({"rb", "rp", "rt", "rtc"})
# Not counted as a level where they sit on a counted element (or, for these, on the container
# named): a list item in its list, a paragraph in a list item, a cell in its row are one level
# of the author's structure, as before. Any other stacking of them counts, so the count stays
# within a factor of 5 of the stack's height: no element goes uncounted without a counted one
# at most 4 below it.
_UNCOUNTED = frozenset({"p", "li", "dt", "dd", "option", "tr", "td", "th", "thead", "tbody", "tfoot"})
_FREE_ON = {
    "p": frozenset({"li", "dd", "dt", "td", "th"}),
    "tr": frozenset({"thead", "tbody", "tfoot"}),
    "td": frozenset({"tr"}),
    "th": frozenset({"tr"}),
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# What the parser's rules above need to know of an element, as bits (one look-up per tag).
_IS_VOID, _IS_SPECIAL, _IS_BOUNDARY, _IS_BLOCK_END, _IS_UNCOUNTED, _IS_FORMATTING, _IS_RUBY_PART = (
    1 << bit for bit in range(7)
)
_FLAGS: dict[str, int] = {}
for _bit, _names in (
    (_IS_VOID, _VOID),
    (_IS_SPECIAL, _SPECIAL),
    (_IS_BOUNDARY, _SCOPE_BOUNDARIES),
    (_IS_BLOCK_END, _BLOCK_ENDS),
    (_IS_UNCOUNTED, _UNCOUNTED),
    (_IS_FORMATTING, _FORMATTING),
    (_IS_RUBY_PART, _RUBY_PARTS),
):
    for _name in _names:
        _FLAGS[_name] = _FLAGS.get(_name, 0) | _bit


class _OpenElements:
    """The parser's stack of open elements, with where each name, special element and scope
    boundary is on it, so that every question an end tag asks costs one look-up."""

    __slots__ = ("at", "boundaries", "counted", "depth", "names", "specials")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.counted: list[bool] = []
        self.depth = 0  # the counted elements
        self.at: dict[str, list[int]] = {}
        self.specials: list[int] = []
        self.boundaries: list[int] = []

    def push(self, name: str, flags: int) -> None:
        names = self.names
        position = len(names)
        counted = not flags & _IS_UNCOUNTED or not (
            not names or self.counted[-1] or names[-1] in _FREE_ON.get(name, ())
        )
        names.append(name)
        self.counted.append(counted)
        self.depth += counted
        positions = self.at.get(name)
        if positions is None:
            self.at[name] = [position]
        else:
            positions.append(position)
        if flags & _IS_SPECIAL:
            self.specials.append(position)
        if flags & _IS_BOUNDARY:
            self.boundaries.append(position)

    def pop(self) -> tuple[str, int]:
        name = self.names.pop()
        self.depth -= self.counted.pop()
        self.at[name].pop()
        flags = _FLAGS.get(name, 0)
        if flags & _IS_SPECIAL:
            self.specials.pop()
        if flags & _IS_BOUNDARY:
            self.boundaries.pop()
        return name, flags

    def top(self, name: str) -> int:
        """The position of the last ``name`` open, or -1."""
        positions = self.at.get(name)
        return positions[-1] if positions else -1

    def in_scope(self, name: str) -> bool:
        position = self.top(name)
        return position >= 0 and (not self.boundaries or self.boundaries[-1] <= position)

    def closable(self, name: str, flags: int) -> int:
        """Where the element an end tag ``name`` closes is, or -1 when the parser ignores the
        tag or might (then nothing is closed): block ends close up to a scope boundary, any
        other end tag only through elements that are not special."""
        position = self.top(name)
        if position < 0:
            return -1
        if flags & _IS_BLOCK_END:
            barriers = [self.boundaries[-1]] if self.boundaries else []
            barriers += [self.top(extra) for extra in _EXTRA_BOUNDARIES.get(name, ())]
        else:
            barriers = [self.specials[-1]] if self.specials else []
        return -1 if any(barrier > position for barrier in barriers) else position


def nests_deeper_than(fragment: str, limit: int = MAX_NESTING) -> bool:
    """Whether the elements of ``fragment`` (cmark's HTML: the block quotes and lists of the
    Markdown and the author's raw HTML alike) may nest more than ``limit`` levels deep for the
    HTML parser (see above). Linear: each tag costs a few look-ups, plus the pops of elements
    it closes, each pushed once; it stops at the first element past the limit."""
    if fragment.count("<") - fragment.count("</") <= limit:  # too few start tags to get that deep
        return False
    stack = _OpenElements()
    names = stack.names
    lingering: dict[str, int] = {}  # formatting elements closed by other elements' end tags
    reopened = 0  # their total
    for close, name in _TAG_NAME.findall(fragment):
        # ASCII only, as the HTML tokenizer does: str.lower() would make "b\u212a" (Kelvin) "bk"
        name = name.lower() if name.isascii() else name.translate(_ASCII_LOWER)
        flags = _FLAGS.get(name, 0)
        if flags & _IS_VOID:
            continue
        if close:
            if names and names[-1] == name:  # the usual case: it closes the current element
                stack.pop()
                continue
            position = stack.closable(name, flags)
            if position < 0:
                if lingering.get(name):
                    lingering[name] -= 1
                    reopened -= 1
                continue
            while len(names) > position + 1:
                element, element_flags = stack.pop()
                if element_flags & _IS_FORMATTING:
                    lingering[element] = lingering.get(element, 0) + 1
                    reopened += 1
            stack.pop()
            if reopened > limit:
                return True
            continue
        closes = _CLOSED_BY_START.get(name)
        while closes and names and names[-1] in closes:
            stack.pop()
        if flags & _IS_RUBY_PART and stack.in_scope("ruby"):  # in a ruby they are siblings
            while names[-1] in _RUBY_PARTS:
                stack.pop()
        stack.push(name, flags)
        if stack.depth + reopened > limit:
            return True
    return False


# html5ever looks each attribute up among the tag's earlier ones: one element with 80,000
# distinct attributes (550 KB of raw HTML) took 13 s to sanitize, growing with the square.
# Real elements have a few; an inline SVG path's numbers are inside one quoted value.
MAX_ATTRIBUTES = 1000
# A start tag as the HTML tokenizer reads it: up to the first ">" outside a quoted value
# (atomic groups: no backtracking, so one pass). Only tags long enough to hold more than
# MAX_ATTRIBUTES are then counted.
_START_TAG = re.compile(r"""<[A-Za-z](?>[^>"'=]++|=[\t\n\f\r ]*+(?>"[^"]*+"|'[^']*+')?|["'])*+""")
_QUOTED_VALUE = re.compile(r"""=[\t\n\f\r ]*(?:"[^"]*"|'[^']*')""")


def most_attributes(fragment: str) -> int:
    """An upper bound of the attributes of the element with the most of them in ``fragment``."""
    if fragment.count("=") + fragment.count(" ") <= MAX_ATTRIBUTES:  # too few to hold that many
        return 0
    long_tags = [tag for tag in _START_TAG.findall(fragment) if len(tag) > 2 * MAX_ATTRIBUTES]
    return max((len(_QUOTED_VALUE.sub("=", tag).split()) - 1 for tag in long_tags), default=0)


def markdown_problem(markdown: str) -> str | None:
    """Why cmark would take too long on ``markdown``, found before it runs, or None."""
    marks = markdown.count("[^")
    if marks > MAX_FOOTNOTE_MARKS:
        return f"has {marks:,} footnote marks '[^'; the limit is {MAX_FOOTNOTE_MARKS:,}"
    return None


def html_problem(unsafe_html: str) -> str | None:
    """Why sanitizing cmark's HTML of a body, and showing it, would take too long, or None."""
    # Measured on the part that may be sanitized: the nesting, when it is the cause, says more.
    if nests_deeper_than(unsafe_html[:MAX_BODY_HTML]):
        return (
            f"is nested more than {MAX_NESTING} levels deep (block quotes, lists or HTML elements inside "
            "each other); flatten it"
        )
    attributes = most_attributes(unsafe_html[:MAX_BODY_HTML])
    if attributes > MAX_ATTRIBUTES:
        return f"has an HTML element with {attributes:,} attributes; the limit is {MAX_ATTRIBUTES:,}"
    if len(unsafe_html) > MAX_BODY_HTML:
        filled = unsafe_html.count("<td></td>", 0, MAX_BODY_HTML)
        why = f" ({filled:,} empty table cells: each row gets all the header's columns)" if filled > 100_000 else ""
        return (
            f"makes {len(unsafe_html):,} characters of HTML{why}; the limit is {MAX_BODY_HTML:,}: "
            "split it into several posts"
        )
    return None


def _text_of(fragment: str) -> str:
    """``html_to_text`` without joining the whitespace. Each substitution runs only when the
    text holds what it removes: most of them find nothing in most posts."""
    cut = fragment.find('<section class="footnotes"')
    text = fragment if cut == -1 else fragment[:cut]
    if "<" not in text:  # a heading's usual content
        return html.unescape(text)
    if '<sup class="footnote-ref">' in text:
        text = _remove(text, _FOOTNOTE_REF, "")
    if "<pre" in text or "<table" in text or "<figure" in text:
        text = _remove(text, _NOT_SUMMARY, " ")
    return html.unescape(_TAG.sub("", _BLOCK_END.sub(" ", text)))


def _remove(text: str, starts: re.Pattern[str], replacement: str) -> str:
    """``re.sub(start.*?</name>, replacement)`` for the starts ``starts`` finds (the element's
    name its group 1), in linear time: an end tag not found after one start is not looked for
    after the next ones, and where it is found the search goes on after it. A start without its
    end tag stays, as it did with the regular expression."""
    parts: list[str] = []
    kept = searched = 0
    unclosed: set[str] = set()
    while (start := starts.search(text, searched)) is not None:
        end_tag = f"</{start.group(1)}>"
        end = -1 if end_tag in unclosed else text.find(end_tag, start.end())
        if end == -1:
            unclosed.add(end_tag)
            searched = start.end()
            continue
        parts += (text[kept : start.start()], replacement)
        kept = searched = end + len(end_tag)
    return "".join(parts) + text[kept:] if parts else text


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
    # The next number to try after each base (GitHub's ids: a, a-1, a-2...). Counting up from
    # 1 for every repeat made 8,000 headings "# a" take 16 s; with it each number is tried
    # once per base, and an id taken by another heading's own text ("# a-1") is skipped.
    next_number: dict[str, int] = {}

    def anchor(match: re.Match[str]) -> str:
        base = slugify(html_to_text(match.group(2)), max_length=60) or "section"
        if base.startswith(("fn-", "fnref-")):
            base = "section-" + base
        candidate, number = base, next_number.get(base, 1)
        while candidate in used:
            candidate, number = f"{base}-{number}", number + 1
        next_number[base] = number
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


def reference_line(markdown: str, target_key: str, first_line: int) -> int | None:
    """The line of ``markdown`` (which starts at line ``first_line`` of its file) where the
    file ``target_key`` is first named, as written or percent-encoded, or None."""
    from urllib.parse import quote

    name = target_key.rsplit("/", 1)[-1]
    found = [index for index in (markdown.find(name), markdown.find(quote(name))) if index != -1]
    return first_line + markdown.count("\n", 0, min(found)) if found else None


def render_body(
    markdown: str,
    source_key: str,
    summary: str = "",
    unsafe_html: str | None = None,
    body_line: int | None = None,
) -> RenderedBody:
    """Render and sanitize a post body, and make its summary when none was given:
    the text before ``<!--more-->``, else the first ~50 words. ``unsafe_html`` is
    ``markdown_to_html(markdown)`` when the caller has it already (``check_post`` makes it
    to measure the nesting), so the body is parsed once. ``body_line``, the line of the file
    the body starts on, gives the warnings their lines."""
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
        Problem(
            field="body",
            message=f"{key} is an SVG image, which is not published; use PNG, JPEG, GIF or WebP",
            line=reference_line(markdown, key, body_line) if body_line else None,
        )
        for key in dict.fromkeys(references.refused_images)
    ]
    # A summary is text wherever it goes (listings, feeds, search, emails, the catalog): made so
    # here, at its origin, whether the author wrote it or it came from the body.
    return RenderedBody(body_html, strip_markup(summary), list(dict.fromkeys(references.images)), warnings)
