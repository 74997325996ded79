"""Inputs that made Validate or Render take time growing faster than their size (issue 12).

No test here measures time. Each fixed path is checked against a reference (the old, slow
algorithm, on small inputs) by properties, and on an adversarial input of the size limit that
the old code took minutes to hours on, for its result; every adversarial shape of
``adversarial.py`` is checked at the size limit for the outcome the rules give it.
``tests/bench/bench_adversarial.py`` measures how the time grows.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import nh3
import pytest
from adversarial import SHAPES, Shape
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pressline.posts.markdown import (
    MAX_ATTRIBUTES,
    MAX_BODY_HTML,
    MAX_FOOTNOTE_MARKS,
    RESERVED_IDS,
    anchor_headings,
    html_problem,
    html_to_text,
    most_attributes,
    nests_deeper_than,
    render_body,
)
from pressline.posts.rules import MAX_POST_BYTES, _body_is_empty, check_post
from pressline.posts.slug import slugify

NOW = datetime(2026, 1, 1, tzinfo=UTC)
KEY = "posts/adversarial.md"
HEADER = "---\ntitle: T\n---\n"


def check(raw: bytes):  # type: ignore[no-untyped-def]
    return check_post(raw, KEY, uploaded_at=NOW, timezone=UTC)


# --------------------------------------------------------------------------- every shape
@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_each_adversarial_shape_has_its_outcome(shape: Shape) -> None:
    """At the size limit when its size is what refuses it, else at 128 KiB: the fixed paths
    are tested at the limit below, the growth of every path by the benchmark."""
    raw = shape.post(shape.limit if shape.only_at_limit else min(shape.limit, 128 * 1024))
    assert len(raw) <= (MAX_POST_BYTES if shape.body else 64 * 1024)
    result = check(raw)
    if shape.rejected is None:
        assert result.ok, result.errors
        assert result.post is not None
        body = render_body(result.post.body, KEY, "", result.post.unsafe_html)
        ids = re.findall(r'<h[1-6] id="([^"]+)"', body.html)
        assert len(ids) == len(set(ids)), "heading ids are unique"
        return
    field, reason = shape.rejected
    assert [(error.field, reason in error.message) for error in result.errors] == [(field, True)], result.errors
    assert result.errors[0].line is not None


# --------------------------------------------------------------------------- HTML comments
def _old_body_is_empty(body: str) -> bool:
    return not re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL).strip()


@given(st.lists(st.sampled_from(["<!--", "-->", "<!-->", "<!---->", "--", "-", ">", " ", "\n", "x", "more"])))
@example(["<!--", "-->"])
@example(["<!-->", "-->"])
@example(["<!--", " ", "-->", "x"])
def test_the_emptiness_check_is_the_regex_it_replaces(parts: list[str]) -> None:
    body = "".join(parts)
    assert _body_is_empty(body) == _old_body_is_empty(body)


def test_a_body_of_unclosed_comments_at_the_limit_is_text() -> None:
    # The regex took 4 s on 32 KB and grew with the square: about an hour and a half here.
    body = "<!--" * ((MAX_POST_BYTES - len(HEADER)) // 4)
    assert not _body_is_empty(body)
    assert not _body_is_empty("<!-- a -->" * 100_000 + "<!--")
    assert _body_is_empty("<!-- a -->\n" * 90_000)
    assert check((HEADER + body).encode()).ok


# --------------------------------------------------------------------------- heading ids
def _old_ids(texts: list[str]) -> list[str]:
    """anchor_headings' ids as they were made before: counting up from 1 for every heading."""
    used, ids = set(RESERVED_IDS), []
    for text in texts:
        base = slugify(text, max_length=60) or "section"
        if base.startswith(("fn-", "fnref-")):
            base = "section-" + base
        candidate, number = base, 1
        while candidate in used:
            candidate, number = f"{base}-{number}", number + 1
        used.add(candidate)
        ids.append(candidate)
    return ids


def _ids(texts: list[str]) -> list[str]:
    html = anchor_headings("".join(f"<h2>{text}</h2>\n" for text in texts))
    return re.findall(r'<h2 id="([^"]+)">', html)


@given(st.lists(st.sampled_from(["a", "A", "a-1", "a-2", "a 1", "a-1-1", "content", "fn-x", "", "1", "a-3"])))
@example(["a", "a", "a-1"])
@example(["a-1", "a", "a"])
@example(["content", "content"])
def test_heading_ids_are_the_same_as_before_and_unique(texts: list[str]) -> None:
    ids = _ids(texts)
    assert ids == _old_ids(texts)
    assert len(set(ids)) == len(ids) and not set(ids) & RESERVED_IDS


def test_many_repeated_headings_get_consecutive_ids() -> None:
    # 8,000 took 16 s before, growing with the square: 120,000 would take about an hour.
    count = 120_000
    texts = ["a"] * count + ["a-1", "a"]
    ids = _ids(texts)
    assert ids[:3] == ["a", "a-1", "a-2"]
    assert ids[count - 1] == f"a-{count - 1}"
    assert ids[-2:] == ["a-1-1", f"a-{count}"]  # the heading "a-1" keeps its text, made unique
    assert len(set(ids)) == len(ids)


# --------------------------------------------------------------------------- summaries
_OLD_NOT_SUMMARY = re.compile(r"<pre\b.*?</pre>|<table\b.*?</table>|<figure\b.*?</figure>", re.DOTALL)
_OLD_FOOTNOTE_REF = re.compile(r"<sup class=\"footnote-ref\">.*?</sup>", re.DOTALL)
_PIECES = ["<pre>", "</pre>", "<table>", "</table>", "<figure>", "</figure>", "<prefix>", "<table class=x>"]
_PIECES += ['<sup class="footnote-ref">', "</sup>", "<sup>", "<p>", "</p>", "x ", "\n"]


@given(st.lists(st.sampled_from(_PIECES), max_size=40))
@example(["<table>", "<table>", "x ", "</table>", "x ", "</table>"])
@example(["<pre>", "<table>", "</pre>", "</table>"])
def test_the_summary_leaves_out_what_the_regular_expressions_did(pieces: list[str]) -> None:
    fragment = "".join(pieces)
    old = _OLD_NOT_SUMMARY.sub(" ", _OLD_FOOTNOTE_REF.sub("", fragment))
    assert html_to_text(fragment) == html_to_text_of(old)


def html_to_text_of(stripped: str) -> str:
    """What html_to_text makes of a fragment with nothing left to leave out."""
    return " ".join(
        html.unescape(
            re.sub(r"<[^>]*>", "", re.sub(r"</(?:p|h[1-6]|li|blockquote|div|dd|dt)>|<br\s*/?>", " ", stripped))
        ).split()
    )


def test_a_lead_cut_inside_nested_tables_makes_its_summary_in_one_pass() -> None:
    # Each unclosed <table> of the lead made the regular expression scan to its end: 100 of
    # them over 1 MiB. The tables stay (their end tags are after the cut), as they did.
    body = "<div>" + "<table><tr><td>" * 95 + "word " * 200_000 + "<p>b</p>\n"
    result = check((HEADER + body).encode())
    assert result.ok and result.post is not None, result.errors
    rendered = render_body(result.post.body, KEY, "", result.post.unsafe_html)
    assert rendered.summary == " ".join(["word"] * 50) + "…"


# --------------------------------------------------------------------------- nesting
_TAGS = [
    "div", "span", "b", "i", "em", "code", "a", "p", "li", "ul", "ol", "dl", "dd", "dt", "rt", "rp",
    "ruby", "optgroup", "option", "select", "table", "tbody", "thead", "tr", "td", "th", "caption",
    "section", "blockquote", "h1", "h2", "pre", "object", "button", "my-a", "my-b", "template", "br",
]  # fmt: skip
_TOKENS = [f"<{name}>" for name in _TAGS] + [f"</{name}>" for name in _TAGS] + ["x", "<b class=z>", "<a href=#q>"]


def _parsed_depth(html: str) -> int:
    """How deep the HTML parser (html5ever, in nh3, the sanitizer's own) nests ``html``:
    the depth of the tree it serializes, every element allowed."""
    out = nh3.clean(html, tags=set(_TAGS), attributes={"b": {"class"}, "a": {"href"}}, link_rel=None)
    depth = deepest = 0
    for close, name in re.findall(r"<(/?)([a-z][^\s/>]*)", out):
        if name != "br":
            depth += -1 if close else 1
            deepest = max(deepest, depth)
    return deepest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=120))
@example(["<div>", "</span>"] * 20)
@example(["<rt>"] * 20)
@example(["<optgroup>"] * 20)
@example(["<my-a>", "</my-b>"] * 20)
@example(["<table>", "<td>"] * 20)
@example(["<li>", "<ul>", "</li>"] * 20)
@example(["<dd>", "<li>"] * 20)
@example(["<ruby>", "<object>", "<rt>"] * 20)
@example(["<div>", "<b class=z>", "x", "</div>"] * 20)
@example(["<span>", "<div>", "</span>"] * 20)
def test_the_nesting_estimate_never_falls_far_below_the_parser(tokens: list[str]) -> None:
    """Within a factor 5 (the uncounted list items, paragraphs and cells) of what the parser
    builds: then no tag soup gets past the limit to make sanitizing take quadratic time."""
    html = "".join(tokens) + "<" * 200  # past the cheap count of start tags
    limit = 6
    if not nests_deeper_than(html, limit):
        assert _parsed_depth(html) <= 5 * limit + 4


@pytest.mark.parametrize("unit", ["<div></span>", "<rt>", "<optgroup>", "<my-a></my-b>", "<b\u212a></bk>"])
def test_tags_that_seem_to_close_but_nest_are_rejected_at_the_size_limit(unit: str) -> None:
    # After "<div>", an HTML block: cmark passes every tag through as it is, to the sanitizer.
    body = "<div>" + unit * ((MAX_POST_BYTES - len(HEADER) - 5) // len(unit.encode()))
    result = check((HEADER + body).encode())
    assert [error.field for error in result.errors] == ["body"]
    assert "is nested more than 100 levels deep" in result.errors[0].message


def test_real_structure_is_not_mistaken_for_nesting() -> None:
    flat = "<ul>\n" + "<li>item\n" * 5000 + "</ul>\n" + "<p>para\n" * 5000 + "<dl>" + "<dt>a<dd>b" * 5000 + "</dl>"
    table = "<table>" + "<tr><td>a<td>b" * 5000 + "</table>"
    ruby = "<ruby>" + "a<rt>b<rp>c" * 5000 + "</ruby>"
    closed = "<div><b>x</b></div>\n" * 5000 + "<section><p>a</section>" * 5000
    for fragment in (flat, table, ruby, closed):
        assert not nests_deeper_than(fragment)


# --------------------------------------------------------------------------- amplification
def test_footnote_marks_are_bounded_before_cmark_runs() -> None:
    body = "[^a]" * (MAX_FOOTNOTE_MARKS + 1) + "\n\n[^a]: note\n"
    errors = check((HEADER + body).encode()).errors
    assert [(e.field, e.message) for e in errors] == [
        ("body", f"has {MAX_FOOTNOTE_MARKS + 2:,} footnote marks '[^'; the limit is {MAX_FOOTNOTE_MARKS:,}")
    ]
    assert check((HEADER + "[^a]" * 200 + "\n\n[^a]: note\n").encode()).ok


def test_a_body_that_makes_too_much_html_says_why() -> None:
    text = "a" * (MAX_BODY_HTML - 7)
    assert html_problem(f"<p>{text}</p>") is None
    message = html_problem(f"<p>{text}a</p>")
    assert message == (
        f"makes {MAX_BODY_HTML + 1:,} characters of HTML; the limit is {MAX_BODY_HTML:,}: split it into several posts"
    )
    nested = html_problem("<blockquote>" * (MAX_BODY_HTML // 10))
    assert nested is not None and nested.startswith("is nested more than 100 levels deep")


def test_an_element_with_too_many_attributes_is_refused_before_sanitizing() -> None:
    # html5ever's duplicate check made 80,000 attributes take 13 s, growing with the square.
    names = " ".join(f"a{i}" for i in range(MAX_ATTRIBUTES + 1))
    errors = check((HEADER + f"<div {names}>x</div>\n").encode()).errors
    assert [(e.field, e.message) for e in errors] == [
        ("body", f"has an HTML element with {MAX_ATTRIBUTES + 1:,} attributes; the limit is {MAX_ATTRIBUTES:,}")
    ]
    assert most_attributes(f"<div {names}>") == MAX_ATTRIBUTES + 1
    # Quoted values are one attribute however many words they hold, and ">" in them ends nothing.
    assert most_attributes('<svg><path d="' + " ".join(map(str, range(5000))) + '"></svg>') == 1
    assert most_attributes("<p " + " ".join(f"a{i} t='>'" for i in range(600)) + ">") == 1200
    assert most_attributes("<p>" + "many words " * 5000 + "</p>") == 0
    assert check((HEADER + "<div " + " ".join(f"a{i}" for i in range(900)) + ">x</div>\n").encode()).ok


# --------------------------------------------------------------------------- YAML
_CRASHING = """
import json
from datetime import UTC, datetime
from pressline.posts.rules import check_post
for shape in ("x:\\n" + "- " * 32000 + "a\\n", "x:\\n  " + "? " * 32000 + "a\\n", "x:\\n" + "- ? " * 16000 + "a\\n"):
    raw = ("---\\ntitle: T\\n" + shape + "---\\nBody\\n").encode()
    errors = check_post(raw, "posts/a.md", uploaded_at=datetime(2026, 1, 1, tzinfo=UTC), timezone=UTC).errors
    print(json.dumps([len(raw), [[e.field, e.message, e.line] for e in errors]]))
"""


def test_block_nesting_on_one_line_is_refused_before_libyaml_crashes() -> None:
    # In a child process: libyaml's composer recursed until the process died (SIGSEGV).
    done = subprocess.run([sys.executable, "-c", _CRASHING], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        size, problems = json.loads(line)
        assert size <= 64 * 1024
        [(field, message, where)] = problems
        assert (field, where) == ("front matter", 4)
        assert message.startswith("is nested deeper than 20 levels (") and "open one line" in message


def test_ordinary_block_lists_are_not_nesting() -> None:
    lists = "tags:\n" + "".join(f"- tag{i}\n" for i in range(15)) + "x:\n  - - a\n    - b\n  - ? k\n    : v\n"
    result = check(f"---\ntitle: T\n{lists}---\nBody\n".encode())
    assert result.ok, result.errors


# --------------------------------------------------------------------------- memory
def test_long_texts_are_slugified_without_being_kept() -> None:
    """A heading (or a refused slug) may be a whole post long: the slug cache, which lives as
    long as the container, keeps only short texts (4,096 headings of 1 MiB would be 4 GiB)."""
    from pressline.posts import slug

    heading = "Über " + "wörd " * 200_000
    before = slug._cached_slugify.cache_info()
    html = anchor_headings(f"<h2>{heading}</h2>")
    assert html.startswith('<h2 id="uber-word-word-word-')
    assert slug.slugify(heading, max_length=60) == slug._slugify(heading, 60)
    after = slug._cached_slugify.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # never looked up
    assert slug.slugify("A short title, twice") == slug.slugify("A short title, twice") == "a-short-title-twice"
    assert slug._cached_slugify.cache_info().hits >= after.hits + 1
