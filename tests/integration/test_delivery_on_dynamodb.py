"""Deliver's scenarios of tests/unit/subscribers/test_subscriber_delivery.py (duplicates,
crashes, half-sent batches, throttling, rejections), run on the real DynamoDB adapters (moto)
as well as on the memory fakes: the batch claims and releases in transactions behave as the
fake's."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "subscribers"))

from subscriber_helpers import link_token
from test_subscriber_delivery import (
    confirmed,
    delivery,
    test_a_crash_mid_batch_then_a_retry_sends_each_recipient_exactly_one_email,
    test_a_duplicated_batch_sends_nothing_more,
    test_a_rejected_recipient_is_recorded_and_the_others_still_get_theirs,
    test_a_retry_of_a_half_sent_batch_sends_only_the_rest,
    test_each_recipient_gets_one_email_with_a_working_unsubscribe_link,
    test_repeated_ids_within_a_batch_get_one_email,
    test_throttling_releases_the_claims_not_sent_so_the_retry_sends_them_at_once,
)

from pressline.subscribers.memory import FakeClock, MemoryMailer
from pressline.subscribers.messages import Site
from pressline.subscribers.service import Subscriptions
from pressline.subscribers.tokens import Keys

# Imported to be collected here too, with this module's fixtures: memory and DynamoDB.
FIXTURES = (confirmed, delivery)
SCENARIOS = (
    test_a_crash_mid_batch_then_a_retry_sends_each_recipient_exactly_one_email,
    test_a_duplicated_batch_sends_nothing_more,
    test_a_rejected_recipient_is_recorded_and_the_others_still_get_theirs,
    test_a_retry_of_a_half_sent_batch_sends_only_the_rest,
    test_each_recipient_gets_one_email_with_a_working_unsubscribe_link,
    test_repeated_ids_within_a_batch_get_one_email,
    test_throttling_releases_the_claims_not_sent_so_the_retry_sends_them_at_once,
)


@pytest.fixture
def keys() -> Keys:
    return Keys.from_secret("integration-test-secret-0123456789abcdefghijkl")


@pytest.fixture
def site() -> Site:
    return Site(
        title="Pressline Test",
        url="https://blog.example.com",
        api_url="https://api.example.com",
        sender="news@example.com",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def subscribe_confirmed(
    repository: Any, mailer: MemoryMailer, keys: Keys, site: Site, clock: FakeClock
) -> Callable[..., str]:
    subscriptions = Subscriptions(repository=repository, mailer=mailer, keys=keys, site=site, clock=clock)

    def run(address: str, tags: tuple[str, ...] = ()) -> str:
        sid, outcome = subscriptions.subscribe(address, tags)
        assert outcome == "sent"
        assert subscriptions.confirm(link_token(mailer.sent[-1].raw, "confirm")) == (sid, "confirmed")
        return sid

    return run
