"""Old addresses as Hugo and Jekyll made them, as tables: permalink styles and patterns, the
site's own path prefix, relative aliases; and the dates both write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pressline.importing.folders import HugoSource, JekyllSource, parse_date
from pressline.importing.model import ImportedItem

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def _only(source: HugoSource | JekyllSource) -> ImportedItem:
    (item,) = list(source.items())
    assert isinstance(item, ImportedItem), item
    return item


_POST = "---\ntitle: My Post Title\ncategories: [Big News, tech]\n{extra}---\nBody.\n"


@pytest.mark.parametrize(
    ("permalink", "extra", "expected"),
    [
        ("date", "", "/big news/tech/2021/04/05/my-post.html"),
        ("pretty", "", "/big news/tech/2021/04/05/my-post/"),
        ("none", "", "/big news/tech/my-post.html"),
        ("ordinal", "", "/big news/tech/2021/095/my-post.html"),
        ("/:year/:i_month/:i_day/:title:output_ext", "", "/2021/4/5/my-post.html"),
        ("/blog/:slug/", "", "/blog/my-post/"),
        ("/:categories/:title/", "slug: other-slug\n", "/big news/tech/other-slug/"),
        ("date", "permalink: /fixed/address/\n", "/fixed/address/"),
        ("date", "date: 2021-04-05 23:30:00 -0700\n", "/big news/tech/2021/04/06/my-post.html"),  # in UTC's day
    ],
)
def test_jekyll_permalink_styles(tmp_path: Path, permalink: str, extra: str, expected: str) -> None:
    site = _write(
        tmp_path,
        {
            "_config.yml": f"permalink: {permalink!r}\ntimezone: UTC\n",
            "_posts/2021-04-05-my-post.md": _POST.format(extra=extra),
        },
    )
    assert _only(JekyllSource(site)).old_urls == (expected,)  # no url: site-relative


def test_jekyll_baseurl_prefixes_addresses_and_references(tmp_path: Path) -> None:
    body = "![a]({{ site.baseurl }}/assets/a.png) ![b]({{ '/images/b.png' | absolute_url }})"
    site = _write(
        tmp_path,
        {
            "_config.yml": "url: https://old.example\nbaseurl: /blog\npermalink: /:title/\nredirect_from_note: x\n",
            "_posts/2021-04-05-p.md": f"---\ntitle: P\nredirect_from: /old-p/\n---\n{body}\n",
            "assets/a.png": PNG,
            "images/b.png": PNG,
        },
    )
    item = _only(JekyllSource(site))
    assert JekyllSource(site).site_url == "https://old.example/blog"
    assert item.old_urls == ("https://old.example/blog/p/", "https://old.example/blog/old-p/")
    assert {(asset.reference, asset.name) for asset in item.assets} == {
        ("/blog/assets/a.png", "a.png"),
        ("https://old.example/blog/images/b.png", "b.png"),
    }


def test_jekyll_page_addresses(tmp_path: Path) -> None:
    site = _write(
        tmp_path,
        {
            "_config.yml": "",
            "docs/guide.md": "---\ntitle: Guide\n---\nx\n",
            "team/index.md": "---\ntitle: Team\n---\nx\n",
            "archive.html": "---\ntitle: Archive\n---\n{% for post in site.posts %}{{ post.title }}{% endfor %}\n",
        },
    )
    results = list(JekyllSource(site).items())
    urls = {item.source_id: item.old_urls for item in results if isinstance(item, ImportedItem)}
    assert urls == {"docs/guide.md": ("/docs/guide.html",), "team/index.md": ("/team/",)}
    (problem,) = [result for result in results if not isinstance(result, ImportedItem)]
    assert problem.file == "archive.html" and "Liquid loop" in problem.problem.message


@pytest.mark.parametrize(
    ("config", "path", "front", "expected"),
    [
        ("", "content/posts/Hello World.md", "", "/posts/hello-world/"),
        ("", "content/posts/2019/deep/p.md", "", "/posts/2019/deep/p/"),
        ("", "content/posts/p.md", "slug = 'renamed'\n", "/posts/renamed/"),
        ("uglyURLs = true\n", "content/posts/p.md", "", "/posts/p.html"),
        ("disablePathToLower = true\n", "content/posts/CamelCase.md", "", "/posts/CamelCase/"),
        ("[permalinks.page]\nposts = '/:sections/:filename/'\n", "content/posts/a/b/p.md", "", "/posts/a/b/p/"),
        ("[permalinks]\nnotes = '/n/:year/:yearday/:slugorfilename/'\n", "content/notes/p.md", "", "/n/2020/32/p/"),
        ("", "content/posts/b/index.md", "", "/posts/b/"),
        ("", "content/posts/p.md", "url = '/Exact/Path.html'\n", "/Exact/Path.html"),
    ],
)
def test_hugo_addresses(tmp_path: Path, config: str, path: str, front: str, expected: str) -> None:
    text = f"+++\ntitle = 'P'\ndate = 2020-02-01\n{front}+++\nBody.\n"
    site = _write(tmp_path, {"hugo.toml": config, path: text})
    assert _only(HugoSource(site)).old_urls == (expected,)


def test_hugo_base_path_and_relative_aliases(tmp_path: Path) -> None:
    site = _write(
        tmp_path,
        {
            "config.yaml": "baseURL: https://old.example/blog/\n",
            "content/posts/new.md": "---\ntitle: New\naliases: [older, /top/, ../up]\n---\n![x](/blog/img/x.png)\n",
            "static/img/x.png": PNG,
        },
    )
    item = _only(HugoSource(site))
    assert item.old_urls == (
        "https://old.example/blog/posts/new/",
        "https://old.example/blog/posts/older",
        "https://old.example/blog/top/",
        "https://old.example/blog/up",
    )
    assert [(asset.reference, asset.name) for asset in item.assets] == [("/blog/img/x.png", "x.png")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-05-01", datetime(2019, 5, 1, tzinfo=UTC)),
        ("2019-05-01 10:00:00 +0200", datetime(2019, 5, 1, 10, tzinfo=timezone(timedelta(hours=2)))),
        ("2019-05-01 10:00 -05:30", datetime(2019, 5, 1, 10, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
        ("2019-5-1 9:05:07", datetime(2019, 5, 1, 9, 5, 7, tzinfo=UTC)),
        ("2019-05-01T10:00:00Z", datetime(2019, 5, 1, 10, tzinfo=UTC)),
        ("2019-05-01 10:00:00 UTC", datetime(2019, 5, 1, 10, tzinfo=UTC)),
        (datetime(2019, 5, 1, 10), datetime(2019, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_dates_as_hugo_and_jekyll_write_them(value: object, expected: datetime) -> None:
    assert parse_date(value, UTC) == expected


@pytest.mark.parametrize("value", ["yesterday", "2019-02-30", "2019-05-01 25:00", 12, ["2019-05-01"]])
def test_not_a_date(value: object) -> None:
    with pytest.raises(ValueError, match="date"):
        parse_date(value, UTC)


def test_a_bad_date_is_a_warning_and_the_file_name_date_stays(tmp_path: Path) -> None:
    site = _write(tmp_path, {"_config.yml": "", "_posts/2021-04-05-p.md": "---\ntitle: P\ndate: soon\n---\nx\n"})
    item = _only(JekyllSource(site))
    assert item.date == datetime(2021, 4, 5, tzinfo=UTC)
    assert [warning.field for warning in item.warnings] == ["date"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+++\ntitle = \n+++\n", "is not valid TOML"),
        ("+++\ntitle = 'x'\n", "never closed"),
        ("+++\n" + "a." * 40 + "b = 1\n+++\n", "nested deeper"),
    ],
)
def test_broken_toml_front_matter_is_refused(text: str, expected: str) -> None:
    from pressline.importing import folders

    with pytest.raises(folders._FileError) as raised:
        folders.split_front_matter(text)
    assert expected in raised.value.problem.message


def test_many_lists_and_tables_are_not_nesting() -> None:
    from pressline.importing import folders

    text = "+++\n" + "".join(f"list{n} = ['a', ['b']]\n" for n in range(50)) + "[[menu.main]]\nname = 'x'\n+++\nBody\n"
    parsed = folders.split_front_matter(text)
    assert parsed.fields["list49"] == ["a", ["b"]]
    assert parsed.body == "Body\n" and parsed.body_line == 55  # after 50 lists, a table of 2 lines, 2 delimiters


def test_markdown_inside_a_leaf_bundle_is_a_resource_not_a_post(tmp_path: Path) -> None:
    site = _write(
        tmp_path,
        {
            "hugo.toml": "",
            "content/posts/b/index.md": "---\ntitle: B\n---\nx\n",
            "content/posts/b/part.md": "---\ntitle: Part\n---\ny\n",
            "content/posts/b/more/deeper.md": "z\n",
        },
    )
    assert _only(HugoSource(site)).source_id == "content/posts/b/index.md"


def test_jekyll_front_matter_defaults_from_the_configuration(tmp_path: Path) -> None:
    config = """
defaults:
  - scope: {path: "", type: posts}
    values: {permalink: "/blog/:title/", author: Default Author}
  - scope: {path: "_posts/special"}
    values: {author: Special Author}
  - scope: {path: "", type: pages}
    values: {permalink: "/never-for-posts/"}
"""
    site = _write(
        tmp_path,
        {
            "_config.yml": config,
            "_posts/2021-01-01-plain.md": "---\ntitle: Plain\n---\nx\n",
            "_posts/special/2021-01-02-special.md": "---\ntitle: Special\n---\nx\n",
            "_posts/2021-01-03-own.md": "---\ntitle: Own\npermalink: /own/\nauthor: Me\n---\nx\n",
        },
    )
    items = {item.slug: item for item in JekyllSource(site).items() if isinstance(item, ImportedItem)}
    assert [(items[s].old_urls, items[s].author) for s in ("plain", "special", "own")] == [
        (("/blog/plain/",), "Default Author"),
        (("/blog/special/",), "Special Author"),
        (("/own/",), "Me"),  # the file's own front matter wins
    ]


def test_hugo_configuration_split_into_files_by_key(tmp_path: Path) -> None:
    site = _write(
        tmp_path,
        {
            "config/_default/hugo.toml": "baseURL = 'http://old.example/'\n",
            "config/_default/permalinks.toml": "posts = '/:year/:slug/'\n",
            "config/_default/menus.yaml": "main:\n  - pageRef: /about\n    weight: 3\n",
            "config/_default/params.toml": "author = 'Split Author'\n",
            "content/posts/p.md": "---\ntitle: P\ndate: 2022-05-06\n---\nx\n",
            "content/about.md": "---\ntitle: About\n---\nx\n",
        },
    )
    items = {item.source_id: item for item in HugoSource(site).items() if isinstance(item, ImportedItem)}
    post, page = items["content/posts/p.md"], items["content/about.md"]
    assert post.old_urls == ("http://old.example/2022/p/",)
    assert post.author == "Split Author"
    assert page.nav_order == 3


def test_hugo_sections_with_any_name_are_read(tmp_path: Path) -> None:
    site = _write(tmp_path, {"hugo.toml": "", "content/resources/guide.md": "---\ntitle: G\n---\nx\n"})
    assert _only(HugoSource(site)).old_urls == ("/resources/guide/",)


def test_jekyll_output_and_dependencies_are_not_walked(tmp_path: Path) -> None:
    site = _write(
        tmp_path,
        {
            "_config.yml": "",
            "_site/about.md": "---\ntitle: Built\n---\nx\n",
            "vendor/bundle/gem/README.md": "---\ntitle: Gem\n---\nx\n",
            "node_modules/x/index.md": "---\ntitle: Dependency\n---\nx\n",
            "docs/vendor/notes.md": "---\ntitle: Notes\n---\nx\n",  # only the site's own vendor/ is skipped
        },
    )
    assert _only(JekyllSource(site)).source_id == "docs/vendor/notes.md"
