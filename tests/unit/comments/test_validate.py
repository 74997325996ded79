"""validate: every refusal names its field and a reason; spam is its own outcome; nothing
raises, whatever the input (property tests over whole Unicode categories)."""

# ruff: noqa: RUF001  (lookalike letters are what these tests are about)

from __future__ import annotations

import sys
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pressline.comments.model import PostState, Submission
from pressline.comments.validate import (
    MAX_LINKS,
    MAX_NAME,
    MAX_TEXT,
    MAX_WEBSITE,
    ZWJ,
    Refusal,
    Spam,
    imitates,
    joins_emoji,
    skeleton,
    validate,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from comment_helpers import AUTHOR, NOW, form


def check(**fields: object) -> Submission | Refusal | Spam:
    return validate(form(**fields), post_state=PostState.PUBLISHED, now=NOW, author_names=[AUTHOR])


def test_a_good_form_is_a_clean_submission() -> None:
    result = check(
        name="  Grace   Hopper ", email="Grace@EXAMPLE.com", website=" https://grace.example/ ", text="\n Hi \r\n"
    )
    assert result == Submission(
        post_slug="hello",
        parent_id=None,
        name="Grace Hopper",
        email="Grace@example.com",
        website="https://grace.example/",
        text="Hi",
        form_issued_at=NOW - timedelta(seconds=30),
    )


@pytest.mark.parametrize("state", [s for s in PostState if s is not PostState.PUBLISHED])
def test_only_published_posts_take_comments(state: PostState) -> None:
    result = validate(form(), post_state=state, now=NOW)
    assert isinstance(result, Refusal) and result.field == "post"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * (MAX_NAME + 1)}, "name"),
        ({"name": "Eve\r\nBcc: all@example.com"}, "name"),
        ({"name": "Eve\u202egnp.exe"}, "name"),
        ({"name": "\ud800"}, "name"),
        ({"name": b"\xff\xfe"}, "name"),
        ({"email": "grace@example.com\r\nBcc: x@example.com"}, "email"),
        ({"email": "not an address"}, "email"),
        ({"email": ""}, "email"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"website": "data:text/html,<script>"}, "website"),
        ({"website": "https://" + "a" * MAX_WEBSITE}, "website"),
        ({"website": "https://user:pw@example.com"}, "website"),
        ({"website": "https:///nohost"}, "website"),
        ({"website": 'https://example.com/"onmouseover="alert(1)'}, "website"),
        ({"website": "https:\\\\evil.example"}, "website"),
        ({"text": "   \n  "}, "text"),
        ({"text": "x" * (MAX_TEXT + 1)}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "a\u2066b"}, "text"),
        ({"text": b"caf\xc3"}, "text"),
        ({"text": " ".join(["https://spam.example"] * (MAX_LINKS + 1))}, "text"),
    ],
)
def test_each_refusal_names_its_field(fields: dict[str, object], field: str) -> None:
    result = check(**fields)
    assert isinstance(result, Refusal), result
    assert result.field == field and result.reason


def test_text_limits_count_after_trimming() -> None:
    assert isinstance(check(text="  " + "x" * MAX_TEXT + "  \n"), Submission)
    assert isinstance(check(text=" ".join(["https://ok.example"] * MAX_LINKS)), Submission)


@pytest.mark.parametrize(
    "fields",
    [
        {"honeypot": "http://spam.example"},
        {"form_issued_at": NOW - timedelta(seconds=1)},
        {"form_issued_at": NOW + timedelta(hours=1)},
        {"form_issued_at": None},
    ],
)
def test_bots_are_spam_not_refusals(fields: dict[str, object]) -> None:
    assert isinstance(check(**fields), Spam)


@pytest.mark.parametrize(
    "name",
    [
        "Ada Lovelace",
        "ADA LOVELACE",
        "Ada  Lovelace.",
        "Аda Lovelаce",  # Cyrillic a
        "Αda Lονelace",  # Greek alpha, omicron, nu
        "Ádà Lóvelace",  # marks
        "Ａｄａ Ｌｏｖｅｌａｃｅ",  # fullwidth (NFKC)
        "Ada L0velace",
        "AdaLovelace",
        "Ada Lovelace (the real one)",
    ],
)
def test_names_imitating_the_author_are_refused(name: str) -> None:
    result = check(name=name)
    assert isinstance(result, Refusal) and result.field == "name"


def test_other_names_are_not_imitations() -> None:
    assert not imitates("Ada Byron", [AUTHOR])
    assert not imitates("Grace", [AUTHOR, "Site Owner"])
    assert not imitates("Alice", ["Al"])  # a short name is only refused whole
    assert imitates("Al", ["Al"])
    assert skeleton("Ada Lovelace") == skeleton("аda lovelace") == "adalovelace"


_INVISIBLE = st.characters(
    categories=["Cc", "Cf", "Co", "Cn"], exclude_characters="\n\t\r"
)  # \r is a line break: normalized


@settings(max_examples=300, deadline=None)
@given(before=st.text(max_size=10), bad=_INVISIBLE, after=st.text(max_size=10))
def test_every_invisible_or_unassigned_character_is_refused_in_the_name(before: str, bad: str, after: str) -> None:
    name = "Grace" + before + bad + after
    assume(not (bad == ZWJ and joins_emoji(name, 5 + len(before))))  # an emoji sequence is taken
    result = check(name=name)
    assert isinstance(result, Refusal) and result.field == "name"


@settings(max_examples=300, deadline=None)
@given(bad=_INVISIBLE)
def test_every_invisible_or_unassigned_character_is_refused_in_the_text(bad: str) -> None:
    result = check(text="Hello " + bad + " there")
    assert isinstance(result, Refusal) and result.field == "text"
    assert unicodedata.category(bad) in {"Cc", "Cf", "Co", "Cn"}


_ANY_FIELD = st.one_of(st.none(), st.text(max_size=60), st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(name=_ANY_FIELD, email=_ANY_FIELD, website=_ANY_FIELD, text=_ANY_FIELD, honeypot=_ANY_FIELD)
def test_nothing_raises_and_whatever_is_accepted_is_clean(
    name: object, email: object, website: object, text: object, honeypot: object
) -> None:
    result = check(name=name, email=email, website=website, text=text, honeypot=honeypot)
    assert isinstance(result, Submission | Refusal | Spam)
    if isinstance(result, Refusal):
        assert result.field in {"name", "email", "website", "text"} and result.reason
    if isinstance(result, Submission):
        for value in (result.name, result.email, result.website or "", result.text):
            assert not any(
                unicodedata.category(c) in {"Cf", "Co", "Cn", "Cs"} and not (c == ZWJ and joins_emoji(value, i))
                for i, c in enumerate(value)
            )
        assert "\n" not in result.name and "\r" not in result.email
        assert result.website is None or result.website.lower().startswith(("http://", "https://"))


def test_an_emoji_zwj_sequence_is_taken_and_a_joiner_between_letters_is_not() -> None:
    family, rainbow, coder = (
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "\U0001f3f3\ufe0f\u200d\U0001f308",
        "\U0001f469\U0001f3fd\u200d\U0001f4bb",
    )
    for emoji in (family, rainbow, coder):
        assert isinstance(check(text=f"Our team {emoji} says hello"), Submission), emoji
        assert isinstance(check(name=f"Grace {emoji}"), Submission), emoji
    for hidden in ("Gr\u200dace", "\u200d\U0001f468", "\U0001f468\u200d", "a\u200d\U0001f468"):
        result = check(name=hidden)
        assert isinstance(result, Refusal) and result.field == "name", hidden
