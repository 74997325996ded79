"""What "no script reaches a reader" means, checked on a finished HTML page.

Shared by the hostile-input corpus, the fuzz tests and the chaos run. The page is parsed
(not searched as text), the way a browser tokenizes it, so an escaped ``&lt;script&gt;``
is text and passes while a real element, however it is spelled, is found.
"""

from __future__ import annotations

import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

# Attributes whose value a browser follows or loads as a URL.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "cite", "data", "srcset", "ping"}
)
# Never produced by the templates, never allowed from authors.
FORBIDDEN_TAGS = frozenset(
    {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math", "isindex", "portal"}
)
# Schemes that run code or smuggle a document; browsers ignore ASCII whitespace and control
# characters inside a scheme ("java\tscript:"), and a feed reader or mail client may fold
# fullwidth letters (NFKC) or drop zero-width ones, so after NFKC everything but printable
# ASCII is removed before comparing.
_DANGEROUS_SCHEME = re.compile(r"^(?:javascript|vbscript|livescript|data|blob|file):", re.IGNORECASE)
_IGNORED_IN_SCHEME = re.compile(r"[^\x21-\x7e]+")
# What an HTML tokenizer reads as the start of markup ("a < b" is text).
_MARKUP = re.compile(r"<[A-Za-z/!?]")


def dangerous_url(url: str) -> bool:
    """Whether a URL's scheme, however spelled, runs code or smuggles a document."""
    decoded = unquote(url) if "%" in url[:200] else url  # a percent-decoding client sees the scheme too
    return bool(_DANGEROUS_SCHEME.match(_IGNORED_IN_SCHEME.sub("", unicodedata.normalize("NFKC", decoded[:200]))))


_SAFE_SCRIPT_TYPES = frozenset({"application/ld+json"})
# The site's own scripts (the search page's), never anything an author wrote.
SITE_SCRIPTS = frozenset({"/search/search.js"})


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script_type: str | None = None
        self._script_text: list[str] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check(tag, attrs)

    def _check(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        if tag == "script":
            kind = attributes.get("type", "").strip().lower()
            own = attributes.get("src") in SITE_SCRIPTS and set(attributes) <= {"src", "defer", "type"}
            if not own and (kind not in _SAFE_SCRIPT_TYPES or "src" in attributes):
                self.problems.append(f"executable <script {attributes}>")
            self._script_type = kind
            self._script_text = []
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        if tag == "meta" and attributes.get("http-equiv", "").lower() == "refresh":
            self.problems.append("<meta http-equiv=refresh>")
        if tag == "link" and attributes.get("rel", "").lower() not in ("alternate", "canonical", "stylesheet", "icon"):
            self.problems.append(f"<link rel={attributes.get('rel')!r}>")
        for name, value in attributes.items():
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name}= on <{tag}>")
            if name == "style" and re.search(r"expression|url\s*\(|javascript", value, re.IGNORECASE):
                self.problems.append(f"style attribute with code on <{tag}>: {value[:60]!r}")
            if name in URL_ATTRIBUTES:
                for url in value.split(",") if name == "srcset" else [value]:
                    if dangerous_url(url.strip()):
                        self.problems.append(f"{name}={url[:60]!r} on <{tag}>")

    def handle_data(self, data: str) -> None:
        if self._script_type is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script_type is not None:
            text = "".join(self._script_text)
            if self._script_type == "application/ld+json":
                try:
                    json.loads(text)
                except ValueError:
                    self.problems.append(f"a JSON-LD block that is not JSON (broken out of?): {text[:80]!r}")
            self._script_type = None


def unsafe_parts(html: str) -> list[str]:
    """Everything in ``html`` that could run code or load a foreign document; [] when safe."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    if scanner._script_type is not None:
        scanner.problems.append("a <script> element that is never closed")
    return scanner.problems


def assert_safe(html: str, where: str = "page") -> None:
    problems = unsafe_parts(html)
    assert not problems, f"{where} is unsafe: " + "; ".join(problems)


# --------------------------------------------------------------------------- text, feeds, JSON
def assert_plain_text(text: str, where: str) -> None:
    """A text shown as text (a summary): nothing in it that an HTML parser would read as markup,
    so a feed reader or mail client that takes it for HTML shows it and runs nothing."""
    found = _MARKUP.search(text)
    assert found is None, f"{where} has markup: {text[max(0, found.start() - 20) : found.start() + 60]!r}"


def assert_url(url: str, where: str) -> None:
    assert not dangerous_url(url), f"{where} is a dangerous URL: {url[:80]!r}"


_ATOM = "{http://www.w3.org/2005/Atom}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


def assert_feed_safe(xml: bytes | str, where: str) -> None:
    """An Atom or RSS feed: well-formed; every HTML field safe as a page would be; every text
    field (titles aside, which readers show as text) free of markup even read as HTML; links safe."""
    root = ET.fromstring(xml)
    for element in root.iter():
        tag, text = element.tag, element.text or ""
        if tag in (f"{_ATOM}content", _CONTENT):
            assert_safe(text, f"{where} {tag}")
        elif tag in (f"{_ATOM}summary", "description"):
            assert_safe(text, f"{where} {tag}")  # what a reader that ignores type="text" runs
            assert_plain_text(text, f"{where} {tag}")
        elif tag in ("link", "guid", f"{_ATOM}id"):
            assert_url(text.strip(), f"{where} {tag}")
        for name, value in element.attrib.items():
            if name in ("href", "src", "url"):
                assert_url(value, f"{where} {tag} {name}")


def assert_json_feed_safe(data: dict[str, Any], where: str) -> None:
    for item in data.get("items", []):
        at = f"{where} item {item.get('url')}"
        assert_safe(item.get("content_html", ""), at)
        assert_plain_text(item.get("summary", ""), f"{at} summary")
        assert_safe(item.get("summary", ""), f"{at} summary")
        for name in ("url", "id", "image", "external_url"):
            if isinstance(item.get(name), str):
                assert_url(item[name], f"{at} {name}")
    for name in ("home_page_url", "feed_url"):
        assert_url(data.get(name, ""), f"{where} {name}")


def assert_sitemap_safe(xml: bytes | str, site_url: str, where: str) -> None:
    """Every <loc> of a sitemap (or sitemap index) is a URL on the site."""
    for element in ET.fromstring(xml).iter():
        if element.tag.endswith("}loc"):
            loc = (element.text or "").strip()
            assert_url(loc, f"{where} loc")
            assert loc.startswith(site_url.rstrip("/") + "/"), f"{where}: {loc!r} is not on the site"
