"""The Ghost JSON export reader, through GhostSource: the fixture export (Ghost 1-5 shapes) and
exports built here for what one field or one broken post does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pressline.importing.ghost import GhostSource
from pressline.importing.model import ImportedItem, ItemProblem

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "ghost" / "ghost-export.json"


def _items(source: GhostSource) -> dict[str, ImportedItem]:
    found = list(source.items())
    assert all(isinstance(item, ImportedItem) for item in found), found
    return {item.slug: item for item in found if isinstance(item, ImportedItem)}


@pytest.fixture(scope="module")
def fixture_items() -> dict[str, ImportedItem]:
    return _items(GhostSource(FIXTURE))


def _export(tmp_path: Path, posts: list[dict[str, Any]], **tables: Any) -> Path:
    data: dict[str, Any] = {"posts": posts, "tags": [], "posts_tags": [], "users": [], "posts_authors": []}
    data["settings"] = [{"key": "url", "value": "http://old.example"}]
    data.update(tables)
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"db": [{"meta": {"version": "5.0.0"}, "data": data}]}), encoding="utf-8")
    return path


def _post(**fields: Any) -> dict[str, Any]:
    return {"id": "p1", "title": "A post", "slug": "a-post", "status": "published", "html": "<p>x</p>", **fields}


# --------------------------------------------------------------------------- the fixture
def test_every_post_and_page_of_the_fixture_is_read(fixture_items: dict[str, ImportedItem]) -> None:
    assert set(fixture_items) == {"welcome", "second-post", "hello-ghost-1", "ghost-4-unicode", "about", "coming-soon"}
    assert {item.source for item in fixture_items.values()} == {"ghost"}
    assert fixture_items["about"].kind == "page"
    assert all(item.kind == "post" for slug, item in fixture_items.items() if slug != "about")


def test_ghost_url_placeholders_become_the_old_site_address(fixture_items: dict[str, ImportedItem]) -> None:
    for item in fixture_items.values():
        assert "__GHOST_URL__" not in item.model_dump_json(), item.slug
    welcome = fixture_items["welcome"]
    assert welcome.image == "http://old.example/content/images/2023/05/feature.jpg"
    assert 'src="http://old.example/content/images/2023/05/cover.png"' in welcome.body
    assert GhostSource(FIXTURE).site_url == "http://old.example"


def test_ghost_5_post_takes_ghost_html_and_its_metadata(fixture_items: dict[str, ImportedItem]) -> None:
    welcome = fixture_items["welcome"]
    assert welcome.body_format == "html"
    assert welcome.body.startswith("<p>Grüße aus Köln")
    assert welcome.title == "Welcome — Grüße 🎉"
    assert welcome.summary == "The first post, in three scripts: Köln, 日本語, 🎉."
    assert welcome.date == datetime(2023, 5, 1, 10, 0, tzinfo=UTC)
    assert welcome.updated == datetime(2023, 5, 2, 9, 0, tzinfo=UTC)
    assert welcome.source_id == "6452a1f0c1a2b30001a1b001"
    assert welcome.old_urls == ("http://old.example/welcome/",)
    assert not welcome.draft


def test_tags_in_ghost_order_without_internal_ones(fixture_items: dict[str, ImportedItem]) -> None:
    assert fixture_items["welcome"].tags == ("Travel", "Café & Crème")


def test_primary_author_is_the_first_by_sort_order(fixture_items: dict[str, ImportedItem]) -> None:
    assert fixture_items["welcome"].author == "Zoë Ångström"  # u2 is listed first but sorted second
    assert fixture_items["ghost-4-unicode"].author == "Ivan Petrov"
    assert fixture_items["hello-ghost-1"].author == "Zoë Ångström"  # Ghost 1: author_id on the post


def test_lexical_without_html_is_rendered(fixture_items: dict[str, ImportedItem]) -> None:
    draft = fixture_items["second-post"]
    assert draft.draft
    assert draft.body_format == "html"
    body = draft.body
    assert "<p>A draft, with &lt;angle brackets&gt; &amp; ampersands.</p>" in body
    assert "<ul><li>one</li><li>two</li></ul>" in body  # the javascript: link is gone, its text kept
    assert "javascript" not in body
    assert "<blockquote>שלום עולם (right to left)</blockquote>" in body
    assert '<pre><code class="language-python">print(&#x27;&lt;hi&gt;&#x27;)</code></pre>' in body
    assert "<p>Some <em>Markdown</em> in a card.</p>" in body
    assert '<a href="https://example.org/article">An article</a>' in body
    # An embed is a link to what it showed, never the other site's iframe.
    assert '<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ">A video</a>' in body
    assert "iframe" not in body
    messages = [warning.message for warning in draft.warnings]
    assert any("javascript:" in message for message in messages)
    assert any("'signup' card" in message for message in messages)


def test_a_markdown_editor_post_keeps_its_markdown(fixture_items: dict[str, ImportedItem]) -> None:
    post = fixture_items["hello-ghost-1"]
    assert post.body_format == "markdown"
    assert post.body.startswith("# Hello from Ghost 1\n\nWritten in **Markdown**")
    assert "![Straße](http://old.example/content/images/2017/01/strasse.jpg)" in post.body
    assert "Ghost's rendering" not in post.body
    assert post.date == datetime(2017, 1, 15, 8, 30, tzinfo=UTC)  # Ghost 1's "YYYY-MM-DD HH:MM:SS" is UTC


def test_mobiledoc_sections_markups_and_cards_are_rendered(fixture_items: dict[str, ImportedItem]) -> None:
    post = fixture_items["ghost-4-unicode"]
    body = post.body
    assert body.startswith("<h2>Ghost 4, Ünïcödé</h2>")
    assert '<strong>strong <em>and em</em> </strong><a href="https://example.org/ç">a link</a><br>after' in body
    assert "<ol><li>first</li><li>second</li></ol>" in body
    assert '<img src="http://old.example/content/images/2020/02/photo.jpg" alt="Photo">' in body
    assert '<pre><code class="language-js">x &lt; y &amp;&amp; y &gt; z</code></pre>' in body
    assert '<div class="note">Raw HTML card</div>' in body
    assert "<p>A <strong>markdown</strong> card among others.</p>" in body
    assert post.canonical_url == "https://elsewhere.example/original/"
    assert [warning.message for warning in post.warnings] == ["an unknown card 'unheard-of' was left out"]


def test_page_in_ghost_navigation_keeps_its_place(fixture_items: dict[str, ImportedItem]) -> None:
    assert fixture_items["about"].nav_order == 1
    assert fixture_items["about"].old_urls == ("http://old.example/about/",)
    assert 'href="http://old.example/welcome/"' in fixture_items["about"].body


def test_scheduled_post_is_published_at_its_date_with_a_warning(fixture_items: dict[str, ImportedItem]) -> None:
    post = fixture_items["coming-soon"]
    assert not post.draft
    assert post.date == datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
    assert [warning.field for warning in post.warnings] == ["status"]
    assert post.updated is None  # last saved before it went out: not an update


# --------------------------------------------------------------------------- shapes of older exports
def test_ghost_1_page_flag_epoch_dates_and_no_db_wrapper(tmp_path: Path) -> None:
    post = _post(page=True, type=None, published_at=1_500_000_000_000, author_id="u1")
    document = {"meta": {}, "data": {"posts": [post], "users": [{"id": "u1", "name": "Old Author"}]}}
    path = tmp_path / "ghost1.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    (item,) = _items(GhostSource(path)).values()
    assert item.kind == "page"
    assert item.date == datetime(2017, 7, 14, 2, 40, tzinfo=UTC)
    assert item.author == "Old Author"
    # No address in the export: the old URL and the placeholders are site-relative.
    assert item.old_urls == ("/a-post/",)


def test_site_url_given_wins_and_placeholders_follow_it(tmp_path: Path) -> None:
    path = _export(tmp_path, [_post(html='<img src="__GHOST_URL__/content/images/a.png">')])
    (item,) = _items(GhostSource(path, site_url="https://blog.example/")).values()
    assert item.body == '<img src="https://blog.example/content/images/a.png">'
    assert item.old_urls == ("https://blog.example/a-post/",)


def test_members_only_post_is_imported_with_a_warning(tmp_path: Path) -> None:
    (item,) = _items(GhostSource(_export(tmp_path, [_post(visibility="paid")]))).values()
    assert [warning.field for warning in item.warnings] == ["visibility"]


def test_an_unknown_status_is_a_draft(tmp_path: Path) -> None:
    (item,) = _items(GhostSource(_export(tmp_path, [_post(status="archived")]))).values()
    assert item.draft
    assert item.warnings[0].field == "status"


def test_slug_made_from_title_when_missing_and_title_from_slug(tmp_path: Path) -> None:
    posts = [_post(id="a", slug="", title="Ünïcödé Title"), _post(id="b", slug="no-title", title="")]
    items = _items(GhostSource(_export(tmp_path, posts)))
    assert items["unicode-title"].old_urls == ()  # Ghost gave it no address
    assert items["no-title"].title == "no-title"
    assert items["no-title"].warnings[0].field == "title"


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"db": [{"data": {"posts": [', "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not UTF-8"),
        (b"[1, 2, 3]", "is not a Ghost export"),
        (b'{"db": []}', "is empty"),
        (b"[" * 200_000 + b"]" * 200_000, "nests too deeply"),
    ],
)
def test_an_unreadable_export_is_one_file_problem(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    (problem,) = list(GhostSource(path).items())
    assert isinstance(problem, ItemProblem)
    assert expected in problem.problem.message
    assert problem.file == str(path)


def test_an_export_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    path = _export(tmp_path, [_post()])
    (problem,) = list(GhostSource(path, max_bytes=100).items())
    assert isinstance(problem, ItemProblem)
    assert problem.problem.message.startswith("is larger than")


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    (problem,) = list(GhostSource(tmp_path / "nope.json").items())
    assert isinstance(problem, ItemProblem)
    assert "cannot be read" in problem.problem.message


@pytest.mark.parametrize(
    ("post", "field"),
    [
        (_post(id="bad", title=["not", "text"]), "title"),
        (_post(id="bad", html=None, mobiledoc="{not json"), "mobiledoc"),
        (_post(id="bad", html=None, lexical='"a string"'), "lexical"),
        (_post(id="bad", published_at="yesterday"), "published_at"),
        (_post(id=None), "id"),
    ],
)
def test_one_broken_post_is_reported_and_the_others_are_read(tmp_path: Path, post: dict[str, Any], field: str) -> None:
    good = _post(id="good", slug="good")
    results = list(GhostSource(_export(tmp_path, [post, good])).items())
    problems = [result for result in results if isinstance(result, ItemProblem)]
    assert len(problems) == 1 and problems[0].problem.field == field
    assert [result.slug for result in results if isinstance(result, ImportedItem)] == ["good"]


def test_a_lexical_document_nested_past_the_bound_is_a_problem(tmp_path: Path) -> None:
    node: dict[str, Any] = {"type": "text", "text": "deep"}
    for _ in range(200):
        node = {"type": "quote", "children": [node]}
    post = _post(html=None, lexical=json.dumps({"root": {"type": "root", "children": [node]}}))
    (problem,) = list(GhostSource(_export(tmp_path, [post])).items())
    assert isinstance(problem, ItemProblem)
    assert problem.problem.field == "lexical" and "deeper" in problem.problem.message


# --------------------------------------------------------------------------- images beside the export
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _images(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = tmp_path / "content" / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path / "content" / "images"


def test_uploads_in_content_images_beside_the_export_come_with_the_posts(tmp_path: Path) -> None:
    _images(tmp_path, {"2023/05/cover.png": PNG, "2023/05/feature.jpg": PNG, "2023/05/other.png": PNG})
    html = (
        '<img src="__GHOST_URL__/content/images/2023/05/cover.png">'
        '<img srcset="__GHOST_URL__/content/images/size/w600/2023/05/cover.png 600w">'
        '<img src="https://elsewhere.example/content/images/2023/05/other.png">'
        '<img src="__GHOST_URL__/content/images/2023/05/missing.png">'
    )
    post = _post(html=html, feature_image="__GHOST_URL__/content/images/2023/05/feature.jpg")
    (item,) = _items(GhostSource(_export(tmp_path, [post]))).values()
    root = (tmp_path / "content" / "images").resolve()
    assert [(asset.reference, asset.name, asset.path) for asset in item.assets] == [
        ("http://old.example/content/images/2023/05/cover.png", "cover.png", str(root / "2023/05/cover.png")),
        (
            "http://old.example/content/images/size/w600/2023/05/cover.png",
            "cover-2.png",
            str(root / "2023/05/cover.png"),
        ),
        ("http://old.example/content/images/2023/05/feature.jpg", "feature.jpg", str(root / "2023/05/feature.jpg")),
    ]  # not another site's, not one that is not there


def test_without_the_site_address_uploads_are_matched_site_relative(tmp_path: Path) -> None:
    _images(tmp_path, {"a.png": PNG})
    document = {"db": [{"meta": {}, "data": {"posts": [_post(html='<img src="__GHOST_URL__/content/images/a.png">')]}}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    (item,) = _items(GhostSource(path)).values()
    assert [(asset.reference, asset.name) for asset in item.assets] == [("/content/images/a.png", "a.png")]


@pytest.mark.parametrize(
    "reference",
    [
        "__GHOST_URL__/content/images/../../outside/secret.png",
        "__GHOST_URL__/content/images/%2e%2e/%2e%2e/outside/secret.png",
        "__GHOST_URL__/content/images/.hidden.png",
        "__GHOST_URL__/content/images/leak.png",  # a link out of the folder
    ],
)
def test_no_upload_reference_reaches_outside_the_images_folder(tmp_path: Path, reference: str) -> None:
    images = _images(tmp_path / "site", {".hidden.png": PNG})
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.png").write_bytes(PNG)
    (images / "leak.png").symlink_to(tmp_path / "outside" / "secret.png")
    post = _post(html=f'<img src="{reference}">')
    (item,) = _items(GhostSource(_export(tmp_path / "site", [post]))).values()
    assert item.assets == ()


def test_an_oversized_upload_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pressline.importing import ghost

    monkeypatch.setattr(ghost, "MAX_IMAGE_BYTES", 10)
    _images(tmp_path, {"big.png": PNG})
    (item,) = _items(
        GhostSource(_export(tmp_path, [_post(html='<img src="__GHOST_URL__/content/images/big.png">')]))
    ).values()
    assert item.assets == ()
    assert [warning.field for warning in item.warnings] == ["image"]


def test_pressline_import_writes_the_uploads_beside_the_posts(tmp_path: Path) -> None:
    from pressline.cli import main

    _images(tmp_path, {"2023/05/cover.png": PNG})
    post = _post(
        slug="with-image", html='<p>Look:</p><img src="__GHOST_URL__/content/images/2023/05/cover.png" alt="A">'
    )
    export = _export(tmp_path, [post])
    out = tmp_path / "out"
    assert main(["import", str(export), "--out", str(out), "--no-download", "--cache", str(tmp_path / "c")]) == 0
    written = (out / "posts" / "with-image.md").read_text(encoding="utf-8")
    assert "old.example" not in written.split("aliases:")[0] + written.split("---", 2)[2]
    assert (out / "posts" / "with-image" / "cover.png").read_bytes() == PNG


def test_an_email_only_post_is_a_draft_with_a_warning(tmp_path: Path) -> None:
    (item,) = _items(GhostSource(_export(tmp_path, [_post(status="sent")]))).values()
    assert item.draft
    assert item.old_urls == ("http://old.example/a-post/",)  # Ghost's address for it, though it never answered
    assert "email only" in item.warnings[0].message


def test_the_meta_description_is_the_summary_without_an_excerpt(tmp_path: Path) -> None:
    posts = [
        _post(id="a", slug="a"),
        _post(id="b", slug="b", meta_description="Ghost 1's own"),
        _post(id="c", slug="c", custom_excerpt="Excerpt"),
    ]
    meta = [{"post_id": "a", "meta_description": "From posts_meta"}, {"post_id": "c", "meta_description": "Not this"}]
    items = _items(GhostSource(_export(tmp_path, posts, posts_meta=meta)))
    assert [items[slug].summary for slug in "abc"] == ["From posts_meta", "Ghost 1's own", "Excerpt"]


def test_a_ghost_0_post_keeps_its_markdown_and_image(tmp_path: Path) -> None:
    post = _post(
        markdown="Written in *Markdown*.", html="<p>Written in <em>Markdown</em>.</p>", image="/content/images/a.png"
    )
    (item,) = _items(GhostSource(_export(tmp_path, [post]))).values()
    assert (item.body, item.body_format, item.image) == ("Written in *Markdown*.", "markdown", "/content/images/a.png")
