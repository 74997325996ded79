"""Fakes for the subscriber core: in-memory repository and ledger, fake mailer and clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from subscriber_helpers import link_token

from pressline.subscribers.memory import FakeClock, MemoryLedger, MemoryMailer, MemoryRepository
from pressline.subscribers.messages import Site
from pressline.subscribers.service import Subscriptions
from pressline.subscribers.tokens import Keys

SECRET = "unit-test-secret-0123456789abcdefghijklmnop"


@pytest.fixture
def keys() -> Keys:
    return Keys.from_secret(SECRET)


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
def repository() -> MemoryRepository:
    return MemoryRepository()


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def subscriptions(
    repository: MemoryRepository, mailer: MemoryMailer, keys: Keys, site: Site, clock: FakeClock
) -> Subscriptions:
    return Subscriptions(repository=repository, mailer=mailer, keys=keys, site=site, clock=clock)


@pytest.fixture
def subscribe_confirmed(subscriptions: Subscriptions, mailer: MemoryMailer) -> Callable[[str, tuple[str, ...]], str]:
    """Subscribe ``address`` with ``tags`` and click the confirmation link; the subscriber id."""

    def run(address: str, tags: tuple[str, ...] = ()) -> str:
        sid, outcome = subscriptions.subscribe(address, tags)
        assert outcome == "sent"
        token = link_token(mailer.sent[-1].raw, "confirm")
        assert subscriptions.confirm(token) == (sid, "confirmed")
        return sid

    return run
