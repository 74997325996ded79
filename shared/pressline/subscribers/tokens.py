"""Signed tokens for the links in emails: ``<payload>.<signature>``, both base64url.

The payload names its purpose (confirm, unsubscribe or preferences), the subscriber id and, for
confirmation, an expiry and the tags chosen at sign-up, so what a click confirms is
exactly what the email said. A confirmation token also names the pending request it was
issued for (``r``, a random id stored with that request): confirming consumes it, so a link
works once, and never for a later sign-up of the same address.

The signature is HMAC-SHA256 with a key derived from the deployment's secret; a token
carries no address, so URLs in access logs reveal nothing.

Rotation: the secret may hold several signing keys, newest first. Tokens are signed with
the newest and verified with any, so links already sent keep working while the old key
stays listed (README, "Rotating the token secret").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_TOKEN_LENGTH = 2048


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"
    # The preferences page's form: expiring, and bound to the profile version it was shown
    # for (``r``), so a saved form, replayed or submitted twice, changes nothing.
    PREFERENCES_SAVE = "preferences-save"


class TokenError(ValueError):
    """Base: a token that must not be acted on."""


class TokenInvalid(TokenError):
    """Raised when a token is malformed or its signature does not match (tampered)."""


class TokenExpired(TokenError):
    """Raised when a confirmation token is past its expiry."""


class TokenWrongPurpose(TokenError):
    """Raised when a token made for one action is presented to another."""


def _raw(secret: str | bytes) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    if len(raw) < 16:
        raise ValueError("the token secret must be at least 16 bytes")
    return raw


@dataclass(frozen=True)
class Keys:
    """Keys derived from the deployment secret, one per use, so that a subscriber id (a
    hash of the address) can never double as a token signature or the reverse.

    ``token_keys``: newest first; the first signs, any verifies. ``id_key`` names every
    subscriber, so it never rotates (a new one would orphan every subscriber)."""

    token_keys: tuple[bytes, ...]
    id_key: bytes

    @property
    def token_key(self) -> bytes:
        """The key new tokens are signed with."""
        return self.token_keys[0]

    @classmethod
    def from_secret(cls, secret: str | bytes) -> Keys:
        """From the secret's value: one plain string (the key of every use), or JSON
        ``{"signing_keys": ["<newest>", ..., "<oldest>"], "id_key": "<the first secret>"}``
        (``id_key`` defaults to the oldest signing key; a bare list is ``signing_keys``).
        A generated secret has no punctuation, so ``{`` or ``[`` first means JSON."""
        text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
        if text.lstrip()[:1] in ("{", "["):
            try:
                loaded = json.loads(text)
            except ValueError:
                raise ValueError("the token secret looks like JSON but does not parse") from None
            if isinstance(loaded, list):
                loaded = {"signing_keys": loaded}
            signing = loaded.get("signing_keys") if isinstance(loaded, dict) else None
            if not isinstance(signing, list) or not signing or not all(isinstance(k, str) for k in signing):
                raise ValueError('the token secret\'s "signing_keys" must be a non-empty list of strings')
            id_secret = loaded.get("id_key", signing[-1])
            if not isinstance(id_secret, str):
                raise ValueError('the token secret\'s "id_key" must be a string')
            return cls.from_secrets(signing, id_secret)
        return cls.from_secrets([secret], secret)

    @classmethod
    def from_secrets(cls, signing: Sequence[str | bytes], id_secret: str | bytes) -> Keys:
        """Signing secrets newest first, and the secret subscriber ids are made with."""
        if not signing:
            raise ValueError("at least one signing key is needed")
        return cls(
            token_keys=tuple(hmac.new(_raw(key), b"pressline/token/v1", hashlib.sha256).digest() for key in signing),
            id_key=hmac.new(_raw(id_secret), b"pressline/subscriber-id/v1", hashlib.sha256).digest(),
        )


@dataclass(frozen=True)
class Claims:
    purpose: Purpose
    subscriber_id: str
    expires_at: datetime | None
    tags: tuple[str, ...]
    request: str | None = None  # the pending request a confirmation token was issued for


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64encode(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def issue(
    keys: Keys,
    purpose: Purpose,
    subscriber_id: str,
    *,
    now: datetime | None = None,
    ttl: timedelta | None = None,
    tags: tuple[str, ...] = (),
    request: str | None = None,
) -> str:
    """A token for ``purpose``, signed with the newest key; with ``ttl`` (and ``now``) it
    expires; with ``request`` it is bound to that pending request."""
    body: dict[str, object] = {"p": purpose.value, "s": subscriber_id}
    if ttl is not None:
        if now is None:
            raise ValueError("an expiring token needs the current time")
        body["x"] = int((now + ttl).timestamp())
    if tags:
        body["t"] = list(tags)
    if request is not None:
        body["r"] = request
    payload = _b64encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{payload}.{_sign(keys.token_key, payload)}"


def verify(keys: Keys, token: str, purpose: Purpose, now: datetime) -> Claims:
    """The token's claims, if it is genuine, meant for ``purpose`` and not expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenInvalid("the link is incomplete or malformed")
    payload, signature = token.split(".")
    if not payload.isascii() or not signature.isascii():  # compare_digest refuses non-ASCII str
        raise TokenInvalid("the link is malformed")
    # Every key is tried (newest first): a link signed before a rotation still works.
    if not any(hmac.compare_digest(_sign(key, payload), signature) for key in keys.token_keys):
        raise TokenInvalid("the link is not valid (it may have been altered or cut short)")
    try:
        body = json.loads(_b64decode(payload))
        claims = Claims(
            purpose=Purpose(body["p"]),
            subscriber_id=str(body["s"]),
            expires_at=datetime.fromtimestamp(int(body["x"]), tz=now.tzinfo) if "x" in body else None,
            tags=tuple(str(tag) for tag in body.get("t", ())),
            request=str(body["r"]) if "r" in body else None,
        )
    except (ValueError, KeyError, TypeError, OverflowError):  # OverflowError: an expiry beyond time_t
        raise TokenInvalid("the link is malformed") from None
    if claims.purpose is not purpose:
        raise TokenWrongPurpose(f"this link is for {claims.purpose.value}, not {purpose.value}")
    if claims.expires_at is not None and now >= claims.expires_at:
        raise TokenExpired("the link has expired")
    return claims
