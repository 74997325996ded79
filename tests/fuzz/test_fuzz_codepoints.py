"""Every kind of code point in every field and in the body: nothing crashes, and whatever is
published is valid UTF-8, safe (``html_safety``) and free of what is not text.

The kinds are Unicode's general categories (letters, marks, numbers, punctuation, symbols,
separators including Zl/Zp, and the "other" ones: Cc, Cf, Cs, Co, Cn) plus the classes that
break things: the 66 noncharacters (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF in all 17 planes), the
direction controls, C1 controls, NUL and DEL. Each is written the ways an author (or attacker)
can: the raw character, a hexadecimal and a decimal HTML reference, and in the front matter a
YAML escape in double quotes.

What each field does with them (``posts.rules``, ``posts.commonmark``):
- body: control characters other than tab and newlines, surrogates and noncharacters, raw or
  as references, become U+FFFD (C1 controls their Windows-1252 character, as HTML reads
  ``&#128;``-``&#159;``); everything else is kept;
- title, tags, summary, author (one-line texts): direction and control characters,
  noncharacters and surrogates are removed with a warning naming the field; references are
  text (shown as typed, escaped);
- slug, image, canonical_url, date, updated: refused unless valid, the value quoted in the
  message with invisible characters shown as <U+XXXX>;
- a raw character YAML refuses (controls, U+FFFE/U+FFFF) is refused naming the line; a raw
  surrogate cannot be UTF-8, so the file is refused as not UTF-8.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from html_safety import assert_safe
from hypothesis import example, given
from hypothesis import strategies as st

from pressline.indexing import feeds
from pressline.indexing.catalog import RecentPost
from pressline.indexing.plan import target_post
from pressline.models import SourceRef
from pressline.posts.check import format_problem
from pressline.posts.report import build_report
from pressline.posts.rules import check_post
from pressline.site.pages import Site, render_post_page
from pressline.stages.render import render

SITE = Site(title="Code points", url="https://blog.example", api_url="https://api.example/v1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SOURCE = SourceRef(bucket="src", key="posts/points.md", version_id="v1")
CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
              "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn")  # fmt: skip
NONCHARACTERS = [*range(0xFDD0, 0xFDF0)] + [plane * 0x10000 + last for plane in range(17) for last in (0xFFFE, 0xFFFF)]
CLASSES: dict[str, list[int]] = {
    "noncharacters": NONCHARACTERS,
    "direction controls": [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)],
    "C0 controls": [*range(0x00, 0x20), 0x7F],
    "C1 controls": [*range(0x80, 0xA0)],
    "format characters": [0x00AD, 0x200B, 0x200D, 0x2060, 0xFEFF, 0xFFF9, 0xE0001],
    "line and paragraph separators": [0x2028, 0x2029, 0x0085],
}
# Not text in a published page: controls other than tab and newlines (form feed and CR are
# whitespace to HTML), surrogates, noncharacters.
NOT_TEXT = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(point) for point in NONCHARACTERS if point > 0xFFFF or point in (0xFFFE, 0xFFFF))
    + "]"
)
TEXT_FIELDS = ("title", "summary", "author", "tags")
OTHER_FIELDS = ("slug", "image", "canonical_url", "date", "updated")
FIELDS = (*TEXT_FIELDS, *OTHER_FIELDS, "body")
FORMS = ("raw", "hex", "decimal", "yaml")


@cache
def samples() -> dict[str, list[int]]:
    """A few code points of every general category (the first, the last and some between,
    up to 12) and every class above. Scanning the 1.1 million code points takes ~0.5 s once."""
    found: dict[str, list[int]] = {category: [] for category in CATEGORIES}
    for point in range(sys.maxunicode + 1):
        found[unicodedata.category(chr(point))].append(point)
    picked = {}
    for category, points in found.items():
        step = max(1, len(points) // 10)
        picked[category] = sorted({points[0], points[-1], *points[::step]})[:12]
    return {**picked, **CLASSES}


def written(point: int, form: str) -> str:
    if form == "raw":
        return chr(point)
    if form == "hex":
        return f"&#x{point:X};"
    if form == "decimal":
        return f"&#{point};"
    return f"\\U{point:08X}"  # a YAML escape: only inside double quotes


def document(field: str, piece: str, form: str) -> str:
    """A post with ``piece`` inside ``field`` (in the body: in every Markdown construct)."""
    value = f'"a{piece}b"' if form == "yaml" else f"'a{piece}b'"
    if field == "body":
        body = (
            f"# Heading {piece}\n\nText {piece} *em{piece}* `code {piece}` [link{piece}](https://e.example/{piece} "
            f'"title {piece}")\n\n![alt {piece}](pic{piece}.png)\n\n```\nfenced {piece}\n```\n\n'
            f'| a{piece} | b |\n|---|---|\n| c | d{piece} |\n\n<span title="{piece}">raw {piece}</span>\n\n'
            f"Note[^n{piece}].\n\n[^n{piece}]: foot {piece}\n"
        )
        return f"---\ntitle: Points\n---\n{body}"
    if field == "tags":
        return f"---\ntitle: Points\ntags: [{value}, plain]\n---\nBody.\n"
    if field == "title":
        return f"---\ntitle: {value}\n---\nBody.\n"
    if field in ("canonical_url", "image"):
        value = f'"https://e.example/a{piece}b"' if form == "yaml" else f"'https://e.example/a{piece}b'"
    if field in ("date", "updated"):
        value = f'"2024-05-0{piece}1"' if form == "yaml" else f"'2024-05-0{piece}1'"
    return f"---\ntitle: Points\n{field}: {value}\n---\nBody.\n"


def encoded(text: str) -> bytes:
    # A raw surrogate as the 3 bytes UTF-8 forbids (CESU-8): what a broken editor would save.
    return text.encode("utf-8", errors="surrogatepass")


def published_outputs(raw: bytes) -> list[tuple[str, str]]:
    """Everything that reaches readers or authors from one upload, as text."""
    checked = check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=UTC)
    problems = [*checked.errors, *checked.warnings]
    report = build_report(SOURCE, "published" if checked.ok else "rejected", processed_at=NOW, errors=problems)
    outputs = [("report", report.model_dump_json())]
    outputs += [("pressline check", format_problem(Path("a.md"), p)) for p in problems]
    if not checked.ok:
        assert checked.errors, "refused without a problem naming a field"
        assert all(error.field for error in checked.errors)
        return outputs
    made = render(raw, SOURCE, uploaded_at=NOW, site=SITE, now=NOW)
    assert made.post is not None, made.errors
    page = render_post_page(made.post, SITE)
    assert_safe(page, "post page")
    recent = [RecentPost(post=target_post(made.post, SOURCE, NOW), rendered=made.post)]
    atom, rss = feeds.atom(recent, SITE, NOW), feeds.rss(recent, SITE, NOW)
    ET.fromstring(atom)  # well-formed XML: no character XML 1.0 forbids
    ET.fromstring(rss)
    json_feed = feeds.json_feed(recent, SITE)
    for item in json.loads(json_feed)["items"]:
        assert_safe(item["content_html"], "feed.json content_html")
    return [*outputs, ("page", page), ("rendered", made.post.model_dump_json()), ("atom", atom), ("rss", rss)]


def assert_fit(outputs: list[tuple[str, str]], where: str) -> None:
    for name, text in outputs:
        text.encode("utf-8")  # valid UTF-8: no lone surrogate
        shown = NOT_TEXT.search(text)
        assert not shown, f"{where}: {name} holds U+{ord(shown.group(0)):04X}"


@pytest.mark.parametrize("field", FIELDS)
def test_every_kind_of_code_point_in_every_field(field: str) -> None:
    failures = []
    for kind, points in samples().items():
        for form in FORMS:
            if form == "yaml" and field == "body":
                continue
            piece = "".join(written(point, form) for point in points)
            where = f"{field} with {kind} as {form}"
            try:
                assert_fit(published_outputs(encoded(document(field, piece, form))), where)
            except Exception as error:  # every failure is collected and shown
                failures.append(f"{where}: {type(error).__name__}: {str(error)[:200]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("field", FIELDS)
def test_each_noncharacter_and_control_alone_in_every_field(field: str) -> None:
    """One at a time, so that none hides behind another one refused first."""
    failures = []
    for point in [*NONCHARACTERS, *CLASSES["C0 controls"], *CLASSES["C1 controls"], 0xD800, 0xDFFF]:
        for form in ("raw", "hex") if field == "body" else ("raw", "yaml"):
            where = f"{field} with U+{point:04X} as {form}"
            try:
                assert_fit(published_outputs(encoded(document(field, written(point, form), form))), where)
            except Exception as error:  # every failure is collected and shown
                failures.append(f"{where}: {type(error).__name__}: {str(error)[:200]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("reference", ["&#xFFFF;", "&#xFFFE;", "&#x1FFFF;", "&#xFDD0;", "&#65535;", "&#x0FFFF;"])
def test_a_noncharacter_reference_in_the_body_is_a_replacement_character(reference: str) -> None:
    """It crashed Validate, Render and ``pressline check``: cmark wrote U+FFFF as the byte 0xFF."""
    raw = f"---\ntitle: Points\n---\nBefore {reference} after.\n".encode()

    [(_, page)] = [output for output in published_outputs(raw) if output[0] == "page"]

    assert "Before \ufffd after." in page


def test_references_to_c1_controls_read_as_windows_1252_wherever_they_are() -> None:
    raw = b'---\ntitle: Dashes\n---\nIn text &#150; and <span title="&#x93;">in HTML &#151;</span> &#x81;\n'

    [(_, page)] = [output for output in published_outputs(raw) if output[0] == "page"]

    assert 'In text \u2013 and <span title="\u201c">in HTML \u2014</span> \ufffd' in page


def test_a_raw_character_yaml_refuses_is_named_with_its_line() -> None:
    checked = check_post(
        "---\ntitle: ok\nsummary: a\uffffb\n---\nBody.\n".encode(), SOURCE.key, uploaded_at=NOW, timezone=UTC
    )

    [error] = checked.errors
    assert (error.field, error.line) == ("front matter", 3)
    assert "U+FFFF" in error.message


@given(
    point=st.integers(0, sys.maxunicode),
    form=st.sampled_from(FORMS),
    field=st.sampled_from(FIELDS),
    before=st.sampled_from(["", "x", " ", "&", "<", "\\", "\n"]),
)
@example(point=0xFFFF, form="hex", field="body", before="")
@example(point=0xFFFE, form="raw", field="body", before="")
@example(point=0x1B, form="yaml", field="image", before="")
def test_any_code_point_anywhere(point: int, form: str, field: str, before: str) -> None:
    if form == "yaml" and field == "body":
        form = "raw"
    if before == "\n" and field != "body":
        before = " "
    piece = before + written(point, form)

    assert_fit(published_outputs(encoded(document(field, piece, form))), f"{field} with U+{point:04X} as {form}")


def test_pressline_check_reads_a_body_with_noncharacter_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It ended in a UnicodeDecodeError traceback."""
    from pressline.cli import main

    path = tmp_path / "points.md"
    path.write_bytes(b"---\ntitle: Points\n---\nA &#xFFFF; and a &#xFFFE; and a \xef\xbf\xbf.\n")

    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}:4: warning: body: has control characters or noncharacters (U+FFFF); they are shown as U+FFFD "
        "(U+0080-U+009F as the Windows-1252 characters they stand for)"
    ]


PIECES = st.sampled_from(["&#", "&#x", "x", "X", ";", "0", "1", "9", "F", "\x85", "\uffff", "<a title='"])


@given(st.text(st.characters(codec=None)) | st.lists(PIECES).map("".join))
@example("&&#1;#65;")
@example("&#x" + "0" * 5000 + "41;")
def test_fit_for_html_leaves_no_character_that_is_not_text_and_keeps_the_rest(text: str) -> None:
    from pressline.posts.commonmark import fit_for_html

    fit = fit_for_html(text)

    fit.encode("utf-8")
    assert not NOT_TEXT.search(fit)
    assert fit_for_html(fit) == fit
    if not NOT_TEXT.search(text) and "&#" not in text:
        assert fit == text
