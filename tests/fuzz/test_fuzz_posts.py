"""Property-based tests over front matter and Markdown.

1. Validation never crashes: whatever the bytes, ``check_post`` returns a result, and a
   post it refuses has at least one error naming a field; the report the author gets
   (``build_report``) can always be made and serialized. The fast way of loading the usual
   front matter gives exactly what PyYAML's constructors give.
2. Rendering never emits a script, an event-handler attribute or a ``javascript:`` URL,
   whatever the body, title, tags, summary or author: checked on the finished page.

The strategies are built from the pieces attacks are made of (tags, quotes, entities,
schemes, YAML indicators, Markdown link syntax) rather than uniform noise, which would
almost never form a tag or a front matter block.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from html_safety import assert_safe
from hypothesis import example, given
from hypothesis import strategies as st

from pressline.models import PostStatus, SourceRef
from pressline.posts.markdown import render_body
from pressline.posts.report import build_report
from pressline.posts.rules import KNOWN_FIELDS, check_post
from pressline.site.pages import Site, render_post_page
from pressline.stages.render import render

SITE = Site(title="Fuzz", url="https://blog.example", api_url="https://api.example/v1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SOURCE = SourceRef(bucket="src", key="posts/fuzz.md", version_id="v1")

# ------------------------------------------------------------------ HTML and Markdown pieces
TAGS = ["script", "img", "a", "svg", "iframe", "style", "div", "p", "math", "noscript", "form", "details",
        "object", "base", "meta", "link", "embed", "template", "textarea", "title", "xmp", "table", "input",
        "button", "body"]  # fmt: skip
ATTRIBUTES = ["href", "src", "onerror", "onload", "OnClick", "onmouseover", "style", "formaction", "action",
              "xlink:href", "srcdoc", "data", "id", "class", "title", "alt", "open", "ontoggle", "dir"]  # fmt: skip
SCHEMES = ["javascript:", "JaVaScRiPt:", "java\tscript:", "jav&#x09;ascript:", "&#106;avascript:", "vbscript:",
           "data:text/html,", "data:image/svg+xml,", " javascript:", "\x01javascript:", "javascript&colon;", "",
           "https://example.com/", "//evil.example/", "\\\\evil.example\\", "../", "#", "mailto:"]  # fmt: skip
PAYLOADS = ["alert(1)", "alert`1`", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'", '"', "`",
            "</", "<!--", "-->", "]]>", "&lt;", "&#60;", "\u202e", "\u200b", "\x00", "{{7*7}}", "\\"]  # fmt: skip


@st.composite
def html_fragment(draw: st.DrawFn) -> str:
    tag = draw(st.sampled_from(TAGS))
    parts = [f"<{draw(st.sampled_from([tag, tag.upper(), tag + '/']))}"]
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(ATTRIBUTES))
        value = draw(st.sampled_from(SCHEMES)) + draw(st.sampled_from(PAYLOADS))
        quote = draw(st.sampled_from(['"', "'", ""]))
        parts.append(f"{draw(st.sampled_from([' ', '/', chr(10), chr(12)]))}{name}={quote}{value}{quote}")
    parts.append(draw(st.sampled_from([">", "/>", " >", ""])))
    parts.append(draw(st.sampled_from(PAYLOADS)))
    if draw(st.booleans()):
        parts.append(f"</{tag}>")
    return "".join(parts)


@st.composite
def markdown_fragment(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(SCHEMES))
    payload = draw(st.sampled_from(PAYLOADS))
    return draw(
        st.sampled_from(
            [
                f"[link]({scheme}{payload})",
                f"![image]({scheme}{payload})",
                f"<{scheme}{payload}>",
                f"[ref]\n\n[ref]: {scheme}{payload}",
                f"```{payload}\ncode\n```",
                f"[^{payload}]\n\n[^{payload}]: note",
                f"# {payload}",
                f"> {payload}",
                f"| a | {payload} |\n|---|---|\n| {scheme} | x |",
                f"~~{payload}~~ *{payload}* `{payload}`",
                f"{scheme}{payload}",
            ]
        )
    )


hostile_text = st.lists(
    st.one_of(
        html_fragment(),
        markdown_fragment(),
        st.sampled_from(PAYLOADS + SCHEMES),
        st.text(max_size=20),
        st.sampled_from(["\n", "\n\n", "    ", "<", ">", "&", "=", '"', "'", "[", "]", "(", ")", "!", "*", "_"]),
    ),
    max_size=25,
).map("".join)

# ------------------------------------------------------------------ front matter pieces
YAML_VALUES = ["", "~", "null", "yes", "no", "true", "0x1F", "1e400", "-.inf", ".nan", "2025-02-30", "2025-03-01",
               "2025-03-01 10:00", "2099-01-01T00:00:00+14:00", "[a, b]", "[[[[]]]]", "{a: 1}", "&a [1]", "*a",
               "!!binary aGk=", "!!python/name:os.system", "!!timestamp x", "|\n  block", ">-\n  folded", "'quoted'",
               '"esc \\u202e \\x00"', "- item", "? complex", ": x", "%YAML 1.1", "@reserved", "`tick", "\t",
               "a: b: c", "\"unterminated", "[unclosed", "- [a, &x b, *x]", "!!bool maybe", "!!bool on", "Off",
               "!!str 1", "!!null", "&x text", "[yes, ~, '1', &y 2020-01-01, *y]", "\n  - a\n  - *x"]  # fmt: skip
FIELD_NAMES = [*sorted(KNOWN_FIELDS), "<<", "", "title ", "Title", "?", "- title", "1", "null", "[x]"]


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(FIELD_NAMES))
        value = draw(st.one_of(st.sampled_from(YAML_VALUES), hostile_text, st.text(max_size=30)))
        indent = draw(st.sampled_from(["", "", " ", "  ", "\t"]))
        lines.append(f"{indent}{name}: {value}")
    return "\n".join(lines)


# Mostly valid YAML, for the loader's fast way (text, dates, booleans, nulls, lists, aliases) and
# what must leave it (numbers, mappings, nested lists, tags, merge keys).
PLAIN_VALUES = ["yes", "No", "ON", "off", "true", "~", "null", "", "'quoted'", '"dq"', "2025-03-01", "text here",
                "2025-03-01 10:00", "1", "1.5", "0x1F", "[a, b]", "[yes, ~, '1']", "[]", "{a: 1}", "!!bool maybe",
                "!!bool yes", "!!str 1", "!!null", "!!int 3", "&z [a, b]", "*x", "&y text", "*y", "[*y, b]", "[[a]]",
                ">-\n  folded", "|\n  block", "\n  - a\n  - yes", "!!set {a}", "!!timestamp 2020-01-01"]  # fmt: skip
PLAIN_NAMES = ["title", "tags", "draft", "author", "date", "a", "b", "<<", "'quoted key'", "1", "~", "[k]", "''"]


@st.composite
def plain_front_matter(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(PLAIN_NAMES), st.sampled_from(PLAIN_VALUES)), max_size=5))
    return "\n".join(["x: &x [a, b]", "y: &y text"] + [f"{name}: {value}" for name, value in pairs])


@st.composite
def post_bytes(draw: st.DrawFn) -> bytes:
    opener = draw(st.sampled_from(["---\n", "---\r\n", "\ufeff---\n", "--- \n", "", "---"]))
    closer = draw(st.sampled_from(["\n---\n", "\n...\n", "\r\n---\r\n", "\n", "\n--\n"]))
    text = opener + draw(front_matter()) + closer + draw(hostile_text)
    raw = text.encode("utf-8", "surrogatepass")
    mangle = draw(st.sampled_from(["none", "none", "latin1", "insert-bytes", "truncate"]))
    if mangle == "latin1":
        raw = text.encode("latin-1", "replace")
    elif mangle == "insert-bytes" and raw:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=8)) + raw[at:]
    elif mangle == "truncate" and raw:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


def _assert_every_input_gets_a_report(raw: bytes) -> None:
    result = check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=UTC)
    if result.post is None:
        assert result.errors, "a refused post must say why"
    for problem in result.errors:
        assert problem.field and problem.message
    for problem in result.warnings:  # a value without a field name (``? :``) is a front matter warning
        assert problem.field and problem.message
    status: PostStatus = "rejected" if result.errors or result.post is None else "published"
    report = build_report(SOURCE, status, processed_at=NOW, errors=result.errors, warnings=result.warnings)
    report.model_dump_json()


@given(post_bytes())
@example(b"---\n" + b"[" * 200_000 + b"\n---\nx")  # libyaml recursion
@example(b"---\na: &a [*a]\n---\nx")
@example(b"---\ntitle: x\ndate: 9999-12-31T23:59:59-23:59\n---\nx")
@example(b"---\ntitle: x\ndate: 0001-01-01T00:00:00+23:59\nupdated: 0001-01-01\n---\nx")
def test_validation_never_crashes_on_post_shaped_input(raw: bytes) -> None:
    _assert_every_input_gets_a_report(raw)


@given(st.one_of(plain_front_matter(), plain_front_matter(), front_matter()))
@example("title: yes\ndraft: Off\nauthor: ~\ntags: [a, on, '1', &t 2020-01-01, *t]\nupdated: !!bool TRUE")
@example("a: &a [x, x]\nb: *a\nc: [*a]")
@example("<<: {title: x}\ntitle: y")
def test_the_fast_way_of_loading_front_matter_gives_what_pyyaml_gives(text: str) -> None:
    from unittest import mock

    from pressline.posts import frontmatter

    def load() -> object:
        try:
            return frontmatter.load_yaml(text, first_line=2)
        except frontmatter.FrontMatterError as error:
            return error.problem

    fast = load()
    with mock.patch.object(frontmatter, "_plain_mapping", return_value=None):
        assert load() == fast


@given(st.binary(max_size=4096))
def test_validation_never_crashes_on_arbitrary_bytes(raw: bytes) -> None:
    _assert_every_input_gets_a_report(raw)


@given(hostile_text)
@example('<a href="jav&#x09;ascript:alert(1)">x</a>')
@example("<svg><a xlink:href=javascript:alert(1)>x</a></svg>")
@example('<noscript><p title="</noscript><img src=x onerror=alert(1)>">')
def test_rendered_body_has_no_script_handler_or_javascript_url(body: str) -> None:
    rendered = render_body(body, SOURCE.key)
    assert_safe(rendered.html, "body")


@given(
    title=hostile_text.filter(lambda t: t.strip()),
    tags=st.lists(hostile_text, max_size=4),
    summary=hostile_text,
    author=hostile_text,
    body=hostile_text,
)
def test_the_whole_post_page_stays_safe_whatever_the_front_matter(
    title: str, tags: list[str], summary: str, author: str, body: str
) -> None:
    import json

    fields = {"title": title, "tags": tags, "summary": summary, "author": author, "date": "2025-03-01 10:00"}
    # JSON is valid YAML: every string reaches the rules exactly as generated.
    raw = ("---\n" + json.dumps(fields) + "\n---\n" + body + "\nText.\n").encode("utf-8", "surrogatepass")
    made = render(raw, SOURCE, uploaded_at=NOW, site=SITE, now=NOW)
    if made.post is None:
        assert made.errors
        return
    assert_safe(render_post_page(made.post, SITE), "post page")


# Found by the first property above: an optional field left empty (``author:``) is None
# after YAML, and the field's validator assumed text. Validate then raised on the record,
# so the upload went to the DLQ after its retries and its author never got a report.
@pytest.mark.parametrize("field", ["author", "summary", "canonical_url", "image", "slug", "date", "updated", "tags"])
def test_an_empty_optional_field_gets_a_report(field: str) -> None:
    raw = f"---\ntitle: A title\n{field}:\n---\nBody.\n".encode()
    _assert_every_input_gets_a_report(raw)
