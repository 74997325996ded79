"""Signed tokens for the links in emails: ``<payload>.<signature>``, both base64url.

The payload names its purpose (confirm or unsubscribe), the subscriber id and, for
confirmation, an expiry and the tags chosen at sign-up, so what a click confirms is
exactly what the email said. The signature is HMAC-SHA256 with a key derived from the
deployment's secret; a token carries no address, so URLs in access logs reveal nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_TOKEN_LENGTH = 2048


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"


class TokenError(ValueError):
    """Base: a token that must not be acted on."""


class TokenInvalid(TokenError):
    """Raised when a token is malformed or its signature does not match (tampered)."""


class TokenExpired(TokenError):
    """Raised when a confirmation token is past its expiry."""


class TokenWrongPurpose(TokenError):
    """Raised when a token made for one action is presented to another."""


@dataclass(frozen=True)
class Keys:
    """Keys derived from the deployment secret, one per use, so that a subscriber id (a
    hash of the address) can never double as a token signature or the reverse."""

    token_key: bytes
    id_key: bytes

    @classmethod
    def from_secret(cls, secret: str | bytes) -> Keys:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw) < 16:
            raise ValueError("the token secret must be at least 16 bytes")
        return cls(
            token_key=hmac.new(raw, b"pressline/token/v1", hashlib.sha256).digest(),
            id_key=hmac.new(raw, b"pressline/subscriber-id/v1", hashlib.sha256).digest(),
        )


@dataclass(frozen=True)
class Claims:
    purpose: Purpose
    subscriber_id: str
    expires_at: datetime | None
    tags: tuple[str, ...]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(keys: Keys, payload: str) -> str:
    return _b64encode(hmac.new(keys.token_key, payload.encode("ascii"), hashlib.sha256).digest())


def issue(
    keys: Keys,
    purpose: Purpose,
    subscriber_id: str,
    *,
    now: datetime | None = None,
    ttl: timedelta | None = None,
    tags: tuple[str, ...] = (),
) -> str:
    """A token for ``purpose``; with ``ttl`` (and ``now``) it expires."""
    body: dict[str, object] = {"p": purpose.value, "s": subscriber_id}
    if ttl is not None:
        if now is None:
            raise ValueError("an expiring token needs the current time")
        body["x"] = int((now + ttl).timestamp())
    if tags:
        body["t"] = list(tags)
    payload = _b64encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_sign(keys, payload)}"


def verify(keys: Keys, token: str, purpose: Purpose, now: datetime) -> Claims:
    """The token's claims, if it is genuine, meant for ``purpose`` and not expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenInvalid("the link is incomplete or malformed")
    payload, signature = token.split(".")
    try:
        payload.encode("ascii")
        expected = _sign(keys, payload)
    except UnicodeEncodeError:
        raise TokenInvalid("the link is malformed") from None
    if not signature.isascii() or not hmac.compare_digest(expected, signature):  # compare_digest refuses non-ASCII str
        raise TokenInvalid("the link is not valid (it may have been altered or cut short)")
    try:
        body = json.loads(_b64decode(payload))
        claims = Claims(
            purpose=Purpose(body["p"]),
            subscriber_id=str(body["s"]),
            expires_at=datetime.fromtimestamp(int(body["x"]), tz=now.tzinfo) if "x" in body else None,
            tags=tuple(str(tag) for tag in body.get("t", ())),
        )
    except (ValueError, KeyError, TypeError, OverflowError):  # OverflowError: an expiry beyond time_t
        raise TokenInvalid("the link is malformed") from None
    if claims.purpose is not purpose:
        raise TokenWrongPurpose(f"this link is for {claims.purpose.value}, not {purpose.value}")
    if claims.expires_at is not None and now >= claims.expires_at:
        raise TokenExpired("the link has expired")
    return claims
