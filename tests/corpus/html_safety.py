"""What "no script reaches a reader" means, checked on a finished HTML page.

Shared by the hostile-input corpus, the fuzz tests and the chaos run. The page is parsed
(not searched as text), the way a browser tokenizes it, so an escaped ``&lt;script&gt;``
is text and passes while a real element, however it is spelled, is found.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

# Attributes whose value a browser follows or loads as a URL.
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "cite", "data", "srcset", "ping"}
)
# Never produced by the templates, never allowed from authors.
FORBIDDEN_TAGS = frozenset(
    {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math", "isindex", "portal"}
)
# Schemes that run code or smuggle a document; browsers ignore ASCII whitespace and control
# characters inside a scheme ("java\tscript:"), so those are removed before comparing.
_DANGEROUS_SCHEME = re.compile(r"^(?:javascript|vbscript|livescript|data|blob|file):", re.IGNORECASE)
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")
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
                    compact = _IGNORED_IN_SCHEME.sub("", url)
                    if _DANGEROUS_SCHEME.match(compact):
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
