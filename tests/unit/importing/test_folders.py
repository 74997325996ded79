"""The Hugo and Jekyll folder readers on the fixture sites, through HugoSource and JekyllSource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pressline.importing.folders import HugoSource, JekyllSource
from pressline.importing.model import ImportedItem, ItemProblem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"
HUGO = FIXTURES / "hugo"
JEKYLL = FIXTURES / "jekyll"
BERLIN_WINTER = timezone(timedelta(hours=1))
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def _split(results: list[ImportedItem | ItemProblem]) -> tuple[dict[str, ImportedItem], list[ItemProblem]]:
    items = {result.source_id: result for result in results if isinstance(result, ImportedItem)}
    return items, [result for result in results if isinstance(result, ItemProblem)]


@pytest.fixture(scope="module")
def hugo() -> dict[str, ImportedItem]:
    items, problems = _split(list(HugoSource(HUGO).items()))
    assert problems == []
    return items


@pytest.fixture(scope="module")
def jekyll() -> tuple[dict[str, ImportedItem], list[ItemProblem]]:
    return _split(list(JekyllSource(JEKYLL).items()))


# --------------------------------------------------------------------------- Hugo
def test_hugo_reads_posts_pages_and_bundles_but_not_section_lists(hugo: dict[str, ImportedItem]) -> None:
    assert set(hugo) == {
        "content/about.md",
        "content/about-bundle/index.md",
        "content/posts/yaml-post.md",
        "content/posts/toml-post.md",
        "content/posts/bundle-post/index.md",
        "content/posts/draft-post.md",
        "content/posts/2019/json-post.md",
    }
    kinds = {source_id: item.kind for source_id, item in hugo.items()}
    assert kinds["content/about.md"] == kinds["content/about-bundle/index.md"] == "page"
    assert {kinds[key] for key in kinds if key.startswith("content/posts/")} == {"post"}
    assert {item.source for item in hugo.values()} == {"hugo"}
    assert HugoSource(HUGO).site_url == "http://old.example"


def test_hugo_yaml_front_matter_fields(hugo: dict[str, ImportedItem]) -> None:
    post = hugo["content/posts/yaml-post.md"]
    assert post.title == "Ünïcödé in YAML — naïve café, 日本語, emoji 🎉"
    assert post.slug == "yaml-post"
    assert post.date == datetime(2019, 3, 4, 10, 30, tzinfo=BERLIN_WINTER)
    assert post.updated == datetime(2019, 3, 5, tzinfo=BERLIN_WINTER)  # a bare date is in the site's timeZone
    assert post.tags == ("Café", "travel", "Notes")  # tags, then categories
    assert post.summary == "A post with YAML front matter, in three scripts."
    assert post.author == "Zoë Ångström"  # params.author
    assert post.body_format == "markdown"


def test_hugo_toml_front_matter_fields(hugo: dict[str, ImportedItem]) -> None:
    post = hugo["content/posts/toml-post.md"]
    assert post.title == "TOML front matter: Ελληνικά and Кириллица"
    assert post.slug == "toml-slug"
    assert post.date == datetime(2020, 6, 7, 8, 9, 10, tzinfo=UTC)
    assert post.tags == ("Greek", "Русский")
    assert post.summary == "Written with +++ TOML."
    assert post.image == "/images/cover.jpg"
    assert post.body.startswith("A TOML post")


def test_hugo_old_urls_follow_permalinks_url_and_aliases(hugo: dict[str, ImportedItem]) -> None:
    # permalinks: posts = "/:year/:month/:slug/" (the title urlized as Hugo does, when no slug)
    assert hugo["content/posts/yaml-post.md"].old_urls == (
        "http://old.example/2019/03/ünïcödé-in-yaml-naïve-café-日本語-emoji-/",
        "http://old.example/old/yaml-post.html",
        "http://old.example/2019/03/legacy-yaml",  # a relative alias is beside the page
    )
    assert hugo["content/posts/toml-post.md"].old_urls == ("http://old.example/2020/06/toml-slug/",)
    assert hugo["content/posts/2019/json-post.md"].old_urls == ("http://old.example/custom/Json-Address/",)
    assert hugo["content/about.md"].old_urls == ("http://old.example/about/",)
    assert hugo["content/posts/draft-post.md"].old_urls == ()  # never published: no address


def test_hugo_json_front_matter(hugo: dict[str, ImportedItem]) -> None:
    post = hugo["content/posts/2019/json-post.md"]
    assert post.title == "JSON front matter"
    assert post.date == datetime(2019, 12, 31, 23, 59, 59, tzinfo=NEW_YORK_WINTER)
    assert post.body.startswith("A post whose front matter is JSON")


def test_hugo_draft_and_pages_in_the_menu(hugo: dict[str, ImportedItem]) -> None:
    assert hugo["content/posts/draft-post.md"].draft
    assert not hugo["content/posts/yaml-post.md"].draft
    assert hugo["content/about.md"].nav_order == 10  # [[menu.main]] pageRef "/about", weight 10
    assert hugo["content/about-bundle/index.md"].nav_order == 20  # weight
    assert hugo["content/posts/yaml-post.md"].nav_order is None


def test_hugo_page_bundle_brings_its_files(hugo: dict[str, ImportedItem]) -> None:
    bundle = hugo["content/posts/bundle-post/index.md"]
    assert [(asset.name, asset.reference) for asset in bundle.assets] == [("photo.png", "photo.png")]
    assert bundle.assets[0].path == str((HUGO / "content/posts/bundle-post/photo.png").resolve())
    assert bundle.slug == "bundle-post"
    assert bundle.tags == ("travel",)  # one text is one tag


def test_hugo_static_images_become_assets(hugo: dict[str, ImportedItem]) -> None:
    toml_post = hugo["content/posts/toml-post.md"]
    assert {(asset.reference, Path(asset.path or "").name) for asset in toml_post.assets} == {
        ("/images/logo.png", "logo.png"),
        ("/images/cover.jpg", "cover.jpg"),  # the cover image, from images = [...]
    }
    assert all(Path(asset.path or "").is_relative_to(HUGO.resolve() / "static") for asset in toml_post.assets)


def test_hugo_shortcodes_become_markdown(hugo: dict[str, ImportedItem]) -> None:
    toml_post = hugo["content/posts/toml-post.md"].body
    assert "![Logo](/images/logo.png)\n\n*The logo, in a figure*" in toml_post
    assert '```go\nfmt.Println("<hello>")\n```' in toml_post
    assert "{{<" not in toml_post
    yaml_post = hugo["content/posts/yaml-post.md"].body
    assert "[Video on YouTube](https://www.youtube.com/watch?v=dQw4w9WgXcQ)" in yaml_post
    # ref and relref point at the other posts' old addresses (the importer rewrites them to new ones)
    assert "[the TOML post](http://old.example/2020/06/toml-slug/)" in yaml_post
    assert "[the bundle](http://old.example/2021/01/a-page-bundle/)" in yaml_post
    assert 'Escaped: {{< figure src="not-converted.png" >}}' in yaml_post  # written literally, as Hugo shows it
    bundle = hugo["content/posts/bundle-post/index.md"].body
    assert '![Same photo](photo.png "Same photo")' in bundle


def test_hugo_unknown_shortcode_is_kept_with_a_warning_at_its_line(hugo: dict[str, ImportedItem]) -> None:
    post = hugo["content/posts/yaml-post.md"]
    assert '{{< unknown-widget foo="bar" >}}' in post.body
    (warning,) = post.warnings
    assert warning.field == "body" and "'unknown-widget'" in warning.message
    lines = (HUGO / "content/posts/yaml-post.md").read_text(encoding="utf-8").splitlines()
    assert lines[(warning.line or 0) - 1].startswith("{{< unknown-widget")


# --------------------------------------------------------------------------- Jekyll
def test_jekyll_reads_posts_drafts_and_pages(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, problems = jekyll
    assert set(items) == {
        "_posts/2018-07-21-welcome-to-jekyll.md",
        "_posts/2019-01-02-second-post.markdown",
        "_posts/2020-05-05-html-post.html",
        "blog/_posts/2021-03-03-in-a-category-folder.md",
        "_drafts/work-in-progress.md",
        "about.md",
        "contact.md",
    }  # not README.md (excluded), index.html (the home page), _layouts or _includes
    assert [(problem.file, problem.problem.field) for problem in problems] == [("_posts/not-a-dated-name.md", "file")]
    assert items["about.md"].kind == items["contact.md"].kind == "page"
    assert JekyllSource(JEKYLL).site_url == "http://old.example"


def test_jekyll_dates_and_slugs_from_file_names(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    welcome = items["_posts/2018-07-21-welcome-to-jekyll.md"]
    assert welcome.slug == "welcome-to-jekyll"
    assert welcome.date == datetime(2018, 7, 21, tzinfo=timezone(timedelta(hours=-4)))  # in the site's timezone
    second = items["_posts/2019-01-02-second-post.markdown"]
    assert second.date == datetime(2019, 1, 2, 21, 30, tzinfo=NEW_YORK_WINTER)  # front matter's date wins
    assert second.updated == datetime(2019, 2, 1, tzinfo=NEW_YORK_WINTER)


def test_jekyll_fields(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    welcome = items["_posts/2018-07-21-welcome-to-jekyll.md"]
    assert welcome.title == "Welcome to Jekyll — Grüße, こんにちは 👋"
    assert welcome.tags == ("news", "Updates", "jekyll", "Café")  # space-separated categories, then tags
    assert welcome.summary == "The first post, with Liquid in it."
    assert welcome.author == "Zoë Ångström"
    assert welcome.image == "/assets/img/header.png"
    assert items["_posts/2019-01-02-second-post.markdown"].tags == ("Notes",)


def test_jekyll_old_urls_pretty_and_redirect_from(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    assert items["_posts/2018-07-21-welcome-to-jekyll.md"].old_urls == (
        "http://old.example/news/updates/2018/07/21/welcome-to-jekyll/",
        "http://old.example/2018/07/welcome.html",
        "http://old.example/old-welcome/",
    )
    assert items["blog/_posts/2021-03-03-in-a-category-folder.md"].old_urls == (
        "http://old.example/blog/2021/03/03/in-a-category-folder/",  # the folder above _posts is a category
    )
    assert items["about.md"].old_urls == ("http://old.example/about/",)
    assert items["contact.md"].old_urls == ("http://old.example/contact/",)  # pretty: /contact/, not /contact.html


def test_jekyll_drafts_and_unpublished_posts(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    draft = items["_drafts/work-in-progress.md"]
    assert draft.draft and draft.date is None and draft.old_urls == ()
    unpublished = items["_posts/2020-05-05-html-post.html"]
    assert unpublished.draft and unpublished.old_urls == ()
    assert unpublished.body_format == "html"
    assert '<pre><code class="language-python">print(&quot;&lt;x&gt;&quot;)</code></pre>' in unpublished.body


def test_jekyll_liquid_is_translated(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    body = items["_posts/2018-07-21-welcome-to-jekyll.md"].body
    assert "![Header](/assets/img/header.png)" in body  # {{ site.baseurl }} (empty)
    assert "![Logo](/images/logo.png)" in body  # {{ "/images/logo.png" | relative_url }}
    assert '```ruby\ndef hello\n  puts "<hi>"\nend\n```' in body
    assert "This {{ stays }} as written." in body  # {% raw %}
    assert "[the second post](/notes/2019/01/02/second-post/)" in body  # {% post_url %}
    second = items["_posts/2019-01-02-second-post.markdown"].body
    assert "comment" not in second
    assert "[first](http://old.example/news/updates/2018/07/21/welcome-to-jekyll/)" in second
    assert items["about.md"].body.strip() == "Hello, we are An old Jekyll blog — ☕. This is About — Über uns."


def test_jekyll_include_is_kept_with_a_warning_at_its_line(
    jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]],
) -> None:
    items, _ = jekyll
    welcome = items["_posts/2018-07-21-welcome-to-jekyll.md"]
    (warning,) = welcome.warnings
    assert "include" in warning.message
    lines = (JEKYLL / "_posts/2018-07-21-welcome-to-jekyll.md").read_text(encoding="utf-8").splitlines()
    assert lines[(warning.line or 0) - 1].startswith("{% include note.html")


def test_jekyll_images_become_assets(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    welcome = items["_posts/2018-07-21-welcome-to-jekyll.md"]
    assert {(asset.reference, asset.name) for asset in welcome.assets} == {
        ("/assets/img/header.png", "header.png"),
        ("/images/logo.png", "logo.png"),
    }
    second = items["_posts/2019-01-02-second-post.markdown"]
    # relative to the post's old address /notes/2019/01/02/second-post/
    assert [(asset.reference, asset.name) for asset in second.assets] == [
        ("../../../../../images/logo.png", "logo.png")
    ]


def test_jekyll_header_pages_set_the_navigation(jekyll: tuple[dict[str, ImportedItem], list[ItemProblem]]) -> None:
    items, _ = jekyll
    assert items["about.md"].nav_order == 0
    assert items["contact.md"].nav_order is None
