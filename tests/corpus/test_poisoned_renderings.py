"""Poisoned renderings: what an author can write to ``rendered/…`` in the source bucket.

Each file in ``renderings/`` is one stored object (a rendering, or text that is not one) and
what must become of it: ``refused`` (``load_rendering`` gives None: nothing is published from
it) or ``repaired`` (what comes out is safe on the post page, in every feed, as text where
text is due, and a second pass changes nothing); ``lacks`` is what no published field of it
may still hold. Run against the in-memory store and S3 on moto alike, and through the places
that read renderings back: Index (an update too large to carry its rendering) and
``pressline rebuild``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from html_safety import assert_feed_safe, assert_json_feed_safe, assert_plain_text, assert_safe
from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.adapters.store import MemoryStore, ObjectStore, S3Store
from pressline.indexing import feeds
from pressline.indexing.catalog import Recent, RecentPost
from pressline.indexing.plan import target_post
from pressline.indexing.renderings import UntrustedRendering, load_rendering, parse_recent, trusted
from pressline.models import RenderedPost
from pressline.posts.paths import rendered_key
from pressline.site.pages import Site, render_post_page

HERE = Path(__file__).resolve().parent
CASES = {path.stem: json.loads(path.read_text()) for path in sorted((HERE / "renderings").glob("*.json"))}
SITE = Site(title="Corpus", url="https://blog.example", api_url="https://api.example/v1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stored(entry: dict[str, Any]) -> tuple[str, bytes]:
    """The key and bytes of one case, as an author would have put them."""
    if "stored_text" in entry:
        return entry.get("key", "rendered/posts/fine.md/v1.json"), entry["stored_text"].encode()
    rendering = entry["rendering"]
    key = entry.get("key") or f"rendered/{rendering['source']['key']}/{rendering['source']['version_id']}.json"
    return key, json.dumps(rendering).encode()


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="source")
        s3.put_bucket_versioning(Bucket="source", VersioningConfiguration={"Status": "Enabled"})
        yield S3Store("source", s3=s3)


def check_outputs(rendered: RenderedPost, lacks: list[str], where: str) -> None:
    """Everything a rendering reaches: its page, the three feeds, its summary as text."""
    page = render_post_page(rendered, SITE)
    assert_safe(page, f"{where}'s page")
    for own in ('id="subscribe-email"', 'id="subscribe-title"', 'id="content"'):
        assert page.count(own) <= 1, f"{where}'s page has {own} twice"
    meta = rendered.meta
    published = [rendered.body_html, meta.title, meta.summary, *meta.tags, meta.author, meta.canonical_url, meta.image]
    for text in lacks:
        assert not any(text in field for field in published if field), f"{where} still has {text!r}"
    recent = [RecentPost(post=target_post(rendered, rendered.source, NOW), rendered=rendered)]
    assert_feed_safe(feeds.atom(recent, SITE, NOW), f"{where} Atom")
    assert_feed_safe(feeds.rss(recent, SITE, NOW), f"{where} RSS")
    assert_json_feed_safe(json.loads(feeds.json_feed(recent, SITE)), f"{where} JSON Feed")
    assert_plain_text(rendered.meta.summary, f"{where} summary")


def test_the_corpus_covers_both_outcomes() -> None:
    assert len(CASES) >= 12
    assert {entry["outcome"] for entry in CASES.values()} == {"refused", "repaired"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_poisoned_rendering_is_refused_or_made_safe(store: ObjectStore, name: str) -> None:
    entry = CASES[name]
    key, body = stored(entry)
    store.put(key, body, "application/json")
    loaded = load_rendering(store, key)
    if entry["outcome"] == "refused":
        assert loaded is None, f"{name}: published from {loaded}"
        return
    assert loaded is not None, f"{name} was refused; it can be repaired"
    check_outputs(loaded, entry["lacks"], name)
    assert trusted(loaded) is loaded  # made safe once is safe: a second pass changes nothing


def test_nothing_stored_is_nothing_loaded(store: ObjectStore) -> None:
    assert load_rendering(store, "rendered/posts/none.md/v1.json") is None


def test_the_newest_posts_state_is_made_safe_too() -> None:
    """``state/index/recent.json`` holds renderings as well (the feeds' full content)."""
    items = []
    for name in ("body-script", "summary-markup", "slug-traversal", "another-posts-rendering"):
        rendering = RenderedPost.model_validate(CASES[name]["rendering"])
        items.append(RecentPost(post=target_post(rendering, rendering.source, NOW), rendered=rendering))
    state = Recent(posts=tuple(items)).model_dump_json()
    recent = parse_recent(state, "state/index/recent.json")
    assert recent is not None
    assert len(recent.posts) == 3  # the one whose slug is no slug is left out
    for item in recent.posts:
        check_outputs(item.rendered, ["<script", "onerror"], f"recent {item.post.source_key}")
        assert_plain_text(item.post.summary, "recent summary")
    assert parse_recent("{not json", "state/index/recent.json") is None


# --------------------------------------------------------------------------- where renderings are read
def _poison_after_render(world: Any, carry: bool) -> str:
    """Publish a post as Render would, then overwrite its stored rendering with the poison."""
    update = world.upload("posts/fine.md", "A fine post", datetime(2026, 3, 1, tzinfo=UTC), carry=carry)
    poison = RenderedPost.model_validate(CASES["body-script"]["rendering"]).model_copy(update={"source": update.source})
    world.source.put(rendered_key(update.source), poison.model_dump_json().encode(), "application/json")
    world.apply(update)
    return "fine"


@pytest.fixture
def world() -> Any:
    import sys

    sys.path.insert(0, str(HERE.parent / "unit" / "indexing"))
    from index_world import World  # type: ignore[import-not-found]

    return World()


def test_index_publishes_nothing_poisoned_from_a_stored_rendering(world: Any) -> None:
    slug = _poison_after_render(world, carry=False)  # too large to carry: Index reads the stored one
    for key in (f"posts/{slug}/index.html", "index.html"):
        page = world.text(key)
        assert page is None or "alert(1)" not in page, key
        if page is not None:
            assert_safe(page, key)
    for feed in ("feed.xml", "rss.xml"):
        text = world.text(feed)
        if text is not None:
            assert_feed_safe(text, feed)


def test_rebuild_publishes_nothing_poisoned(world: Any) -> None:
    from pressline.indexing.rebuild import rebuild_site

    _poison_after_render(world, carry=True)  # Index published the real one; rebuild reads the stored one
    rebuild_site(world.catalog, world.source, world.site_store, world.site, now=world.now)
    page = world.text("posts/fine/index.html")
    assert page is not None and "alert(1)" not in page
    assert_safe(page, "the rebuilt page")
    assert_feed_safe(world.text("feed.xml"), "the rebuilt Atom feed")
    assert_json_feed_safe(world.json("feed.json"), "the rebuilt JSON Feed")


# --------------------------------------------------------------------------- the class, generated
_PIECES = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>', "</title>",
           "java\x0bscript:alert(1)", "javascript:alert(1)", "data:text/html,x", "\u202e", "\x1b[31m", "\u200b",
           "<<b>script>", "<!--", "&lt;script&gt;", "]]>", "{{ 7*7 }}", "a < b", "ok", " ", "\n", "/", "../",
           "https://example.com/x", "//evil.example", '<a href="java&#x0B;script:x">l</a>',
           '<h2 id="content">h</h2>']  # fmt: skip
_HOSTILE = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join)


@given(
    title=_HOSTILE,
    summary=_HOSTILE,
    tags=st.lists(_HOSTILE, max_size=3),
    author=st.one_of(st.none(), _HOSTILE),
    body=_HOSTILE,
    canonical=st.one_of(st.none(), _HOSTILE),
    image=st.one_of(st.none(), _HOSTILE),
    slug=st.sampled_from(["fine", "../x", "UPPER", "a/b", ""]),
)
@settings(max_examples=150, deadline=None)
def test_whatever_a_stored_rendering_holds_it_is_refused_or_made_safe(
    title: str,
    summary: str,
    tags: list[str],
    author: str | None,
    body: str,
    canonical: str | None,
    image: str | None,
    slug: str,
) -> None:
    rendering = RenderedPost.model_validate(CASES["body-script"]["rendering"])
    meta = rendering.meta.model_copy(
        update={"title": title, "summary": summary, "tags": tuple(tags), "author": author, "slug": slug,
                "canonical_url": canonical, "image": image}
    )  # fmt: skip
    poisoned = rendering.model_copy(update={"meta": meta, "body_html": body})
    try:
        safe = trusted(poisoned)
    except UntrustedRendering:
        return
    check_outputs(safe, [], "generated")
    assert trusted(safe) is safe


@pytest.mark.parametrize(
    "body_html",
    [
        "<div>" * 20_000 + "x" + "</div>" * 20_000,  # sanitizing grows with the square of the nesting
        "<p " + " ".join(f"a{n}=1" for n in range(5_000)) + ">x</p>",  # and of an element's attributes
    ],
    ids=["nested-20000", "attributes-5000"],
)
def test_a_rendering_too_costly_to_sanitize_is_refused_before_sanitizing(body_html: str) -> None:
    """Render refuses what would take too long to sanitize (posts/markdown.html_problem), so a
    stored rendering that holds it was planted: refused by the same bound, not sanitized for
    minutes while the batch waits."""
    entry = CASES["body-script"]
    rendering = {**entry["rendering"], "body_html": body_html}
    store = MemoryStore()
    store.put("rendered/posts/fine.md/v1.json", json.dumps(rendering).encode(), "application/json")
    assert load_rendering(store, "rendered/posts/fine.md/v1.json") is None


def test_a_rendering_of_a_post_with_a_key_past_s3s_limit_loads_from_its_hashed_key(store: ObjectStore) -> None:
    """Render writes ``rendered/by-hash/...`` when ``rendered/<source key>/...`` would pass 1,024
    bytes; the check that a rendering is of the version its key names must expect that key."""
    entry = CASES["another-version"]
    rendering = json.loads(json.dumps(entry["rendering"]))
    rendering["source"]["key"] = "posts/" + "é" * 500 + ".md"  # ~1,010 bytes of UTF-8
    rendering["meta"]["slug"] = "long-key"
    parsed = RenderedPost.model_validate(rendering)
    key = rendered_key(parsed.source)
    assert key.startswith("rendered/by-hash/")
    store.put(key, json.dumps(rendering).encode(), "application/json")
    loaded = load_rendering(store, key)
    assert loaded is not None and loaded.source.key == rendering["source"]["key"]
    # And a copy of it under another version's hashed key is still refused.
    other = rendered_key(parsed.source.model_copy(update={"version_id": "v2"}))
    store.put(other, json.dumps(rendering).encode(), "application/json")
    assert load_rendering(store, other) is None


@settings(max_examples=60, deadline=None)
@given(
    # Lengths drawn across the limit (hypothesis' own text sizes stay short): one to four bytes
    # a character, 1 to 600 of them, then a few mixed ones.
    stem=st.builds(
        lambda char, count, tail: char * count + tail,
        st.sampled_from(["a", "é", "日", "🙂"]),
        st.integers(1, 600),
        st.text(alphabet=st.sampled_from(["a", "é", "ß", "日", "🙂", "-"]), max_size=20),
    ),
    version=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=80),
)
def test_a_rendering_loads_from_the_key_render_writes_whatever_the_source_keys_length(stem: str, version: str) -> None:
    """The whole class: source keys of every length around S3's 1,024 bytes, in one- to
    four-byte characters, under the readable or the hashed key (whichever Render writes)."""
    rendering = json.loads(json.dumps(CASES["another-version"]["rendering"]))
    rendering["source"]["key"] = f"posts/{stem}.md"
    rendering["source"]["version_id"] = version
    rendering["meta"]["slug"] = "any-key"
    store = MemoryStore()
    key = rendered_key(RenderedPost.model_validate(rendering).source)
    store.put(key, json.dumps(rendering).encode(), "application/json")
    loaded = load_rendering(store, key)
    assert loaded is not None and loaded.source.key == rendering["source"]["key"]
