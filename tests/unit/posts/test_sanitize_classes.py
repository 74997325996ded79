"""Classes of attack on what the sanitizer lets through, tested as classes, not cases.

1. Scheme obfuscation: every C0 control, space, DEL, C1 control, Unicode space, zero-width or
   format character, and the fullwidth letters and colons, before, inside and after
   ``javascript``, ``vbscript``, ``livescript`` and ``data``, raw and as decimal, hex and named
   entities, in every attribute a browser follows as a URL: no URL with such a scheme survives
   (``html_safety``, which reads a scheme after NFKC and without anything but printable ASCII).
2. ``strip_markup`` (summaries): no markup left whatever the input, idempotent, text kept.
3. ``sanitize_rendered`` (a stored rendering sanitized again): Render's own output comes back
   byte for byte, and whatever else was stored comes out safe.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus"))

from html_safety import assert_plain_text, dangerous_url, unsafe_parts

from pressline.posts.markdown import render_body
from pressline.posts.sanitize import has_refused_scheme, sanitize, sanitize_rendered, strip_markup

KEY = "posts/2026/news/post.md"
SCHEMES = ("javascript", "vbscript", "livescript", "data")
# Every character a browser, a feed reader or a mail client might ignore or fold in a scheme.
IGNORABLE = sorted(
    {chr(c) for c in range(0x00, 0x21)}
    | {"\x7f"}
    | {chr(c) for c in range(0x80, 0xA0)}
    | {chr(c) for c in range(0x2000, 0x200B)}
    | set("\u00a0\u1680\u2028\u2029\u202f\u205f\u3000")
    | set("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f\u115f\u3164")
    | set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
# Elements and the attributes a browser follows as URLs on them (most are not allowed at all).
URL_PLACES = [
    ("a", "href"),
    ("img", "src"),
    ("img", "srcset"),
    ("video", "poster"),
    ("blockquote", "cite"),
    ("q", "cite"),
    ("table", "background"),
    ("button", "formaction"),
    ("form", "action"),
    ("object", "data"),
    ("a", "xlink:href"),
    ("a", "ping"),
]
NAMED = {"\t": "&Tab;", "\n": "&NewLine;", "\u00a0": "&nbsp;", "\u00ad": "&shy;", "\u200b": "&ZeroWidthSpace;"}


def _encodings(char: str) -> list[str]:
    forms = [char, f"&#{ord(char)};", f"&#x{ord(char):X};", f"&#x{ord(char):04x}"]  # the last one unterminated
    if char in NAMED:
        forms.append(NAMED[char])
    return forms


def _spellings(scheme: str, inserted: str) -> list[str]:
    """The scheme with ``inserted`` around and inside it, and before and after its colon."""
    cut = len(scheme) // 2
    return [
        f"{inserted}{scheme}:alert(1)",
        f"{scheme[:cut]}{inserted}{scheme[cut:]}:alert(1)",
        f"{scheme}{inserted}:alert(1)",
        f"{scheme}:{inserted}alert(1)",
        f"{inserted}{scheme[:1]}{inserted}{scheme[1:]}{inserted}:alert(1)",
    ]


def _document(inserted: str) -> str:
    parts = []
    for scheme in SCHEMES:
        for url in _spellings(scheme, inserted):
            quoted = url.replace('"', "&quot;")
            parts += [f'<{tag} {name}="{quoted}">x</{tag}>' for tag, name in URL_PLACES]
    return "\n".join(parts)


def test_the_checker_reads_schemes_as_the_class_defines() -> None:
    assert dangerous_url("java\x0bscript:alert(1)")
    assert dangerous_url("java\u200bscript:alert(1)")
    assert dangerous_url("".join(chr(ord(c) + 0xFEE0) for c in "javascript:") + "alert(1)")  # fullwidth
    assert not dangerous_url("/posts/javascript-tips/")
    assert not dangerous_url("https://example.com/javascript:x")
    assert unsafe_parts('<a href="java&#x0B;script:alert(1)">x</a>')


@pytest.mark.parametrize("char", IGNORABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_no_spelling_of_a_refused_scheme_survives(char: str) -> None:
    for inserted in _encodings(char):
        output = sanitize(_document(inserted), KEY)
        assert unsafe_parts(output) == [], (inserted, unsafe_parts(output)[:3])


def test_fullwidth_letters_and_colons_are_refused_too() -> None:
    for scheme in SCHEMES:
        wide = "".join(chr(ord(c) + 0xFEE0) for c in scheme)
        for url in (f"{wide}:x", f"{scheme}\uff1ax", f"{scheme}\ufe55x", f"{wide}\uff1ax", f"&#xFF4A;{scheme[1:]}:x"):
            output = sanitize(f'<a href="{url}">x</a><img src="{url}">', KEY)
            assert "href" not in output and "src" not in output, output


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x00", "\x1f", "\u200b", "\u3000", "\ufeff"], ids=repr)
def test_markdown_links_and_images_refuse_them_as_raw_html_does(char: str) -> None:
    for scheme in SCHEMES:
        for url in _spellings(scheme, char):
            body = f"[a](<{url}>) ![b](<{url}>)\n\n[c][r]\n\n[r]: <{url}>\n"
            output = render_body(body, KEY).html
            assert unsafe_parts(output) == [], (url, output)


def test_allowed_and_relative_urls_are_kept() -> None:
    output = sanitize(
        '<a href="https://example.com/a">1</a><a href="mailto:me@example.com">2</a><a href="/posts/x/">3</a>'
        '<a href="#fn-1">4</a><a href="javascript-tips.html">5</a><a href="?page=2">6</a>',
        KEY,
    )
    for url in ("https://example.com/a", "mailto:me@example.com", "/posts/x/", "#fn-1", "javascript-tips.html"):
        assert f'href="{url}"' in output
    assert not has_refused_scheme("HTTPS://example.com") and not has_refused_scheme("relative/path:with-colon")


@given(
    scheme=st.sampled_from(SCHEMES),
    noise=st.lists(st.sampled_from([*IGNORABLE, "&#x0B;", "&#12;", "&Tab;", "&#x200B;"]), min_size=1, max_size=4),
    positions=st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=4),
    place=st.sampled_from(URL_PLACES),
)
@settings(max_examples=200, deadline=None)
def test_any_mix_of_ignorable_characters_is_refused(
    scheme: str, noise: list[str], positions: list[int], place: tuple[str, str]
) -> None:
    url = scheme + ":alert(1)"
    for inserted, at in zip(noise, positions, strict=False):
        at = min(at, len(url))
        url = url[:at] + inserted + url[at:]
    tag, name = place
    output = sanitize(f'<{tag} {name}="{url}">x</{tag}>', KEY)
    assert unsafe_parts(output) == [], (url, output)


# ----------------------------------------------------------------- summaries as text
MARKUPISH = st.text(alphabet=st.sampled_from(list("<>/!?=\"' abcimgsrcipt&#;\n\t-")), max_size=80)


@given(st.one_of(MARKUPISH, st.text(max_size=80)))
@example("<img src=x onerror=alert(1)>")
@example("<<img>script>alert(1)<</img>/script>")
@example("<<<a")
@example("</p><script>alert(1)</script><a href=javascript:alert(1)>x</a>")
@example("<!--x--><?php ?><!DOCTYPE html>")
@example("<img src=x onerror=alert(1)")
def test_stripped_summaries_have_no_markup_and_are_stable(text: str) -> None:
    plain = strip_markup(text)
    assert_plain_text(plain, "summary")
    assert unsafe_parts(plain) == []
    assert strip_markup(plain) == plain  # idempotent: sanitizing sanitized text changes nothing


@given(st.text(alphabet=st.characters(blacklist_characters="<"), max_size=80))
def test_text_without_markup_is_only_joined(text: str) -> None:
    assert strip_markup(text) == " ".join(text.split())


def test_what_strip_markup_keeps() -> None:
    assert strip_markup("a < b and c > d, 1<2") == "a < b and c > d, 1<2"
    assert strip_markup("<img src=x onerror=alert(1)>Hello <em>world</em>") == "Hello world"
    assert strip_markup("Fish &amp; chips &lt;b&gt;") == "Fish &amp; chips &lt;b&gt;"  # entities are text
    assert strip_markup("<<b>script>alert(1)") == "< script>alert(1)"
    assert strip_markup("x <img src=x onerror=alert(1)") == "x img src=x onerror=alert(1)"


# ----------------------------------------------------------------- stored renderings
MARKDOWN = st.lists(
    st.sampled_from(
        [*"#*_`>-[]()!<>/\"'=: \n\tabcxyz1.|~^&;", "# ", "## ", "\n\n", "[^1]", "[^1]: note\n", "```py\n",
           "```\n", "![i](p.png)", "[l](other.md#x)",
           "<details open><summary>s</summary>x</details>", "| a | b |\n|---|---|\n| 1 | 2 |\n", "<h2>raw</h2>",
           '<h2 id="content">x</h2>', "<img src=x onerror=alert(1)>", "[j](javascript:alert(1))",
           "![j](javascript:alert(1))", '<img alt="a>b" src="javascript:x" title="t">']
    ),
    max_size=60,
).map("".join)  # fmt: skip


@given(MARKDOWN)
@example("# Hi\n\n## Hi\n\n# Hi\n\ntext[^1]\n\n[^1]: note\n")
@example("# Subscribe title\n\n# fn-1\n\n# Content\n")
def test_sanitizing_a_rendering_again_gives_the_same_bytes(markdown: str) -> None:
    rendered = render_body(markdown, KEY).html
    assert sanitize_rendered(rendered, KEY) == rendered


STORED = st.lists(st.sampled_from([*"<>/\"'= abcdefhilmnoprstx:&#;1", "<h2 id=", "<a href=", "fn-"]), max_size=80)


@given(STORED.map("".join))
@example('<h2 id="subscribe-email">x</h2><h3 id="fn-1">y</h3><h1 id="Upper Case">z</h1>')
@example('<h2 id="x" onclick="alert(1)">x</h2><script>alert(1)</script>')
def test_whatever_was_stored_comes_out_safe(stored: str) -> None:
    output = sanitize_rendered(stored, KEY)
    assert unsafe_parts(output) == []
    for reserved in ("subscribe-email", "subscribe-title", "content", "Upper Case"):  # the page's own ids
        assert f'id="{reserved}"' not in output


def test_heading_ids_survive_only_in_their_shape() -> None:
    stored = (
        '<h2 id="getting-started">a</h2><h2 id="content">b</h2><h3 id="fn-1">c</h3>'
        '<h4 id="section-fn-1">d</h4><h1 id="a b">e</h1><p id="getting-started">f</p>'
    )
    output = sanitize_rendered(stored, KEY)
    assert output == (
        '<h2 id="getting-started">a</h2><h2>b</h2><h3>c</h3><h4 id="section-fn-1">d</h4><h1>e</h1><p>f</p>'
    )
    assert html.unescape(output).count("id=") == 2


def test_an_image_that_lost_its_src_is_the_same_bytes_in_every_process() -> None:
    """nh3 puts the attributes it adds between the author's when it drops one: one order."""
    import subprocess

    code = (
        "from pressline.posts.sanitize import sanitize;"
        'print(sanitize(\'<img src="javascript:x" alt="d" title="t"><img alt="e">\', \'posts/a.md\'))'
    )
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
               for _ in range(6)}  # fmt: skip
    assert outputs == {
        '<img alt="d" title="t" loading="lazy" decoding="async"><img alt="e" loading="lazy" decoding="async">\n'
    }
