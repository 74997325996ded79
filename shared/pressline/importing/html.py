"""An imported post's HTML body as Markdown that renders back to the same text.

Built on **markdownify** (BeautifulSoup underneath). Chosen over html2text and html-to-markdown:
html2text converts in one pass of its own parser and cannot be told how to treat one tag
without forking it; html-to-markdown's recent versions are a compiled (Rust) extension, one
more binary dependency on an author's machine for no gain here. markdownify is maintained,
walks a BeautifulSoup tree, and has one ``convert_<tag>`` method per tag, so each place where
its default would change what a reader sees is overridden here, one method at a time. The HTML
is first parsed as a browser parses it (html5ever, through nh3, already a dependency) so that
unclosed ``<p>`` and ``<li>`` and misnested tags mean what they meant on the old site.

What WordPress adds to HTML is undone first: its ``wpautop`` (classic content has no ``<p>``:
a blank line is a paragraph, a single newline a ``<br>``), the block editor's ``<!-- wp:… -->``
comments, and the core shortcodes (``[caption]`` becomes a figure; ``[embed]``, ``[video]``,
``[audio]`` a link to the media; ``[gallery]`` is reported). Unknown shortcodes stay as text,
reported: WordPress shows an unregistered one as written.

What Markdown cannot say is kept as inline HTML (``<sup>``, ``<abbr title>``, ``<kbd>``, a
figure around its Markdown image and caption, definition lists, tables with block content);
the pipeline sanitizes all of it again at Render, but nothing here emits a script, an event
handler or a ``javascript:`` URL either: the HTML kept is written by this module from the
element's name and a few checked attributes, or passed through nh3 with the pipeline's own
allow-list.
"""

from __future__ import annotations

import html as html_lib
import importlib
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, Tag

from pressline.models import Problem
from pressline.posts.markdown import MAX_NESTING, nests_deeper_than
from pressline.posts.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, DROPPED_WITH_CONTENT, has_refused_scheme

# markdownify's stub declares its public functions only; the converter's methods are untyped.
_markdownify: Any = importlib.import_module("markdownify")


def chomp(text: str) -> tuple[str, str, str]:
    """An inline element's text without its edge whitespace and hard line breaks ("\\" at a
    line's end), and what was on each side, to put outside the element's markers: "** x**" is
    not bold, and "**x\\**" would escape the closing "*"."""
    inner = text.strip()
    if inner == text:
        return "", "", text
    prefix = " " if text[:1].isspace() else ""
    suffix = " " if text[-1:].isspace() else ""
    # Ends with <br>s ("\\\n" each): an odd run of backslashes before a newline.
    while (len(inner) - len(inner.rstrip("\\"))) % 2 and text.rstrip(" \t").endswith("\n"):
        inner, suffix = inner[:-1].rstrip(), "\\\n"
    return prefix, suffix, inner


FIELD = "body"


@dataclass(frozen=True)
class Converted:
    markdown: str
    warnings: tuple[Problem, ...] = ()


def html_to_markdown(html: str) -> str:
    """The Markdown of a WordPress (or any) HTML body; see ``convert_html`` for its warnings."""
    return convert_html(html).markdown


def convert_html(html: str) -> Converted:
    """The Markdown of an HTML body and what could not be carried over (a gallery, a video, a
    script removed, an unknown shortcode), as warnings on the ``body`` field."""
    notes = _Notes()
    html = html.replace("\r\n", "\n").replace("\r", "\n")
    is_blocks = "<!-- wp:" in html
    html = _without_block_comments(html) if is_blocks else html
    html = _replace_shortcodes(html, notes)
    if not is_blocks:  # WordPress runs wpautop on classic content only (has_blocks() turns it off)
        # It splits the post at <!--more--> first: the divider is never inside a paragraph.
        html = wpautop(_MORE.sub(lambda match: f"\n\n{match.group(0)}\n\n", html) if "<!--" in html else html)
    if nests_deeper_than(html, MAX_NESTING):
        # Parsing that would take time growing with the square of the depth (bs4 and html5ever
        # alike), for a tree the pipeline refuses anyway: the text alone is kept.
        notes.add(f"is nested more than {MAX_NESTING} levels deep; imported as plain text")
        markdown = _plain_text(_TAGS.sub("\n", html))
    else:
        _note_removed(html, notes)
        # Parsed first as a browser does (html5ever, through nh3, with the elements and attributes
        # converted below): unclosed <p> and <li>, misnested tags, "<" in text come out as the
        # reader saw them, well-formed for BeautifulSoup; scripts, handlers and refused URLs are gone.
        soup = BeautifulSoup(_self_closing(_structure_cleaner().clean(html)), "html.parser")
        _prepare(soup, notes)
        if _depth(soup) > 2 * MAX_NESTING:
            notes.add(f"is nested more than {MAX_NESTING} levels deep; imported as plain text")
            markdown = _plain_text(soup.get_text("\n"))
        else:
            markdown = _Converter(notes).convert_soup(soup)
    markdown = _BLANK_RUNS.sub("\n\n", markdown).strip("\n")
    return Converted(markdown + "\n" if markdown else "", tuple(notes.problems()))


# --------------------------------------------------------------------------- warnings
@dataclass
class _Notes:
    messages: dict[str, None] = field(default_factory=dict)  # ordered, each once

    def add(self, message: str) -> None:
        self.messages.setdefault(message, None)

    def problems(self) -> list[Problem]:
        return [Problem(field=FIELD, message=message) for message in self.messages]


# --------------------------------------------------------------------------- WordPress's additions
# The block editor's delimiters: <!-- wp:paragraph {"align":"center"} --> and <!-- /wp:paragraph -->.
_BLOCK_COMMENT = re.compile(r"<!--\s*/?wp:")
_BLANK_RUNS = re.compile(r"\n{3,}")
_MORE = re.compile(r"<!--\s*more\b[^>]{0,200}-->", re.IGNORECASE)
_NEXTPAGE = re.compile(r"<!--\s*nextpage\s*-->", re.IGNORECASE)

# wpautop's list of block elements (wp-includes/formatting.php), with HTML5's.
_AUTOP_BLOCKS = (
    "table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|"
    "blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|"
    "footer|nav|figure|figcaption|details|menu|summary|iframe|video|audio|object|embed|script|noscript"
)
_AUTOP_OPEN = re.compile(rf"(<(?:{_AUTOP_BLOCKS})[\s/>])", re.IGNORECASE)
_AUTOP_CLOSE = re.compile(rf"(</(?:{_AUTOP_BLOCKS})>)", re.IGNORECASE)
# A protected <pre> is "\x00B<n>\x00" (a block), a comment "\x00C<n>\x00" (inline).
_AUTOP_P_BEFORE_BLOCK = re.compile(rf"<p>\s*(</?(?:{_AUTOP_BLOCKS})[^<>]*>|\x00B\d+\x00)", re.IGNORECASE)
_AUTOP_P_AFTER_BLOCK = re.compile(rf"(</?(?:{_AUTOP_BLOCKS})[^<>]*>|\x00B\d+\x00)\s*</p>", re.IGNORECASE)
_AUTOP_BR_AFTER_BLOCK = re.compile(rf"(</?(?:{_AUTOP_BLOCKS})[^<>]*>|\x00B\d+\x00)\s*<br />", re.IGNORECASE)
_AUTOP_BR_BEFORE_BLOCK = re.compile(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^<>]*>)", re.IGNORECASE)
# Kept whole by wpautop: preformatted text, and what must not get <br>s (scripts, styles, comments).
_AUTOP_PROTECTED = re.compile(r"<(pre|script|style|textarea)\b|<!--", re.IGNORECASE)
_TAG_NEWLINES = re.compile(r"<[^<>]*>")


def _without_block_comments(text: str) -> str:
    """``text`` without the block editor's comments; other comments stay. Linear: each comment's
    end is found with one ``str.find`` (a regular expression from every "<!--" to its "-->"
    would scan to the end of the text from each unclosed one)."""
    parts: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) != -1:
        end = text.find("-->", start + 4)
        if end == -1:
            break
        parts.append(text[position:start])
        if not _BLOCK_COMMENT.match(text, start):
            parts.append(text[start : end + 3])
        position = end + 3
    return "".join(parts) + text[position:] if parts else text


def _protected(text: str, protect: Callable[[str], str]) -> str:
    """``text`` with each ``<pre>``, script, style, textarea and comment replaced by what
    ``protect`` makes of it. Linear: an end not found after one start is not looked for again."""
    lowered = text.lower()
    parts: list[str] = []
    position = searched = 0
    unclosed: set[str] = set()
    while (start := _AUTOP_PROTECTED.search(text, searched)) is not None:
        name = (start.group(1) or "").lower()
        closer = f"</{name}" if name else "-->"
        end = -1 if closer in unclosed else lowered.find(closer, start.end())
        if end == -1:
            unclosed.add(closer)
            searched = start.end()
            continue
        end = (text.find(">", end) + 1 or len(text)) if name else end + 3
        parts += (text[position : start.start()], protect(text[start.start() : end]))
        position = searched = end
    return "".join(parts) + text[position:]


def _line_breaks(text: str) -> str:
    """Each newline left inside a paragraph becomes ``<br />`` (WordPress's
    ``(?<!<br />)\\s*\\n``, line by line: that expression is quadratic in a run of spaces)."""
    lines = text.split("\n")
    for index in range(len(lines) - 1):
        line = lines[index].rstrip()
        lines[index] = line if not line or line.endswith("<br />") else line + "<br />"
    return "\n".join(lines)


def wpautop(text: str) -> str:
    """WordPress's ``wpautop`` (wp-includes/formatting.php), step by step: blank lines separate
    paragraphs, other newlines are ``<br />``, block elements are never wrapped in ``<p>`` nor
    followed by a ``<br />``. ``<pre>``, scripts, styles and comments are kept as they are."""
    if not text.strip():
        return ""
    kept: list[str] = []

    def protect(protected: str) -> str:
        kept.append(protected)
        if protected.startswith("<!--"):
            return f"\x00C{len(kept) - 1}\x00"
        return f"\n\n\x00B{len(kept) - 1}\x00\n\n"  # a <pre> is a block

    text = _protected(text.replace("\x00", ""), protect) + "\n"
    # A newline inside a tag (between its attributes) is not a line break.
    text = _TAG_NEWLINES.sub(lambda match: match.group(0).replace("\n", " "), text)
    text = _AUTOP_CLOSE.sub(r"\1\n\n", _AUTOP_OPEN.sub(r"\n\n\1", text))
    text = "".join(f"<p>{chunk.strip()}</p>\n" for chunk in re.split(r"\n\s*\n", text) if chunk.strip())
    text = _AUTOP_P_BEFORE_BLOCK.sub(r"\1", text)
    text = _AUTOP_P_AFTER_BLOCK.sub(r"\1", text)
    text = re.sub(r"<blockquote([^<>]*)>", r"<blockquote\1><p>", text, flags=re.IGNORECASE)
    text = re.sub(r"</blockquote>", "</p></blockquote>", text, flags=re.IGNORECASE)
    text = _line_breaks(text)
    text = _AUTOP_BR_AFTER_BLOCK.sub(r"\1", text)
    text = _AUTOP_BR_BEFORE_BLOCK.sub(r"\1", text)
    text = re.sub(r"<p>\s*</p>", "", text)
    return re.sub(r"\x00[BC](\d+)\x00", lambda match: kept[int(match.group(1))], text)


# [name attrs]content[/name] or [name attrs] (self-closing); [[name]] is WordPress's escape for
# a literal "[name]". The name is a shortcode's: letters, digits, "_" and "-".
_SHORTCODE = re.compile(
    r"\[(\[?)(caption|wp_caption|gallery|embed|video|audio|playlist)\b([^\[\]]{0,2000})\](\]?)", re.IGNORECASE
)
_SHORTCODE_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""")
_UNKNOWN_SHORTCODE = re.compile(r"\[([a-z][a-z0-9_-]{1,40})(\s[^\[\]\n]{0,500})?\]")
_SHORTCODE_CLOSER = re.compile(r"\[/([a-z][a-z0-9_-]{1,40})\]")
_CAPTIONED_MEDIA = re.compile(r"\s*(?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?", re.IGNORECASE)
_MEDIA_URL_ATTRIBUTES = ("src", "mp4", "m4v", "webm", "ogv", "wmv", "flv", "mp3", "m4a", "ogg", "wav", "wma")


def _shortcode_attributes(text: str) -> dict[str, str]:
    return {
        match.group(1).lower(): next(value for value in match.groups()[1:] if value is not None)
        for match in _SHORTCODE_ATTRIBUTE.finditer(html_lib.unescape(text))
    }


def _link(url: str) -> str:
    escaped = html_lib.escape(url.strip(), quote=True)
    return f'<p><a href="{escaped}">{escaped}</a></p>'


def _replace_shortcodes(text: str, notes: _Notes) -> str:
    if "[" not in text:
        return text

    def replace(match: re.Match[str], content: str) -> str:
        name = match.group(2).lower()
        attributes = _shortcode_attributes(match.group(3))
        if name in ("caption", "wp_caption"):
            # [caption id="…" align="…" width="…"]<a><img></a> The caption[/caption]; older
            # ones put the caption in caption="…".
            media = _CAPTIONED_MEDIA.match(content)
            split = media.end() if media else 0
            caption = content[split:].strip() or html_lib.escape(attributes.get("caption", ""), quote=False)
            figcaption = f"<figcaption>{caption}</figcaption>" if caption else ""
            return f"\n\n<figure>{content[:split].strip()}{figcaption}</figure>\n\n"
        if name == "embed":
            return "\n\n" + _link(content) + "\n\n" if content.strip() else ""
        if name in ("video", "audio"):
            url = content.strip() or next((attributes[key] for key in _MEDIA_URL_ATTRIBUTES if key in attributes), "")
            notes.add(f"a [{name}] shortcode became a link to its file: embed the media again if you want a player")
            return "\n\n" + _link(url) + "\n\n" if url else ""
        ids = attributes.get("ids", "")
        notes.add(
            f"a [{name}] shortcode was left out{f' (attachments {ids})' if ids else ''}: "
            "add its images to the post as Markdown images"
        )
        return ""

    # Each opener, then its closer found with str.find (and never looked for again once missing):
    # a regular expression from opener to closer is quadratic in unclosed openers.
    lowered = text.lower()
    parts: list[str] = []
    position = 0
    unclosed: set[str] = set()
    while (match := _SHORTCODE.search(text, position)) is not None:
        parts.append(text[position : match.start()])
        position = match.end()
        if match.group(1) and match.group(4):  # [[caption]]: the literal text "[caption]"
            parts.append(match.group(0)[1:-1])
            continue
        name, content = match.group(2).lower(), ""
        closer = f"[/{name}]"
        end = -1 if closer in unclosed or match.group(3).rstrip().endswith("/") else lowered.find(closer, position)
        if end == -1:
            unclosed.add(closer)
        else:
            content, position = text[position:end], end + len(closer)
        parts.append(replace(match, content))
    text = "".join(parts) + text[position:]
    closers = {match.group(1) for match in _SHORTCODE_CLOSER.finditer(text)} if "[/" in text else set()
    unknown = sorted(
        {
            match.group(1)
            for match in _UNKNOWN_SHORTCODE.finditer(text)
            if match.group(1) in closers or "=" in (match.group(2) or "")
        }
    )
    if unknown:
        names = ", ".join(f"[{name}]" for name in unknown[:10])
        notes.add(f"unknown shortcodes kept as text: {names}; WordPress plugins made them, Pressline has none")
    return text


# --------------------------------------------------------------------------- the tree, before converting
_MEDIA_TAGS = ("iframe", "video", "audio", "embed", "object")
_REMOVED = ("script", "style", "noscript", "template", "head", "title", "link", "meta", "base", "input", "select")


def _prepare(soup: BeautifulSoup, notes: _Notes) -> None:
    """Make the tree say what a reader saw: scripts and styles go (reported), embedded media
    become links to their source, ``<!--more-->`` is kept as Pressline's summary divider."""
    for comment in soup.find_all(string=lambda text: isinstance(text, Comment)):
        if _MORE.fullmatch(f"<!--{comment}-->"):
            comment.replace_with(soup.new_tag("pressline-more"))
        elif _NEXTPAGE.fullmatch(f"<!--{comment}-->"):
            notes.add("<!--nextpage--> page breaks were removed: the post is one page")
            comment.extract()
        else:
            comment.extract()
    for tag in soup.find_all(_REMOVED):
        if tag.name == "script":
            notes.add("a <script> was removed")
        elif tag.name == "style":
            notes.add("a <style> was removed: the site's stylesheet styles posts")
        tag.decompose()
    for tag in soup.find_all(_MEDIA_TAGS):
        source = _media_source(tag)
        if source and not has_refused_scheme(source):
            link = soup.new_tag("a", attrs={"href": source})
            link.string = source
            paragraph = soup.new_tag("p")
            paragraph.append(link)
            tag.replace_with(paragraph)
            notes.add(f"an embedded <{tag.name}> became a link to {source}")
        else:
            notes.add(f"an embedded <{tag.name}> without a usable source was removed")
            tag.decompose()


def _media_source(tag: Tag) -> str:
    for name in ("src", "data"):
        value = tag.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    source = tag.find("source", attrs={"src": True})
    value = source.get("src") if isinstance(source, Tag) else None
    return value.strip() if isinstance(value, str) else ""


def _depth(soup: BeautifulSoup) -> int:
    deepest = 0
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tag))
    return deepest


def _plain_text(text: str) -> str:
    converter = _Converter(_Notes())
    paragraphs = (" ".join(html_lib.unescape(line).split()) for line in text.split("\n"))
    return "\n\n".join(converter.escape(paragraph, set()) for paragraph in paragraphs if paragraph)


_TAGS = re.compile(r"<[^<>]*>")
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_STYLE = re.compile(r"<style\b", re.IGNORECASE)
_REFUSED_URL = re.compile(r"""\b(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.IGNORECASE)
# What the converter reads, and the attributes it uses; everything else goes (its text stays).
_STRUCTURE_TAGS = ALLOWED_TAGS | {"iframe", "video", "audio", "source", "embed", "object", "span", "center", "font"}
_STRUCTURE_ATTRIBUTES = {
    **{name: set(values) - {"id", "class"} for name, values in ALLOWED_ATTRIBUTES.items()},
    "pre": {"class", "lang", "data-language", "data-lang"},
    "code": {"class", "lang", "data-language", "data-lang"},
    "iframe": {"src"},
    "video": {"src"},
    "audio": {"src"},
    "source": {"src"},
    "embed": {"src"},
    "object": {"data"},
}


@cache
def _structure_cleaner() -> Any:
    import nh3

    return nh3.Cleaner(
        tags=set(_STRUCTURE_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=_STRUCTURE_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=False,  # <!--more--> and <!--nextpage--> are read from them
    )


# A void element as nh3 writes it: name="value" attributes, '"' in a value escaped.
_VOID_TAG = re.compile(r'<(br|img|hr|wbr|col|source|embed)((?:\s+[^\s="<>/]+(?:="[^"]*")?)*)\s*>')


def _self_closing(html: str) -> str:
    """``<br>`` as ``<br/>``: bs4's html.parser builder remembers every ``<br>`` in a list that
    each end tag then searches, so a post of many line breaks took time growing with their
    square; written ``<br/>``, none is remembered."""
    return _VOID_TAG.sub(r"<\1\2/>", html)


def _note_removed(html: str, notes: _Notes) -> None:
    if _SCRIPT.search(html):
        notes.add("a <script> was removed")
    if _STYLE.search(html):
        notes.add("a <style> was removed: the site's stylesheet styles posts")
    if _REFUSED_URL.search(html):
        notes.add("links or images with javascript:, vbscript: or data: addresses were removed (text kept)")


# --------------------------------------------------------------------------- characters, as cmark reads them
def _is_space(char: str) -> bool:
    return not char or char.isspace()


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def _is_ambiguous(char: str) -> bool:
    """A symbol outside ASCII: punctuation to CommonMark 0.31, not to older cmark-gfm."""
    return bool(char) and not char.isascii() and unicodedata.category(char).startswith("S")


def _left_flanking(before: str, after: str) -> bool:
    return not _is_space(after) and (not _is_punctuation(after) or _is_space(before) or _is_punctuation(before))


def _right_flanking(before: str, after: str) -> bool:
    return not _is_space(before) and (not _is_punctuation(before) or _is_space(after) or _is_punctuation(after))


_MARKUP_TAGS = frozenset({"a", "img", "code", "kbd", "samp", "br", "sup", "sub", "abbr", "mark", "small", "u", "ins"})
_MARKUP_TAGS |= {"cite", "q", "var", "dfn", "time", "bdi", "bdo", "pressline-more"}
_EMPHASIS_TAGS = frozenset({"em", "i", "strong", "b", "del", "s", "strike"})
_TRANSPARENT = frozenset({"span", "font", "label", "big", "tt", "nobr", "center"})


def _edge_char(node: Any, before: bool) -> str | None:
    """The character cmark will see next to ``node`` on one side: "" for a block boundary,
    "!" (punctuation) for markup, None where an emphasis delimiter run would touch another."""
    while True:
        sibling = node.previous_sibling if before else node.next_sibling
        while sibling is not None:
            if isinstance(sibling, Comment):
                pass
            elif isinstance(sibling, NavigableString):
                text = str(sibling)
                if text:
                    return text[-1] if before else text[0]
            elif isinstance(sibling, Tag):
                if sibling.name in _EMPHASIS_TAGS:
                    return None
                if sibling.name in _MARKUP_TAGS:
                    return "!"
                if sibling.name not in _TRANSPARENT:
                    return ""
                text = sibling.get_text()
                if text:
                    return text[-1] if before else text[0]
            sibling = sibling.previous_sibling if before else sibling.next_sibling
        parent = node.parent
        if parent is None or parent.name not in _TRANSPARENT:
            if parent is not None and parent.name in _EMPHASIS_TAGS:
                return None
            return "!" if parent is not None and parent.name in _MARKUP_TAGS else ""
        node = parent


_BREAK_LOOKAHEAD = 32
_BREAK_STOPS = frozenset({"td", "th", "pressline-more"})


def _inside(node: Any, ancestor: Tag | None) -> bool:
    return any(parent is ancestor for parent in node.parents)  # by identity: Tag's == compares contents


def _content_beside(el: Tag, forward: bool) -> bool:
    """Whether anything a reader sees (text, an image) is next to ``el`` in its block."""
    block: Tag | None = el.parent
    while block is not None and block.name not in _BLOCK_CHILDREN and block.name not in ("td", "th", "[document]"):
        block = block.parent
    elements = el.next_elements if forward else el.previous_elements
    for seen, element in enumerate(elements):
        if seen > _BREAK_LOOKAHEAD:
            return True  # a run of breaks: they are kept (looking further would be quadratic)
        if isinstance(element, Tag):
            if element.name in _BLOCK_CHILDREN or element.name in _BREAK_STOPS or not _inside(element, block):
                return False
            if element.name == "img":
                return True
        elif not isinstance(element, Comment) and str(element).strip():
            return _inside(element, block)
    return False


def _code_beside(el: Tag) -> bool:
    """Whether a code span is right before ``el`` (with nothing between but empty text)."""
    sibling = el.previous_sibling
    while isinstance(sibling, NavigableString) and not str(sibling):
        sibling = sibling.previous_sibling
    while isinstance(sibling, Tag) and sibling.name in _TRANSPARENT | _EMPHASIS_TAGS:
        sibling = sibling.contents[-1] if sibling.contents else None
    return isinstance(sibling, Tag) and sibling.name == "code"


# --------------------------------------------------------------------------- escaping text
# Escaped wherever they are: what opens code, links, emphasis, strikethrough and table cells.
_ALWAYS = re.compile(r"([\\`*\[\]~|])")
# "_" opens or closes emphasis only at a word's edge: inside a word (a_b_c) it is text.
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# "<" starts HTML or an autolink only before a letter, "/", "!" or "?"; "&" is a character
# reference only when it looks like one.
_MARKUP_START = re.compile(r"<(?=[A-Za-z/!?])")
_REFERENCE = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# What makes a block of a line, at a line's start (the text's own start counts: it may start a
# line, after a <br> or at a block's start), after up to any indentation.
_LINE_STARTS = (
    re.compile(r"^([ \t]*)(-+|\++|=+)(?=\s|$)", re.MULTILINE),  # list items, setext underlines, rules
    re.compile(r"^([ \t]*)(#{1,6})(?=\s|$)", re.MULTILINE),  # ATX headings
    re.compile(r"^([ \t]*[0-9]{1,9})([.)])(?=\s|$)", re.MULTILINE),  # ordered list items
    re.compile(r"^([ \t]*)(>)", re.MULTILINE),  # block quotes
)


def escape_text(text: str) -> str:
    """Text as Markdown that shows it as it is: only what CommonMark and GFM would read as syntax
    is escaped, so the Markdown stays readable (``a_b_c``, ``x = y & z``, ``a > b`` as they are)."""
    if not text:
        return ""
    text = _ALWAYS.sub(r"\\\1", text)
    if "_" in text:
        text = _UNDERSCORE.sub(r"\\_", text)
    if "<" in text:
        text = _MARKUP_START.sub(r"\\<", text)
    if "&" in text:
        text = _REFERENCE.sub(r"\\&", text)
    for pattern in _LINE_STARTS:
        text = pattern.sub(r"\1\\\2", text)
    return text


# --------------------------------------------------------------------------- the converter
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")
_LANGUAGE_IN_CLASS = re.compile(r"(?:^|\s)(?:language|lang)[-:]([A-Za-z0-9_+#.-]{1,32})")
_BRUSH = re.compile(r"brush:\s*([A-Za-z0-9_+#.-]{1,32})")
_BACKTICKS = re.compile(r"`+")
# In alt text: what would start a code span, a link, an autolink, HTML, emphasis or a reference.
_ALT_SPECIAL = re.compile(r"[\\\[\]`<>*_!&^]")  # "![^" is a footnote's mark to cmark-gfm, not an image
# An http(s) address in text, without the punctuation that ends a sentence after it.
_BARE_URL = re.compile(r"(https?://[^\s<>`\\\"'\x00-\x1f\x7f]*[^\s<>`\\\"'\x00-\x1f\x7f.,:;!?)\]}*_~])")
_AUTOLINK_SAFE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>`\\]*$")
_DESTINATION_NEEDS_BRACKETS = re.compile(r"[\s()<>\\]")
_BLOCK_CHILDREN = frozenset(
    {
        "p", "div", "ul", "ol", "li", "pre", "blockquote", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "dl", "figure", "section", "article", "aside", "header", "footer", "nav", "details", "address",
    }
)  # fmt: skip
_CELL_BLOCKS = _BLOCK_CHILDREN - {"p", "div"}
# Inline elements Markdown has no syntax for, kept as HTML with the attributes that mean something.
_INLINE_HTML: dict[str, tuple[str, ...]] = {
    "sup": (), "sub": (), "abbr": ("title",), "mark": (), "small": (), "u": (), "ins": (), "cite": (),
    "q": (), "kbd": (), "samp": (), "var": (), "dfn": (), "time": ("datetime",), "bdi": (), "bdo": ("dir",),
}  # fmt: skip
_ISLANDS = frozenset({"dl", "details"})


def _code_language(pre: Tag) -> str | None:
    candidates: list[Tag] = [pre]
    code = pre.find("code")
    if isinstance(code, Tag):
        candidates.insert(0, code)
    for tag in candidates:
        classes = tag.get("class")
        joined = " ".join(classes) if isinstance(classes, list) else str(classes or "")
        for pattern in (_LANGUAGE_IN_CLASS, _BRUSH):  # language-php, lang:php (Crayon), brush: php
            match = pattern.search(joined)
            if match:
                return match.group(1).lower()
        for attribute in ("lang", "data-language", "data-lang"):  # WP-Syntax's <pre lang="php">
            value = tag.get(attribute)
            if isinstance(value, str) and _LANGUAGE.match(value.strip()):
                return value.strip().lower()
    return None


def _destination(url: str) -> str:
    url = url.strip().replace("\n", "")
    if _DESTINATION_NEEDS_BRACKETS.search(url):
        return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">"
    return url


def _title_part(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        return ""
    text = " ".join(title.split()).replace("\\", "\\\\").replace('"', '\\"')
    return f' "{text}"'


def _escape_alt(alt: Any) -> str:
    # Alt text is shown as plain text: nothing in it may start a code span, a link, an autolink
    # or HTML that would swallow the "]", nor emphasis (its markers would be dropped from it).
    text = " ".join(alt.split()) if isinstance(alt, str) else ""
    return _ALT_SPECIAL.sub(r"\\\g<0>", text)


def _attribute(value: Any) -> str:
    return html_lib.escape(value if isinstance(value, str) else " ".join(value or ()), quote=True)


def _single_line_html(html: str) -> str:
    """HTML kept as a Markdown HTML block must not contain a blank line (which ends the block):
    every newline becomes its character reference, which means the same to HTML."""
    return html.strip().replace("\n", "&#10;")


def _island(tag: Tag) -> str:
    """An element Markdown cannot say, as HTML through nh3 with the pipeline's allow-list."""
    import nh3

    cleaned = nh3.clean(
        str(tag),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={name: set(values) - {"id", "class"} for name, values in ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
    )
    return _single_line_html(cleaned)


class _Converter(_markdownify.MarkdownConverter):  # type: ignore[misc]  # untyped, see _markdownify
    def __init__(self, notes: _Notes) -> None:
        super().__init__(
            heading_style="atx",
            bullets="-",
            newline_style="backslash",
            escape_misc=True,
            escape_asterisks=True,
            escape_underscores=True,
            autolinks=True,
        )
        self.notes = notes

    # ---- whole elements handled here, before their children are converted
    def process_tag(self, node: Any, parent_tags: Any = None) -> str:
        parent_tags = set() if parent_tags is None else parent_tags
        name = node.name
        if name == "table":
            return self._table(node, parent_tags)
        if name in _ISLANDS:
            return "\n\n" + _island(node) + "\n\n" if "_inline" not in parent_tags else self._inline_text(node)
        if name == "figure" and "_inline" not in parent_tags:
            return self._figure(node, parent_tags)
        if name in ("kbd", "samp") and "_noformat" not in parent_tags:
            # markdownify takes these for code (its text unescaped); kept as HTML, their text is
            # Markdown like any other, so it is escaped like any other.
            node.name = "span"
            try:
                inner = str(super().process_tag(node, parent_tags))
            finally:
                node.name = name
            return self._inline_html(node, inner, parent_tags)
        if name == "ol":
            start = node.get("start")
            first = int(start) if isinstance(start, str) and start.isdigit() and len(start) < 9 else 1
            for index, item in enumerate(node.find_all("li", recursive=False)):
                item["data-pressline-number"] = str(first + index)
        return str(super().process_tag(node, parent_tags))

    def _inline_text(self, node: Tag) -> str:
        return self.escape(" ".join(node.get_text(" ").split()), set())

    def _figure(self, node: Tag, parent_tags: set[str]) -> str:
        # <figure> and <figcaption> alone on their lines are HTML blocks; between blank lines, the
        # image and the caption stay Markdown (an image there is found and rewritten like any other).
        parts: list[str] = []
        run: list[str] = []  # inline content side by side is one paragraph
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, Tag) and child.name == "figcaption":
                caption = str(super().process_tag(child, parent_tags | {"figure"})).strip()
                parts.append("".join(run).strip())
                run = []
                if caption:
                    parts.append(f"<figcaption>\n\n{caption}\n\n</figcaption>")
            elif isinstance(child, (Tag, NavigableString)):
                converted = self.process_element(child, parent_tags | {"figure"})
                if isinstance(child, Tag) and child.name in _BLOCK_CHILDREN:
                    parts += ["".join(run).strip(), converted.strip()]
                    run = []
                else:
                    run.append(converted)
        parts = [part for part in [*parts, "".join(run).strip()] if part]
        if not parts:
            return ""
        return "\n\n<figure>\n\n" + "\n\n".join(parts) + "\n\n</figure>\n\n"

    def _table(self, node: Tag, parent_tags: set[str]) -> str:
        rows = [row for row in node.find_all("tr") if row.find_parent("table") is node]
        if "_inline" in parent_tags:
            return self._inline_text(node)
        if not rows:
            return ""
        widths: list[int] = []
        simple = not node.find("table")
        for row in rows:
            width = 0
            for cell in row.find_all(["td", "th"], recursive=False):
                span = cell.get("colspan")
                width += int(span) if isinstance(span, str) and span.isdigit() and 0 < int(span) < 100 else 1
                if cell.get("rowspan") not in (None, "1") or cell.find(_CELL_BLOCKS) is not None:
                    simple = False
            widths.append(width)
        if not simple or len(set(widths)) != 1 or widths[0] == 0:
            # GFM tables hold one line of inline content per cell and the same cells in every row.
            return "\n\n" + _island(node) + "\n\n"
        lines: list[str] = []
        for index, row in enumerate(rows):
            cells: list[str] = []
            for cell in row.find_all(["td", "th"], recursive=False):
                text = str(super().process_tag(cell, parent_tags | {"table", "_inline"}))
                span = cell.get("colspan")
                # GFM splits a row at every "|" not written "\|", even in code or an attribute, and
                # reads each "\|" as "|" before anything else: so every "|" is written "\|".
                cells.append(" ".join(text.split()).replace("|", "\\|"))
                if isinstance(span, str) and span.isdigit() and 1 < int(span) < 100:
                    cells.extend([""] * (int(span) - 1))
            lines.append("| " + " | ".join(cells) + " |")
            if index == 0:
                is_header = all(cell.name == "th" for cell in row.find_all(["td", "th"], recursive=False)) or (
                    row.parent is not None and row.parent.name == "thead"
                )
                separator = "| " + " | ".join(["---"] * widths[0]) + " |"
                if is_header:
                    lines.append(separator)
                else:
                    lines[0:0] = ["| " + " | ".join([" "] * widths[0]) + " |", separator]
        caption = node.find("caption")
        caption_text = ""
        if isinstance(caption, Tag):
            caption_text = str(super().process_tag(caption, parent_tags)).strip()
        table = "\n".join(lines)
        return "\n\n" + (caption_text + "\n\n" if caption_text else "") + table + "\n\n"

    # ---- text
    def escape(self, text: str, parent_tags: Any) -> str:
        if "://" in text and "a" not in parent_tags and "_noformat" not in parent_tags:
            # A bare address: GFM links it as written, backslashes included ("?v\=1" would show
            # its "\"), so it is written as an autolink, which shows it exactly.
            pieces: list[str] = []
            for index, part in enumerate(_BARE_URL.split(text)):
                pieces.append(f"<{part}>" if index % 2 else escape_text(part))
            escaped = "".join(pieces)
        else:
            escaped = escape_text(text)
        if escaped.endswith("!"):  # "Wow!" before a link would make it an image: "![x](…)"
            escaped = escaped[:-1] + "\\!"
        return escaped

    # ---- inline elements
    def _emphasis(self, el: Tag, text: str, parent_tags: set[str], marker: str, tag: str) -> str:
        if "_noformat" in parent_tags:
            return text
        prefix, suffix, inner = chomp(text)
        if not inner:
            return prefix + suffix if (prefix or suffix) else ""
        # The space chomped off stays beside the markers only if no enclosing element chomps it
        # off in turn: the neighbour is taken as if it were not there (where it matters, the
        # neighbour is the enclosing element: None, and the element is written as HTML).
        before = _edge_char(el, before=True)
        after = _edge_char(el, before=False)
        # A delimiter run opens only if left-flanking and closes only if right-flanking; one that
        # is both (between two letters, between two punctuation marks) could pair with another
        # run than its own, so the markers are used only where each can be read one way.
        opens = (
            before is not None
            and not _is_ambiguous(before)
            and not _is_ambiguous(inner[0])
            and _left_flanking(before, inner[0])
            and not _right_flanking(before, inner[0])
        )
        closes = (
            after is not None
            and not _is_ambiguous(after)
            and not _is_ambiguous(inner[-1])
            and _right_flanking(inner[-1], after)
            and not _left_flanking(inner[-1], after)
        )
        if opens and closes and "\n\n" not in inner:
            return f"{prefix}{marker}{inner}{marker}{suffix}"
        # Where a delimiter run would not be read as one (between a word and punctuation, next to
        # another run), the element itself says it.
        return f"{prefix}<{tag}>{inner}</{tag}>{suffix}"

    def convert_em(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._emphasis(el, text, parent_tags, "*", "em")

    convert_i = convert_em

    def convert_strong(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._emphasis(el, text, parent_tags, "**", "strong")

    convert_b = convert_strong

    def convert_del(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return self._emphasis(el, text, parent_tags, "~~", "del")

    convert_s = convert_del
    convert_strike = convert_del

    def _inline_html(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags or not text.strip():
            return text
        name = el.name
        attributes = ""
        for attribute in _INLINE_HTML[name]:
            value = el.get(attribute)
            if attribute == "dir" and value not in ("ltr", "rtl"):
                continue
            if value:
                attributes += f' {attribute}="{_attribute(value)}"'
        prefix, suffix, inner = chomp(text)
        return f"{prefix}<{name}{attributes}>{inner}</{name}>{suffix}"

    convert_sup = _inline_html
    convert_sub = _inline_html
    convert_abbr = _inline_html
    convert_mark = _inline_html
    convert_small = _inline_html
    convert_u = _inline_html
    convert_ins = _inline_html
    convert_cite = _inline_html
    convert_q = _inline_html
    convert_kbd = _inline_html
    convert_samp = _inline_html
    convert_var = _inline_html
    convert_dfn = _inline_html
    convert_time = _inline_html
    convert_bdi = _inline_html
    convert_bdo = _inline_html

    def convert_code(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags - {"code"} and el.find_parent("pre") is not None:
            return text
        if "pre" in parent_tags:
            return text
        prefix, suffix, inner = chomp(text)
        if not inner:
            return prefix + suffix
        if _code_beside(el):
            # Two code spans side by side would make one run of backticks: this one is HTML, its
            # text Markdown (so escaped).
            return f"{prefix}<code>{self.escape(inner, set())}</code>{suffix}"
        longest = max((len(run) for run in _BACKTICKS.findall(inner)), default=0)
        fence = "`" * (longest + 1)
        if longest or inner.startswith(" ") or inner.endswith(" "):
            inner = f" {inner} "
        return f"{prefix}{fence}{inner}{fence}{suffix}"

    def convert_a(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_noformat" in parent_tags:
            return text
        prefix, suffix, inner = chomp(text)
        if not inner:
            return prefix + suffix
        href = el.get("href")
        if not isinstance(href, str) or not href.strip() or el.find_parent("a") is not None:
            return text  # no address, or a link in a link (which Markdown cannot say: the outer one stays)
        href = href.strip()
        if has_refused_scheme(href):
            self.notes.add(f"a link to {href[:40]!r} was removed (only http, https and mailto links are kept)")
            return text
        if "\n\n" in inner:
            self.notes.add(f"a link around several paragraphs to {href[:80]} was removed, its text kept")
            return text
        title = _title_part(el.get("title"))
        if inner.replace("\\_", "_") == href and not title and _AUTOLINK_SAFE.match(href):
            return f"{prefix}<{href}>{suffix}"
        return f"{prefix}[{inner}]({_destination(href)}{title}){suffix}"

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        src = el.get("src")
        if not isinstance(src, str) or not src.strip():
            return ""
        if has_refused_scheme(src.strip()):
            self.notes.add(f"an image from {src.strip()[:40]!r} was removed (only http and https images are kept)")
            return ""
        return f"![{_escape_alt(el.get('alt'))}]({_destination(src)}{_title_part(el.get('title'))})"

    def convert_br(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "pre" in parent_tags:
            return "\n"
        if "_inline" in parent_tags:
            return " "
        if not _content_beside(el, forward=True) or not _content_beside(el, forward=False):
            return ""  # a break at a block's edge breaks nothing; "\" there would show
        return "\\\n"

    def convert_li(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        text = (text or "").strip()
        if not text:
            return "\n"
        number = el.get("data-pressline-number")
        bullet = f"{number}. " if isinstance(number, str) and el.parent is not None and el.parent.name == "ol" else "- "
        indent = " " * len(bullet)
        lines = text.split("\n")
        return bullet + lines[0] + "".join("\n" + (indent + line if line else "") for line in lines[1:]) + "\n"

    def convert_pre(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        if not text:
            return ""
        text = text.strip("\n")
        longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
        fence = "`" * max(3, longest + 1)
        language = _code_language(el) or ""
        return f"\n\n{fence}{language}\n{text}\n{fence}\n\n"

    def convert_td(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return text  # the row is made by _table

    convert_th = convert_td

    def convert_pressline_more(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        return "\n\n<!--more-->\n\n"

    def convert_hN(self, n: int, el: Tag, text: str, parent_tags: set[str]) -> str:
        if "_inline" in parent_tags:
            return text
        text = " ".join(text.split())
        if not text:
            return ""
        return f"\n\n{'#' * max(1, min(6, n))} {text}\n\n"


__all__ = ["Converted", "convert_html", "html_to_markdown", "wpautop"]
