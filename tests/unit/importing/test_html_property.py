"""HTML -> Markdown keeps what a reader sees: the text of the Markdown, rendered by the pipeline
(``pressline.posts.markdown.render_body``, which sanitizes), is the text of the HTML, sanitized
the same way. Checked on generated HTML (every element the converter knows, text full of
Markdown's own characters) and on hostile HTML, whose Markdown must hold no script, event
handler or refused URL even before the pipeline's sanitizer."""

from __future__ import annotations

import html
from collections.abc import Callable

from bs4 import BeautifulSoup
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pressline.importing.html import convert_html, html_to_markdown
from pressline.posts.markdown import markdown_to_html, render_body
from pressline.posts.sanitize import has_refused_scheme, sanitize

KEY = "posts/imported.md"

# Letters, digits and every character Markdown gives a meaning to somewhere, with text from
# other scripts (RTL, CJK, combining marks, emoji) and the entities' own "&" and ";".
ALPHABET = "abcXYZ019 *_#[]()<>&;\\`!|~-+=.:'\"/^%$@{}\u00e9\u0301\u05d0\u0627\u4e2d\U0001f600\u00a0"
words = st.text(alphabet=ALPHABET, min_size=1, max_size=12)
text = st.lists(words, min_size=1, max_size=4).map(" ".join).map(html.escape)
urls = st.sampled_from(
    [
        "http://old.example/a",
        "https://old.example/a b/(c)",
        "/relative/path",
        "page.html",
        "mailto:a@b.example",
        "http://old.example/q?a=1&b=2#frag",
    ]
)


inline_leaf = st.one_of(
    text,
    text.map(lambda t: f"<code>{t}</code>"),
    st.just("<br>"),
    st.tuples(urls, text).map(lambda pair: f'<img src="{html.escape(pair[0])}" alt="{pair[1]}">'),
)


def _wrapper(tag: str) -> Callable[[str], str]:
    return lambda inner: f"<{tag}>{inner}</{tag}>"


inline: st.SearchStrategy[str] = st.recursive(
    inline_leaf,
    lambda children: st.one_of(
        *(
            children.map(_wrapper(tag))
            for tag in ("em", "strong", "b", "i", "del", "sup", "sub", "span", "kbd", "mark", "u", "q")
        ),
        st.tuples(urls, children).map(lambda pair: f'<a href="{html.escape(pair[0])}">{pair[1]}</a>'),
        st.tuples(text, children).map(lambda pair: f'<abbr title="{pair[0]}">{pair[1]}</abbr>'),
        st.lists(children, min_size=2, max_size=4).map("".join),
        st.lists(children, min_size=2, max_size=3).map(" ".join),
    ),
    max_leaves=8,
)
code_text = st.text(alphabet="ab `<>&*_\n\t#", min_size=1, max_size=40).map(html.escape)
cells = st.integers(min_value=1, max_value=4)


def _table(width: int) -> st.SearchStrategy[str]:
    cell = inline.map(lambda inner: f"<td>{inner}</td>")
    row = st.lists(cell, min_size=width, max_size=width).map(lambda row: "<tr>" + "".join(row) + "</tr>")
    head = st.lists(text, min_size=width, max_size=width).map(
        lambda row: "<thead><tr>" + "".join(f"<th>{t}</th>" for t in row) + "</tr></thead>"
    )
    return st.tuples(st.one_of(st.just(""), head), st.lists(row, min_size=1, max_size=3)).map(
        lambda parts: f"<table>{parts[0]}<tbody>{''.join(parts[1])}</tbody></table>"
    )


block: st.SearchStrategy[str] = st.recursive(
    st.one_of(
        inline.map(lambda inner: f"<p>{inner}</p>"),
        st.tuples(st.integers(1, 6), inline).map(lambda pair: f"<h{pair[0]}>{pair[1]}</h{pair[0]}>"),
        st.tuples(st.sampled_from(["", ' class="language-python"']), code_text).map(
            lambda pair: f"<pre><code{pair[0]}>{pair[1]}</code></pre>"
        ),
        st.just("<hr>"),
        cells.flatmap(_table),
        st.tuples(urls, inline).map(
            lambda pair: f'<figure><img src="{html.escape(pair[0])}" alt=""><figcaption>{pair[1]}</figcaption></figure>'
        ),
        st.tuples(text, inline).map(lambda pair: f"<dl><dt>{pair[0]}</dt><dd>{pair[1]}</dd></dl>"),
    ),
    lambda children: st.one_of(
        children.map(lambda inner: f"<blockquote>{inner}</blockquote>"),
        children.map(lambda inner: f"<div>{inner}</div>"),
        st.tuples(st.sampled_from(["ul", "ol"]), st.lists(st.one_of(inline, children), min_size=1, max_size=3)).map(
            lambda pair: f"<{pair[0]}>" + "".join(f"<li>{item}</li>" for item in pair[1]) + f"</{pair[0]}>"
        ),
        st.lists(children, min_size=2, max_size=3).map("".join),
    ),
    max_leaves=6,
)
# Classic (pre-block-editor) content: no <p>, paragraphs by blank lines, lines by newlines.
classic = st.lists(st.tuples(inline, st.sampled_from(["\n", "\n\n", " "])), min_size=1, max_size=4).map(
    lambda parts: "".join(inner + separator for inner, separator in parts)
)
# Block-editor content: the same blocks between their comments.
gutenberg = st.lists(block, min_size=1, max_size=3).map(
    lambda blocks: "\n\n".join(f"<!-- wp:html -->\n{b}\n<!-- /wp:html -->" for b in blocks)
)
# Deferred, so that Hypothesis describes the strategy by its name, not by its whole tree.
html_bodies = st.deferred(lambda: st.one_of(block, classic, gutenberg))
hostile_bodies: st.SearchStrategy[str] = st.deferred(
    lambda: st.lists(st.one_of(HOSTILE_HTML, block), min_size=1, max_size=4).map("".join)
)


def visible(fragment: str) -> str:
    """What a reader sees of sanitized HTML, whitespace aside."""
    return "".join(BeautifulSoup(fragment, "html.parser").get_text().split())


def reader_text_of_html(source: str) -> str:
    return visible(sanitize(source, KEY))


def reader_text_of_markdown(markdown: str) -> str:
    return visible(render_body(markdown, KEY).html)


@settings(max_examples=300, deadline=None)
@given(html_bodies)
@example("<p>Wow!<a href='/x'>link</a> 1. not a list<br>- not a list<br># not a heading</p>")
@example('<p><em>"quoted"</em>word and <strong>a</strong><strong>b</strong> *literal* _under_</p>')
@example("<p>5 * 3 = 15, a_b_c, [not a link](x), &lt;b&gt;not bold&lt;/b&gt;, &amp;amp;</p>")
@example("<ul><li>one<ul><li>two<ol><li>three</li></ol></li></ul></li></ul>")
@example("<table><tr><td>a|b</td><td><code>c|d</code></td></tr></table>")
@example(
    "<p>See https://old.example/watch?v=1&amp;b=_2_*x*. (http://old.example/a_b) <em>http://x.example/?q=a</em></p>"
)
@example("<p>a<br><br><br></p><p><em><br></em>b<br></p>")
@example("<ul><li>unclosed<li>items<p>unclosed <b>bold <i>and</b> misnested</i></ul>")
def test_the_reader_sees_the_same_text(source: str) -> None:
    markdown = html_to_markdown(source)
    assert reader_text_of_markdown(markdown) == reader_text_of_html(source), markdown


HOSTILE_HTML: st.SearchStrategy[str] = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href=" javascript:alert(1)">x</a>',
        '<a href="vbscript:x">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        '<img src="javascript:alert(1)">',
        '<svg onload="alert(1)"><circle/></svg>',
        '<iframe src="javascript:alert(1)"></iframe>',
        '<iframe src="http://evil.example/"></iframe>',
        '<p onclick="alert(1)" style="x">text</p>',
        '<div onmouseover="alert(1)">text</div>',
        "<object data='javascript:alert(1)'></object>",
        "<embed src='javascript:alert(1)'>",
        "<style>body{background:url(javascript:alert(1))}</style>",
        "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
        "<table><tr><td onclick='alert(1)'><ul><li>a</li></ul></td></tr></table>",
        "<dl><dt onclick=alert(1)>a</dt><dd><script>alert(1)</script></dd></dl>",
        "<figure onclick=alert(1)><img src=x onerror=alert(1)><figcaption onclick=alert(1)>c</figcaption></figure>",
        "<abbr title='\" onmouseover=alert(1) x=\"'>a</abbr>",
        "<a href='http://x.example/\" onclick=\"alert(1)'>x</a>",
        "<img src='x\" onerror=\"alert(1)' alt='\" onerror=\"alert(1)'>",
        "[caption]<img src=x onerror=alert(1)> <script>alert(1)</script>[/caption]",
        "[embed]javascript:alert(1)[/embed]",
        '[video src="javascript:alert(1)"]',
        "<details open ontoggle=alert(1)><summary>s</summary>x</details>",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
    ]
)


def _attacks_in(rendered: str) -> list[str]:
    soup = BeautifulSoup(rendered, "html.parser")
    found = [f"<{tag.name}>" for tag in soup.find_all(["script", "iframe", "object", "embed", "svg", "style"])]
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            values = value if isinstance(value, list) else [value]
            if name.lower().startswith("on"):
                found.append(f"{tag.name} {name}=")
            if name in ("href", "src", "data", "xlink:href") and any(has_refused_scheme(v) for v in values):
                found.append(f"{tag.name} {name}={values}")
    return found


@settings(max_examples=200, deadline=None)
@given(hostile_bodies)
def test_no_script_handler_or_refused_url_even_before_sanitizing(source: str) -> None:
    markdown = html_to_markdown(source)
    # cmark's own HTML, before the pipeline's sanitizer: what this module wrote, raw HTML included.
    assert _attacks_in(markdown_to_html(markdown)) == [], markdown
    assert _attacks_in(render_body(markdown, KEY).html) == []


def test_a_script_is_reported() -> None:
    converted = convert_html("<p>a</p><script>alert(1)</script><p>b</p>")
    assert "alert" not in converted.markdown
    assert any("script" in warning.message for warning in converted.warnings)
