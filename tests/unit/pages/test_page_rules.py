"""The page rules (``pressline.posts.pagerules``) and where pages live (``posts.paths``):
names, navigation fields, what pages do not use, and that any key under ``pages/`` is
either a one-segment address the site does not use itself or refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.posts.pagerules import check_page, name_problems, page_status
from pressline.posts.paths import RESERVED_PAGE_NAMES, classify, page_key, page_name, page_path
from pressline.posts.slug import is_valid_slug

UPLOADED = datetime(2026, 3, 1, 12, tzinfo=UTC)


def check(text: str, key: str = "pages/about.md"):  # type: ignore[no-untyped-def]
    return check_page(text.encode(), key, uploaded_at=UPLOADED, timezone=UTC)


def page(front: str, body: str = "Who we are.") -> str:
    return f"---\n{front}\n---\n\n{body}\n"


# --------------------------------------------------------------------------- where pages live
@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("pages/about.md", "page"),
        ("pages/About.MARKDOWN", "page"),  # named a page; the page rules refuse the name
        ("pages/team.jpg", "other"),
        ("pages/a/b.md", "page"),
        ("pages/", "other"),
        ("posts/about.md", "post"),
    ],
)
def test_classify_pages(key: str, kind: str) -> None:
    assert classify(key) == kind


def test_a_page_publishes_at_its_name() -> None:
    assert page_name("pages/about.md") == "about"
    assert page_name("pages/contact.markdown") == "contact"
    assert (page_path("about"), page_key("about")) == ("/about/", "about/index.html")


def test_the_reserved_names_are_the_sites_own_top_level_names() -> None:
    from pressline.indexing import layout

    generated = {
        layout.HOME, layout.ARCHIVE_INDEX, layout.TAGS_INDEX, layout.ATOM, layout.RSS, layout.JSON_FEED,
        layout.SITEMAP_INDEX, layout.PAGES_SITEMAP, layout.ROBOTS, layout.NOT_FOUND, layout.SEARCH_PAGE,
    }  # fmt: skip
    tops = {key.split("/")[0].split(".")[0] for key in generated} | {"posts", "media", "api"}
    assert tops <= RESERVED_PAGE_NAMES


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("pages/team/about.md", "is in a folder under pages/"),
        ("pages/About.md", "must be lowercase letters"),
        ("pages/about us.md", "try pages/about-us.md"),
        ("pages/..md", "must be lowercase letters"),
        ("pages/tags.md", "one of the site's own addresses"),
        ("pages/404.md", "one of the site's own addresses"),
        ("pages/feed.md", "one of the site's own addresses"),
        ("pages/team.png", "only Markdown files"),
    ],
)
def test_a_name_that_cannot_be_an_address_is_refused_naming_the_file(key: str, says: str) -> None:
    result = check(page("title: About"), key)
    assert result.post is None
    assert [error.field for error in result.errors] == ["file"]
    assert says in result.errors[0].message


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40))
def test_any_key_under_pages_is_a_safe_address_or_refused(rest: str) -> None:
    """The class, not cases: traversal, slashes, dots, percent signs, reserved names, any script."""
    key = f"pages/{rest}.md"
    problems = name_problems(key)
    name = page_name(key)
    if problems:
        assert problems[0].field == "file" and problems[0].message
        return
    assert is_valid_slug(name) and name not in RESERVED_PAGE_NAMES
    assert page_key(name).count("/") == 1 and ".." not in page_key(name)


# --------------------------------------------------------------------------- fields
def test_a_page_needs_a_title_not_a_date() -> None:
    result = check(page("nav_order: 2"))
    assert result.post is None
    assert [(e.field, e.message) for e in result.errors] == [("title", "is missing: every page needs a title")]

    dated_by_upload = check(page("title: About"))
    assert dated_by_upload.post is not None and dated_by_upload.post.meta.date == UPLOADED


def test_navigation_fields_are_read_and_not_reported_as_unknown() -> None:
    result = check(page("title: About\nnav_order: 3"))
    assert result.post is not None and result.warnings == []
    assert (result.post.meta.nav_order, result.post.meta.nav) == (3, True)

    hugo = check(page("title: About\nweight: -10"))
    assert hugo.post is not None and hugo.post.meta.nav_order == -10 and hugo.warnings == []

    hidden = check(page("title: Imprint\nnav: false"))
    assert hidden.post is not None and (hidden.post.meta.nav_order, hidden.post.meta.nav) == (None, False)


@pytest.mark.parametrize(
    ("front", "field", "says"),
    [
        ("nav_order: first", "nav_order", "must be a whole number"),
        ("nav_order: 1.5", "nav_order", "must be a whole number"),
        ("nav_order: true", "nav_order", "must be a whole number"),
        ("weight: 10000000", "weight", "the limit is 1,000,000"),
        ("nav_order: 1\nweight: 2", "weight", "give one of them"),
        ("nav: 'no'", "nav", "must be true or false"),
    ],
)
def test_a_bad_navigation_field_is_refused_and_says_how_to_write_it(front: str, field: str, says: str) -> None:
    result = check(page(f"title: About\n{front}"))
    assert result.post is None
    problems = [error for error in result.errors if error.field == field]
    assert problems and says in problems[0].message
    assert "nav_order: <integer>" in problems[0].message and "nav: false" in problems[0].message
    assert problems[0].line is not None


def test_the_same_order_twice_is_one_order() -> None:
    result = check(page("title: About\nnav_order: 5\nweight: 5"))
    assert result.post is not None and result.post.meta.nav_order == 5


def test_what_a_page_does_not_use_is_said_and_left_out() -> None:
    result = check(page("title: About\nslug: who-we-are\ntags: [team]"))
    assert result.post is not None
    meta = result.post.meta
    assert (meta.slug, meta.tags) == ("about", ())
    assert {warning.field for warning in result.warnings} == {"slug", "tags"}
    assert "/about/" in next(w.message for w in result.warnings if w.field == "slug")


def test_a_page_is_never_scheduled() -> None:
    result = check(page("title: About\ndate: 2999-01-01"))
    assert result.post is not None
    assert page_status(result.post.meta.draft) == "published"
    draft = check(page("title: About\ndraft: true"))
    assert draft.post is not None and page_status(draft.post.meta.draft) == "draft"


def test_the_post_rules_still_apply_to_a_page_body() -> None:
    result = check(page("title: About", body=""))
    assert result.post is None and [error.field for error in result.errors] == ["body"]
