"""markdown: the small subset renders, everything else is text or gone, every link is
nofollow ugc, and whatever the input, no tag, attribute or URL outside the allowlist."""

from __future__ import annotations

import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressline.comments.markdown import ALLOWED_TAGS, LINK_REL, render

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus"))
from html_safety import assert_plain_text, assert_safe, dangerous_url


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_only_allowed(html: str) -> None:
    assert_safe(html, "comment")
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert (tag, name) in {("a", "href"), ("a", "rel")}, (tag, name)
            if name == "rel":
                assert value == LINK_REL
            if name == "href":
                assert value is not None and value.lower().startswith(("http://", "https://", "mailto:")), value
                assert not dangerous_url(value)


def test_the_subset_renders() -> None:
    html = render("Hi *em* **strong** `code`\n\n```\nx < y\n```\n\n[a link](https://example.com/x)").html
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html and "<code>code</code>" in html
    assert "<pre><code>x &lt; y\n</code></pre>" in html
    assert f'<a href="https://example.com/x" rel="{LINK_REL}">a link</a>' in html


@pytest.mark.parametrize(
    ("text", "absent", "kept"),
    [
        ("<script>alert(1)</script>", "<script", ""),
        ("<b onclick=x>bold</b>", "<b", "bold"),
        ("# Heading", "<h1", "Heading"),
        ("![alt](https://example.com/x.png)", "<img", ""),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "<table", "| a | b |"),
        ("> quoted", "<blockquote", "quoted"),
        ("- item", "<li", "item"),
        ("[x](javascript:alert(1))", "javascript", "x"),
        ("[x](JaVa%73cript:alert(1))", "script", "x"),
        ("[x](java\tscript:alert(1))", "href", "x"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "data:", "x"),
        ("[x](/relative/path)", "href", "x"),
        ("[x][r]\n\n[r]: javascript:alert(1)", "javascript", "x"),
        ("<javascript:alert(1)>", "href", ""),
        ('[x](https://example.com "title")', "title", "x"),
    ],
)
def test_everything_else_is_text_or_dropped(text: str, absent: str, kept: str) -> None:
    rendered = render(text)
    assert absent not in rendered.html.lower()
    assert kept in rendered.html
    assert_only_allowed(rendered.html)


def test_plain_text_has_link_targets_and_no_markup() -> None:
    rendered = render("See [this](https://example.com/a) and `<script>alert(1)</script>`\n\nx<y")
    assert rendered.text == "See this (https://example.com/a) and < script>alert(1)< /script>\n\nx< y"
    assert_plain_text(rendered.text, "comment text")


@pytest.mark.parametrize("shape", [">", "*", "*a", "[", "[a](", "<", "- ", "_*", "**_", "![[", "[x]", "&#"])
def test_superlinear_shapes_stay_fast_at_the_size_bound(shape: str) -> None:
    text = (shape * (5_000 // len(shape)))[:5_000]
    started = time.perf_counter()
    rendered = render(text)
    assert time.perf_counter() - started < 1.0
    assert_only_allowed(rendered.html)


_HOSTILE = st.lists(
    st.sampled_from(
        [
            *"<>[]()!*_`#&;:/\"'= \n\t\\-|~^%",
            "javascript:",
            "JAVASCRIPT:",
            "data:",
            "vbscript:",
            "java\tscript:",
            "&#106;",
            "&colon;",
            "\u200b",
            "<a href=",
            "<img src=x onerror=",
            "<svg",
            "<script>",
            "</",
            "<!--",
            "-->",
            "](",
            "http://",
            "mailto:",
            "\uff4a\uff41\uff56\uff41script\uff1a",
            "%6a%61vascript:",
            "<iframe",
            "style=",
            "on",
            "x",
        ]
    ),
    max_size=120,
).map("".join)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_HOSTILE)
def test_whatever_the_input_only_the_allowlist_comes_out(text: str) -> None:
    rendered = render(text)
    assert_only_allowed(rendered.html)
    assert_plain_text(rendered.text, "comment text")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode_is_safe(text: str) -> None:
    rendered = render(text)
    assert_only_allowed(rendered.html)
    assert_plain_text(rendered.text, "comment text")
