from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from pressline.subscribers.tokens import (
    Keys,
    Purpose,
    TokenExpired,
    TokenInvalid,
    TokenWrongPurpose,
    issue,
    verify,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_a_confirmation_token_carries_its_subscriber_and_tags_until_it_expires(keys: Keys) -> None:
    token = issue(keys, Purpose.CONFIRM, "abc123", now=NOW, ttl=timedelta(hours=48), tags=("aws", "python"))
    claims = verify(keys, token, Purpose.CONFIRM, NOW + timedelta(hours=47))
    assert claims.subscriber_id == "abc123"
    assert claims.tags == ("aws", "python")
    assert claims.expires_at == NOW + timedelta(hours=48)
    with pytest.raises(TokenExpired):
        verify(keys, token, Purpose.CONFIRM, NOW + timedelta(hours=48))


def test_an_unsubscribe_token_never_expires(keys: Keys) -> None:
    token = issue(keys, Purpose.UNSUBSCRIBE, "abc123")
    assert verify(keys, token, Purpose.UNSUBSCRIBE, NOW + timedelta(days=3650)).subscriber_id == "abc123"


def test_a_token_for_one_purpose_is_refused_for_the_other(keys: Keys) -> None:
    unsubscribe = issue(keys, Purpose.UNSUBSCRIBE, "abc123")
    confirm = issue(keys, Purpose.CONFIRM, "abc123", now=NOW, ttl=timedelta(hours=1))
    with pytest.raises(TokenWrongPurpose):
        verify(keys, unsubscribe, Purpose.CONFIRM, NOW)
    with pytest.raises(TokenWrongPurpose):
        verify(keys, confirm, Purpose.UNSUBSCRIBE, NOW)


def _reencode(token: str, change: dict[str, object]) -> str:
    payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(change)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


def test_tampered_tokens_are_refused(keys: Keys) -> None:
    token = issue(keys, Purpose.CONFIRM, "abc123", now=NOW, ttl=timedelta(hours=1))
    for forged in (
        _reencode(token, {"s": "someone-else"}),
        _reencode(token, {"x": int((NOW + timedelta(days=999)).timestamp())}),
        _reencode(token, {"p": "unsubscribe"}),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        token.split(".")[0] + ".",
    ):
        with pytest.raises(TokenInvalid):
            verify(keys, forged, Purpose.CONFIRM, NOW)


def test_a_token_signed_with_another_secret_is_refused(keys: Keys) -> None:
    other = Keys.from_secret("a completely different deployment secret")
    with pytest.raises(TokenInvalid):
        verify(keys, issue(other, Purpose.UNSUBSCRIBE, "abc123"), Purpose.UNSUBSCRIBE, NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "é.é", "x" * 5000, ".", "%%%.%%%"])
def test_malformed_tokens_are_refused(keys: Keys, garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        verify(keys, garbage, Purpose.UNSUBSCRIBE, NOW)


def test_tokens_carry_no_address(keys: Keys) -> None:
    token = issue(keys, Purpose.CONFIRM, "abc123", now=NOW, ttl=timedelta(hours=1), tags=("aws",))
    decoded = base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    assert "@" not in decoded


def test_keys_are_derived_separately_and_need_a_real_secret() -> None:
    keys = Keys.from_secret("0123456789abcdef0123")
    assert keys.token_key != keys.id_key
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Keys.from_secret("short")


def test_a_rotated_secret_signs_with_the_newest_key_and_verifies_with_every_listed_one() -> None:
    old = Keys.from_secret("the-original-deployment-secret")
    rotated = Keys.from_secret(
        json.dumps({"signing_keys": ["a-brand-new-secret-0123456789", "the-original-deployment-secret"]})
    )
    sent_before = issue(old, Purpose.UNSUBSCRIBE, "abc123")
    assert verify(rotated, sent_before, Purpose.UNSUBSCRIBE, NOW).subscriber_id == "abc123"
    sent_after = issue(rotated, Purpose.UNSUBSCRIBE, "abc123")
    assert sent_after != sent_before
    assert verify(rotated, sent_after, Purpose.UNSUBSCRIBE, NOW).subscriber_id == "abc123"
    with pytest.raises(TokenInvalid):  # a container still on the old secret cannot read it
        verify(old, sent_after, Purpose.UNSUBSCRIBE, NOW)
    # Subscriber ids never change: they name every subscriber in the table.
    assert rotated.id_key == old.id_key


def test_dropping_a_key_ends_its_links_and_the_id_key_can_be_named() -> None:
    original = "the-original-deployment-secret"
    sent_before = issue(Keys.from_secret(original), Purpose.UNSUBSCRIBE, "abc123")
    dropped = Keys.from_secret(json.dumps({"signing_keys": ["a-brand-new-secret-0123456789"], "id_key": original}))
    with pytest.raises(TokenInvalid):
        verify(dropped, sent_before, Purpose.UNSUBSCRIBE, NOW)
    assert dropped.id_key == Keys.from_secret(original).id_key
    shorthand = Keys.from_secret(json.dumps(["a-brand-new-secret-0123456789", original]))
    assert shorthand.id_key == dropped.id_key and verify(shorthand, sent_before, Purpose.UNSUBSCRIBE, NOW)


@pytest.mark.parametrize(
    "secret",
    [
        "{not json",
        json.dumps({"signing_keys": []}),
        json.dumps({"signing_keys": "one-key-not-a-list-0123"}),
        json.dumps({"signing_keys": ["short"]}),
        json.dumps({"signing_keys": ["long-enough-0123456789"], "id_key": 5}),
        json.dumps([]),
        "[1, 2]",
    ],
)
def test_a_malformed_secret_is_refused_with_a_reason(secret: str) -> None:
    with pytest.raises(ValueError, match=r"token secret|at least"):
        Keys.from_secret(secret)


def test_a_confirmation_token_names_its_pending_request(keys: Keys) -> None:
    token = issue(keys, Purpose.CONFIRM, "abc123", now=NOW, ttl=timedelta(hours=1), request="req-1")
    assert verify(keys, token, Purpose.CONFIRM, NOW).request == "req-1"
    assert verify(keys, issue(keys, Purpose.UNSUBSCRIBE, "abc123"), Purpose.UNSUBSCRIBE, NOW).request is None
    with pytest.raises(TokenInvalid):
        verify(keys, _reencode(token, {"r": "req-2"}), Purpose.CONFIRM, NOW)
