"""The digest scenarios of tests/unit/subscribers/test_digest_delivery.py, run on the real
DynamoDB adapters (moto) as well as on the memory fakes: the same tests check the fakes
against the real repository and ledger (subscribers, audience rows, windows, the digest log,
claims in transactions, fan-out states)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "subscribers"))

from subscriber_helpers import link_token
from test_digest_delivery import (
    MORNING,
    World,
    test_a_crash_between_claim_and_send_resends_the_same_posts_only,
    test_a_daily_digest_holds_the_posts_since_the_last_one_once,
    test_a_duplicated_digest_batch_sends_one_digest,
    test_a_post_deleted_before_the_digest_is_left_out_and_an_edited_one_shown_as_it_is,
    test_a_subscriber_back_to_instant_gets_a_final_digest_and_then_each_post_alone,
    test_a_suppressed_or_deleted_subscriber_gets_no_digest,
    test_a_throttled_digest_is_sent_by_the_retry,
    test_an_instant_subscriber_gets_each_post_alone_and_no_digest,
    test_weekly_subscribers_get_the_week_in_one_digest_on_the_weekday,
)

from pressline.subscribers.digests import DigestSchedule
from pressline.subscribers.memory import FakeClock, MemoryMailer
from pressline.subscribers.messages import Site
from pressline.subscribers.service import Subscriptions
from pressline.subscribers.tokens import Keys

# Imported to be collected here too, each with this module's ``world``: memory and DynamoDB.
SCENARIOS = (
    test_a_crash_between_claim_and_send_resends_the_same_posts_only,
    test_a_daily_digest_holds_the_posts_since_the_last_one_once,
    test_a_duplicated_digest_batch_sends_one_digest,
    test_a_post_deleted_before_the_digest_is_left_out_and_an_edited_one_shown_as_it_is,
    test_a_subscriber_back_to_instant_gets_a_final_digest_and_then_each_post_alone,
    test_a_suppressed_or_deleted_subscriber_gets_no_digest,
    test_a_throttled_digest_is_sent_by_the_retry,
    test_an_instant_subscriber_gets_each_post_alone_and_no_digest,
    test_weekly_subscribers_get_the_week_in_one_digest_on_the_weekday,
)
KEYS = Keys.from_secret("integration-test-secret-0123456789abcdefghijkl")
SITE = Site(
    title="Pressline Test", url="https://blog.example.com", api_url="https://api.example.com", sender="news@example.com"
)


@pytest.fixture
def world(repository: Any, ledger: Any) -> World:
    clock = FakeClock(MORNING)
    mailer = MemoryMailer()
    subscriptions = Subscriptions(repository=repository, mailer=mailer, keys=KEYS, site=SITE, clock=clock)

    def subscribe_confirmed(address: str, tags: tuple[str, ...] = ()) -> str:
        sid, outcome = subscriptions.subscribe(address, tags)
        assert outcome == "sent"
        assert subscriptions.confirm(link_token(mailer.sent[-1].raw, "confirm")) == (sid, "confirmed")
        return sid

    found = World(clock, repository, ledger, mailer, subscribe_confirmed, KEYS, SITE, DigestSchedule("UTC", 7, 0))
    found.tick()  # the periods already due when the site starts run empty
    return found
