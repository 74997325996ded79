"""The post page: structure, <head>, escaping, and a real article reaching the page intact."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from posts_helpers import EXAMPLES, check

from pressline.models import PostMeta, RenderedPost, SourceRef
from pressline.posts.markdown import render_body
from pressline.posts.sanitize import strip_markup
from pressline.site.pages import Site, render_post_page

SITE = Site(
    title="Harbour Notes", url="https://blog.example", api_url="https://api.example/v1", timezone="Europe/Paris"
)
SOURCE = SourceRef(bucket="src", key="posts/hello.md", version_id="v1")


class Page(HTMLParser):
    """Collects what the tests look at, by structure rather than by substring."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str]] = []
        self.anchors: list[tuple[dict[str, str], str]] = []
        self.forms: list[dict[str, str]] = []
        self.inputs: list[dict[str, str]] = []
        self.texts: dict[str, list[str]] = {}
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._capture: list[tuple[str, dict[str, str], list[str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = attributes.get("name") or attributes.get("property") or ""
            self.meta.setdefault(key, []).append(attributes.get("content", ""))
        elif tag == "link":
            self.links.append(attributes)
        elif tag == "form":
            self.forms.append(attributes)
        elif tag == "input":
            self.inputs.append(attributes)
        if tag not in ("meta", "link", "input", "br", "img", "hr"):
            self._capture.append((tag, attributes, []))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._capture) - 1, -1, -1):
            if self._capture[index][0] == tag:
                name, attributes, parts = self._capture.pop(index)
                text = re.sub(r"\s+", " ", "".join(parts)).strip()
                self.texts.setdefault(name, []).append(text)
                if name == "a":
                    self.anchors.append((attributes, text))
                if name == "script":
                    self.scripts.append((attributes, "".join(parts)))
                for _, _, outer in self._capture:
                    outer.append("".join(parts))
                return

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._capture[-1][2].append(data)


def rendered(**changes: Any) -> RenderedPost:
    meta = PostMeta(
        slug="hello",
        title="Hello, world",
        date=datetime(2022, 1, 7, 17, 48, tzinfo=UTC),
        tags=("News", "Open Source"),
        summary="A first post.",
        author="Ann Lee",
    ).model_copy(update=changes)
    return RenderedPost(
        source=SOURCE, meta=meta, body_html="<p>First paragraph.</p>", status="published",
        rendered_at=datetime(2022, 1, 7, 18, tzinfo=UTC),
    )  # fmt: skip


def test_page_structure() -> None:
    older = PostMeta(slug="older", title="The older one", date=datetime(2021, 1, 1, tzinfo=UTC))
    newer = PostMeta(slug="newer", title="The newer one", date=datetime(2023, 1, 1, tzinfo=UTC))
    page = Page(render_post_page(rendered(), SITE, older, newer))
    header_links = {text: attrs["href"] for attrs, text in page.anchors}
    assert header_links["Harbour Notes"] == "/"
    assert header_links["Home"] == "/" and header_links["Tags"] == "/tags/"
    assert header_links["Search"] == "/search/" and header_links["Feed"] == "/feed.xml"
    assert page.texts["h1"] == ["Hello, world"]
    # 17:48 UTC is 18:48 in Paris: the site's zone, in the default format.
    assert "Posted on January 7 2022, 18:48 by Ann Lee · 1 min read" in page.texts["p"]
    tags = [(attrs["href"], text) for attrs, text in page.anchors if attrs.get("rel") == "tag"]
    assert tags == [("/tags/news/", "News"), ("/tags/open-source/", "Open Source")]
    assert "First paragraph." in page.texts["p"]
    assert "To be informed of the latest articles, subscribe:" in page.texts["p"]
    assert page.forms == [{"method": "post", "action": "https://api.example/v1/subscriptions"}]
    email = next(i for i in page.inputs if i.get("type") == "email")
    assert email["name"] == "email" and "required" in email
    navigation = {attrs.get("rel"): (attrs["href"], text) for attrs, text in page.anchors if attrs.get("rel")}
    assert navigation["prev"] == ("/posts/older/", "Previous post The older one")
    assert navigation["next"] == ("/posts/newer/", "Next post The newer one")


def test_head() -> None:
    page = Page(render_post_page(rendered(image="/media/cover.png", updated=datetime(2022, 2, 1, tzinfo=UTC)), SITE))
    assert page.texts["title"] == ["Hello, world · Harbour Notes"]
    assert page.meta["description"] == ["A first post."]
    canonical = [link["href"] for link in page.links if link.get("rel") == "canonical"]
    assert canonical == ["https://blog.example/posts/hello/"]
    feeds = {link["type"]: link["href"] for link in page.links if link.get("rel") == "alternate"}
    assert feeds == {
        "application/atom+xml": "/feed.xml",
        "application/rss+xml": "/rss.xml",
        "application/feed+json": "/feed.json",
    }
    assert page.meta["og:type"] == ["article"] and page.meta["og:title"] == ["Hello, world"]
    assert page.meta["og:url"] == ["https://blog.example/posts/hello/"]
    assert page.meta["og:site_name"] == ["Harbour Notes"]
    assert page.meta["og:image"] == ["https://blog.example/media/cover.png"]
    assert page.meta["article:tag"] == ["News", "Open Source"]
    assert page.meta["twitter:card"] == ["summary_large_image"]
    assert page.meta["twitter:title"] == ["Hello, world"]
    (_, text), *_ = [s for s in page.scripts if s[0].get("type") == "application/ld+json"]
    data = json.loads(text)
    assert data["@type"] == "BlogPosting" and data["headline"] == "Hello, world"
    assert data["datePublished"] == "2022-01-07T17:48:00+00:00"
    assert data["dateModified"] == "2022-02-01T00:00:00+00:00"
    assert data["author"] == {"@type": "Person", "name": "Ann Lee"}
    assert data["mainEntityOfPage"]["@id"] == "https://blog.example/posts/hello/"
    assert data["image"] == "https://blog.example/media/cover.png"


def test_an_explicit_canonical_url_is_used() -> None:
    page = Page(render_post_page(rendered(canonical_url="https://medium.example/p/1"), SITE))
    assert [link["href"] for link in page.links if link.get("rel") == "canonical"] == ["https://medium.example/p/1"]
    assert page.meta["twitter:card"] == ["summary"]


HOSTILE = '</title><script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


def test_author_text_is_escaped_everywhere() -> None:
    html = render_post_page(
        rendered(title=HOSTILE, summary=HOSTILE, author=HOSTILE, tags=(HOSTILE + " tag",)), SITE,
        PostMeta(slug="p", title=HOSTILE, date=datetime(2021, 1, 1, tzinfo=UTC)),
    )  # fmt: skip
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "</title><script>" not in html
    page = Page(html)
    assert page.texts["h1"] == [HOSTILE]
    # A summary is text wherever it appears: its markup is removed, not only escaped.
    assert page.meta["description"] == [strip_markup(HOSTILE)] and page.meta["og:title"] == [HOSTILE]
    (_, ld_text), *_ = [s for s in page.scripts if s[0].get("type") == "application/ld+json"]
    assert "</script" not in ld_text and "<" not in ld_text
    assert json.loads(ld_text)["headline"] == HOSTILE
    # Only the JSON-LD script exists: nothing author-written became a script.
    assert [attrs.get("type") for attrs, _ in page.scripts] == ["application/ld+json"]


def test_date_format_and_zone_are_the_sites() -> None:
    site = Site(title="T", url="https://x.example", api_url="https://api", timezone="America/New_York",
                date_format="%-d/%-m/%Y %-H:%M")  # fmt: skip
    assert site.format_date(datetime(2022, 1, 7, 17, 48, tzinfo=UTC)) == "7/1/2022 12:48"
    assert SITE.format_date(datetime(2022, 7, 3, 6, 5, tzinfo=UTC)) == "July 3 2022, 08:05"


def test_a_real_news_article_reaches_the_page_intact() -> None:
    path = EXAMPLES / "city-council-approves-riverside-cycle-lanes.md"
    result = check(path.read_bytes(), key=f"posts/{path.name}")
    assert result.post is not None
    body = render_body(result.post.body, f"posts/{path.name}")
    post = RenderedPost(
        source=SOURCE, meta=result.post.meta.model_copy(update={"summary": body.summary}),
        body_html=body.html, status="published", rendered_at=datetime.now(UTC),
    )  # fmt: skip
    page = Page(render_post_page(post, SITE))
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in result.post.body.strip().split("\n\n")]
    assert len(paragraphs) == 9
    assert sum('"' in p for p in paragraphs) >= 4  # quotations, with their quote marks
    for paragraph in paragraphs:
        assert paragraph in page.texts["p"], paragraph
    assert page.texts["h1"] == ["City council approves riverside cycle lanes after a five-hour debate"]
    # About 450 words at 230 a minute, rounded up.
    assert "Posted on February 12 2026, 21:15 by Tomás Ferreira · 2 min read" in page.texts["p"]
    assert page.meta["description"][0].startswith("After a five-hour session that ran late into Thursday night")


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.md")))
def test_every_example_renders(example: str) -> None:
    result = check((EXAMPLES / example).read_bytes(), key=f"posts/{example}")
    assert result.post is not None
    body = render_body(result.post.body, f"posts/{example}", result.post.meta.summary)
    post = RenderedPost(
        source=SOURCE, meta=result.post.meta.model_copy(update={"summary": body.summary}),
        body_html=body.html, status="published", rendered_at=datetime.now(UTC),
    )  # fmt: skip
    page = Page(render_post_page(post, SITE))
    assert page.texts["h1"] == [result.post.meta.title]
    assert body.warnings == []


def test_a_site_can_override_the_templates(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pressline.site.templating import environment

    (tmp_path / "_subscribe.html").write_text('<p class="custom">Join the {{ site.title }} list</p>')
    monkeypatch.setenv("PRESSLINE_TEMPLATES", str(tmp_path))
    environment.cache_clear()
    try:
        page = Page(render_post_page(rendered(), SITE))
    finally:
        monkeypatch.delenv("PRESSLINE_TEMPLATES")
        environment.cache_clear()
    assert "Join the Harbour Notes list" in page.texts["p"]
    assert "To be informed of the latest articles, subscribe:" not in page.texts["p"]
    assert page.texts["h1"] == ["Hello, world"]  # the rest is the shipped post.html
