"""convert, as properties over hostile items: whatever a reader hands over (titles, slugs, tags
and old URLs of any characters, bodies of HTML junk, scripts, ``javascript:`` links, images on
the old site by every spelling, names with ``..``), converting never raises; an item is
imported or reported; what is imported passes the pipeline's rules with ``notify: false``,
shows no image from the old site, and writes only under ``posts/``, ``pages/`` and
``comments/`` with file names that are single safe segments."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import markdownify
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pressline.importing import convert
from pressline.importing.media import Downloaded, DownloadError
from pressline.importing.model import ImportedAsset, ImportedItem
from pressline.posts.rules import check_post

SITE = "https://old.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SAFE_PATH = re.compile(r"^(posts|pages|comments)/[a-z0-9-]+(\.md|\.json|/[a-z0-9-]+\.(png|jpg|jpeg|gif|webp))$")


class Fetcher:
    """The old site answers an image for .png paths and fails the rest; nothing else is allowed."""

    def allows(self, url: str) -> bool:
        return "old.example" in url

    def get(self, url: str) -> Downloaded:
        if url.endswith(".png"):
            return Downloaded(url, PNG, "image/png")
        raise DownloadError("answered 404 Not Found")


ANY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf")), max_size=40
)
OLD_IMAGES = st.sampled_from(
    [
        "https://old.example/a.png", "http://www.old.example/b.jpg", "//old.example/c.png", "/wp-content/d.png",
        "e.png", "../../../etc/passwd.png", "https://old.example/%2e%2e/f.png", "data:image/png;base64,AAAA",
        "javascript:alert(1)", "file:///etc/hosts", "https://old.example/g.svg",
    ]
)  # fmt: skip


def _no_quotes(text: str) -> str:
    return text.replace('"', "")


PIECES = st.one_of(
    ANY_TEXT.map(lambda text: f"<p>{text}</p>"),
    st.builds(lambda src, alt: f'<img src="{src}" alt="{alt}">', OLD_IMAGES, ANY_TEXT.map(_no_quotes)),
    st.builds(lambda src: f"<a href='{src}'><img src='{src}'></a>", OLD_IMAGES),
    st.sampled_from(
        [
            "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:alert(1)'>x</a>",
            "<svg onload=alert(1)>", "<iframe src='https://old.example/'></iframe>", "<style>*{}</style>", "<",
            "<![CDATA[x]]>", "<!-- unclosed", "&#0;&#xD800;", "<a href='https://old.example/2019/05/other/'>o</a>",
            "<table><tr><td><img src='https://old.example/t.png'></td></tr></table>", "```", "~~~",
        ]
    ),
)  # fmt: skip


@st.composite
def items(draw: st.DrawFn) -> ImportedItem:
    body_format = draw(st.sampled_from(["html", "markdown"]))
    pieces = draw(st.lists(PIECES, min_size=0, max_size=6))
    body = "".join(pieces) if body_format == "html" else "\n\n".join(pieces)
    name = draw(st.sampled_from(["a.png", "../../x.png", "..", "con.png", "\u202egnp.exe", ""]))
    return ImportedItem(
        source="wordpress",
        source_id=draw(ANY_TEXT) or "id",
        kind=draw(st.sampled_from(["post", "page"])),
        slug=draw(st.one_of(ANY_TEXT, st.sampled_from(["posts", "../etc", "a/b", "UPPER", "ok-slug"]))),
        title=draw(ANY_TEXT),
        date=draw(st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))),
        tags=tuple(draw(st.lists(ANY_TEXT, max_size=25))),
        summary=draw(ANY_TEXT),
        author=draw(st.one_of(st.none(), ANY_TEXT)),
        draft=draw(st.booleans()),
        body=body,
        body_format=body_format,  # type: ignore[arg-type]
        image=draw(st.one_of(st.none(), OLD_IMAGES)),
        canonical_url=draw(st.one_of(st.none(), st.sampled_from(["https://old.example/x", "javascript:x", "x"]))),
        old_urls=tuple(draw(st.lists(st.one_of(ANY_TEXT, OLD_IMAGES), max_size=4))),
        assets=(ImportedAsset(name=name, reference="e.png", data=draw(st.sampled_from([PNG, b"<svg/>", b""]))),),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items(), min_size=1, max_size=3))
def test_whatever_comes_in_what_goes_out_is_safe(entries: list[ImportedItem]) -> None:
    unique = list({entry.source_id: entry for entry in entries}.values())
    slugs, _ = convert.assign_slugs(unique)
    converter = convert.Converter(
        site_url=SITE,
        slugs=slugs,
        targets=convert.link_targets(unique, slugs, SITE),
        fetcher=Fetcher(),
        html_to_markdown=markdownify.markdownify,
        checked_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    for entry in unique:
        converted = converter.convert(entry)  # never raises
        event("imported" if converted.ok else "reported")
        assert converted.ok or any(finding.error for finding in converted.findings)
        if not converted.ok:
            assert converted.files == []
            continue
        for file in converted.files:
            assert SAFE_PATH.match(file.path), file.path
        [document] = [file for file in converted.files if file.kind in ("post", "page")]
        result = check_post(document.data, document.path, uploaded_at=datetime(2026, 1, 1, tzinfo=UTC), timezone=UTC)
        assert result.post is not None, result.errors
        assert result.post.meta.notify is False
        html = result.post.unsafe_html or ""
        assert not re.search(r"<img[^>]+src=\"(https?:)?//(www\.)?old\.example", html), html
        assert not (result.post.meta.image or "").count("old.example")
