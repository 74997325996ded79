"""Large WordPress exports for benchmarks and tests (a helper module, not a benchmark).

``write_wxr(path, count, site_url)`` writes a WXR 1.2 file as WordPress writes it: ``count``
posts, one a day back from ``END``, ~600 words each, alternately classic-editor HTML (no
``<p>``: paragraphs are blank lines, as WordPress stores them) and block-editor HTML (blocks
between ``<!-- wp:… -->`` comments); every post has a category and two tags; every
``IMAGE_EVERY``-th shows an image of the old site by URL, every ``FEATURED_EVERY``-th has a
featured image (an attachment and ``_thumbnail_id``), every ``LINK_EVERY``-th links to the next
older post by its old URL, every ``COMMENT_EVERY``-th has a comment and a reply; three pages and
one draft in fifty. Deterministic: the same arguments give the same bytes. It returns what the
file holds (the images by path, with their bytes: a test's or a bench's HTTP server on 127.0.0.1
serves them as the old site; the internal links), to check an import against.

Run: ``.venv/bin/python tests/bench/wxrgen.py 1000 /tmp/export.xml [--site-url http://old.example]``.
"""

from __future__ import annotations

import argparse
import html
import struct
import sys
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

END = datetime(2026, 3, 20, 12, tzinfo=UTC)
CATEGORIES = ("Travel", "Food & Drink", "Notes", "Photography")
TAGS = ("python", "aws", "city", "essays", "guides", "winter", "日本", "café")
WORDS = (
    *("river", "bridge", "council", "market", "evening", "library", "station", "harbour", "garden"),
    *("morning", "window", "street", "quiet", "light", "winter", "summer", "bicycle", "ferry"),
    *("museum", "school", "bakery", "square", "tower", "island", "valley"),
)
IMAGE_EVERY = 3
FEATURED_EVERY = 5
LINK_EVERY = 4
COMMENT_EVERY = 7
DRAFT_EVERY = 50
PAGES = ("About", "Contact", "Colophon")
ATTACHMENT_IDS = 1_000_000  # attachments' post ids: above every post's
PAGE_IDS = 2_000_000


@dataclass
class Generated:
    """What a generated export holds, to check an import against."""

    posts: int = 0
    drafts: int = 0
    pages: int = 0
    images: dict[str, bytes] = field(default_factory=dict)  # path on the old site -> PNG
    links: dict[str, str] = field(default_factory=dict)  # old URL of a post -> old URL it links to
    bytes: int = 0


def slug(number: int) -> str:
    return f"old-post-{number}"


def date(number: int) -> datetime:
    return END - timedelta(days=number)


def old_url(site_url: str, number: int) -> str:
    """Where post ``number`` was: WordPress's /%year%/%monthnum%/%day%/%postname%/ permalinks."""
    return f"{site_url}{date(number):/%Y/%m/%d}/{slug(number)}/"


def image_path(number: int, kind: str) -> str:
    return f"/wp-content/uploads/{date(number):%Y/%m}/{kind}-{number}.png"


def png(seed: int, size: int = 8) -> bytes:
    """A real PNG of one colour: what the pipeline's image checks read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes(((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    rows = b"".join(b"\x00" + pixel * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def sentence(seed: int, words: int) -> str:
    chosen = [WORDS[(seed * 7 + index * 13) % len(WORDS)] for index in range(words)]
    return " ".join(chosen).capitalize() + "."


def paragraph(seed: int) -> str:
    return " ".join(sentence(seed + index, 12) for index in range(8))  # ~100 words


def _body(number: int, count: int, site_url: str, blocks: bool) -> str:
    paragraphs = [paragraph(number * 10 + index) for index in range(5)]
    parts = [
        paragraphs[0],
        "<h2>What changes</h2>",
        f'{paragraphs[1]} See the <a href="https://example.com/council/{number}">council\'s page</a>: <em>all</em> '
        "the <strong>details</strong>, 5 * 3 = 15 and #hash stay text.",
        "<ul>\n" + "".join(f"<li>{sentence(number + index, 6)}</li>\n" for index in range(3)) + "</ul>",
        paragraphs[2],
        f'<pre class="wp-block-code"><code class="language-python">print("post {number}")</code></pre>',
    ]
    if number % IMAGE_EVERY == 0:
        src = site_url + image_path(number, "photo")
        parts.append(f'<img class="alignnone size-medium" src="{src}" alt="Photo {number}" width="8" height="8" />')
    parts.append(paragraphs[3])
    if number % LINK_EVERY == 0 and number + 1 < count:
        parts.append(f'As I wrote <a href="{old_url(site_url, number + 1)}">the day before</a>, it goes on.')
    parts.append(f"<blockquote>{sentence(number + 3, 15)}</blockquote>")
    parts.append(paragraphs[4])
    if not blocks:
        return "\n\n".join(parts)
    wrapped = []
    for part in parts:
        name = {"<h2": "heading", "<ul": "list", "<pr": "code", "<im": "image", "<bl": "quote"}.get(
            part[:3], "paragraph"
        )
        inner = part if name != "paragraph" else f"<p>{part}</p>"
        wrapped.append(f"<!-- wp:{name} -->\n{inner}\n<!-- /wp:{name} -->")
    return "\n\n".join(wrapped)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def write_wxr(path: Path, count: int, site_url: str = "http://old.example") -> Generated:
    """Write the export of ``count`` posts to ``path``; what it holds."""
    site_url = site_url.rstrip("/")
    generated = Generated()
    out = [
        '<?xml version="1.0" encoding="UTF-8" ?>\n<rss version="2.0"'
        ' xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n<title>The old blog</title>\n'
        f"<link>{site_url}</link>\n<wp:wxr_version>1.2</wp:wxr_version>\n"
        f"<wp:base_site_url>{site_url}</wp:base_site_url>\n<wp:base_blog_url>{site_url}</wp:base_blog_url>\n"
        "<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[alice]]></wp:author_login>"
        "<wp:author_display_name><![CDATA[Alice Liddell]]></wp:author_display_name></wp:author>\n"
    ]
    for number in range(count):
        when = date(number).strftime("%Y-%m-%d %H:%M:%S")
        post_id = number + 1
        draft = number % DRAFT_EVERY == DRAFT_EVERY - 1
        category = CATEGORIES[number % len(CATEGORIES)]
        terms = f'<category domain="category" nicename="c{number % len(CATEGORIES)}">{_cdata(category)}</category>'
        for tag in (TAGS[number % len(TAGS)], TAGS[(number * 3 + 1) % len(TAGS)]):
            terms += f'<category domain="post_tag" nicename="{html.escape(tag)}">{_cdata(tag)}</category>'
        meta = comments = ""
        if number % IMAGE_EVERY == 0:
            generated.images[image_path(number, "photo")] = png(number)
        if number % LINK_EVERY == 0 and number + 1 < count:
            generated.links[old_url(site_url, number)] = old_url(site_url, number + 1)
        if number % FEATURED_EVERY == 0:
            cover = image_path(number, "cover")
            generated.images[cover] = png(number + 7)
            attachment = ATTACHMENT_IDS + number
            meta = (
                "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
                f"<wp:meta_value>{attachment}</wp:meta_value></wp:postmeta>"
            )
            out.append(
                f'<item><title>Cover {number}</title><guid isPermaLink="false">{site_url}{cover}</guid>'
                f"<wp:post_id>{attachment}</wp:post_id><wp:post_date>{when}</wp:post_date>"
                f"<wp:post_date_gmt>{when}</wp:post_date_gmt><wp:post_name>cover-{number}</wp:post_name>"
                f"<wp:status>inherit</wp:status><wp:post_parent>{post_id}</wp:post_parent>"
                "<wp:post_type>attachment</wp:post_type><wp:post_mime_type>image/png</wp:post_mime_type>"
                f"<wp:attachment_url>{site_url}{cover}</wp:attachment_url></item>\n"
            )
        if number % COMMENT_EVERY == 0:
            for offset, (author, parent) in enumerate((("A reader", "0"), ("Alice Liddell", f"{post_id * 10}"))):
                comments += (
                    f"<wp:comment><wp:comment_id>{post_id * 10 + offset}</wp:comment_id>"
                    f"<wp:comment_author>{_cdata(author)}</wp:comment_author>"
                    f"<wp:comment_date_gmt>{when}</wp:comment_date_gmt>"
                    f"<wp:comment_content>{_cdata(f'Comment {offset} on post {number}.')}</wp:comment_content>"
                    f"<wp:comment_approved>1</wp:comment_approved><wp:comment_parent>{parent}</wp:comment_parent>"
                    "</wp:comment>"
                )
        generated.drafts += draft
        generated.posts += not draft
        out.append(
            f"<item><title>{html.escape(f'Old post number {number} & its river', quote=False)}</title>"
            f"<link>{old_url(site_url, number) if not draft else f'{site_url}/?p={post_id}'}</link>"
            f"<dc:creator>{_cdata('alice')}</dc:creator>"
            f'<guid isPermaLink="false">{site_url}/?p={post_id}</guid><description></description>'
            f"<content:encoded>{_cdata(_body(number, count, site_url, blocks=number % 2 == 1))}</content:encoded>"
            f"<excerpt:encoded>{_cdata('')}</excerpt:encoded><wp:post_id>{post_id}</wp:post_id>"
            f"<wp:post_date>{when}</wp:post_date>"
            f"<wp:post_date_gmt>{'0000-00-00 00:00:00' if draft else when}</wp:post_date_gmt>"
            f"<wp:post_name>{slug(number)}</wp:post_name><wp:status>{'draft' if draft else 'publish'}</wp:status>"
            "<wp:post_parent>0</wp:post_parent><wp:menu_order>0</wp:menu_order><wp:post_type>post</wp:post_type>"
            f"<wp:post_password></wp:post_password>{terms}{meta}{comments}</item>\n"
        )
    for index, title in enumerate(PAGES):
        page_slug = title.lower()
        out.append(
            f"<item><title>{title}</title><link>{site_url}/{page_slug}/</link>"
            f"<dc:creator>{_cdata('alice')}</dc:creator>"
            f'<guid isPermaLink="false">{site_url}/?page_id={PAGE_IDS + index}</guid>'
            f"<content:encoded>{_cdata(paragraph(index))}</content:encoded><wp:post_id>{PAGE_IDS + index}</wp:post_id>"
            f"<wp:post_date_gmt>{END:%Y-%m-%d %H:%M:%S}</wp:post_date_gmt><wp:post_name>{page_slug}</wp:post_name>"
            "<wp:status>publish</wp:status><wp:post_type>page</wp:post_type></item>\n"
        )
        generated.pages += 1
    out.append("</channel>\n</rss>\n")
    path.write_text("".join(out), encoding="utf-8")
    generated.bytes = path.stat().st_size
    return generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int)
    parser.add_argument("path", type=Path)
    parser.add_argument("--site-url", default="http://old.example")
    args = parser.parse_args(argv)
    generated = write_wxr(args.path, args.count, args.site_url)
    print(
        f"{args.path}: {generated.posts} posts, {generated.drafts} drafts, {generated.pages} pages, "
        f"{len(generated.images)} images, {len(generated.links)} internal links, {generated.bytes:,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
