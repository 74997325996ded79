"""Every rejection rule, with its field, message and line; the accepted formats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from posts_helpers import EXAMPLES, PARIS, UPLOADED, check, post

from pressline.models import PostMeta
from pressline.posts.markdown import MAX_NESTING
from pressline.posts.rules import MAX_POST_BYTES, default_slug, slug_taken, status_of
from pressline.posts.slug import tag_slug


def only_error(raw: bytes, key: str = "posts/hello-world.md") -> tuple[str, str, int | None]:
    result = check(raw, key)
    assert result.post is None and not result.ok
    assert len(result.errors) == 1, result.errors
    error = result.errors[0]
    return error.field, error.message, error.line


def test_a_valid_post_gives_its_metadata() -> None:
    result = check(post("title: Hello\ndate: 2022-01-07 18:48\ntags: [news, python]\nauthor: Ann\nsummary: Short."))
    assert result.ok and result.post is not None
    meta = result.post.meta
    assert meta.title == "Hello"
    assert meta.date == datetime(2022, 1, 7, 18, 48, tzinfo=PARIS)
    assert meta.tags == ("news", "python")
    assert meta.author == "Ann" and meta.summary == "Short."
    assert meta.slug == "hello-world"  # from the file name
    assert result.post.body == "Some text.\n" and result.post.body_line == 8
    assert result.warnings == []


# ----------------------------------------------------------------- title
def test_missing_title_is_rejected_on_the_front_matter_line() -> None:
    assert only_error(post("tags: [a]")) == ("title", "is missing: every post needs a title", 1)


def test_no_front_matter_at_all_is_a_missing_title() -> None:
    field, message, line = only_error(b"# Just Markdown\n\nNo front matter.\n")
    assert (field, line) == ("title", 1)
    assert "front matter between '---' lines" in message


@pytest.mark.parametrize("value", ['""', "'   '", ""])
def test_empty_title_is_rejected(value: str) -> None:
    field, message, line = only_error(post(f"date: 2022-01-01\ntitle: {value}"))
    assert (field, line) == ("title", 3)
    assert message in ("is empty", "must be text, not empty")


@pytest.mark.parametrize("empty", ["", " ~", " null"])
def test_an_empty_optional_field_is_not_given(empty: str) -> None:
    fields = ["author", "summary", "canonical_url", "image", "slug", "date", "updated", "tags", "draft"]
    result = check(post("title: Hello\n" + "\n".join(f"{name}:{empty}" for name in fields)))
    assert result.ok and result.post is not None, result.errors
    meta = result.post.meta
    assert (meta.author, meta.summary, meta.canonical_url, meta.image) == (None, "", None, None)
    assert (meta.slug, meta.date, meta.updated, meta.tags, meta.draft) == ("hello-world", UPLOADED, None, (), False)
    assert not result.post.summary_given


@pytest.mark.parametrize(
    "invisible", ["\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u200b \u3164 \u2800", "\u202e\u200b"]
)
def test_a_title_of_invisible_characters_is_empty(invisible: str) -> None:
    assert only_error(post(f'title: "{invisible}"')) == ("title", "is empty", 2)


def test_joiners_inside_a_title_are_kept() -> None:
    title = "Coder \U0001f469\u200d\U0001f4bb and \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u200eok"
    result = check(post(f'title: "{title}"'))
    assert result.post is not None and result.post.meta.title == title
    assert result.warnings == []


def test_direction_and_control_characters_are_removed_from_texts_with_a_warning() -> None:
    result = check(
        post(
            'title: "Invoice \u202egnp.exe\u202c \\e[31mtoday\u2066"\n'
            'tags: ["\u202egnp.exe", "safe"]\n'
            'author: "Ann\\a \u2067Lee\u2069"\n'
            'summary: "Short\\N \u202dsummary."'
        )
    )
    assert result.post is not None, result.errors
    meta = result.post.meta
    assert (meta.title, meta.tags, meta.author, meta.summary) == (
        "Invoice gnp.exe [31mtoday",
        ("gnp.exe", "safe"),
        "Ann Lee",
        "Short summary.",
    )
    assert [(w.field, w.message, w.line) for w in result.warnings] == [
        ("author", "had invisible direction or control characters (U+0007, U+2067, U+2069); they were removed", 4),
        ("summary", "had invisible direction or control characters (U+0085, U+202D); they were removed", 5),
        ("tags", "had invisible direction or control characters (U+202E); they were removed", 3),
        (
            "title",
            "had invisible direction or control characters (U+001B, U+202C, U+202E, U+2066); they were removed",
            2,
        ),
    ]


def test_an_author_or_summary_of_invisible_characters_is_not_given() -> None:
    result = check(post('title: T\nauthor: "\u200b"\nsummary: "\u202e \u2060"'))
    assert result.post is not None
    assert (result.post.meta.author, result.post.meta.summary, result.post.summary_given) == (None, "", False)


@pytest.mark.parametrize("field", ["canonical_url", "image"])
@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\\e"])  # YAML escape: a raw ESC would make the file binary
def test_urls_with_invisible_characters_are_rejected(field: str, hidden: str) -> None:
    name, _, line = only_error(post(f'title: T\n{field}: "https://example.com/a{hidden}b.png"'))
    assert (name, line) == (field, 3)


def test_title_over_200_characters_is_rejected() -> None:
    assert only_error(post("title: " + "x" * 201)) == (
        "title",
        "is 201 characters long; the limit is 200",
        2,
    )
    assert check(post("title: " + "x" * 200)).ok


def test_a_number_is_not_a_title() -> None:
    assert only_error(post("title: 2024")) == ("title", "must be text, not a number (put it in quotes)", 2)


# ----------------------------------------------------------------- front matter
def test_unclosed_front_matter_is_rejected() -> None:
    assert only_error(b"---\ntitle: Hello\n\nBody without a closing line\n") == (
        "front matter",
        "opened with '---' but never closed by a '---' line",
        1,
    )


def test_unparsable_front_matter_names_the_line() -> None:
    field, message, line = only_error(post("title: Hello\ntags: [a, b\ndraft: false"))
    assert field == "front matter" and line is not None and line >= 3
    assert message.startswith("is not valid YAML")


def test_bad_indentation_names_its_line() -> None:
    field, message, line = only_error(post("title: Hello\nauthor: Ann\n  extra: nope"))
    assert field == "front matter" and line == 4
    assert "mapping values are not allowed" in message


def test_front_matter_must_be_a_mapping() -> None:
    assert only_error(post("- one\n- two")) == ("front matter", "must be a mapping of 'field: value' lines", 2)


def test_python_objects_are_never_constructed() -> None:
    field, message, line = only_error(post("title: !!python/object/apply:os.system ['echo hacked']"))
    assert (field, line) == ("front matter", 2)
    assert "could not determine a constructor" in message


def test_alias_expansion_is_bounded() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}]")
    lines.append("title: Laughs")
    field, message, line = only_error(post("\n".join(lines)))
    assert field == "front matter" and line is not None
    assert "expands to more than 10000 values" in message


def test_a_list_repeated_by_aliases_is_bounded_too() -> None:
    # Flat (each alias is one list of plain values): the fast way of loading counts like _measure.
    lines = ["a: &a [" + ", ".join(["x"] * 100) + "]", *(f"k{number}: *a" for number in range(200)), "title: T"]
    field, message, line = only_error(post("\n".join(lines)))
    assert field == "front matter" and line is not None
    assert "expands to more than 10000 values" in message


def test_a_value_its_tag_cannot_take_is_refused_not_a_crash() -> None:
    assert only_error(post("title: T\ndraft: !!bool maybe")) == (
        "front matter",
        "has a value that cannot be read: 'maybe' is not a value of its type",
        1,
    )


def test_the_usual_front_matter_loads_as_pyyamls_constructors_would() -> None:
    from pressline.posts import frontmatter

    text = (
        "title: 'Quoted: yes'\ndate: 2026-01-02 10:00\ntags: [a, &t b, *t, 'on']\ndraft: Off\nauthor: ~\n"
        "summary: >-\n  folded\n  text\nextra: !!bool true\ntitle: Twice\nlist:\n  - yes\n  - '1'\n"
    )
    built: list[object] = []
    original = frontmatter._plain_mapping

    def plain_mapping(node: object) -> object:
        built.append(original(node))
        return built[-1]

    with mock.patch.object(frontmatter, "_plain_mapping", plain_mapping):
        fast = frontmatter.load_yaml(text, first_line=2)
    assert built == [fast[0]]  # the fast way was taken
    assert fast[0] == {
        "title": "Twice",
        "date": "2026-01-02 10:00",
        "tags": ["a", "b", "b", "on"],
        "draft": False,
        "author": None,
        "summary": "folded text",
        "extra": True,
        "list": [True, "1"],
    }
    with mock.patch.object(frontmatter, "_plain_mapping", return_value=None):
        assert frontmatter.load_yaml(text, first_line=2) == fast  # PyYAML's constructors agree


def test_self_referencing_alias_is_refused() -> None:
    field, message, _ = only_error(post("title: Loop\nextra: &loop [*loop]"))
    assert field == "front matter"
    assert message == "has an alias that refers to itself"


def test_deep_nesting_is_refused_without_crashing() -> None:
    # Deep flow nesting crashes libyaml's composer (C recursion); the pre-scan refuses first.
    deep = "[" * 32_000 + "]" * 32_000
    field, message, line = only_error(post(f"title: Deep\nextra: {deep}"))
    assert field == "front matter" and "nested deeper than" in message
    field, message, line = only_error(post("title: Deep\nextra: " + "[" * 30 + "]" * 30))
    assert message == "is nested deeper than 20 levels" and line == 3


def test_front_matter_size_is_capped() -> None:
    field, message, _ = only_error(post("title: Big\nextra: '" + "x" * 70_000 + "'"))
    assert (field, message) == ("front matter", "is larger than 64 KiB")


def test_invalid_yaml_timestamps_do_not_crash() -> None:
    assert only_error(post("title: T\ndate: 2022-13-45")) == (
        "date",
        "'2022-13-45' is not a date; use YYYY-MM-DD, YYYY-MM-DD HH:MM or ISO 8601 (2022-01-07T18:48:00+01:00)",
        3,
    )


# ----------------------------------------------------------------- file
def test_non_utf8_bytes_are_rejected_with_their_line() -> None:
    raw = b"---\ntitle: Caf\n---\nLine one\nCaf" + b"\xe9 cr\xe8me\n"
    assert only_error(raw) == ("file", "is not UTF-8 (byte 0xE9 at line 5); save the file as UTF-8", 5)


def test_binary_content_is_rejected() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    assert only_error(png) == ("file", "is binary, not a Markdown text file", None)
    assert only_error(post("title: T", "text\x00more")) == ("file", "is binary, not a Markdown text file", None)


def test_a_file_over_1_mib_is_rejected() -> None:
    raw = post("title: Big", "x" * MAX_POST_BYTES)
    field, message, line = only_error(raw)
    assert field == "file" and line is None
    assert message == f"is {len(raw):,} bytes; the limit is 1 MiB (1,048,576)"


def _nested_list(depth: int) -> str:
    return "".join("  " * level + "- item\n" for level in range(depth))


@pytest.mark.parametrize(
    "make",
    [
        lambda depth: ">" * depth + " deep\n",
        _nested_list,
        lambda depth: "<div>" * depth + "deep" + "</div>" * depth + "\n",
        lambda depth: "<DIV><b>" * (depth // 2) + "x\n",  # unclosed, any case
    ],
    ids=["block-quotes", "list", "html", "unclosed-html"],
)
def test_a_body_nested_beyond_the_limit_is_rejected_before_rendering(make: Callable[[int], str]) -> None:
    assert check(post("title: T", make(MAX_NESTING))).ok
    assert only_error(post("title: T", make(MAX_NESTING + 2))) == (
        "body",
        f"is nested more than {MAX_NESTING} levels deep (block quotes, lists or HTML elements inside each other); "
        "flatten it",
        4,
    )


def test_long_flat_bodies_and_tags_in_code_are_not_nesting() -> None:
    siblings = "<ul>\n" + "<li>item\n" * 500 + "</ul>\n\n" + "<p>para\n" * 500 + "text<br>\n" * 500
    code = "```html\n" + "<div>" * 500 + "\n```\n\n    " + "<div>" * 500 + "\n"
    quotes = "> quoted\n\n" * 500 + "- a\n  - b\n\n" * 500
    for body in (siblings, code, quotes):
        assert check(post("title: T", body)).ok


def test_the_rules_hand_the_renderer_the_html_they_measured() -> None:
    result = check(post("title: T", "> *quoted*\n"))
    assert result.post is not None
    assert result.post.unsafe_html == "<blockquote>\n<p><em>quoted</em></p>\n</blockquote>\n"


@pytest.mark.parametrize("body", ["", "\n\n   \n", "<!--more-->\n", "<!-- only a comment -->\n"])
def test_an_empty_body_is_rejected(body: str) -> None:
    assert only_error(post("title: T\ndate: 2022-01-01", body)) == (
        "body",
        "is empty: write the post below the front matter",
        5,
    )


def test_bom_and_crlf_are_accepted() -> None:
    result = check(b"\xef\xbb\xbf---\r\ntitle: Windows\r\n---\r\nBody\r\n")
    assert result.ok and result.post is not None
    assert result.post.meta.title == "Windows" and result.post.body == "Body\n"


# ----------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-01-07", datetime(2022, 1, 7, tzinfo=PARIS)),
        ("2022-01-07 18:48", datetime(2022, 1, 7, 18, 48, tzinfo=PARIS)),
        ("2022-01-07 18:48:30", datetime(2022, 1, 7, 18, 48, 30, tzinfo=PARIS)),
        ("2022-01-07T18:48:00Z", datetime(2022, 1, 7, 18, 48, tzinfo=UTC)),
        ("'2022-01-07T18:48:00+05:30'", datetime(2022, 1, 7, 18, 48, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    ],
)
def test_dates_in_every_accepted_form(text: str, expected: datetime) -> None:
    result = check(post(f"title: T\ndate: {text}"))
    assert result.post is not None
    assert result.post.meta.date == expected
    assert result.post.meta.date.utcoffset() == expected.utcoffset()


def test_the_date_defaults_to_the_upload_time_in_the_site_zone() -> None:
    result = check(post("title: T"))
    assert result.post is not None
    assert result.post.meta.date == UPLOADED and result.post.meta.date.tzinfo == PARIS


@pytest.mark.parametrize("value", ["yesterday", "2022-02-30", "07/01/2022", "12", "[2022]"])
def test_a_date_that_does_not_parse_is_rejected(value: str) -> None:
    field, message, line = only_error(post(f"title: T\ndate: {value}"))
    assert (field, line) == ("date", 3)
    assert "YYYY-MM-DD" in message


def test_updated_is_parsed_like_date() -> None:
    assert only_error(post("title: T\nupdated: soon")) == (
        "updated",
        "'soon' is not a date; use YYYY-MM-DD, YYYY-MM-DD HH:MM or ISO 8601 (2022-01-07T18:48:00+01:00)",
        3,
    )


# ----------------------------------------------------------------- types
def test_tags_must_be_a_list() -> None:
    # A text is a space-separated list, as Jekyll reads it (tests/unit/posts/test_field_names.py).
    assert only_error(post("title: T\ntags: 5")) == (
        "tags",
        "must be a list of strings, like [news, python], not a number",
        3,
    )


def test_each_tag_must_be_text_and_names_its_own_line() -> None:
    assert only_error(post("title: T\ntags:\n  - news\n  - 2024\n  - python")) == (
        "tags",
        "item 2 must be text, not a number (put it in quotes)",
        5,
    )


def test_draft_must_be_a_boolean() -> None:
    assert only_error(post('title: T\ndraft: "yes"')) == ("draft", "must be true or false", 3)
    result = check(post("title: T\ndraft: yes"))  # YAML's own booleans are fine
    assert result.post is not None and result.post.meta.draft is True


def test_several_errors_are_all_reported() -> None:
    result = check(post("title: ''\ndraft: maybe\ntags: 7"))
    assert {(e.field, e.line) for e in result.errors} == {("title", 2), ("draft", 3), ("tags", 4)}


def test_summary_and_author_must_be_text() -> None:
    assert only_error(post("title: T\nauthor: [a, b]")) == ("author", "must be text, not a list", 3)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "ftp://x.org/a"])
def test_canonical_url_must_be_absolute_http(url: str) -> None:
    field, message, line = only_error(post(f"title: T\ncanonical_url: '{url}'"))
    assert (field, line) == ("canonical_url", 3)
    assert message == f"'{url}' must be an absolute http:// or https:// URL"


@pytest.mark.parametrize("image", ["javascript:alert(1)", "data:image/png;base64,AAAA"])
def test_cover_image_must_be_a_path_or_http(image: str) -> None:
    field, message, _ = only_error(post(f"title: T\nimage: '{image}'"))
    assert field == "image" and "must be a path beside the post or an http(s) URL" in message


def test_tags_are_trimmed_and_deduplicated_by_page() -> None:
    result = check(post("title: T\ntags: ['  Machine   Learning ', machine-learning, Python, python]"))
    assert result.post is not None
    assert result.post.meta.tags == ("Machine Learning", "Python")


def test_a_tag_without_a_usable_address_is_rejected() -> None:
    field, message, line = only_error(post("title: T\ntags: ['!!!']"))
    assert (field, line) == ("tags", 3)
    assert "no letters or digits" in message


# ----------------------------------------------------------------- slug
@pytest.mark.parametrize("slug", ["Hello-World", "a/b", "..", "hello world", "a--b", "-a", "é", "a" * 81])
def test_a_slug_that_is_not_a_safe_segment_is_rejected(slug: str) -> None:
    field, message, line = only_error(post(f"title: T\nslug: '{slug}'"))
    assert (field, line) == ("slug", 3)
    assert f"'{slug}' is not a safe single path segment" in message


def test_a_bad_slug_suggests_a_good_one() -> None:
    _, message, _ = only_error(post("title: T\nslug: Hello World"))
    assert message.endswith("try 'hello-world'")


def test_the_slug_defaults_to_the_file_name_then_the_title() -> None:
    assert default_slug("posts/2024/Ça marche!.md", "Title") == "ca-marche"
    assert default_slug("posts/日本.md", "Crème brûlée à Straße") == "creme-brulee-a-strasse"
    result = check(post("title: 日本語"), key="posts/日本.md")
    assert result.errors[0].field == "slug" and "add 'slug: …'" in result.errors[0].message


@pytest.mark.parametrize(
    ("key", "title", "slug"),
    [
        ("posts/p\u0430ypal.md", "T", "paypal"),  # a Cyrillic a that looks Latin: the address it appears to be
        ("posts/привет-мир.md", "T", "privet-mir"),
        ("posts/日本.md", "Ёлка и ель", "elka-i-el"),
        ("posts/日本.md", "Ελληνικά άρθρα", "ellinika-arthra"),
        ("posts/Київ.md", "T", "kiyiv"),
        ("posts/ОБЪЁМ.md", "T", "obem"),  # hard sign: no letter, and nothing lost
        ("posts/Q&A ÷ Ça.md", "T", "q-and-a-ca"),
    ],
)
def test_cyrillic_and_greek_names_make_readable_slugs(key: str, title: str, slug: str) -> None:
    result = check(post(f"title: {title}"), key=key)
    assert result.post is not None and result.post.meta.slug == slug
    assert result.warnings == []


def test_cyrillic_and_greek_tags_get_readable_pages() -> None:
    result = check(post("title: T\ntags: [Новости, Ελλάδα, C++ и Rust]"))
    assert result.post is not None, result.errors
    assert [tag_slug(tag) for tag in result.post.meta.tags] == ["novosti", "ellada", "c-i-rust"]


def test_a_default_slug_that_left_letters_out_is_a_warning() -> None:
    result = check(post("title: T"), key="posts/日本-trip.md")
    assert result.post is not None and result.post.meta.slug == "trip"
    assert [(w.field, w.message, w.line) for w in result.warnings] == [
        (
            "slug",
            "'trip' was made from the file name without its letters 日本, which have no Latin form here; "
            "add 'slug: …' to choose the page address",
            1,
        )
    ]
    from_title = check(post("title: 東京 notes"), key="posts/東京.md")
    assert from_title.post is not None and from_title.post.meta.slug == "notes"
    assert [w.message.split(" which")[0] for w in from_title.warnings] == [
        "'notes' was made from the title without its letters 東京,"
    ]
    assert check(post("title: T\nslug: trip"), key="posts/日本-trip.md").warnings == []


def test_a_slug_published_from_another_key_is_rejected() -> None:
    problem = slug_taken("hello", "posts/other.md", "posts/hello.md", line=4)
    assert problem is not None
    assert (problem.field, problem.message, problem.line) == (
        "slug",
        "'hello' is already used by posts/other.md; choose another slug",
        4,
    )
    assert slug_taken("hello", "posts/hello.md", "posts/hello.md") is None
    assert slug_taken("hello", None, "posts/hello.md") is None


def test_the_slug_line_is_kept_for_the_uniqueness_check() -> None:
    result = check(post("title: T\ndate: 2022-01-01\nslug: custom"))
    assert result.post is not None and result.post.slug_line == 4


# ----------------------------------------------------------------- warnings
def test_unknown_fields_are_warnings_with_their_line() -> None:
    result = check(post("title: T\nlayout: wide\nkeywords: [a]"))  # categories are tags (test_field_names.py)
    assert result.ok
    assert [(w.field, w.message, w.line) for w in result.warnings] == [
        ("layout", "is not a known field and is ignored", 3),
        ("keywords", "is not a known field and is ignored", 4),
    ]


@pytest.mark.parametrize("line", ['"": x', "' ': x", "?\n: x", "~: x", "null: x"])
def test_a_value_without_a_field_name_is_a_warning_on_the_front_matter(line: str) -> None:
    result = check(post(f"title: T\n{line}"))
    assert result.ok
    assert [(w.field, w.message, w.line) for w in result.warnings] == [
        ("front matter", "has a value without a field name (write 'name: value'); it is ignored", 3)
    ]


@pytest.mark.parametrize("key", ["1", "true", "2024-01-01"])
def test_a_field_name_that_is_not_text_is_a_warning_on_that_name(key: str) -> None:
    result = check(post(f"title: T\n{key}: x"))
    assert result.ok
    assert [(w.field, w.message, w.line) for w in result.warnings] == [
        (key, "is ignored: a field name must be text", 3)
    ]


def test_duplicate_fields_are_warnings() -> None:
    result = check(post("title: First\ntitle: Second"))
    assert result.post is not None and result.post.meta.title == "Second"
    assert [(w.field, w.line) for w in result.warnings] == [("title", 3)]
    assert "appears twice (first on line 2)" in result.warnings[0].message


# ----------------------------------------------------------------- status
def test_status_rules() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    meta = PostMeta(slug="a", title="A", date=now - timedelta(minutes=1))
    assert status_of(meta, now) == "published"
    assert status_of(meta.model_copy(update={"date": now + timedelta(minutes=1)}), now) == "scheduled"
    assert status_of(meta.model_copy(update={"draft": True}), now) == "draft"
    assert status_of(meta.model_copy(update={"draft": True, "date": now + timedelta(days=1)}), now) == "draft"


def test_every_example_post_is_valid() -> None:
    for path in EXAMPLES.glob("*.md"):
        result = check(path.read_bytes(), key=f"posts/{path.name}")
        assert result.ok, (path.name, result.errors)
        assert result.warnings == [], (path.name, result.warnings)
