"""Sign-up, confirmation and unsubscription rules, with fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from subscriber_helpers import link_token

from pressline.subscribers.addresses import InvalidAddress
from pressline.subscribers.memory import FakeClock, MemoryMailer, MemoryRepository
from pressline.subscribers.service import Subscriptions, suppress_address
from pressline.subscribers.tokens import Keys, Purpose, TokenExpired, TokenInvalid, TokenWrongPurpose, issue


def test_subscribing_sends_one_confirmation_and_nothing_else(
    subscriptions: Subscriptions, mailer: MemoryMailer, repository: MemoryRepository
) -> None:
    sid, outcome = subscriptions.subscribe("Ada@Example.com", ["Python"])
    assert outcome == "sent"
    assert [email.recipient for email in mailer.sent] == ["Ada@example.com"]
    assert mailer.sent[0].subject.startswith("Confirm your subscription")
    # Pending: a request, not a subscriber who could receive posts.
    assert repository.get_many([sid]) == {}
    assert repository.requests[sid].address == "Ada@example.com"


def test_confirming_makes_the_subscriber_confirmed_with_the_tags_from_the_link(
    subscriptions: Subscriptions, mailer: MemoryMailer, repository: MemoryRepository
) -> None:
    sid, _ = subscriptions.subscribe("ada@example.com", ["Python", "aws"])
    token = link_token(mailer.sent[0].raw, "confirm")
    assert subscriptions.confirm(token) == (sid, "confirmed")
    stored = repository.get_many([sid])[sid]
    assert stored.status == "confirmed" and stored.tags == ("aws", "python")
    assert set(repository.audiences) == {"TAG#aws", "TAG#python"}


def test_at_most_one_confirmation_per_address_per_ten_minutes(
    subscriptions: Subscriptions, mailer: MemoryMailer, clock: FakeClock
) -> None:
    outcomes = [subscriptions.subscribe("ada@example.com", [])[1]]
    clock.advance(timedelta(minutes=5))
    outcomes.append(subscriptions.subscribe("ADA@example.com", ["aws"])[1])
    clock.advance(timedelta(minutes=4, seconds=59))
    outcomes.append(subscriptions.subscribe("ada@example.com", [])[1])
    clock.advance(timedelta(seconds=1))
    outcomes.append(subscriptions.subscribe("ada@example.com", [])[1])
    assert outcomes == ["sent", "rate_limited", "rate_limited", "sent"]
    assert len(mailer.sent) == 2


def test_the_rate_limit_is_per_address(subscriptions: Subscriptions, mailer: MemoryMailer) -> None:
    subscriptions.subscribe("ada@example.com", [])
    subscriptions.subscribe("eve@example.com", [])
    assert sorted(email.recipient for email in mailer.sent) == ["ada@example.com", "eve@example.com"]


def test_a_failed_send_does_not_use_up_the_window(subscriptions: Subscriptions, mailer: MemoryMailer) -> None:
    mailer.throttle = True
    with pytest.raises(Exception, match="throttled"):
        subscriptions.subscribe("ada@example.com", [])
    mailer.throttle = False
    assert subscriptions.subscribe("ada@example.com", [])[1] == "sent"


def test_invalid_addresses_change_nothing(
    subscriptions: Subscriptions, mailer: MemoryMailer, repository: MemoryRepository
) -> None:
    with pytest.raises(InvalidAddress):
        subscriptions.subscribe("ada@example.com\r\nBcc: eve@example.com", [])
    assert mailer.sent == [] and repository.records == {} and repository.requests == {}
    assert repository.counters == {}


@pytest.mark.parametrize("kind", ["tampered", "expired", "wrong purpose"])
def test_bad_confirmation_tokens_change_nothing(
    kind: str,
    subscriptions: Subscriptions,
    mailer: MemoryMailer,
    repository: MemoryRepository,
    clock: FakeClock,
    keys: Keys,
) -> None:
    sid, _ = subscriptions.subscribe("ada@example.com", [])
    token = link_token(mailer.sent[0].raw, "confirm")
    error: type[Exception]
    if kind == "tampered":
        token, error = token[:-3] + "xyz", TokenInvalid
    elif kind == "expired":
        clock.advance(timedelta(hours=48))
        error = TokenExpired
    else:
        token, error = issue(keys, Purpose.UNSUBSCRIBE, sid), TokenWrongPurpose
    with pytest.raises(error):
        subscriptions.confirm(token)
    assert repository.get_many([sid]) == {}
    assert repository.audiences == {}


def test_unsubscribing_deletes_the_subscriber_and_its_memberships(
    subscriptions: Subscriptions,
    repository: MemoryRepository,
    keys: Keys,
    subscribe_confirmed: Callable[..., str],
) -> None:
    sid = subscribe_confirmed("ada@example.com", ("aws",))
    assert subscriptions.unsubscribe(issue(keys, Purpose.UNSUBSCRIBE, sid)) == (sid, True)
    assert repository.get_many([sid]) == {}
    assert all(sid not in members for members in repository.audiences.values())
    # Twice is fine, and the old confirmation link cannot bring it back.
    assert subscriptions.unsubscribe(issue(keys, Purpose.UNSUBSCRIBE, sid)) == (sid, False)


def test_a_confirmation_link_after_unsubscribing_does_not_resubscribe(
    subscriptions: Subscriptions,
    mailer: MemoryMailer,
    keys: Keys,
) -> None:
    sid, _ = subscriptions.subscribe("ada@example.com", [])
    token = link_token(mailer.sent[0].raw, "confirm")
    subscriptions.confirm(token)
    subscriptions.unsubscribe(issue(keys, Purpose.UNSUBSCRIBE, sid))
    assert subscriptions.confirm(token) == (sid, "missing")


def test_resubscribing_with_other_tags_changes_them_only_when_confirmed(
    subscriptions: Subscriptions,
    mailer: MemoryMailer,
    repository: MemoryRepository,
    clock: FakeClock,
    subscribe_confirmed: Callable[..., str],
) -> None:
    sid = subscribe_confirmed("ada@example.com", ("aws",))
    clock.advance(timedelta(minutes=11))
    subscriptions.subscribe("ada@example.com", ["rust"])
    assert repository.get_many([sid])[sid].tags == ("aws",)
    subscriptions.confirm(link_token(mailer.sent[-1].raw, "confirm"))
    assert repository.get_many([sid])[sid].tags == ("rust",)
    assert set(repository.audiences["TAG#rust"]) == {sid}
    assert sid not in repository.audiences["TAG#aws"]


def test_a_suppressed_address_gets_no_confirmation_and_cannot_be_confirmed(
    subscriptions: Subscriptions,
    mailer: MemoryMailer,
    repository: MemoryRepository,
    keys: Keys,
    clock: FakeClock,
) -> None:
    sid, _ = subscriptions.subscribe("ada@example.com", [])
    token = link_token(mailer.sent[0].raw, "confirm")
    assert suppress_address(repository, keys, "ADA@example.com", "bounce:General", clock()) == sid
    clock.advance(timedelta(hours=1))
    assert subscriptions.subscribe("ada@example.com", [])[1] == "suppressed"
    assert len(mailer.sent) == 1
    assert subscriptions.confirm(token) == (sid, "suppressed")
    assert repository.get_many([sid]) == {}


def test_limits_can_be_set_by_kind_and_the_rest_stay_default() -> None:
    from pressline.subscribers.service import Limit, SignupLimits

    assert SignupLimits.from_setting("") == SignupLimits()
    changed = SignupLimits.from_setting('{"client": [30, 3600], "overall": [2000, 86400]}')
    assert changed.client == Limit(30, timedelta(hours=1)) and changed.overall == Limit(2000, timedelta(days=1))
    assert (changed.mailbox, changed.domain) == (SignupLimits().mailbox, SignupLimits().domain)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not JSON"),
        ("[1, 2]", "must be an object"),
        ('{"ip": [1, 60]}', "'ip' is not mailbox"),
        ('{"client": [0, 60]}', "positive integers"),
        ('{"client": [10]}', "positive integers"),
        ('{"client": [true, 60]}', "positive integers"),
        ('{"client": [10, 1.5]}', "positive integers"),
    ],
)
def test_a_wrong_limits_setting_is_refused_with_the_reason(text: str, reason: str) -> None:
    from pressline.subscribers.service import SignupLimits

    with pytest.raises(ValueError, match=reason):
        SignupLimits.from_setting(text)
