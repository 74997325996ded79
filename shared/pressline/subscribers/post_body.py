"""A post's whole body for its email (pure): ``post_body(body_html, post_url)`` -> ``PostBody``.

The input is a rendering's body as ``indexing.renderings.load_rendering`` gives it, sanitized by
nh3 (``posts.sanitize``). A mail client is not the post's page, so the HTML is written again:

- every ``href`` and ``src`` is absolute against the post's URL (``/media/…``, ``#fn-1``, a
  relative link): a mail client has no base URL; a URL whose scheme is not http(s) or mailto
  is dropped;
- ``<picture>``, ``<source>``, ``srcset`` and ``sizes`` go (mail clients support none of them:
  an ``<img>`` is what they show, with its absolute ``src``, ``width``, ``height`` and ``alt``),
  and so do ``loading``, ``decoding`` and ``tabindex``;
- only the sanitizer's own tags and attributes are kept, whatever the input holds (a second
  line of defence: a tag that runs or embeds something is dropped with its content);
- images, code blocks, tables and quotations get inline styles (mail clients keep no style
  sheet), so that no image or code block is wider than the email.

The plain-text part says the same: paragraphs, headings, lists (``-``, ``1.``, nested), quotations
(``>``), tables (cells between ``|``), code blocks kept line for line (indented), links as
``text (url)``, images as ``[Image: alt]``, footnotes as ``[1]`` and a numbered list.

Tokenized with ``html.parser`` (stdlib: Deliver's layer stays as it is), never searched with a
regex; every text and attribute value written is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin

from pressline.posts.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, DROPPED_WITH_CONTENT, has_refused_scheme
from pressline.subscribers.messages import PostBody

# Unwrapped: their content stays (the <img> of a <picture>), the tag goes.
UNWRAPPED = frozenset({"picture"})
# Dropped with everything inside them, as the sanitizer does, and whatever embeds or runs.
DROPPED = DROPPED_WITH_CONTENT | frozenset(
    {"iframe", "object", "embed", "applet", "frame", "frameset", "svg", "math", "video", "audio", "form", "button"}
)
VOID = frozenset({"area", "br", "col", "hr", "img", "source", "wbr", "input", "meta", "link", "base"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
URL_ATTRIBUTES = frozenset({"href", "src"})
# Inline styles (mail clients keep no style sheet): an image and a code block within the email's
# column, and tables and quotations that read as such without the site's CSS.
STYLES = {
    "img": "max-width:100%;height:auto;",
    "pre": "white-space:pre-wrap;overflow-wrap:break-word;font-size:14px;",
    "table": "border-collapse:collapse;margin:0 0 16px;",
    "th": "border:1px solid #dddddd;padding:4px 8px;vertical-align:top;",
    "td": "border:1px solid #dddddd;padding:4px 8px;vertical-align:top;",
    "blockquote": "margin:0 0 16px;padding:0 0 0 12px;border-left:3px solid #dddddd;color:#555555;",
}
CODE_INDENT = "    "
# A <br> in the text being collected (NUL: no rendering's text has one, load_rendering saw to it).
BREAK = "\x00"


def post_body(body_html: str, post_url: str) -> PostBody:
    """The email body of a post whose sanitized body is ``body_html`` and whose page is at
    ``post_url``: its HTML for mail clients and a plain text that says the same."""
    html = email_html(body_html, post_url)
    return PostBody(html=html, text=plain_text(html))


def email_html(body_html: str, post_url: str) -> str:
    """``body_html`` rewritten for mail clients (see the module's doc)."""
    writer = _EmailHtml(post_url)
    writer.feed(body_html)
    writer.close()
    return "".join(writer.out)


def plain_text(html: str) -> str:
    """What ``html`` (an ``email_html`` output: absolute links) says, as plain text."""
    reader = _PlainText()
    reader.feed(html)
    reader.close()
    return reader.text()


def _allowed_attributes(tag: str) -> frozenset[str]:
    names = set(ALLOWED_ATTRIBUTES.get(tag, ()))
    if tag == "a":
        names.add("rel")  # the sanitizer's own rel="noopener nofollow"
    if tag in HEADINGS:
        names.add("id")
    return frozenset(names)


class _EmailHtml(HTMLParser):
    def __init__(self, post_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.post_url = post_url
        self.out: list[str] = []
        self._dropping: list[str] = []  # the dropped elements we are inside of

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)
        if tag in DROPPED and tag not in VOID:
            self._dropping.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropping or tag not in ALLOWED_TAGS:
            return
        allowed = _allowed_attributes(tag)
        written: list[str] = []
        for name, value in attrs:
            if name not in allowed or value is None:
                continue
            if name in URL_ATTRIBUTES:
                value = self._absolute(value)
                if value is None:
                    continue
            written.append(f' {name}="{escape(value, quote=True)}"')
        if tag in STYLES:
            written.append(f' style="{STYLES[tag]}"')
        self.out.append(f"<{tag}{''.join(written)}>")

    def _absolute(self, url: str) -> str | None:
        if has_refused_scheme(url):
            return None
        try:
            absolute = urljoin(self.post_url, url.strip())
        except ValueError:  # an unparsable URL ("http://[::1" ): not worth a link
            return None
        if not absolute.lower().startswith(("https://", "http://", "mailto:")) or has_refused_scheme(absolute):
            return None
        return absolute

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            return
        if tag in ALLOWED_TAGS and tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self.out.append(escape(data, quote=False))


# --------------------------------------------------------------------------- plain text
BLOCKS = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "figure"}
    | {"figcaption", "dl", "dt", "dd", "section", "details", "summary", "caption", "hr"}
    | HEADINGS
)


@dataclass(frozen=True)
class _Block:
    text: str  # with its prefix on every line
    kind: str  # "item" (a list item's first block), "row" (a table's), or ""
    quotes: int  # how deep in quotations


class _PlainText(HTMLParser):
    """Blocks of text with their prefix (quotation marks, list markers and indentation)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self._inline: list[str] = []  # the current block's text, with "\n" for <br>
        self._quotes = 0
        self._lists: list[list[int]] = []  # per open list: [next number] (ol) or [] (ul)
        self._marker: str | None = None  # the marker the next block of the current item starts with
        self._links: list[tuple[str | None, int]] = []  # per open <a>: its href and where its text starts
        self._pre: list[str] | None = None
        self._cells = 0
        self._skip = 0  # inside a footnote's back link, or a dropped element
        self._footnote_ref = False  # inside <sup class="footnote-ref">: "[1]", without its link

    # ----------------------------------------------------------------- blocks
    def _prefix(self, first: bool) -> str:
        quote = "> " * self._quotes
        if not self._lists:
            return quote
        indent = "   " * (len(self._lists) - 1)
        if first and self._marker is not None:
            return quote + indent + self._marker
        return quote + indent + "   "

    def _flush(self) -> None:
        text = _collapse("".join(self._inline))
        self._inline = []
        if not text:
            return
        first = self._prefix(True)
        rest = self._prefix(False)
        kind = "item" if self._marker is not None else "row" if self._cells else ""
        self._marker = None
        lines = text.split("\n")  # a <br>'s break, made a line break by _collapse
        self._add("\n".join([first + lines[0], *(rest + line for line in lines[1:])]), kind)

    def _add(self, text: str, kind: str = "") -> None:
        self.blocks.append(_Block(text, kind, self._quotes))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self._skip:
            if tag in DROPPED or (tag == "a"):
                self._skip += 1
            return
        if tag in DROPPED or (tag == "a" and attributes.get("class") == "footnote-backref"):
            self._skip = 1
            return
        if tag in BLOCKS:
            self._flush()
        if tag == "blockquote":
            self._quotes += 1
        elif tag in ("ul", "ol"):
            start = attributes.get("start") or "1"
            self._lists.append([int(start)] if tag == "ol" and start.isdigit() else [1] if tag == "ol" else [])
        elif tag == "li":
            numbers = self._lists[-1] if self._lists else []
            if numbers:
                self._marker = f"{numbers[0]}. ".ljust(3)
                numbers[0] += 1
            else:
                self._marker = "-  " if self._lists else None
        elif tag == "pre":
            self._pre = []
        elif tag == "hr":
            self._add(self._prefix(False) + "----")
        elif tag == "br":
            self._inline.append(BREAK)
        elif tag in ("td", "th"):
            if self._cells:
                self._inline.append(" | ")
            self._cells += 1
        elif tag == "tr":
            self._cells = 0
        elif tag == "img":
            alt = _collapse(attributes.get("alt") or "")
            if alt:
                self._inline.append(f"[Image: {alt}]")
        elif tag == "a":
            self._links.append((attributes.get("href"), len("".join(self._inline))))
        elif tag == "sup" and attributes.get("class") == "footnote-ref":
            self._inline.append("[")
            self._footnote_ref = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag in DROPPED or tag == "a":
                self._skip -= 1
            return
        if tag == "pre" and self._pre is not None:
            code = "".join(self._pre).strip("\n")
            self._pre = None
            if code:
                lines = [CODE_INDENT + line if line else "" for line in code.split("\n")]
                prefix = self._prefix(False)
                self._add("\n".join((prefix + line).rstrip() for line in lines))
            return
        if tag == "a" and self._links:
            href, start = self._links.pop()
            text = "".join(self._inline)[start:]
            if href and not self._footnote_ref and not _same_target(_collapse(text), href):
                self._inline.append(f" ({href})")
        elif tag == "sup" and self._footnote_ref:
            self._inline.append("]")
            self._footnote_ref = False
        if tag in BLOCKS:
            self._flush()
        if tag in ("tr", "table"):
            self._cells = 0
        if tag == "blockquote" and self._quotes:
            self._quotes -= 1
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
            self._marker = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre is not None:
            self._pre.append(data)
        else:
            self._inline.append(data.replace(BREAK, ""))

    def text(self) -> str:
        self._flush()
        parts: list[str] = []
        previous: _Block | None = None
        for block in self.blocks:
            if previous is not None:
                # A list's items and a table's rows one to a line; anything else a paragraph
                # apart, the empty line between two paragraphs of a quotation quoted too.
                if block.kind and block.kind == previous.kind:
                    parts.append("\n")
                else:
                    parts.append("\n" + ("> " * min(block.quotes, previous.quotes)).rstrip() + "\n")
            parts.append(block.text)
            previous = block
        return "".join(parts)


def _collapse(text: str) -> str:
    """Runs of whitespace as one space (the source's line breaks included), but the line breaks
    of ``<br>`` kept as line breaks; ends trimmed."""
    return "\n".join(" ".join(line.split()) for line in text.split(BREAK)).strip()


def _same_target(text: str, href: str) -> bool:
    """A link whose text is its URL (an autolink) needs no "(url)" after it."""
    bare = href.removeprefix("mailto:")
    return text in (href, bare) or text.rstrip("/") == href.rstrip("/")
