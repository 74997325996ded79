"""What a reader sees alike everywhere: the reading time of a post, search results dated as the
pages date them (by Index and by ``pressline rebuild``), and the tags page's post counts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.indexing import layout
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.rebuild import rebuild_site
from pressline.models import IndexUpdate, PostMeta, RenderedPost, SourceRef
from pressline.posts.paths import post_page_key, rendered_key
from pressline.site.pages import CJK_CHARACTERS_PER_MINUTE, WORDS_PER_MINUTE, Site, reading_minutes, render_post_page
from pressline.stages.index import IndexDeps, apply_update

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
# A zone far from UTC and a format other than the default: a date made in UTC, or by the
# browser's locale, would differ from the one the pages print.
SITE = Site(
    title="Harbour Notes",
    url="https://blog.example",
    api_url="https://api.blog.example",
    timezone="Pacific/Auckland",
    date_format="%A %-d %B %Y",
)


DASHES_AND_BULLETS = " \u2014 \u00b7 - *"


def words(count: int) -> str:
    return " ".join(f"word{n}" for n in range(count))


# --------------------------------------------------------------------------- reading time
@pytest.mark.parametrize(
    ("body_html", "minutes"),
    [
        ("", 1),  # an empty post still reads in a minute, never "0 min"
        (f"<p>{words(WORDS_PER_MINUTE)}</p>", 1),
        (f"<p>{words(WORDS_PER_MINUTE + 1)}</p>", 2),  # rounded up
        (f"<p>{words(4 * WORDS_PER_MINUTE)}</p>", 4),
        # Apostrophes, hyphens and decimal points join, they do not split: 5 words.
        ("<p>Don\u2019t e-mail me 3.5 times</p>", 1),
        # A dash or a bullet between spaces is not a word.
        (f"<p>{words(WORDS_PER_MINUTE)}{DASHES_AND_BULLETS * 100}</p>", 1),
    ],
)
def test_reading_time_counts_words_at_230_a_minute(body_html: str, minutes: int) -> None:
    assert reading_minutes(body_html) == minutes


def test_markup_is_not_read() -> None:
    """Tags and their attributes (a long link's URL, a picture's alt) are not words of the text."""
    url = "https://example.com/" + "/".join(words(400).split())
    body = f'<p><a href="{url}" title="{words(400)}">one</a> <img alt="{words(400)}" src="x.png"> two</p>'
    assert reading_minutes(body) == 1
    # A character reference is the one character it stands for: caf&eacute; is one word, not two.
    assert reading_minutes("<p>" + " ".join(["caf&eacute;"] * WORDS_PER_MINUTE) + "</p>") == 1


@pytest.mark.parametrize(
    "character",
    ["\u6587", "\u3042", "\u30ab", "\ud55c"],  # a Han character, hiragana, katakana, a Hangul syllable
)
def test_chinese_japanese_and_korean_are_counted_by_characters(character: str) -> None:
    # Without spaces, a word count would see one long "word" and say 1 minute.
    text = character * (3 * CJK_CHARACTERS_PER_MINUTE)
    assert reading_minutes(f"<p>{text}</p>") == 3
    assert reading_minutes(f"<p>{character * (3 * CJK_CHARACTERS_PER_MINUTE + 1)}</p>") == 4


def test_mixed_scripts_add_up() -> None:
    """A Japanese post quoting English: both parts take their own time."""
    nihongo = "\u65e5\u672c\u8a9e"  # three characters
    body = f"<p>{nihongo * (CJK_CHARACTERS_PER_MINUTE // 3)}</p><p>{words(WORDS_PER_MINUTE)}</p>"
    assert reading_minutes(body) == 2


def rendered(slug: str, title: str, date: datetime, tags: tuple[str, ...] = (), body: str = "") -> RenderedPost:
    source = SourceRef(bucket="source-bucket", key=f"posts/{slug}.md", version_id="v1", etag="e1")
    meta = PostMeta(slug=slug, title=title, date=date, tags=tags, summary=f"About {title}.")
    return RenderedPost(
        source=source, meta=meta, body_html=body or f"<p>{title}.</p>", status="published", rendered_at=NOW
    )


class Text(HTMLParser):
    """The text of the elements with a given class, and of each list item under ``ul.tag-cloud``."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.by_class: dict[str, list[str]] = {}
        self.cloud: list[str] = []
        self._open: list[tuple[str, list[str], list[str]]] = []  # (tag, classes, text)
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "link", "input", "br", "img", "hr"):
            return
        self._open.append((tag, (dict(attrs).get("class") or "").split(), []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, classes, parts = self._open.pop()
            text = " ".join("".join(parts).split())
            if self._open:  # the parent's text includes its children's
                self._open[-1][2].append("".join(parts))
            for name_of_class in classes:
                self.by_class.setdefault(name_of_class, []).append(text)
            if name == "li" and any("tag-cloud" in c for _, c, _ in self._open):
                self.cloud.append(text)
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)


def test_the_post_page_shows_its_reading_time() -> None:
    post = rendered("long-read", "A long read", NOW, body=f"<p>{words(3 * WORDS_PER_MINUTE + 10)}</p>")
    page = Text(render_post_page(post, SITE))
    assert page.by_class["reading-time"] == ["4 min read"]
    assert "4 min read" in page.by_class["post-meta"][0]  # beside the date, where readers look


# --------------------------------------------------------------------------- through Index
class Blog:
    """Index over memory stores, fed what Render hands it."""

    def __init__(self) -> None:
        self.source, self.site_store, self.catalog = MemoryStore(), MemoryStore(), MemoryCatalog()
        self.deps = IndexDeps(self.source, self.site_store, self.catalog, MemoryQueue(), SITE, clock=lambda: NOW)

    def publish(self, post: RenderedPost) -> None:
        self.source.put(post.source.key, b"---\ntitle: x\n---\n", "text/markdown")
        head = self.source.head(post.source.key)
        assert head is not None
        source = SourceRef(bucket="source-bucket", key=post.source.key, version_id=head.version_id, etag=head.etag)
        post = post.model_copy(update={"source": source})
        self.source.put(rendered_key(source), post.model_dump_json().encode(), "application/json")
        outcome = apply_update(
            IndexUpdate(action="upsert", source=source, slug=post.meta.slug, rendered=post), self.deps
        )
        assert outcome.status == "published", outcome

    def text(self, store: MemoryStore, key: str) -> str:
        found = store.get(key)
        assert found is not None, f"no {key}"
        return found.body.decode()


# 23:30 UTC on 6 January is 12:30 on 7 January in Auckland: the day itself differs.
LATE_EVENING_UTC = datetime(2022, 1, 6, 23, 30, tzinfo=UTC)


def test_search_results_carry_the_date_the_pages_print_from_index_and_from_rebuild() -> None:
    blog = Blog()
    blog.publish(rendered("harbour", "At the harbour", LATE_EVENING_UTC))
    month = "2022-01"  # the site's month, in Auckland
    (document,) = json.loads(blog.text(blog.site_store, layout.search_shard_key(month)))["posts"]
    shown_on_the_post = Text(blog.text(blog.site_store, post_page_key("harbour"))).by_class["dt-published"]
    shown_in_the_archive = Text(blog.text(blog.site_store, "archive/2022/01/index.html")).by_class["dt-published"]
    assert document["f"] == "Friday 7 January 2022"
    assert shown_on_the_post == [document["f"]] and shown_in_the_archive == [document["f"]]
    assert document["d"].startswith("2022-01-06T23:30")  # the instant, for ordering and <time datetime>

    rebuilt = MemoryStore()
    rebuild_site(blog.catalog, blog.source, rebuilt, SITE, now=NOW)
    key = layout.search_shard_key(month)
    assert blog.text(rebuilt, key) == blog.text(blog.site_store, key)


def test_the_tags_page_shows_how_many_posts_each_tag_has() -> None:
    blog = Blog()
    blog.publish(rendered("one", "One", datetime(2026, 1, 5, tzinfo=UTC), ("Python", "aws")))
    blog.publish(rendered("two", "Two", datetime(2026, 2, 5, tzinfo=UTC), ("python",)))
    blog.publish(rendered("three", "Three", datetime(2026, 3, 5, tzinfo=UTC), ("travel", "Python")))
    items = Text(blog.text(blog.site_store, layout.TAGS_INDEX)).cloud
    counts = {re.sub(r"\s*\(.*", "", item): item for item in items}
    # Tags compare without case: "Python" and "python" are one tag of 3 posts.
    assert counts == {"aws": "aws (1 post)", "Python": "Python (3 posts)", "travel": "travel (1 post)"}
