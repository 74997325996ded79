"""WordPress exports (WXR 1.0-1.2) read into ImportedItem values, through WxrSource's public
surface, from the fixtures in tests/fixtures/import/wordpress (see its README)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pressline.importing.model import ImportedItem, ItemProblem
from pressline.importing.wxr import WxrSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "wordpress"


def read(path: Path, **options: object) -> tuple[WxrSource, list[ImportedItem], list[ItemProblem]]:
    source = WxrSource(path, **options)  # type: ignore[arg-type]
    results = list(source.items())
    items = [result for result in results if isinstance(result, ImportedItem)]
    problems = [result for result in results if isinstance(result, ItemProblem)]
    return source, items, problems


@pytest.fixture(scope="module")
def export() -> tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]:
    source, items, problems = read(FIXTURES / "export.xml")
    return source, {item.slug: item for item in items}, problems


def test_the_site_and_what_was_imported(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    source, items, problems = export
    assert source.site_url == "http://old.example"
    assert sorted(items) == sorted(
        [
            "hello-world",
            "cafe-日本",
            "gallery",
            "about",
            "contact",
            "work-in-progress",
            "awaiting-review",
            "from-the-future",
        ]
    )
    # Menus, custom CSS and the trash are skipped, counted; attachments became assets; a pingback is no comment.
    assert source.skipped == {"attachment": 4, "nav_menu_item": 2, "custom_css": 1, "trash": 1, "pingback": 1}
    [private] = problems
    assert private.item == "'My diary' (id 60)" and private.problem.field == "status"
    assert "private" in private.problem.message and private.file.endswith("export.xml")


def test_a_published_post(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    post = export[1]["hello-world"]
    assert post.source == "wordpress" and post.source_id == "http://old.example/?p=10"
    assert post.kind == "post" and not post.draft
    assert post.title == "Hello, world & friends"
    assert post.date == datetime(2019, 5, 4, 9, 30, tzinfo=UTC)  # post_date_gmt
    assert post.updated == datetime(2019, 6, 1, 10, 0, tzinfo=UTC)
    assert post.author == "Alice Liddell"  # the display name, not the login
    assert post.tags == ("Travel & Food", "Cats")  # no "Uncategorized", no post format
    assert post.summary == "The first post."  # the excerpt, as text
    assert post.old_urls == ("http://old.example/2019/05/04/hello-world/",)
    assert post.body_format == "html" and post.body.startswith("Welcome to my blog.")
    assert post.image == "http://old.example/wp-content/uploads/2019/05/cat.png"  # _thumbnail_id 11
    assert [(asset.name, asset.reference) for asset in post.assets] == [
        ("cat.png", "http://old.example/wp-content/uploads/2019/05/cat.png")
    ]
    assert post.warnings == ()


def test_comments_with_their_status_and_replies(
    export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]],
) -> None:
    comments = {comment.source_id: comment for comment in export[1]["hello-world"].comments}
    assert sorted(comments) == ["100", "101", "102", "103"]  # 104, a pingback, is not a comment
    assert comments["100"].status == "approved" and comments["100"].parent_id is None
    assert comments["100"].email == "carol@reader.example" and comments["100"].url == "https://carol.example/"
    assert comments["100"].date == datetime(2019, 5, 5, 8, 0, tzinfo=UTC)
    assert "<a href" in comments["100"].body_html
    assert comments["101"].parent_id == "100" and comments["101"].author == "Alice Liddell"
    assert comments["102"].status == "pending" and comments["102"].email is None
    # No UTC date: its local one, in the site's zone (+02:00, learned from the posts' two dates).
    assert comments["102"].date == datetime(2019, 5, 6, 8, 0, tzinfo=UTC)
    assert comments["103"].status == "spam"


def test_utf8_and_cdata_edges(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    post = export[1]["cafe-日本"]  # wp:post_name "cafe-%e6%97%a5%e6%9c%ac", decoded
    assert post.title == "Café 日本 — ]]> and more"  # "]]>" split across two CDATA sections
    assert post.author == 'Bob "the Builder" O\'Neil'
    assert post.tags == ("日本", "cats")  # "Cats" is "cats" again, case aside
    for text in (
        "😀🐈\u200d⬛",
        "שלום עולם",
        "مرحبا",
        "e&#x301;",
        "日本語の文章",
        "sequence ]]> is split",
        "&amp;amp;",
    ):
        assert text in post.body
    assert not post.body.count("<![CDATA[")
    assert [asset.name for asset in post.assets] == ["diagram.png"]


def test_pages_in_the_menu_order(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items = export[1]
    assert items["about"].kind == "page" and items["about"].nav_order == 1
    assert items["contact"].kind == "page" and items["contact"].nav_order == 2
    assert items["about"].old_urls == ("http://old.example/about/",)
    assert items["hello-world"].nav_order is None


def test_drafts_pending_and_scheduled(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items = export[1]
    draft = items["work-in-progress"]  # no post_name: the slug comes from the title
    assert draft.draft and draft.old_urls == ()  # "?p=40" never answered publicly
    # post_date_gmt is 0000-00-00 00:00:00: post_date in the site's zone.
    assert draft.date == datetime(2020, 2, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    assert items["awaiting-review"].draft
    scheduled = items["from-the-future"]
    assert not scheduled.draft and scheduled.date == datetime(2031, 1, 1, 8, 0, tzinfo=UTC)
    assert scheduled.old_urls == ()


def test_an_explicit_site_zone_wins(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    _, items, _ = read(FIXTURES / "export.xml", timezone=UTC)
    draft = next(item for item in items if item.slug == "work-in-progress")
    assert draft.date == datetime(2020, 2, 1, 9, 0, tzinfo=UTC)


def test_galleries_become_their_images(export: tuple[WxrSource, dict[str, ImportedItem], list[ItemProblem]]) -> None:
    post = export[1]["gallery"]
    assert "[gallery" not in post.body
    assert '<img src="http://old.example/wp-content/uploads/2020/01/gallery-one.png" alt="Green square">' in post.body
    assert '<img src="http://old.example/wp-content/uploads/2020/01/gallery-two.png" alt="gallery-two">' in post.body
    assert [asset.name for asset in post.assets] == ["gallery-one.png", "gallery-two.png"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("export-1.0.xml", {"slug": "an-old-post", "tags": ("Musings", "history"), "author": "admin"}),
        ("export-1.1.xml", {"slug": "posted-in-2012", "tags": ("year",), "author": "Carla Ñúñez"}),
    ],
)
def test_older_versions(name: str, expected: dict[str, object]) -> None:
    source, items, problems = read(FIXTURES / name)
    assert problems == []
    [item] = items
    for field, value in expected.items():
        assert getattr(item, field) == value
    assert item.body_format == "html" and item.old_urls and item.date is not None
    assert source.site_url is not None


def test_the_11_export_names_its_blog_address() -> None:
    source = WxrSource(FIXTURES / "export-1.1.xml")
    assert source.site_url == "http://old.example/blog"  # where the posts are (base_blog_url)
    assert set(source.site_urls) == {"http://old.example/blog", "http://old.example"}


def test_a_10_comment() -> None:
    _, [item], _ = read(FIXTURES / "export-1.0.xml")
    [comment] = item.comments
    assert comment.author == "A reader" and comment.status == "approved" and comment.body_html == "Nice."
    assert item.summary == "An excerpt from 2010."


def test_reading_twice_gives_the_same_items() -> None:
    source = WxrSource(FIXTURES / "export.xml")
    assert list(source.items()) == list(source.items()) == list(WxrSource(FIXTURES / "export.xml").items())
