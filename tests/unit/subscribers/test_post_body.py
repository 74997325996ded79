"""A post's whole body for its email (``subscribers.post_body``): absolute URLs, images as mail
clients show them, a plain-text part that says the same, and nothing unsafe whatever the HTML."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressline.posts.sanitize import sanitize_rendered
from pressline.subscribers.post_body import email_html, plain_text, post_body

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus"))

from html_safety import assert_safe

POST_URL = "https://blog.example.com/posts/hello/"


def test_every_href_and_src_is_absolute_against_the_posts_url() -> None:
    html = email_html(
        '<p><a href="/posts/other/">other</a> <a href="#fn-1">1</a> <a href="notes/a.html">notes</a>'
        ' <a href="https://elsewhere.example/x?a=1&amp;b=2">out</a> <a href="mailto:ada@example.com">mail</a>'
        ' <img src="/media/2026/pic.png" alt="A pic"></p>',
        POST_URL,
    )
    assert 'href="https://blog.example.com/posts/other/"' in html
    assert 'href="https://blog.example.com/posts/hello/#fn-1"' in html
    assert 'href="https://blog.example.com/posts/hello/notes/a.html"' in html
    assert 'href="https://elsewhere.example/x?a=1&amp;b=2"' in html
    assert 'href="mailto:ada@example.com"' in html
    assert 'src="https://blog.example.com/media/2026/pic.png"' in html


def test_a_picture_becomes_its_img_without_srcset_sizes_or_sources() -> None:
    html = email_html(
        '<picture><source type="image/avif" srcset="/media/a-480w.avif 480w, /media/a-960w.avif 960w">'
        '<source type="image/webp" srcset="/media/a-480w.webp 480w">'
        '<img src="/media/a.jpg" srcset="/media/a-480w.jpg 480w" sizes="100vw" width="960" height="640"'
        ' alt="The harbour" loading="lazy" decoding="async" fetchpriority="high"></picture>',
        POST_URL,
    )
    assert html == (
        '<img src="https://blog.example.com/media/a.jpg" width="960" height="640" alt="The harbour"'
        ' style="max-width:100%;height:auto;">'
    )


def test_what_runs_or_embeds_is_dropped_with_its_content_and_bad_schemes_with_their_attribute() -> None:
    html = email_html(
        '<p onclick="x()">Before.<script>alert(1)</script><iframe src="https://evil.example/"></iframe>'
        '<style>p{}</style><svg><a href="https://evil.example/">svg</a></svg>'
        '<a href="javascript:alert(1)">js</a><a href="java&#x09;script:alert(2)">tab</a>'
        '<img src="data:image/png;base64,AAAA" alt="data"><span style="color:red">styled</span> After.</p>',
        POST_URL,
    )
    assert html == '<p>Before.<a>js</a><a>tab</a><img alt="data" style="max-width:100%;height:auto;">' + (
        "<span>styled</span> After.</p>"
    )
    assert_safe(html, "email body")


def test_texts_and_attributes_are_escaped_again() -> None:
    html = email_html(
        '<p title="x">1 &lt; 2 &amp; &quot;3&quot;</p><img alt="&quot; onerror=&quot;x" src="a.png">', POST_URL
    )
    assert html.startswith('<p>1 &lt; 2 &amp; "3"</p>')
    assert 'alt="&quot; onerror=&quot;x"' in html
    assert_safe(html, "email body")


def test_the_text_part_says_the_same() -> None:
    body = post_body(
        '<h2 id="intro">Intro</h2>\n<p>A <a href="https://commonmark.org/" rel="noopener nofollow">CommonMark</a>'
        ' post with a bare <a href="https://example.com/docs">https://example.com/docs</a>,\nover two lines,<br>'
        ' and a break.</p>\n<ul>\n<li>one</li>\n<li>two\n<ol start="3">\n<li>three</li>\n</ol>\n</li>\n</ul>\n'
        "<blockquote>\n<p>Quoted.</p>\n<p>Again.</p>\n</blockquote>\n"
        '<pre tabindex="0"><code class="language-python">def f(x):\n    return x &lt; 2\n</code></pre>\n'
        '<p><img src="/media/pic.png" alt="A harbour at dawn"> <img src="/media/deco.png" alt=""></p>\n'
        "<table><thead><tr><th>Stage</th><th>Reads</th></tr></thead><tbody><tr><td>Index</td><td>the catalog</td>"
        "</tr></tbody></table>\n"
        '<p>A note<sup class="footnote-ref"><a href="#fn-1" id="fnref-1">1</a></sup>.</p>\n'
        '<section class="footnotes">\n<ol>\n<li id="fn-1">\n<p>The note. <a href="#fnref-1"'
        ' class="footnote-backref" aria-label="Back to reference 1">↩</a></p>\n</li>\n</ol>\n</section>',
        POST_URL,
    )
    assert body.text == "\n".join(
        [
            "Intro",
            "",
            "A CommonMark (https://commonmark.org/) post with a bare https://example.com/docs, over two lines,",
            "and a break.",
            "",
            "-  one",
            "-  two",
            "   3. three",
            "",
            "> Quoted.",
            ">",
            "> Again.",
            "",
            "    def f(x):",
            "        return x < 2",
            "",
            "[Image: A harbour at dawn]",
            "",
            "Stage | Reads",
            "Index | the catalog",
            "",
            "A note[1].",
            "",
            "1. The note.",
        ]
    )
    assert "https://blog.example.com/media/pic.png" in body.html


def test_the_text_of_a_relative_link_is_followed_by_its_absolute_url() -> None:
    assert plain_text(email_html('<p>See <a href="/posts/other/">the other post</a>.</p>', POST_URL)) == (
        "See the other post (https://blog.example.com/posts/other/)."
    )


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java\x0bscript:alert(1)">x</a>',
    '<a href="\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54\uff1aalert(1)">x</a>',  # fullwidth
    '<svg onload=alert(1)><a xlink:href="javascript:alert(1)">x</a></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">x</button></form>',
    '<base href="javascript:alert(1)//"><meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<style>@import "javascript:alert(1)";</style><div style="background:url(javascript:alert(1))">x</div>',
    '<p>"><script>alert(1)</script></p>',
    '<img src="x" alt="\'><script>alert(1)</script>">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<template><script>alert(1)</script></template><textarea><script>alert(1)</script></textarea>",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_html_stays_safe_sanitized_first_or_not(hostile: str) -> None:
    for html in (hostile, sanitize_rendered(hostile, "posts/hello.md")):
        body = post_body(html, POST_URL)
        assert_safe(body.html, f"email body of {hostile!r}")
        assert "<script" not in body.html.lower() and "onerror" not in body.html


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                '<a href="javascript:x">',
                "</a>",
                "<img src=x onerror=y>",
                "<script>",
                "</script>",
                "<ul>",
                "<li>",
                "</li>",
                "</ul>",
                "<pre>",
                "</pre>",
                "<br>",
                "<picture>",
                '<source srcset="j:x">',
                "text",
                " ",
                "\n",
                "&lt;",
                "&amp;",
                "<",
                ">",
                '"',
                "'",
                "<svg>",
                "</svg>",
                "<blockquote>",
                "</blockquote>",
                "<table>",
                "<tr>",
                "<td>",
                "</td>",
                '<sup class="footnote-ref">',
                "</sup>",
                '<a class="footnote-backref" href="#fnref-1">',
                "<!--",
                "-->",
                "<style>",
                "</style>",
            ]
        ),
        max_size=40,
    )
)
def test_any_mix_of_tags_gives_a_safe_body_and_a_text(parts: list[str]) -> None:
    body = post_body("".join(parts), POST_URL)
    assert_safe(body.html, "email body")
    assert isinstance(body.text, str)
