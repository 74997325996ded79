"""cmark-gfm called with its memory freed: the same HTML as cmarkgfm's own wrapper, no leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from pressline.posts.commonmark import to_html

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = [
    "",
    "\n",
    "# Title\n\nA *b* **c** `d` ~~e~~ www.example.com <https://example.com>\n",
    "| a | b |\n|:--|--:|\n| 1 | 2 |\n",
    "Claim.[^src]\n\n[^src]: The source.\n",
    "> " * 150 + "deep\n",
    "- a\n  - b\n    1. c\n\n```js\nif (a < b) {}\n```\n",
    "<details><summary>x</summary>\n\n*raw* HTML\n</details>\n<script>alert(1)</script>\n",
    "Ünïcödé — “quotes” 中文 \U0001f600\n",
]


def _wrapper_html(markdown: str) -> str:
    from cmarkgfm import cmark

    options = cmark.Options
    flags = options.CMARK_OPT_UNSAFE | options.CMARK_OPT_FOOTNOTES | options.CMARK_OPT_VALIDATE_UTF8
    extensions = ["table", "strikethrough", "autolink"]
    return str(cmark.markdown_to_html_with_extensions(markdown, options=flags, extensions=extensions))


@pytest.mark.parametrize("markdown", SAMPLES)
def test_the_html_is_cmarkgfms(markdown: str) -> None:
    assert to_html(markdown) == _wrapper_html(markdown)


def test_the_example_posts_render_as_with_cmarkgfm() -> None:
    posts = sorted((ROOT / "examples" / "posts").glob("*.md"))
    assert posts
    for post in posts:
        text = post.read_text(encoding="utf-8")
        assert to_html(text) == _wrapper_html(text), post.name


def _resident_bytes() -> int:
    import os

    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
def test_rendering_frees_the_tree_and_the_html() -> None:
    # ~20 KB of Markdown: cmarkgfm's wrapper leaks ~1 MB per call here (the tree and the
    # HTML), so 100 calls would add ~100 MB; freed, the resident size stays where it was.
    markdown = ("Some *text* with a [link](https://example.com) and `code`.\n\n> quote\n\n- item\n\n" * 250)[:20_000]
    for _ in range(20):
        to_html(markdown)
    before = _resident_bytes()
    for _ in range(100):
        to_html(markdown)
    assert _resident_bytes() - before < 20 * 1024 * 1024
