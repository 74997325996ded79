"""Subscribe, confirm, unsubscribe and suppress: the rules, over the ports.

Answers never depend on whether an address is known (no enumeration): ``subscribe``
returns nothing, whatever happened; only an invalid request raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pressline.subscribers import messages, tokens
from pressline.subscribers.addresses import normalize_address, normalize_tags, subscriber_id
from pressline.subscribers.ports import ConfirmResult, Mailer, SubscriberRepository
from pressline.subscribers.tokens import Keys, Purpose

CONFIRMATION_WINDOW = timedelta(minutes=10)  # at most one confirmation email per address per window
CONFIRMATION_VALIDITY = timedelta(hours=48)
# A pending subscriber outlives its newest confirmation link, then expires by TTL.
PENDING_TTL = CONFIRMATION_VALIDITY + timedelta(days=1)

Clock = Callable[[], datetime]
SubscribeOutcome = Literal["sent", "rate_limited", "suppressed"]


@dataclass(frozen=True)
class Subscriptions:
    """What the subscription rules need; built once per container by the stage."""

    repository: SubscriberRepository
    mailer: Mailer
    keys: Keys
    site: messages.Site
    clock: Clock

    def subscribe(self, raw_address: str, raw_tags: Iterable[str] | None) -> tuple[str, SubscribeOutcome]:
        """Validate (InvalidAddress / InvalidTags), then send one confirmation unless the
        address is suppressed or had one within the window. Returns the subscriber id (for
        logs) and what happened, which the caller must NOT reveal in its answer."""
        address = normalize_address(raw_address)
        tags = normalize_tags(raw_tags)
        sid = subscriber_id(self.keys.id_key, address)
        if self.repository.is_suppressed(sid):
            # A bounce or complaint stopped this address; a sign-up form must not undo that.
            return sid, "suppressed"
        now = self.clock()
        if not self.repository.request_confirmation(sid, address, now, CONFIRMATION_WINDOW, PENDING_TTL):
            return sid, "rate_limited"
        token = tokens.issue(self.keys, Purpose.CONFIRM, sid, now=now, ttl=CONFIRMATION_VALIDITY, tags=tags)
        email = messages.confirmation_email(
            self.site, address, sid, token, tags, int(CONFIRMATION_VALIDITY.total_seconds() // 3600), now
        )
        try:
            self.mailer.send(email)
        except Exception:
            self.repository.release_confirmation(sid, now)
            raise
        return sid, "sent"

    def check(self, token: str, purpose: Purpose) -> tokens.Claims:
        """The claims of a genuine, unexpired token for ``purpose`` (TokenError otherwise)."""
        return tokens.verify(self.keys, token, purpose, self.clock())

    def confirm(self, token: str) -> tuple[str, ConfirmResult]:
        claims = self.check(token, Purpose.CONFIRM)
        return claims.subscriber_id, self.repository.confirm(claims.subscriber_id, claims.tags, self.clock())

    def unsubscribe(self, token: str) -> tuple[str, bool]:
        """Delete the subscriber at once. Unsubscribing twice is not an error."""
        claims = self.check(token, Purpose.UNSUBSCRIBE)
        return claims.subscriber_id, self.repository.delete(claims.subscriber_id)


def suppress_address(
    repository: SubscriberRepository, keys: Keys, raw_address: str, reason: str, now: datetime
) -> str | None:
    """Suppress one address reported by SES; its subscriber id, or None if unusable."""
    from pressline.subscribers.addresses import InvalidAddress

    try:
        address = normalize_address(raw_address)
    except InvalidAddress:
        # SES reports what it was given; anything we could have sent to normalizes.
        address = raw_address.strip()
        if "@" not in address:
            return None
    sid = subscriber_id(keys.id_key, address)
    repository.suppress(sid, reason, now)
    return sid
