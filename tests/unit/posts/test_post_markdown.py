"""Markdown rendering (CommonMark + GFM tables, strikethrough, autolinks, footnotes) and summaries."""

from __future__ import annotations

from pressline.posts.markdown import first_words, html_to_text, render_body

KEY = "posts/guide.md"


def test_commonmark_basics() -> None:
    output = render_body("# Title\n\nA *b* **c** `d`\n\n- one\n- two\n\n> quoted\n", KEY).html
    assert '<h1 id="title">Title</h1>' in output
    assert "<p>A <em>b</em> <strong>c</strong> <code>d</code></p>" in output
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in output
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in output


def test_tables() -> None:
    output = render_body("| a | b |\n|:--|--:|\n| 1 | 2 |\n", KEY).html
    assert '<th align="left">a</th>' in output and '<td align="right">2</td>' in output


def test_strikethrough_and_autolinks() -> None:
    output = render_body("~~old~~ new, see www.example.com\n", KEY).html
    assert "<del>old</del>" in output
    assert '<a href="http://www.example.com" rel="noopener nofollow">www.example.com</a>' in output


def test_footnotes() -> None:
    output = render_body("Claim.[^src]\n\n[^src]: The source.\n", KEY).html
    assert '<sup class="footnote-ref"><a href="#fn-src" id="fnref-src"' in output
    assert '<section class="footnotes">' in output and '<li id="fn-src">' in output
    assert 'class="footnote-backref"' in output and 'href="#fnref-src"' in output


def test_fenced_code_keeps_its_text_and_language() -> None:
    output = render_body("```js\nif (a < b && c) { alert('<b>'); }\n```\n", KEY).html
    assert '<pre tabindex="0"><code class="language-js">' in output
    assert "if (a &lt; b &amp;&amp; c) { alert('&lt;b&gt;'); }" in output


def test_summary_defaults_to_the_first_50_words() -> None:
    words = [f"word{i}" for i in range(80)]
    result = render_body("# Heading\n\n" + " ".join(words[:30]) + "\n\n" + " ".join(words[30:]) + "\n", KEY)
    assert result.summary == "Heading " + " ".join(words[:49]) + "…"


def test_summary_from_the_more_divider() -> None:
    result = render_body("Intro with **bold** & <kbd>keys</kbd>.\n\n<!--more-->\n\nThe rest.\n", KEY)
    assert result.summary == "Intro with bold & keys."
    assert "The rest." in result.html and "more" not in result.html


def test_an_explicit_summary_wins() -> None:
    assert render_body("Body.\n<!--more-->\nRest\n", KEY, summary="Given.").summary == "Given."


def test_summary_skips_code_footnotes_and_tables() -> None:
    source = "Text[^1].\n\n```\ncode here\n```\n\n| a |\n|---|\n| cell |\n\n[^1]: a note\n"
    assert render_body(source, KEY).summary == "Text."


def test_short_posts_are_their_own_summary() -> None:
    assert render_body("Just a line.\n", KEY).summary == "Just a line."
    assert first_words("a b c", 2) == "a b…"
    assert html_to_text("<p>a&amp;b</p><p>c</p>") == "a&b c"


def test_a_long_body_summary_only_reads_its_lead() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} has some words in it." for i in range(400))
    result = render_body(paragraphs + "\n\n```\nsecret code\n```\n\nEnd[^1].\n\n[^1]: note\n", KEY)
    assert result.summary.startswith("Paragraph 0 has some words in it. Paragraph 1")
    assert len(result.summary.split()) == 50 and result.summary.endswith("…")


def test_headings_get_unique_linkable_ids() -> None:
    output = render_body("## Getting *started*\n\n## Getting started\n\n## Content\n\n## Fn 1\n\n## ¿?\n", KEY).html
    assert [part.split('"')[1] for part in output.split(" id=")[1:]] == [
        "getting-started",
        "getting-started-1",
        "content-1",  # "content" is the page's own <main id>
        "section-fn-1",  # never a footnote's id
        "section",
    ]
    assert '<h2 id="getting-started">Getting <em>started</em></h2>' in output


def test_author_ids_on_headings_are_dropped() -> None:
    output = render_body('<h2 id="fn-1">Fake</h2>\n\n<h2 id="content" onclick="x()">Other</h2>\n', KEY).html
    assert 'id="fn-1"' not in output and 'id="content"' not in output and "onclick" not in output
