"""Finding the site's pages the way a reader does: by following its links."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import ClassVar
from urllib.parse import urldefrag, urljoin, urlsplit

NOT_FOUND_PATH = "/e2e-there-is-no-such-page/"
FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/feed+json", "application/json")


@dataclass(frozen=True)
class Link:
    tag: str
    attr: str
    url: str  # absolute, without fragment
    rel: str = ""
    type: str = ""
    text: str = ""


class _LinkParser(HTMLParser):
    REFERENCES: ClassVar[dict[str, str]] = {
        "a": "href",
        "link": "href",
        "script": "src",
        "img": "src",
        "form": "action",
        "source": "src",
    }

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.links: list[Link] = []
        self._open_anchor: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and values.get("href"):
            self.base = urljoin(self.base, values["href"])
        attr = self.REFERENCES.get(tag)
        if attr is None or not values.get(attr):
            return
        if tag == "a":
            self._open_anchor, self._text = values, []
            return
        self._add(tag, attr, values, "")

    def handle_data(self, data: str) -> None:
        if self._open_anchor is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open_anchor is not None:
            self._add("a", "href", self._open_anchor, " ".join("".join(self._text).split()))
            self._open_anchor = None

    def _add(self, tag: str, attr: str, values: dict[str, str], text: str) -> None:
        url = urldefrag(urljoin(self.base, values[attr]))[0]
        self.links.append(Link(tag, attr, url, values.get("rel", ""), values.get("type", ""), text))


def links(html: str, base: str) -> list[Link]:
    parser = _LinkParser(base)
    parser.feed(html)
    parser.close()
    return parser.links


def same_origin(url: str, site_url: str) -> bool:
    return urlsplit(url)[:2] == urlsplit(site_url)[:2]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
