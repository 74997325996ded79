"""TOML front matter (Hugo's ``+++``): the same result as YAML's, its dates read as YAML's
are, its errors with their lines, and the same bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from posts_helpers import PARIS, check

from pressline.posts import frontmatter


def toml_post(front_matter: str, body: str = "Some text.\n") -> bytes:
    return f"+++\n{front_matter}\n+++\n{body}".encode()


def test_a_toml_post_reads_as_its_yaml_twin() -> None:
    toml = check(toml_post('title = "Hello"\ndate = 2022-01-07T18:48:00\ntags = ["news", "python"]\nauthor = "Ann"'))
    yaml = check(b"---\ntitle: Hello\ndate: 2022-01-07 18:48\ntags: [news, python]\nauthor: Ann\n---\nSome text.\n")
    assert toml.ok and yaml.ok and toml.post is not None and yaml.post is not None
    assert toml.post.meta == yaml.post.meta
    assert toml.post.body == "Some text.\n" and toml.post.body_line == 7
    assert toml.warnings == []


@pytest.mark.parametrize(
    ("written", "moment"),
    [
        ("2022-01-07T18:48:00+01:00", datetime(2022, 1, 7, 18, 48, tzinfo=timezone(timedelta(hours=1)))),
        ("2022-01-07T17:48:00Z", datetime(2022, 1, 7, 17, 48, tzinfo=UTC)),
        ("2022-01-07 18:48:00", datetime(2022, 1, 7, 18, 48, tzinfo=PARIS)),  # naive: the site's zone
        ("2022-01-07", datetime(2022, 1, 7, tzinfo=PARIS)),  # a date: its midnight there
        ('"2022-01-07 18:48"', datetime(2022, 1, 7, 18, 48, tzinfo=PARIS)),  # text, as YAML's
    ],
)
def test_toml_dates_are_read_as_yaml_dates(written: str, moment: datetime) -> None:
    result = check(toml_post(f'title = "T"\ndate = {written}\nlastmod = {written}'))
    assert result.post is not None, result.errors
    assert result.post.meta.date == moment and result.post.meta.date.utcoffset() == moment.utcoffset()
    assert result.post.meta.updated == moment


def test_a_toml_time_of_day_is_not_a_date() -> None:
    result = check(toml_post('title = "T"\ndate = 18:48:00'))
    assert [(e.field, e.line) for e in result.errors] == [("date", 3)]
    assert "must be a date, not a time of day" in result.errors[0].message


def test_toml_dates_outside_the_years_are_refused_as_yaml_ones() -> None:
    result = check(toml_post('title = "T"\ndate = 1899-12-31'))
    assert [(e.field, e.line) for e in result.errors] == [("date", 3)]
    assert "before the year 1900" in result.errors[0].message


def test_field_lines_are_found_for_top_level_keys_and_tables() -> None:
    text = (
        '+++\ntitle = "T"\n"quoted" = 1\nsummary = """\nfake = 2\n"""\nparams.x = 3\n'
        "[menu.main]\nweight = 4\n[[extra]]\nz = 1\n+++\nBody\n"
    )
    document = frontmatter.split(text)
    assert document.field_lines == {"title": 2, "quoted": 3, "summary": 4, "params": 7, "menu": 8, "extra": 10}
    assert "fake" not in document.fields and document.fields["menu"] == {"main": {"weight": 4}}
    assert document.body == "Body\n" and document.body_line == 13


def test_unknown_toml_fields_and_tables_warn_with_their_line() -> None:
    result = check(toml_post('title = "T"\nkeywords = ["a"]\n[params]\nx = 1'))
    assert result.ok
    assert {(w.field, w.line) for w in result.warnings} == {("keywords", 3), ("params", 4)}


def test_wrong_types_are_reported_on_their_toml_line() -> None:
    result = check(toml_post('title = 2019\ndraft = "yes"'))
    assert {(e.field, e.line) for e in result.errors} == {("title", 2), ("draft", 3)}


@pytest.mark.parametrize(
    ("front_matter", "reason", "line"),
    [
        ('title = "T"\nbad = \n', "is not valid TOML: Invalid value", 3),
        ('title = "T\n', "is not valid TOML: Illegal character", 2),  # a one-line text ends on its line
        ('title = "T"\ndate = 2019-13-01\n', "is not valid TOML", 3),
        ('title = "a"\ntitle = "b"\n', "is not valid TOML", 3),  # a field twice is an error in TOML
        ('title: "yaml in toml"\n', "is not valid TOML", 2),
        ('title = """T\n', "is not valid TOML: Unterminated string", 3),  # found at its end: the last line
    ],
)
def test_invalid_toml_names_its_line(front_matter: str, reason: str, line: int) -> None:
    result = check(toml_post(front_matter))
    assert [(e.field, e.line) for e in result.errors] == [("front matter", line)]
    assert result.errors[0].message.startswith(reason)


def test_an_unclosed_toml_front_matter_is_refused() -> None:
    result = check(b'+++\ntitle = "T"\nBody\n')
    assert [(e.field, e.message, e.line) for e in result.errors] == [
        ("front matter", "opened with '+++' but never closed by a '+++' line", 1)
    ]


def test_a_yaml_closer_does_not_close_toml() -> None:
    result = check(b'+++\ntitle = "T"\n---\nBody\n')
    assert result.errors[0].message == "opened with '+++' but never closed by a '+++' line"


def test_toml_has_the_yaml_size_cap() -> None:
    filler = "x" * 1000
    keys = "\n".join(f'k{n} = "{filler}"' for n in range(70))
    result = check(toml_post(f'title = "T"\n{keys}'))
    assert [(e.field, e.message) for e in result.errors] == [("front matter", "is larger than 64 KiB")]


@pytest.mark.parametrize(
    "front_matter",
    [
        "a = " + "[" * 30_000 + "]" * 30_000,  # tomllib recurses: a RecursionError, never a crash
        "a = " + "{b = " * 5_000 + "1" + "}" * 5_000,
        "a = " + "[" * 25 + "]" * 25,  # within the bracket bound, past the depth
        "a" + ".a" * 30_000 + " = 1",  # tomllib takes quadratic time in a dotted key's parts
        "[" + ".".join(["t"] * 5_000) + "]",
        "a = { b = { c = 1 } }\nx = { " + ".".join(['"q"'] * 30) + " = 1 }",
    ],
    ids=["deep-arrays", "deep-inline-tables", "deep-small", "dotted-key", "dotted-table", "quoted-dotted-inline"],
)
def test_deep_toml_is_refused_with_a_message(front_matter: str) -> None:
    result = check(toml_post(f'title = "T"\n{front_matter}'))
    assert [e.field for e in result.errors] == ["front matter"]
    assert result.errors[0].message.startswith("is nested deeper than 20 levels")


def test_a_key_without_a_name_is_ignored_with_a_warning() -> None:
    result = check(toml_post('"" = 1\ntitle = "T"'))
    assert result.ok
    assert [(w.field, w.line) for w in result.warnings] == [("front matter", 2)]


def test_an_empty_toml_front_matter_is_a_missing_title() -> None:
    result = check(b"+++\n+++\nBody\n")
    assert [(e.field, e.message) for e in result.errors] == [("title", "is missing: every post needs a title")]
