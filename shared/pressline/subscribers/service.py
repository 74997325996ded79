"""Subscribe, confirm, unsubscribe and suppress: the rules, over the ports.

Answers never depend on whether an address is known (no enumeration): ``subscribe``
returns nothing, whatever happened; only an invalid request raises.

Confirmation emails are limited per address (one per ``CONFIRMATION_WINDOW``) and, so that
nobody can mail-bomb a mailbox, a domain or everyone through the sign-up form, per mailbox
(``name+tag@`` is ``name@``), per domain, per client (IPv4 address or IPv6 /64) and overall
(``SignupLimits``). A limited sign-up is answered like any other and sends nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pressline.subscribers import messages, tokens
from pressline.subscribers.addresses import (
    client_network,
    domain_of,
    mailbox_of,
    normalize_address,
    normalize_tags,
    subscriber_id,
)
from pressline.subscribers.ports import Allowance, ConfirmResult, Mailer, SubscriberRepository, TagDirectory
from pressline.subscribers.tokens import Keys, Purpose

if TYPE_CHECKING:
    from pressline.subscribers.digests import DigestSchedule
    from pressline.subscribers.model import Subscriber

CONFIRMATION_WINDOW = timedelta(minutes=10)  # at most one confirmation email per address per window
CONFIRMATION_VALIDITY = timedelta(hours=48)
# A pending subscriber outlives its newest confirmation link, then expires by TTL.
PENDING_TTL = CONFIRMATION_VALIDITY + timedelta(days=1)
# How long a preferences page's form can be submitted after it was shown.
PREFERENCES_FORM_VALIDITY = timedelta(hours=1)

Clock = Callable[[], datetime]
SubscribeOutcome = Literal["sent", "rate_limited", "suppressed", "limited"]


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


@dataclass(frozen=True)
class SignupLimits:
    """Confirmation emails allowed per fixed window (a window's count restarts at its end,
    so up to twice a count can go out across a boundary). A person signs up once or twice;
    these bound what a script can make us send, to one victim or to everyone."""

    mailbox: Limit = Limit(3, timedelta(hours=1))
    domain: Limit = Limit(100, timedelta(hours=1))
    client: Limit = Limit(10, timedelta(hours=1))
    overall: Limit = Limit(500, timedelta(hours=1))

    @classmethod
    def from_setting(cls, text: str) -> SignupLimits:
        """The defaults, with the kinds named in ``text`` (the ``SIGNUP_LIMITS`` variable)
        replaced: JSON ``{"client": [30, 3600]}`` is 30 confirmations per hour per client.
        ValueError names what is wrong (a misconfiguration must not pass unnoticed)."""
        import json

        if not text.strip():
            return cls()
        try:
            loaded = json.loads(text)
        except ValueError:
            raise ValueError("SIGNUP_LIMITS is not JSON") from None
        if not isinstance(loaded, dict):
            raise ValueError('SIGNUP_LIMITS must be an object like {"client": [30, 3600]}')
        changes: dict[str, Limit] = {}
        for kind, value in loaded.items():
            if kind not in ("mailbox", "domain", "client", "overall"):
                raise ValueError(f"SIGNUP_LIMITS: {kind!r} is not mailbox, domain, client or overall")
            valid = (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)
            )
            if not valid:
                raise ValueError(f"SIGNUP_LIMITS: {kind} must be [count, window in seconds], both positive integers")
            changes[kind] = Limit(value[0], timedelta(seconds=value[1]))
        return replace(cls(), **changes)

    def allowances(self, id_key: bytes, address: str, source_ip: str | None) -> list[Allowance]:
        """The counters one sign-up of ``address`` from ``source_ip`` counts against, named
        by keyed hashes (a table dump shows no address, domain or IP)."""

        def hashed(kind: str, value: str) -> str:
            return hmac.new(id_key, f"limit/{kind}/{value}".encode(), hashlib.sha256).hexdigest()[:32]

        counted = {
            "mailbox": (self.mailbox, mailbox_of(address)),
            "domain": (self.domain, domain_of(address)),
            "client": (self.client, client_network(source_ip)),
            "overall": (self.overall, "all"),
        }
        return [
            Allowance(name=kind, key=hashed(kind, value), limit=limit.count, window=limit.window)
            for kind, (limit, value) in counted.items()
        ]


def new_request_id() -> str:
    """The id of a pending sign-up request: random, unguessable, 22 URL-safe characters."""
    return secrets.token_urlsafe(16)


class NoTags:
    """A site whose tags are unknown (tests, a site without posts): no tag can be chosen."""

    def known_tags(self) -> dict[str, str]:
        return {}


class NotSubscribed(Exception):
    """Raised when a preferences link's subscriber has left (or was suppressed) since."""


class PreferencesChanged(Exception):
    """Raised when a preferences form was made for a version that is no longer current
    (saved already, replayed, or changed elsewhere): nothing was written. ``view``: the
    preferences as they are now, with a fresh form."""

    def __init__(self, view: PreferencesView) -> None:
        super().__init__("the preferences changed since this form was shown")
        self.view = view


class UnknownTags(ValueError):
    """Raised when a preferences form names tags the site does not have."""

    def __init__(self, unknown: list[str], known: dict[str, str]) -> None:
        super().__init__(f"unknown tags: {', '.join(unknown)}")
        self.unknown = unknown
        self.known = known


class InvalidFrequency(ValueError):
    """Raised when a preferences form's frequency is not one of instant, daily, weekly."""


@dataclass(frozen=True)
class PreferencesView:
    """What the preferences page shows: the subscriber's choice, the tags they can choose,
    the form's token (bound to this version) and their own links."""

    subscriber: Subscriber
    known_tags: dict[str, str]
    form_token: str
    links: messages.SubscriberLinks
    schedule: DigestSchedule | None


@dataclass(frozen=True)
class Subscriptions:
    """What the subscription rules need; built once per container by the stage."""

    repository: SubscriberRepository
    mailer: Mailer
    keys: Keys
    site: messages.Site
    clock: Clock
    limits: SignupLimits = field(default_factory=SignupLimits)
    new_request: Callable[[], str] = new_request_id
    tags: TagDirectory = field(default_factory=NoTags)
    schedule: DigestSchedule | None = None  # the digests' hour and weekday, shown on the preferences page

    def subscribe(
        self, raw_address: str, raw_tags: Iterable[str] | None, source_ip: str | None = None
    ) -> tuple[str, SubscribeOutcome]:
        """Validate (InvalidAddress / InvalidTags), then send one confirmation unless the
        address is suppressed (a bounce or complaint: a sign-up form must not undo that), had
        one within the window, or a limit is reached. Returns the subscriber id (for logs)
        and what happened, which the caller must NOT reveal in its answer.

        Every valid sign-up makes the same one storage call whatever it decides; only a
        claimed one then sends (the stage evens out the answer time)."""
        address = normalize_address(raw_address)
        tags = normalize_tags(raw_tags)
        sid, outcome, _ = self._send_confirmation(
            address, tags, self.limits.allowances(self.keys.id_key, address, source_ip)
        )
        return sid, outcome

    def invite(self, address: str, tags: tuple[str, ...] = ()) -> tuple[str, SubscribeOutcome, str | None]:
        """A re-opt-in for an imported address (already normalized): the sign-up's own
        confirmation, under the same per-address, mailbox, domain and overall limits. The
        per-client limit is left out: every invitation of an import comes from one operator.
        The third value names the allowance that ran out when the outcome is ``limited``."""
        allowances = [
            allowance
            for allowance in self.limits.allowances(self.keys.id_key, address, None)
            if allowance.name != "client"
        ]
        return self._send_confirmation(address, tags, allowances)

    def _send_confirmation(
        self, address: str, tags: tuple[str, ...], allowances: list[Allowance]
    ) -> tuple[str, SubscribeOutcome, str | None]:
        sid = subscriber_id(self.keys.id_key, address)
        now = self.clock()
        request = self.new_request()
        claim = self.repository.request_confirmation(
            sid,
            address,
            now,
            CONFIRMATION_WINDOW,
            PENDING_TTL,
            request=request,
            allowances=allowances,
        )
        if claim.outcome == "suppressed":
            return sid, "suppressed", None
        if claim.outcome == "rate_limited":
            return sid, "rate_limited", None
        if not claim.claimed:
            return sid, "limited", claim.limit
        token = tokens.issue(
            self.keys, Purpose.CONFIRM, sid, now=now, ttl=CONFIRMATION_VALIDITY, tags=tags, request=request
        )
        email = messages.confirmation_email(
            self.site, address, sid, token, tags, int(CONFIRMATION_VALIDITY.total_seconds() // 3600), now
        )
        try:
            self.mailer.send(email)
        except Exception:
            self.repository.release_confirmation(sid, now)
            raise
        return sid, "sent", None

    def check(self, token: str, purpose: Purpose) -> tokens.Claims:
        """The claims of a genuine, unexpired token for ``purpose`` (TokenError otherwise)."""
        return tokens.verify(self.keys, token, purpose, self.clock())

    def confirm(self, token: str) -> tuple[str, ConfirmResult]:
        """Confirm the pending request the token was issued for (once: a link is single-use,
        and dead once its subscriber unsubscribed or signed up again)."""
        claims = self.check(token, Purpose.CONFIRM)
        if not claims.request:
            # Issued before links named their request (at most CONFIRMATION_VALIDITY ago):
            # not bound to one, so not accepted. Signing up again sends a new link.
            return claims.subscriber_id, "missing"
        return claims.subscriber_id, self.repository.confirm(
            claims.subscriber_id, claims.tags, self.clock(), request=claims.request
        )

    def unsubscribe(self, token: str) -> tuple[str, bool]:
        """Delete the subscriber at once. Unsubscribing twice is not an error."""
        claims = self.check(token, Purpose.UNSUBSCRIBE)
        return claims.subscriber_id, self.repository.delete(claims.subscriber_id)

    # ------------------------------------------------------------------ preferences (issue 15)
    def open_preferences(self, token: str) -> PreferencesView:
        """The preferences page of the subscriber a preferences link names (TokenError for a
        bad link, NotSubscribed once they left). Reading changes nothing (link scanners)."""
        return self._current_view(self.check(token, Purpose.PREFERENCES).subscriber_id)

    def _current_view(self, subscriber_id: str) -> PreferencesView:
        current = self.repository.preferences(subscriber_id)
        if current is None:
            raise NotSubscribed(subscriber_id)
        return self._view(current.subscriber, current.version)

    def save_preferences(self, form_token: str, raw_tags: Iterable[str] | None, raw_frequency: str) -> PreferencesView:
        """Apply a preferences form: TokenError for a bad or expired form, InvalidTags /
        UnknownTags / InvalidFrequency naming what is wrong, PreferencesChanged if the form was
        made for an older version (nothing written), NotSubscribed once they left. The
        change applies from the next email (subscribers/preferences.py has the rules)."""
        from pressline.subscribers.preferences import FREQUENCIES, plan_preferences

        claims = self.check(form_token, Purpose.PREFERENCES_SAVE)
        if raw_frequency not in FREQUENCIES:
            raise InvalidFrequency("frequency must be instant (each post), daily or weekly")
        tags = normalize_tags(raw_tags)
        sid = claims.subscriber_id
        current = self.repository.preferences(sid)
        if current is None:
            raise NotSubscribed(sid)
        known = self.tags.known_tags()
        # A tag the subscriber chose before may have no post left: keeping it is not an error.
        unknown = [tag for tag in tags if tag not in known and tag not in current.subscriber.tags]
        if unknown:
            raise UnknownTags(unknown, known)
        if str(current.version) != claims.request:
            # Saved already (a replay, a second click) or changed since the page was shown.
            raise PreferencesChanged(self._view(current.subscriber, current.version, known))
        plan = plan_preferences(current.subscriber, current.rows, tags, raw_frequency, self.clock())
        if not self.repository.apply_preferences(sid, current.version, plan):
            raise PreferencesChanged(self._current_view(sid))  # changed between the read and the write
        return self._view(plan.subscriber, current.version + 1, known)

    def links(self, subscriber_id: str) -> messages.SubscriberLinks:
        """The subscriber's preferences and unsubscribe links (the confirmation page shows them)."""
        return messages.subscriber_links(self.site, self.keys, subscriber_id)

    def _view(self, subscriber: Subscriber, version: int, known: dict[str, str] | None = None) -> PreferencesView:
        """The page of ``subscriber`` at ``version``; ``known``: the site's tags when this
        request read them already (one catalog read a request)."""
        form_token = tokens.issue(
            self.keys,
            Purpose.PREFERENCES_SAVE,
            subscriber.id,
            now=self.clock(),
            ttl=PREFERENCES_FORM_VALIDITY,
            request=str(version),
        )
        return PreferencesView(
            subscriber=subscriber,
            known_tags=self.tags.known_tags() if known is None else known,
            form_token=form_token,
            links=messages.subscriber_links(self.site, self.keys, subscriber.id),
            schedule=self.schedule,
        )


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
