"""Deliver: exactly one email per (post, subscriber) under duplicates, retries and crashes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from subscriber_helpers import link_token, make_post

from pressline.errors import RetryableError
from pressline.models import DeliveryBatch
from pressline.subscribers.delivery import Delivery
from pressline.subscribers.memory import FakeClock, MemoryLedger, MemoryMailer, MemoryRepository, SimulatedCrash
from pressline.subscribers.messages import Site
from pressline.subscribers.service import Subscriptions, suppress_address
from pressline.subscribers.tokens import Keys, Purpose, verify


@pytest.fixture
def delivery(
    repository: MemoryRepository,
    ledger: MemoryLedger,
    mailer: MemoryMailer,
    keys: Keys,
    site: Site,
    clock: FakeClock,
) -> Delivery:
    return Delivery(repository, ledger, mailer, keys, site, clock)


@pytest.fixture
def confirmed(subscribe_confirmed: Callable[..., str], mailer: MemoryMailer) -> list[str]:
    ids = [subscribe_confirmed(f"reader{n}@example.com") for n in range(10)]
    mailer.sent.clear()  # keep only post emails
    return ids


def _post_emails(mailer: MemoryMailer) -> Counter[str]:
    return Counter(email.recipient for email in mailer.sent)


def test_each_recipient_gets_one_email_with_a_working_unsubscribe_link(
    delivery: Delivery, mailer: MemoryMailer, confirmed: list[str], keys: Keys, clock: FakeClock
) -> None:
    result = delivery.deliver(DeliveryBatch(post=make_post(), subscriber_ids=confirmed))
    assert sorted(result.sent) == sorted(confirmed)
    assert _post_emails(mailer) == Counter({f"reader{n}@example.com": 1 for n in range(10)})
    email = mailer.sent[0]
    assert email.subject == "Hello, world"
    claims = verify(keys, link_token(email.raw, "unsubscribe"), Purpose.UNSUBSCRIBE, clock())
    assert claims.subscriber_id == confirmed[0]


def test_a_duplicated_batch_sends_nothing_more(delivery: Delivery, mailer: MemoryMailer, confirmed: list[str]) -> None:
    batch = DeliveryBatch(post=make_post(), subscriber_ids=confirmed)
    delivery.deliver(batch)
    again = delivery.deliver(batch)
    assert again.sent == [] and sorted(again.already_sent) == sorted(confirmed)
    assert set(_post_emails(mailer).values()) == {1}


def test_repeated_ids_within_a_batch_get_one_email(
    delivery: Delivery, mailer: MemoryMailer, confirmed: list[str]
) -> None:
    delivery.deliver(DeliveryBatch(post=make_post(), subscriber_ids=[confirmed[0]] * 3))
    assert len(mailer.sent) == 1


def test_a_crash_mid_batch_then_a_retry_sends_each_recipient_exactly_one_email(
    delivery: Delivery, mailer: MemoryMailer, confirmed: list[str], clock: FakeClock
) -> None:
    batch = DeliveryBatch(post=make_post(), subscriber_ids=confirmed)
    mailer.fail_after = 4  # dies inside the 5th send call, before it reaches the provider
    with pytest.raises(SimulatedCrash):
        delivery.deliver(batch)
    assert len(mailer.sent) == 4
    mailer.fail_after = None
    # SQS redelivers at once (a duplicate): the 5th is still claimed by the dead invocation.
    with pytest.raises(RetryableError, match="being sent by another invocation"):
        delivery.deliver(batch)
    assert len(mailer.sent) == 9
    # Redelivered after the visibility timeout, past the lease: the 5th is taken over.
    clock.advance(timedelta(minutes=6))
    result = delivery.deliver(batch)
    assert result.sent == [confirmed[4]]
    assert _post_emails(mailer) == Counter({f"reader{n}@example.com": 1 for n in range(10)})


def test_throttling_releases_the_claim_so_the_retry_sends_at_once(
    delivery: Delivery, mailer: MemoryMailer, confirmed: list[str]
) -> None:
    batch = DeliveryBatch(post=make_post(), subscriber_ids=confirmed)
    mailer.throttle = True
    with pytest.raises(RetryableError):
        delivery.deliver(batch)
    mailer.throttle = False
    assert sorted(delivery.deliver(batch).sent) == sorted(confirmed)


def test_a_rejected_recipient_is_recorded_and_the_others_still_get_theirs(
    delivery: Delivery, mailer: MemoryMailer, confirmed: list[str]
) -> None:
    mailer.reject = {"reader3@example.com"}
    batch = DeliveryBatch(post=make_post(), subscriber_ids=confirmed)
    result = delivery.deliver(batch)
    assert result.rejected == [confirmed[3]] and len(result.sent) == 9
    assert delivery.deliver(batch).already_sent  # the rejection is final, not retried forever


def test_unknown_unsubscribed_pending_suppressed_and_uninterested_recipients_are_skipped(
    delivery: Delivery,
    mailer: MemoryMailer,
    repository: MemoryRepository,
    keys: Keys,
    clock: FakeClock,
    subscriptions: Subscriptions,
    subscribe_confirmed: Callable[..., str],
) -> None:
    gone = subscribe_confirmed("gone@example.com")
    subscriptions.unsubscribe(link_token_for(keys, gone))
    pending, _ = subscriptions.subscribe("pending@example.com", [])
    bounced = subscribe_confirmed("bounced@example.com")
    suppress_address(repository, keys, "bounced@example.com", "bounce:General", clock())
    rust = subscribe_confirmed("rust@example.com", ("rust",))
    keen = subscribe_confirmed("keen@example.com", ("aws",))
    mailer.sent.clear()
    result = delivery.deliver(
        DeliveryBatch(post=make_post(tags=("aws",)), subscriber_ids=["unknown", gone, pending, bounced, rust, keen])
    )
    assert result.sent == [keen]
    assert result.skipped == ["unknown", gone, pending, bounced, rust]
    assert [email.recipient for email in mailer.sent] == ["keen@example.com"]


def link_token_for(keys: Keys, sid: str) -> str:
    from pressline.subscribers.tokens import issue

    return issue(keys, Purpose.UNSUBSCRIBE, sid)
