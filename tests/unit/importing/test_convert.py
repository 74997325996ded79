"""convert: imported items become Pressline files that pass the pipeline's own rules, say
``notify: false``, carry their old URLs as aliases, bring their images beside them (or lose
them to their alt text, reported), link to each other's new pages, and never show an image
from the old site. Items built here; a dictionary stands in for the network."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import markdownify
import pytest
import yaml

from pressline.importing import convert
from pressline.importing.media import Downloaded, DownloadError
from pressline.importing.model import ImportedAsset, ImportedComment, ImportedItem
from pressline.posts.rules import check_post

SITE = "https://old.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@dataclass
class FakeFetcher:
    """The network: these URLs answer these bytes, the rest fail; only the old site is allowed."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    allowed: tuple[str, ...] = ("old.example",)
    asked: list[str] = field(default_factory=list)

    def allows(self, url: str) -> bool:
        return any(f"//{host}/" in url for host in self.allowed)

    def get(self, url: str) -> Downloaded:
        self.asked.append(url)
        if url not in self.blobs:
            raise DownloadError("answered 404 Not Found")
        return Downloaded(url, self.blobs[url], "image/png")


def item(slug: str, **fields: Any) -> ImportedItem:
    defaults: dict[str, Any] = {
        "source": "wordpress",
        "source_id": f"id-{slug}",
        "slug": slug,
        "title": slug.title(),
        "date": datetime(2019, 5, 1, 10, tzinfo=UTC),
        "body": f"The {slug} post.",
        "old_urls": (f"{SITE}/2019/05/{slug}/",),
    }
    return ImportedItem(**{**defaults, **fields})


def convert_all(items: list[ImportedItem], fetcher: FakeFetcher | None = None) -> dict[str, convert.ConvertedItem]:
    slugs, _ = convert.assign_slugs(items)
    converter = convert.Converter(
        site_url=SITE,
        slugs=slugs,
        targets=convert.link_targets(items, slugs, SITE, datetime(2026, 1, 1, tzinfo=UTC)),
        fetcher=fetcher or FakeFetcher(),
        html_to_markdown=markdownify.markdownify,  # a stand-in for the project's converter
        read_file=lambda path: {"bundle/photo.jpg": JPEG}[path],
        checked_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return {entry.source_id: converter.convert(entry) for entry in items}


def post_file(converted: convert.ConvertedItem) -> tuple[dict[str, Any], str]:
    data = next(file.data for file in converted.files if file.kind in ("post", "page")).decode()
    _, front, body = data.split("---\n", 2)
    return yaml.safe_load(front), body


def files_of(converted: convert.ConvertedItem) -> dict[str, bytes]:
    return {file.path: file.data for file in converted.files}


def test_a_post_gets_its_front_matter_and_notify_false() -> None:
    entry = item(
        "hello",
        updated=datetime(2020, 1, 2, tzinfo=UTC),
        tags=("News", "news", "Python"),
        summary="A summary.",
        author="Zoë",
        draft=True,
        canonical_url="https://elsewhere.example/hello",
    )
    converted = convert_all([entry])["id-hello"]
    assert converted.ok and not converted.has_errors, converted.findings
    fields, body = post_file(converted)
    assert fields == {
        "title": "Hello",
        "slug": "hello",
        "date": "2019-05-01T10:00:00+00:00",
        "updated": "2020-01-02T00:00:00+00:00",
        "tags": ["News", "Python"],
        "summary": "A summary.",
        "author": "Zoë",
        "draft": True,
        "canonical_url": "https://elsewhere.example/hello",
        "aliases": ["/2019/05/hello/"],
        "notify": False,
    }
    assert body.strip() == "The hello post."
    assert converted.path == "posts/hello.md"


def test_every_file_passes_the_pipeline_rules_and_keeps_its_meaning() -> None:
    converted = convert_all([item("hello", tags=("A", "B"), summary="S")])["id-hello"]
    data = files_of(converted)["posts/hello.md"]
    result = check_post(data, "posts/hello.md", uploaded_at=datetime(2026, 1, 1, tzinfo=UTC), timezone=UTC)
    assert result.ok, result.errors
    assert result.post is not None
    meta = result.post.meta
    assert (meta.slug, meta.title, meta.tags, meta.summary) == ("hello", "Hello", ("A", "B"), "S")
    assert meta.notify is False
    assert meta.aliases == ("/2019/05/hello/",)
    assert [w for w in result.warnings if "not a known field" in w.message] == []


def test_converting_twice_gives_the_same_bytes() -> None:
    entries = [item("a", body="<p>x <a href='https://old.example/2019/05/b/'>b</a></p>", body_format="html"), item("b")]
    first = {key: files_of(value) for key, value in convert_all(entries).items()}
    second = {key: files_of(value) for key, value in convert_all(list(reversed(entries))).items()}
    assert first == second


def test_aliases_are_old_paths_never_the_new_address_nor_a_query() -> None:
    entry = item(
        "hello",
        old_urls=(
            f"{SITE}/2019/05/hello/",
            "https://www.old.example/caf%c3%a9/",
            f"{SITE}/?p=12",
            f"{SITE}/posts/hello/",  # the new address itself: a redirect to itself would loop
            "https://other.example/hello/",  # another site: nothing to redirect here
            f"{SITE}/2019/05/hello/",
        ),
    )
    converted = convert_all([entry])["id-hello"]
    fields, _ = post_file(converted)
    assert fields["aliases"] == ["/2019/05/hello/", "/caf%C3%A9/"]
    assert converted.findings == []  # the new address among the old ones is no problem


def test_an_old_url_the_site_cannot_take_is_a_warning_not_a_failure() -> None:
    converted = convert_all([item("hello", old_urls=(f"{SITE}/tags/hello/", f"{SITE}/a/../../etc/"))])["id-hello"]
    assert converted.ok
    fields, _ = post_file(converted)
    assert "aliases" not in fields
    assert [finding.problem.field for finding in converted.findings] == ["aliases", "aliases"]
    assert not any(finding.error for finding in converted.findings)


def test_slugs_are_unique_across_the_import() -> None:
    entries = [
        item("same", source_id="1", date=datetime(2019, 1, 1, tzinfo=UTC)),
        item("same", source_id="2", date=datetime(2020, 1, 1, tzinfo=UTC)),
        item("Not A Slug!", source_id="3"),
        item("about", source_id="4", kind="page"),
        item("posts", source_id="5", kind="page"),  # one of the site's own addresses
    ]
    slugs, warnings = convert.assign_slugs(entries)
    assert slugs == {"1": "same", "2": "same-2", "3": "not-a-slug", "4": "about", "5": "posts-2"}
    assert {finding.file for finding in warnings} == {"posts/same-2.md", "posts/not-a-slug.md", "pages/posts-2.md"}
    assert all(finding.problem.field == "slug" and not finding.error for finding in warnings)


def test_the_oldest_keeps_the_slug_whatever_the_export_order() -> None:
    old = item("same", source_id="old", date=datetime(2019, 1, 1, tzinfo=UTC))
    new = item("same", source_id="new", date=datetime(2024, 1, 1, tzinfo=UTC))
    assert (
        convert.assign_slugs([new, old])[0] == convert.assign_slugs([old, new])[0] == {"old": "same", "new": "same-2"}
    )


def test_links_between_items_point_at_their_new_pages() -> None:
    entries = [
        item(
            "a",
            body=(
                "To [b](https://old.example/2019/05/b/#part), [b again](/2019/05/b), [relative](../b/), "
                "[the page](https://www.old.example/about), [elsewhere](https://other.example/x), "
                "[unknown](https://old.example/category/news/)"
            ),
        ),
        item("b"),
        item("about", kind="page", old_urls=(f"{SITE}/about/",)),
    ]
    converted = convert_all(entries)["id-a"]
    _, body = post_file(converted)
    assert body.strip() == (
        "To [b](/posts/b/#part), [b again](/posts/b/), [relative](/posts/b/), [the page](/about/), "
        "[elsewhere](https://other.example/x), [unknown](https://old.example/category/news/)"
    )
    assert converted.links_rewritten == 4
    [kept] = converted.findings  # the one old-site link that is no imported item: said, not hidden
    assert kept.problem.message == (
        "links to https://old.example/category/news/ on the old site, which is no imported item: kept as it is"
    )
    assert not kept.error


def test_a_link_to_a_draft_is_rewritten_with_a_warning() -> None:
    entries = [item("a", body="See [b](/2019/05/b/) and [c](/2019/05/c/)."), item("b", draft=True)]
    entries.append(item("c", date=datetime(2030, 1, 1, tzinfo=UTC)))  # scheduled
    converted = convert_all(entries)
    _, body = post_file(converted["id-a"])
    assert body.strip() == "See [b](/posts/b/) and [c](/posts/c/)."
    assert [f.problem.message for f in converted["id-a"].findings] == [
        "links to /posts/b/, a draft or scheduled item: it answers 404 until that is out",
        "links to /posts/c/, a draft or scheduled item: it answers 404 until that is out",
    ]
    assert not any(f.error for f in converted["id-a"].findings)


def test_images_come_beside_the_post_and_the_body_points_at_them() -> None:
    fetcher = FakeFetcher(
        {
            f"{SITE}/wp-content/uploads/photo.png": PNG,
            f"{SITE}/wp-content/uploads/full.png": PNG + b"full",
            f"{SITE}/wp-content/uploads/cover.JPEG": JPEG,
        }
    )
    body = (
        '<p><img src="https://old.example/wp-content/uploads/photo.png" alt="A photo"></p>'
        '<p><a href="/wp-content/uploads/full.png"><img src="/wp-content/uploads/photo.png" alt="again"></a></p>'
    )
    entry = item("hello", body=body, body_format="html", image=f"{SITE}/wp-content/uploads/cover.JPEG")
    converted = convert_all([entry], fetcher)["id-hello"]
    assert converted.ok and not converted.has_errors, converted.findings
    fields, text = post_file(converted)
    assert fields["image"] == "hello/cover.jpeg"
    assert "![A photo](hello/photo.png)" in text
    assert "[![again](hello/photo.png)](hello/full.png)" in text
    assert set(files_of(converted)) == {
        "posts/hello/photo.png",
        "posts/hello/full.png",
        "posts/hello/cover.jpeg",
        "posts/hello.md",
    }
    assert [file.kind for file in converted.files][-1] == "post"  # images come first
    assert fetcher.asked.count(f"{SITE}/wp-content/uploads/photo.png") == 1
    assert converted.images == 3


def test_a_page_names_its_images_under_posts() -> None:
    fetcher = FakeFetcher({f"{SITE}/team.png": PNG})
    converted = convert_all([item("about", kind="page", body="![Team](/team.png)", nav_order=2)], fetcher)["id-about"]
    fields, text = post_file(converted)
    assert text.strip() == "![Team](../posts/about/team.png)"
    assert fields["nav_order"] == 2 and "slug" not in fields and "tags" not in fields
    assert set(files_of(converted)) == {"posts/about/team.png", "pages/about.md"}


def test_assets_inside_the_export_or_beside_the_content() -> None:
    assets = (
        ImportedAsset(name="inline.png", reference="inline.png", data=PNG),
        ImportedAsset(name="photo.jpg", reference="./photo.jpg", path="bundle/photo.jpg"),
        ImportedAsset(name="att.png", reference=f"{SITE}/wp-content/uploads/att.png"),
    )
    fetcher = FakeFetcher({f"{SITE}/wp-content/uploads/att.png": PNG + b"att"})
    body = "![a](inline.png) ![b](photo.jpg) ![c](https://www.old.example/wp-content/uploads/att.png)"
    converted = convert_all([item("bundle", body=body, assets=assets)], fetcher)["id-bundle"]
    _, text = post_file(converted)
    assert text.strip() == "![a](bundle/inline.png) ![b](bundle/photo.jpg) ![c](bundle/att.png)"
    assert files_of(converted)["posts/bundle/photo.jpg"] == JPEG


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        (f"{SITE}/gone.png", "answered 404"),
        (f"{SITE}/evil.png", "not a PNG, JPEG, GIF or WebP"),  # SVG bytes named .png
        ("data:image/png;base64,iVBORw0KGgo=", "data: URL"),
        ("file:///etc/passwd", "file"),
    ],
)
def test_an_image_that_cannot_come_over_is_its_alt_text_and_an_error(reference: str, reason: str) -> None:
    fetcher = FakeFetcher({f"{SITE}/evil.png": SVG})
    fetcher.allowed = ("old.example", "")  # file: is asked for too, and refused by its scheme

    class Refusing(FakeFetcher):
        def get(self, url: str) -> Downloaded:
            if not url.startswith("http"):
                raise DownloadError("uses file scheme: only http and https are downloaded")
            return super().get(url)

    refusing = Refusing(fetcher.blobs)
    refusing.allows = lambda url: True  # type: ignore[method-assign]
    converted = convert_all([item("hello", body=f"Before ![The alt]({reference}) after")], refusing)["id-hello"]
    assert converted.ok  # the post is imported ...
    assert converted.has_errors  # ... and the lost image reported as an error
    _, text = post_file(converted)
    assert text.strip() == "Before The alt after"
    [finding] = [finding for finding in converted.findings if finding.error]
    assert reason in finding.problem.message and finding.problem.field == "body"
    assert finding.file == "posts/hello.md" and "id-hello" in finding.item


def test_an_image_on_another_host_is_kept_with_a_warning() -> None:
    converted = convert_all([item("hello", body="![x](https://cdn.other.example/x.png)")])["id-hello"]
    _, text = post_file(converted)
    assert text.strip() == "![x](https://cdn.other.example/x.png)"
    [finding] = converted.findings
    assert not finding.error and "allow-list" in finding.problem.message


def test_nothing_still_shows_an_image_from_the_old_site() -> None:
    # Whatever the spelling, every old-site image is brought over or dropped: never left.
    body = (
        "![a](https://old.example/a.png) <img src='http://www.old.example/b.png'> "
        "<IMG SRC=//old.example/c.png> ![d][d]\n\n[d]: https://old.example/d.png\n"
    )
    converted = convert_all([item("hello", body=body)], FakeFetcher({f"{SITE}/a.png": PNG}))["id-hello"]
    data = files_of(converted)["posts/hello.md"]
    result = check_post(data, "posts/hello.md", uploaded_at=datetime(2026, 1, 1, tzinfo=UTC), timezone=UTC)
    assert result.post is not None and "old.example" not in (result.post.unsafe_html or "")


def test_a_canonical_url_on_the_old_site_is_left_out() -> None:
    converted = convert_all([item("hello", canonical_url=f"{SITE}/2019/05/hello/")])["id-hello"]
    fields, _ = post_file(converted)
    assert "canonical_url" not in fields


def test_an_item_the_rules_refuse_is_reported_and_not_written() -> None:
    results = convert_all([item("empty", body="   "), item("long", title="x" * 300), item("fine")])
    assert not results["id-empty"].ok and results["id-empty"].files == []
    assert any(f.problem.field == "body" and f.error for f in results["id-empty"].findings)
    assert not results["id-long"].ok
    assert any(f.problem.field == "title" and f.error for f in results["id-long"].findings)
    assert results["id-fine"].ok


def test_a_converter_failure_is_one_item_failed() -> None:
    def broken(html: str) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    entries = [item("a", body="<p>x</p>", body_format="html"), item("b")]
    slugs, _ = convert.assign_slugs(entries)
    converter = convert.Converter(SITE, slugs, convert.link_targets(entries, slugs, SITE), FakeFetcher(), broken)
    assert not converter.convert(entries[0]).ok
    assert converter.convert(entries[1]).ok


def test_too_many_tags_are_trimmed_with_a_warning() -> None:
    tags = (*(f"tag {n}" for n in range(25)), "x" * 61, "!!!")
    converted = convert_all([item("tags", tags=tags)])["id-tags"]
    fields, _ = post_file(converted)
    assert fields["tags"] == [f"tag {n}" for n in range(20)]
    assert converted.ok and {f.problem.field for f in converted.findings} == {"tags"}


def test_comments_are_kept_beside_the_post() -> None:
    comments = (
        ImportedComment(source_id="c1", author="Ann", body_html="<p>Nice</p>", date=datetime(2019, 5, 2, tzinfo=UTC)),
        ImportedComment(source_id="c2", parent_id="c1", author="Bob", status="pending"),
    )
    converted = convert_all([item("hello", comments=comments)])["id-hello"]
    saved = json.loads(files_of(converted)["comments/hello.json"])
    assert saved["slug"] == "hello" and saved["source_id"] == "id-hello"
    assert [(c["source_id"], c["parent_id"], c["status"]) for c in saved["comments"]] == [
        ("c1", None, "approved"),
        ("c2", "c1", "pending"),
    ]


def test_hostile_html_never_reaches_the_file_unsanitized_as_a_script() -> None:
    body = '<p>Hi</p><script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
    converted = convert_all([item("hostile", body=body, body_format="html")])["id-hostile"]
    data = files_of(converted)["posts/hostile.md"]
    result = check_post(data, "posts/hostile.md", uploaded_at=datetime(2026, 1, 1, tzinfo=UTC), timezone=UTC)
    from pressline.posts.markdown import render_body

    assert result.post is not None
    rendered = render_body(result.post.body, "posts/hostile.md", "", result.post.unsafe_html).html
    assert "<script" not in rendered and "onerror" not in rendered and "javascript:" not in rendered


@pytest.mark.parametrize(
    "html",
    [
        '<img alt="a>b" src="https://old.example/x.png">',
        "<IMG SRC=//www.old.example/x.png>",
        '<img src="https://ok.example/y.png" srcset="https://old.example/x.png 2x">',
        '<video poster="http://old.example/p.png"></video>',
        "<img\nsrc='https://old.example/&#120;.png'>",
    ],
)
def test_the_last_check_reads_image_sources_as_a_browser_does(html: str) -> None:
    assert any(
        convert.links.host_of(convert._absolute_src(src)) == "old.example" for src in convert.image_sources(html)
    )
