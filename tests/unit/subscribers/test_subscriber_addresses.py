from __future__ import annotations

import pytest

from pressline.subscribers.addresses import (
    InvalidAddress,
    InvalidTags,
    mask_address,
    normalize_address,
    normalize_tags,
    subscriber_id,
)


def test_an_address_is_trimmed_and_its_domain_lowercased() -> None:
    assert normalize_address("  Ada.Lovelace@Example.COM ") == "Ada.Lovelace@example.com"


@pytest.mark.parametrize(
    "raw",
    [
        "ada@example.com\r\nBcc: victim@example.org",
        "ada@example.com\nSubject: hi",
        "ada@example.com\r",
        "ada@exa\x00mple.com",
        "ada@example.com%0d%0aBcc:x@y.z\n",
    ],
)
def test_line_breaks_and_control_characters_are_refused_as_injection(raw: str) -> None:
    with pytest.raises(InvalidAddress, match="line breaks or control characters"):
        normalize_address(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "required"),
        ("not-an-address", "not valid"),
        ("ada@localhost", "not valid"),
        ("Ada <ada@example.com>", "without a name or brackets"),
        ("ada@example.com, eve@example.com", "without a name or brackets"),
        ("ada lovelace@example.com", "not valid"),
        ("Ü@example.com", "not valid"),
        ("a" * 250 + "@example.com", "longer than 254"),
    ],
)
def test_invalid_addresses_get_a_reason_that_does_not_repeat_them(raw: str, reason: str) -> None:
    with pytest.raises(InvalidAddress, match=reason) as caught:
        normalize_address(raw)
    if raw:
        assert raw not in str(caught.value)


def test_the_subscriber_id_is_keyed_stable_and_case_insensitive() -> None:
    key = b"k" * 32
    first = subscriber_id(key, "Ada@example.com")
    assert first == subscriber_id(key, "ada@example.com")
    assert len(first) == 32 and "ada" not in first
    assert subscriber_id(b"another key.....", "ada@example.com") != first
    assert subscriber_id(key, "eve@example.com") != first


def test_masking_keeps_only_first_letters() -> None:
    assert mask_address("ada.lovelace@example.com") == "a***@e***.com"


def test_tags_are_normalized_deduplicated_and_sorted() -> None:
    assert normalize_tags([" AWS", "Machine  Learning", "aws", ""]) == ("aws", "machine learning")
    assert normalize_tags(None) == ()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (["x" * 51], "longer than 50"),
        ([f"t{n}" for n in range(21)], "at most 20"),
        (["ok", "bad\nHeader: 1"], "line breaks"),
        ([3], "must be a string"),
    ],
)
def test_bad_tags_are_refused(raw: list[object], reason: str) -> None:
    with pytest.raises(InvalidTags, match=reason):
        normalize_tags(raw)  # type: ignore[arg-type]
