"""Hugo's and Jekyll's field names read as Pressline's, ``aliases`` and ``notify`` in the front
matter, and a Hugo and a Jekyll post that publish unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from posts_helpers import PARIS, check, post

from pressline.cli import main
from pressline.posts.aliases import MAX_ALIASES
from pressline.posts.rules import CheckResult

PLUS_TWO = timezone(timedelta(hours=2))


def ok(result: CheckResult) -> CheckResult:
    assert result.ok and result.post is not None, result.errors
    return result


def errors(result: CheckResult) -> list[tuple[str, str, int | None]]:
    assert result.post is None
    return [(e.field, e.message, e.line) for e in result.errors]


# ----------------------------------------------------------------- a Hugo and a Jekyll post, unchanged
HUGO_POST = """+++
title = "Moving to Hugo"
date = 2019-05-01T10:00:00+02:00
lastmod = 2019-06-01T09:30:00+02:00
draft = false
description = "Why we moved, and what it cost."
tags = ["hugo", "static sites"]
categories = ["Meta", "hugo"]
slug = "moving-to-hugo"
aliases = ["/2019/05/moving-to-hugo/", "https://old.example.com/old/moving.html"]
url = "/blog/moving-to-hugo/"
weight = 10
keywords = ["hugo"]

[params]
  featured = true

[menu.main]
  name = "Moving"
+++

We moved. Here is **why**.
"""

JEKYLL_POST = """---
layout: post
title:  "Welcome to Jekyll!"
date:   2019-05-01 10:00:00 +0200
categories: jekyll update
tags: [first]
excerpt: "The first post on the new blog."
published: true
permalink: /jekyll/update/2019/05/01/welcome-to-jekyll.html
---
You'll find this post in your `_posts` directory.
"""


def test_a_hugo_toml_post_validates_unchanged() -> None:
    result = ok(check(HUGO_POST.encode(), key="posts/moving-to-hugo/index.md"))
    assert result.post is not None
    meta = result.post.meta
    assert meta.title == "Moving to Hugo" and meta.slug == "moving-to-hugo"
    assert meta.date == datetime(2019, 5, 1, 10, 0, tzinfo=PLUS_TWO)
    assert meta.updated == datetime(2019, 6, 1, 9, 30, tzinfo=PLUS_TWO)
    assert meta.summary == "Why we moved, and what it cost."
    assert meta.tags == ("hugo", "static sites", "Meta")  # categories joined, "hugo" once
    assert meta.aliases == ("/2019/05/moving-to-hugo/", "/old/moving.html", "/blog/moving-to-hugo/")
    assert meta.draft is False and meta.notify is None
    assert result.post.body.startswith("\nWe moved.") and result.post.body_line == 21
    # What Pressline does not use is said, and nothing refuses the post.
    assert {(w.field, w.line) for w in result.warnings} == {
        ("weight", 12),
        ("keywords", 13),
        ("params", 15),
        ("menu", 18),
    }
    weight = next(w for w in result.warnings if w.field == "weight")
    assert "pages (pages/<name>.md) are in the navigation" in weight.message


def test_a_jekyll_post_validates_unchanged() -> None:
    result = ok(check(JEKYLL_POST.encode(), key="posts/2019-05-01-welcome-to-jekyll.md"))
    assert result.post is not None
    meta = result.post.meta
    assert meta.title == "Welcome to Jekyll!"
    assert meta.date == datetime(2019, 5, 1, 10, 0, tzinfo=PLUS_TWO)
    assert meta.tags == ("first", "jekyll", "update")
    assert meta.summary == "The first post on the new blog."
    assert meta.draft is False
    assert meta.aliases == ("/jekyll/update/2019/05/01/welcome-to-jekyll.html",)
    assert [(w.field, w.line) for w in result.warnings] == [("layout", 2), ("categories", 5)]
    assert result.warnings[1].message.startswith("was read as 2 tags (jekyll, update)")


def test_pressline_check_accepts_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hugo = tmp_path / "posts" / "moving-to-hugo.md"
    jekyll = tmp_path / "posts" / "2019-05-01-welcome-to-jekyll.md"
    hugo.parent.mkdir()
    hugo.write_text(HUGO_POST)
    jekyll.write_text(JEKYLL_POST)
    assert main(["check", str(hugo), str(jekyll)]) == 0
    out, err = capsys.readouterr()
    assert f"{hugo}:12: warning: weight: is not a known field" in out
    assert f"{jekyll}:5: warning: categories: was read as 2 tags" in out
    assert "2 file(s) checked: 0 error(s), 6 warning(s)" in err


def test_pressline_check_reports_the_same_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "posts" / "bad.md"
    bad.parent.mkdir()
    bad.write_text('+++\ntitle = "T"\nlastmod = 2020-01-02\nupdated = 2020-01-03\naliases = ["/../x"]\n+++\nBody\n')
    assert main(["check", "--quiet", str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{bad}:3: lastmod: is '2020-01-02' but updated is '2020-01-03': give one of them "
        "(lastmod is Hugo's name for updated)",
        f"{bad}:5: aliases: item 1 '/../x' has a '..' segment, which would leave its folder",
    ]


# ----------------------------------------------------------------- other names of one field
def test_lastmod_is_updated() -> None:
    meta = ok(check(post("title: T\ndate: 2020-01-01\nlastmod: 2020-02-01"))).post.meta  # type: ignore[union-attr]
    assert meta.updated == datetime(2020, 2, 1, tzinfo=PARIS)


def test_description_and_excerpt_are_the_summary() -> None:
    for name in ("description", "excerpt"):
        meta = ok(check(post(f"title: T\n{name}: Short one."))).post.meta  # type: ignore[union-attr]
        assert meta.summary == "Short one."


def test_a_name_and_its_other_name_saying_the_same_is_fine() -> None:
    # The same instant written two ways, the same text with other spacing.
    raw = post(
        "title: T\nupdated: 2020-01-01T10:00:00+01:00\nlastmod: 2020-01-01 09:00Z\nsummary: a  b\ndescription: a b"
    )
    result = ok(check(raw))
    assert result.post is not None and result.post.meta.summary == "a b" and result.warnings == []


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        (
            "updated: 2020-01-02\nlastmod: 2020-01-03",
            ("lastmod", "is '2020-01-03' but updated is '2020-01-02': give one of them (lastmod is Hugo's name "
             "for updated)", 4),
        ),
        (
            "summary: One.\ndescription: Two.",
            ("description", "is 'Two.' but summary is 'One.': give one of them (description is Hugo's name for "
             "summary)", 4),
        ),
        (
            "description: One.\nexcerpt: Two.",
            ("excerpt", "is 'Two.' but description is 'One.': give one of them (excerpt is Jekyll's name for "
             "summary)", 4),
        ),
        (
            "draft: false\npublished: false",
            ("published", "is false but draft is false: give one of them (published: false is Jekyll's draft: "
             "true)", 4),
        ),
        (
            "draft: true\npublished: true",
            ("published", "is true but draft is true: give one of them (published: false is Jekyll's draft: true)",
             4),
        ),
    ],
)  # fmt: skip
def test_a_name_and_its_other_name_saying_otherwise_is_an_error_naming_both(
    front_matter: str, expected: tuple[str, str, int]
) -> None:
    assert errors(check(post(f"title: T\n{front_matter}"))) == [expected]


def test_an_error_in_another_name_is_reported_under_it() -> None:
    assert errors(check(post("title: T\nlastmod: soon"))) == [
        ("lastmod", "'soon' is not a date; use YYYY-MM-DD, YYYY-MM-DD HH:MM or ISO 8601 (2022-01-07T18:48:00+01:00)", 3)
    ]
    assert errors(check(post("title: T\ncategories:\n  - news\n  - 2024"))) == [
        ("categories", "item 2 must be text, not a number (put it in quotes)", 5)
    ]
    assert errors(check(post("title: T\ntags: [a]\ncategories: [b, [c]]"))) == [
        ("categories", "item 2 must be text, not a list", 4)
    ]


def test_a_removed_character_is_reported_under_the_name_written() -> None:
    result = ok(check(post('title: T\ndescription: "a\\u202eb"')))
    assert [(w.field, w.line) for w in result.warnings] == [("description", 3)]


def test_published_false_is_a_draft() -> None:
    assert ok(check(post("title: T\npublished: false"))).post.meta.draft is True  # type: ignore[union-attr]
    assert ok(check(post("title: T\npublished: true\ndraft: false"))).post.meta.draft is False  # type: ignore[union-attr]
    assert ok(check(post("title: T\npublished: false\ndraft: true"))).post.meta.draft is True  # type: ignore[union-attr]


def test_hugo_publish_dates_give_the_date_when_there_is_none() -> None:
    for name in ("publishDate", "pubdate", "published"):
        meta = ok(check(post(f"title: T\n{name}: 2019-05-01"))).post.meta  # type: ignore[union-attr]
        assert meta.date == datetime(2019, 5, 1, tzinfo=PARIS)
    result = ok(check(post("title: T\ndate: 2019-05-01\npublishDate: 2019-06-01")))
    assert result.post is not None and result.post.meta.date == datetime(2019, 5, 1, tzinfo=PARIS)
    assert [(w.field, w.line) for w in result.warnings] == [("publishDate", 4)]
    assert ok(check(post("title: T\ndate: 2019-05-01\npublishDate: 2019-05-01"))).warnings == []


def test_categories_join_the_tags_in_order_each_once() -> None:
    meta = ok(check(post("title: T\ntags: [Python, web]\ncategories: [python, Notes]\ncategory: Misc"))).post.meta  # type: ignore[union-attr]
    assert meta.tags == ("Python", "web", "Notes", "Misc")


def test_a_text_of_tags_is_a_space_separated_list() -> None:
    result = ok(check(post("title: T\ntags: python web")))
    assert result.post is not None and result.post.meta.tags == ("python", "web")
    assert [w.field for w in result.warnings] == ["tags"]
    single = ok(check(post("title: T\ncategories: news\ncategory: Local News")))
    assert single.post is not None and single.post.meta.tags == ("news", "Local News") and single.warnings == []


def test_the_tag_limit_counts_the_joined_tags() -> None:
    tags = ", ".join(f"t{n}" for n in range(15))
    categories = ", ".join(f"c{n}" for n in range(6))
    field, message, _ = errors(check(post(f"title: T\ntags: [{tags}]\ncategories: [{categories}]")))[0]
    assert (field, message) == ("tags", "has 21 tags; the limit is 20")


def test_a_categories_value_of_another_kind_is_refused_under_its_name() -> None:
    assert errors(check(post("title: T\ntags: [a]\ncategories: 5"))) == [
        ("categories", "must be a list of strings, like [news, python], or a space-separated text, not a number", 4)
    ]
    assert errors(check(post("title: T\ncategories: 5"))) == [
        ("categories", "must be a list of strings, like [news, python], not a number", 3)
    ]


# ----------------------------------------------------------------- aliases
def test_aliases_are_normalised_into_the_metadata() -> None:
    raw = post("title: T\naliases:\n  - /2019/05/hello/\n  - https://old.example/caf%c3%a9/\n  - /2019/05/hello/")
    assert ok(check(raw)).post.meta.aliases == ("/2019/05/hello/", "/caf%C3%A9/")  # type: ignore[union-attr]


def test_one_alias_may_be_one_text() -> None:
    assert ok(check(post("title: T\naliases: /old.html"))).post.meta.aliases == ("/old.html",)  # type: ignore[union-attr]


def test_a_refused_alias_names_its_item_and_line() -> None:
    raw = post("title: T\naliases:\n  - /fine/\n  - javascript:alert(1)\n  - /tags/other/")
    assert errors(check(raw)) == [
        ("aliases", "item 2 'javascript:alert(1)' is a javascript: URL; an alias is a path (/2019/05/hello/) or an "
         "http(s) URL", 5),
        ("aliases", "item 3 '/tags/other/' is under /tags/, which is the site's own; an old URL cannot take it "
         "over", 6),
    ]  # fmt: skip


@pytest.mark.parametrize(("value", "kind"), [("5", "a number"), ("{a: b}", "a mapping"), ("true", "true/false")])
def test_aliases_must_be_a_list(value: str, kind: str) -> None:
    assert errors(check(post(f"title: T\naliases: {value}"))) == [
        ("aliases", f"must be a list of old URLs, like [/2019/05/hello/, /old.html], not {kind}", 3)
    ]


def test_aliases_are_limited_in_number() -> None:
    listed = ", ".join(f"/p{n}/" for n in range(MAX_ALIASES + 1))
    assert errors(check(post(f"title: T\naliases: [{listed}]"))) == [
        ("aliases", f"has {MAX_ALIASES + 1} old URLs; the limit is {MAX_ALIASES}", 3)
    ]


def test_an_empty_aliases_is_none() -> None:
    assert ok(check(post("title: T\naliases:"))).post.meta.aliases == ()  # type: ignore[union-attr]
    assert ok(check(post("title: T\naliases: []"))).post.meta.aliases == ()  # type: ignore[union-attr]


# ----------------------------------------------------------------- url and permalink: the old address
def test_url_and_permalink_become_aliases() -> None:
    meta = ok(
        check(post("title: T\nurl: /blog/t/\npermalink: https://old.example/t.html\naliases: [/blog/t/]"))
    ).post.meta  # type: ignore[union-attr]
    assert meta.aliases == ("/blog/t/", "/t.html")


def test_the_posts_own_address_is_no_alias() -> None:
    result = ok(check(post("title: T\nslug: hello\nurl: /posts/hello/\naliases: [/posts/hello/, /posts/old/]")))
    assert result.post is not None and result.post.meta.aliases == ("/posts/old/",) and result.warnings == []


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("permalink: /:categories/:year/:month/:day/:title/", "is a pattern, not an address; it is ignored"),
        ("url: /tags/python/", "is ignored as an old URL: '/tags/python/' is under /tags/"),
        ("url: /posts/a/b/", "is ignored as an old URL: '/posts/a/b/' is under /posts/"),
        ("url: /a/../b", "is ignored as an old URL: '/a/../b' has a '..' segment"),
        ("url: javascript:alert(1)", "is ignored as an old URL: 'javascript:alert(1)' is a javascript: URL"),
        ("url: [a]", "is ignored: the post's old address must be text"),
    ],
)
def test_an_old_address_that_cannot_be_an_alias_is_a_warning(front_matter: str, reason: str) -> None:
    result = ok(check(post(f"title: T\nslug: hello\n{front_matter}")))
    assert result.post is not None and result.post.meta.aliases == ()
    assert [(w.field, w.line) for w in result.warnings] == [(front_matter.split(":")[0], 4)]
    assert reason in result.warnings[0].message


def test_an_old_address_past_the_alias_limit_is_a_warning() -> None:
    listed = ", ".join(f"/p{n}/" for n in range(MAX_ALIASES))
    result = ok(check(post(f"title: T\naliases: [{listed}]\nurl: /one-more/")))
    assert result.post is not None and len(result.post.meta.aliases) == MAX_ALIASES
    assert [w.field for w in result.warnings] == ["url"]


# ----------------------------------------------------------------- notify
@pytest.mark.parametrize(("written", "notify"), [("false", False), ("true", True), ("", None), ("~", None)])
def test_notify_is_true_false_or_not_given(written: str, notify: bool | None) -> None:
    assert ok(check(post(f"title: T\nnotify: {written}"))).post.meta.notify is notify  # type: ignore[union-attr]
    assert ok(check(post("title: T"))).post.meta.notify is None  # type: ignore[union-attr]


def test_notify_must_be_a_boolean() -> None:
    assert errors(check(post('title: T\nnotify: "no"'))) == [("notify", "must be true or false", 3)]


def test_the_new_fields_are_known() -> None:
    raw = post(
        "title: T\naliases: [/a/]\nnotify: false\nlastmod: 2020-01-01\ndescription: d\ncategories: [c]\n"
        "published: true\nurl: /u/"
    )
    assert ok(check(raw)).warnings == []


# ----------------------------------------------------------------- Jekyll's redirect_from
def test_redirect_from_joins_the_aliases() -> None:
    meta = ok(check(post("title: T\nredirect_from: /old/\naliases: [/older/, /old/]"))).post.meta  # type: ignore[union-attr]
    assert meta.aliases == ("/older/", "/old/")
    alone = ok(check(post("title: T\nredirect_from:\n  - /a/\n  - /b.html"))).post.meta  # type: ignore[union-attr]
    assert alone.aliases == ("/a/", "/b.html")


def test_a_refused_redirect_is_named_under_redirect_from_with_its_line() -> None:
    assert errors(check(post("title: T\naliases: [/fine/]\nredirect_from:\n  - /ok/\n  - /../x"))) == [
        ("redirect_from", "item 2 '/../x' has a '..' segment, which would leave its folder", 6)
    ]
    assert errors(check(post("title: T\nredirect_from: 5"))) == [
        ("redirect_from", "must be a list of old URLs, like [/2019/05/hello/, /old.html], not a number", 3)
    ]
    assert errors(check(post("title: T\naliases: [/a/]\nredirect_from: 5"))) == [
        ("redirect_from", "must be a list of old URLs, like [/2019/05/hello/, /old.html], not a number", 4)
    ]


def test_pressline_check_says_which_aliases_clash_across_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "a.md").write_text("---\ntitle: A\naliases: [/old/, /shared/]\n---\nBody\n")
    (folder / "b.md").write_text("---\ntitle: B\naliases:\n  - /shared/\n  - /posts/a/\n  - /mine/\n---\nBody\n")
    assert main(["check", "--quiet", str(folder)]) == 0  # warnings: Index publishes both
    assert capsys.readouterr().out.splitlines() == [
        f"{folder / 'b.md'}:3: warning: aliases: '/shared/' is also an alias of {folder / 'a.md'}; the post "
        "published first keeps it",
        f"{folder / 'b.md'}:3: warning: aliases: '/posts/a/' is the address of {folder / 'a.md'}; it would not "
        "redirect",
    ]
