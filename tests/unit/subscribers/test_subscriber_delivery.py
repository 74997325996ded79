"""Deliver: exactly one email per (post, subscriber) under duplicates, retries and crashes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from subscriber_helpers import link_token, make_post

from pressline.errors import RetryableError
from pressline.models import DeliveryBatch
from pressline.subscribers.delivery import Delivery
from pressline.subscribers.memory import FakeClock, MemoryLedger, MemoryMailer, MemoryRepository, SimulatedCrash
from pressline.subscribers.messages import OutgoingEmail, Site
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
    a, b, c = confirmed[:3]
    result = delivery.deliver(DeliveryBatch(post=make_post(), subscriber_ids=[a, b, a, c, b, a]))
    assert result.sent == [a, b, c]
    assert _post_emails(mailer) == Counter({f"reader{n}@example.com": 1 for n in range(3)})


class RecordingLedger:
    """A memory ledger that notes in ``steps`` each call made to it."""

    def __init__(self, steps: list[str]) -> None:
        self.inner = MemoryLedger()
        self.steps = steps

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.steps.append(name)
            return method(*args, **kwargs)

        return recorded


class RecordingMailer(MemoryMailer):
    def __init__(self, steps: list[str]) -> None:
        super().__init__()
        self.steps = steps

    def send(self, email: OutgoingEmail) -> str:
        self.steps.append("send")
        return super().send(email)


def test_a_batch_is_claimed_in_one_call_and_each_email_marked_after_its_own_send(
    repository: MemoryRepository, keys: Keys, site: Site, clock: FakeClock
) -> None:
    steps: list[str] = []
    ledger: Any = RecordingLedger(steps)
    delivery = Delivery(repository, ledger, RecordingMailer(steps), keys, site, clock)
    ids = [confirmed_directly(repository, clock, n) for n in range(50)]
    assert len(delivery.deliver(DeliveryBatch(post=make_post(), subscriber_ids=ids)).sent) == 50
    # One claim call for the batch (was one a recipient), then each mark right after its send.
    assert steps == ["claim_many"] + ["send", "mark_sent"] * 50


def confirmed_directly(repository: MemoryRepository, clock: FakeClock, n: int) -> str:
    """A confirmed subscriber written straight into the repository (no confirmation email)."""
    sid = f"{n:032x}"
    claim = repository.request_confirmation(
        sid, f"reader{n}@example.com", clock(), timedelta(minutes=10), timedelta(days=3)
    )
    assert claim.claimed
    assert repository.confirm(sid, (), clock()) == "confirmed"
    return sid


def test_a_crash_mid_batch_then_a_retry_sends_each_recipient_exactly_one_email(
    delivery: Delivery, mailer: MemoryMailer, confirmed: list[str], clock: FakeClock
) -> None:
    batch = DeliveryBatch(post=make_post(), subscriber_ids=confirmed)
    mailer.fail_after = 4  # dies inside the 5th send call, before it reaches the provider
    with pytest.raises(SimulatedCrash):
        delivery.deliver(batch)
    assert len(mailer.sent) == 4
    mailer.fail_after = None
    # SQS redelivers at once (a duplicate): the dead invocation claimed the whole batch in
    # one call, so the 5th and the five after it are still its fresh claims: nothing is sent.
    with pytest.raises(RetryableError, match=r"^6 recipient.*being sent by another invocation"):
        delivery.deliver(batch)
    assert len(mailer.sent) == 4
    # Redelivered after the visibility timeout, past the lease: its claims are taken over.
    clock.advance(timedelta(minutes=6))
    result = delivery.deliver(batch)
    assert result.sent == confirmed[4:] and result.already_sent == confirmed[:4]
    assert _post_emails(mailer) == Counter({f"reader{n}@example.com": 1 for n in range(10)})


def test_a_retry_of_a_half_sent_batch_sends_only_the_rest(
    delivery: Delivery, ledger: MemoryLedger, mailer: MemoryMailer, confirmed: list[str], clock: FakeClock
) -> None:
    post = make_post()
    delivery.deliver(DeliveryBatch(post=post, subscriber_ids=confirmed[:4]))
    # A dead invocation's claim (older than the lease) and a live one's (fresh).
    assert ledger.claim(post.slug, confirmed[4], clock() - timedelta(minutes=6), delivery.lease) == "claimed"
    assert ledger.claim(post.slug, confirmed[5], clock() - timedelta(minutes=1), delivery.lease) == "claimed"
    with pytest.raises(RetryableError, match=r"^1 recipient.*being sent by another invocation"):
        delivery.deliver(DeliveryBatch(post=post, subscriber_ids=confirmed))
    # Done ones skipped, the dead one's taken over and sent, the live one's left to it.
    assert _post_emails(mailer) == Counter({f"reader{n}@example.com": 1 for n in range(10) if n != 5})
    ledger.mark_sent(post.slug, confirmed[5], "the-live-invocations", clock())
    result = delivery.deliver(DeliveryBatch(post=post, subscriber_ids=confirmed))
    assert result.sent == [] and result.already_sent == confirmed


class ThrottledFrom(MemoryMailer):
    """Sends ``sends`` emails, then SES throttles every call."""

    def __init__(self, sends: int) -> None:
        super().__init__()
        self.sends = sends

    def send(self, email: OutgoingEmail) -> str:
        if len(self.sent) >= self.sends:
            raise RetryableError("throttled")
        return super().send(email)


def test_throttling_releases_the_claims_not_sent_so_the_retry_sends_them_at_once(
    repository: MemoryRepository,
    ledger: MemoryLedger,
    keys: Keys,
    site: Site,
    clock: FakeClock,
    confirmed: list[str],
) -> None:
    mailer = ThrottledFrom(3)
    delivery = Delivery(repository, ledger, mailer, keys, site, clock)
    batch = DeliveryBatch(post=make_post(), subscriber_ids=confirmed)
    with pytest.raises(RetryableError, match="throttled"):
        delivery.deliver(batch)
    assert len(mailer.sent) == 3
    mailer.sends = 100
    result = delivery.deliver(batch)  # at once: no claim left to wait for
    assert result.already_sent == confirmed[:3] and result.sent == confirmed[3:]
    assert _post_emails(mailer) == Counter({f"reader{n}@example.com": 1 for n in range(10)})


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
