from __future__ import annotations

import pytest

from pressline.subscribers.addresses import (
    InvalidAddress,
    InvalidTags,
    client_network,
    domain_of,
    mailbox_of,
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


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("Ada.Lovelace+news@gmail.com", "adalovelace@gmail.com"),
        ("a.d.a@googlemail.com", "ada@gmail.com"),
        ("ADA+x+y@Example.org", "ada@example.org"),
        ("ada.l@example.org", "ada.l@example.org"),  # dots matter outside Gmail
        ("+tag@example.org", "+tag@example.org"),  # nothing before the tag: kept whole
        ("ada-news@example.org", "ada-news@example.org"),
    ],
)
def test_a_mailbox_is_the_address_without_case_tags_and_gmail_dots(address: str, mailbox: str) -> None:
    assert mailbox_of(address) == mailbox


@pytest.mark.parametrize(
    ("source_ip", "client"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("", "unknown"),
        (None, "unknown"),
        ("203.0.113.7, 10.0.0.1", "unknown"),
        ("not an ip", "unknown"),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(source_ip: str | None, client: str) -> None:
    assert client_network(source_ip) == client


def test_lone_surrogates_are_refused_as_not_text() -> None:
    with pytest.raises(InvalidAddress, match="not valid Unicode"):
        normalize_address("ada\ud800@example.com")
    with pytest.raises(InvalidTags, match="valid Unicode"):
        normalize_tags(["aws", "\udfff"])
    assert domain_of("ada@Example.ORG") == "example.org"
