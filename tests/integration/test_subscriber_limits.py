"""The sign-up rules over both repositories, by the same tests: the in-memory fake and the
DynamoDB adapter on moto (a table made from template.yaml's SubscribersTable). If the fake
drifts from the adapter, one of the two parameters fails.

- Limits on confirmation emails: per address, per mailbox (``+tag``, Gmail dots), per
  domain, per client (IPv4, IPv6 /64) and overall; a limited sign-up sends nothing and
  counts against nothing.
- Confirmation links are single-use and bound to the pending request they were issued for.
- Every sign-up path does the same storage work (counted, never timed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pressline.subscribers.memory import FakeClock, MemoryMailer, MemoryRepository
from pressline.subscribers.messages import Site
from pressline.subscribers.ports import Allowance
from pressline.subscribers.service import Limit, SignupLimits, Subscriptions, suppress_address
from pressline.subscribers.tokens import Keys, Purpose, issue

ROOT = Path(__file__).resolve().parents[2]
KEYS = Keys.from_secret("limits-test-secret-0123456789abcdef")
SITE = Site(title="Limits", url="https://blog.example.com", api_url="https://api.example.com", sender="n@example.com")
IP = "203.0.113.7"


def link_token(raw: bytes, action: str) -> str:
    """The token of the first ``/subscriptions/<action>`` link in an email's text part."""
    import re
    from email import message_from_bytes, policy
    from urllib.parse import unquote

    part = message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",))
    assert part is not None
    found = re.search(rf"/subscriptions/{action}\?token=([^\s>]+)", str(part.get_content()))
    assert found, f"no {action} link in the email"
    return unquote(found.group(1))


class Calls:
    """Counts the storage operations made: DynamoDB API calls, or the fake's port methods."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def take(self) -> list[str]:
        names, self.names = self.names, []
        return names


class CountingRepository(MemoryRepository):
    def __init__(self, calls: Calls) -> None:
        super().__init__()
        self._calls = calls

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if callable(attribute) and not name.startswith("_"):
            super().__getattribute__("_calls").names.append(name)
        return attribute


@pytest.fixture(params=["memory", "dynamodb"])
def storage(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Calls]]:
    calls = Calls()
    if request.param == "memory":
        yield CountingRepository(calls), calls
        return
    import boto3
    from moto import mock_aws

    from pressline.local.template import load_sam
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    table = load_sam(ROOT / "template.yaml")["Resources"]["SubscribersTable"]["Properties"]
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="subscribers",
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        )
        db.meta.events.register("before-call.dynamodb", lambda model, **_: calls.names.append(model.name))
        yield DynamoSubscriberRepository("subscribers", db), calls


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def service(storage: tuple[Any, Calls], mailer: MemoryMailer, clock: FakeClock) -> Subscriptions:
    return Subscriptions(repository=storage[0], mailer=mailer, keys=KEYS, site=SITE, clock=clock)


def outcomes(service: Subscriptions, addresses: list[str], ip: str = IP) -> list[str]:
    return [service.subscribe(address, [], ip)[1] for address in addresses]


# ----------------------------------------------------------------------------- limits
def test_plus_addressing_does_not_get_past_the_mailbox_limit(service: Subscriptions, mailer: MemoryMailer) -> None:
    """The reported attack: bomb+{i}@victim.example, each a new address."""
    results = outcomes(service, [f"bomb+{i}@victim.example" for i in range(12)], ip="198.51.100.1")
    assert results == ["sent"] * 3 + ["limited"] * 9
    assert len(mailer.sent) == 3


@pytest.mark.parametrize(
    "spellings",
    [
        [
            "ada.lovelace@gmail.com",
            "adalovelace@gmail.com",
            "Ada.Love.Lace+news@Gmail.com",
            "adalovelace@googlemail.com",
        ],
        ["bob@example.org", "BOB+x@example.org", "bob+a@example.org", "Bob+b+c@EXAMPLE.org"],
    ],
    ids=["gmail-dots", "case-and-tags"],
)
def test_one_mailbox_is_one_mailbox_however_spelled(
    service: Subscriptions, mailer: MemoryMailer, clock: FakeClock, spellings: list[str]
) -> None:
    results = []
    for index, address in enumerate(spellings):
        results.append(service.subscribe(address, [], f"198.51.100.{index}")[1])
    assert results == ["sent", "sent", "sent", "limited"]
    clock.advance(timedelta(hours=1))  # a new window
    assert service.subscribe(spellings[0], [], "198.51.100.9")[1] == "sent"


def test_dots_elsewhere_are_other_people(service: Subscriptions) -> None:
    addresses = [f"{'.'.join('ada')}{i}@example.org" for i in range(2)] + ["a.da0@example.org", "ad.a0@example.org"]
    assert outcomes(service, addresses) == ["sent"] * 4


@pytest.mark.parametrize(
    ("limits", "addresses", "ips", "sent"),
    [
        (
            SignupLimits(domain=Limit(4, timedelta(hours=1))),
            [f"person{i}@victim.example" for i in range(7)],
            [f"198.51.100.{i}" for i in range(7)],
            4,
        ),
        (
            SignupLimits(client=Limit(5, timedelta(hours=1))),
            [f"person@d{i}.example" for i in range(8)],
            [IP] * 8,
            5,
        ),
        (  # one IPv6 host owns a whole /64: every address in it is one client
            SignupLimits(client=Limit(5, timedelta(hours=1))),
            [f"person@d{i}.example" for i in range(8)],
            [f"2001:db8:1:2::{i:x}" for i in range(8)],
            5,
        ),
        (
            SignupLimits(overall=Limit(6, timedelta(hours=1))),
            [f"person@d{i}.example" for i in range(9)],
            [f"198.51.100.{i}" for i in range(9)],
            6,
        ),
    ],
    ids=["domain", "client-ipv4", "client-ipv6-64", "overall"],
)
def test_shared_limits(
    storage: tuple[Any, Calls],
    mailer: MemoryMailer,
    clock: FakeClock,
    limits: SignupLimits,
    addresses: list[str],
    ips: list[str],
    sent: int,
) -> None:
    service = Subscriptions(storage[0], mailer, KEYS, SITE, clock, limits=limits)
    results = [service.subscribe(address, [], ip)[1] for address, ip in zip(addresses, ips, strict=True)]
    assert results == ["sent"] * sent + ["limited"] * (len(addresses) - sent)
    assert len(mailer.sent) == sent
    clock.advance(timedelta(hours=1))
    assert service.subscribe("late@elsewhere.example", [], ips[0])[1] == "sent"


def test_other_clients_are_not_limited_by_one_busy_client(
    storage: tuple[Any, Calls], mailer: MemoryMailer, clock: FakeClock
) -> None:
    service = Subscriptions(
        storage[0], mailer, KEYS, SITE, clock, limits=SignupLimits(client=Limit(2, timedelta(hours=1)))
    )
    assert outcomes(service, [f"p@d{i}.example" for i in range(4)], ip="198.51.100.1") == ["sent"] * 2 + ["limited"] * 2
    assert outcomes(service, ["q@d9.example"], ip="2001:db8:9::1") == ["sent"]


def test_a_refused_sign_up_counts_against_nothing(
    storage: tuple[Any, Calls], mailer: MemoryMailer, clock: FakeClock
) -> None:
    """Repeating one address (rate limited) or a suppressed one must not use up the
    client's or the domain's allowance: nothing is counted unless a mail goes out."""
    limits = SignupLimits(client=Limit(3, timedelta(hours=1)), domain=Limit(3, timedelta(hours=1)))
    service = Subscriptions(storage[0], mailer, KEYS, SITE, clock, limits=limits)
    suppress_address(storage[0], KEYS, "gone@example.org", "bounce:General", clock())
    assert outcomes(service, ["ada@example.org"] * 5 + ["gone@example.org"] * 3) == (
        ["sent"] + ["rate_limited"] * 4 + ["suppressed"] * 3
    )
    assert outcomes(service, ["bob@example.org", "cy@example.org", "dee@example.org"]) == ["sent", "sent", "limited"]


def test_the_per_address_window_still_holds(service: Subscriptions, mailer: MemoryMailer, clock: FakeClock) -> None:
    results = [service.subscribe("ada@example.com", [], IP)[1]]
    clock.advance(timedelta(minutes=9, seconds=59))
    results.append(service.subscribe("ada@example.com", [], IP)[1])
    clock.advance(timedelta(seconds=1))
    results.append(service.subscribe("ada@example.com", [], IP)[1])
    assert results == ["sent", "rate_limited", "sent"]


def test_a_retried_claim_of_the_same_request_is_not_rate_limited(storage: tuple[Any, Calls], clock: FakeClock) -> None:
    """The SDK retries a write whose answer was lost: the retry carries the same request and
    must pass, else the sign-up reads as limited and its confirmation is never sent."""
    repository = storage[0]
    allowances = SignupLimits().allowances(KEYS.id_key, "ada@example.com", IP)
    args = ("sid1", "ada@example.com", clock(), timedelta(minutes=10), timedelta(days=3))
    assert repository.request_confirmation(*args, request="req-1", allowances=allowances).outcome == "claimed"
    assert repository.request_confirmation(*args, request="req-1", allowances=allowances).outcome == "claimed"
    assert repository.request_confirmation(*args, request="req-2", allowances=allowances).outcome == "rate_limited"


def test_an_allowance_is_counted_per_window(storage: tuple[Any, Calls], clock: FakeClock) -> None:
    repository = storage[0]
    allowance = [Allowance("client", "k", 2, timedelta(minutes=30))]
    window, ttl = timedelta(0), timedelta(days=3)
    results = [
        repository.request_confirmation(
            f"s{i}", f"p{i}@example.org", clock(), window, ttl, allowances=allowance
        ).outcome
        for i in range(3)
    ]
    assert results == ["claimed", "claimed", "over_limit"]
    clock.advance(timedelta(minutes=30))
    assert repository.request_confirmation("s9", "p9@example.org", clock(), window, ttl, allowances=allowance).claimed


# ----------------------------------------------------------------------------- single-use links
def _sign_up(service: Subscriptions, mailer: MemoryMailer, address: str, tags: list[str]) -> str:
    assert service.subscribe(address, tags, IP)[1] == "sent"
    return link_token(mailer.sent[-1].raw, "confirm")


def test_an_old_link_does_not_work_after_unsubscribing_and_signing_up_again(
    storage: tuple[Any, Calls], service: Subscriptions, mailer: MemoryMailer, clock: FakeClock
) -> None:
    """The reported case: subscribe, confirm T1, unsubscribe, subscribe again, POST T1."""
    repository = storage[0]
    first = _sign_up(service, mailer, "ada@example.com", ["aws"])
    sid, result = service.confirm(first)
    assert result == "confirmed"
    assert service.unsubscribe(issue(KEYS, Purpose.UNSUBSCRIBE, sid)) == (sid, True)
    clock.advance(timedelta(minutes=1))
    assert service.confirm(first) == (sid, "missing")  # after unsubscribing
    second = _sign_up(service, mailer, "ada@example.com", ["rust"])
    assert service.confirm(first) == (sid, "missing")  # and after signing up again
    assert repository.get_many([sid]) == {}
    assert service.confirm(second) == (sid, "confirmed")
    assert repository.get_many([sid])[sid].tags == ("rust",)


def test_a_link_confirms_once_and_a_second_click_changes_nothing(
    storage: tuple[Any, Calls], service: Subscriptions, mailer: MemoryMailer, clock: FakeClock
) -> None:
    repository = storage[0]
    token = _sign_up(service, mailer, "ada@example.com", ["aws"])
    sid, _ = service.confirm(token)
    clock.advance(timedelta(minutes=11))
    newer = _sign_up(service, mailer, "ada@example.com", ["rust"])
    # The link that confirmed: clicked again, the same answer, and nothing changes.
    assert service.confirm(token) == (sid, "confirmed")
    assert repository.get_many([sid])[sid].tags == ("aws",)
    assert service.confirm(newer) == (sid, "confirmed")
    assert service.confirm(newer) == (sid, "confirmed")  # a double click
    assert repository.get_many([sid])[sid].tags == ("rust",)
    assert service.confirm(token) == (sid, "missing")  # no longer the one that confirmed


def test_a_link_of_a_replaced_request_is_refused_before_confirming(
    storage: tuple[Any, Calls], service: Subscriptions, mailer: MemoryMailer, clock: FakeClock
) -> None:
    first = _sign_up(service, mailer, "ada@example.com", ["aws"])
    clock.advance(timedelta(minutes=11))
    second = _sign_up(service, mailer, "ada@example.com", [])
    sid, result = service.confirm(first)
    assert result == "missing"
    assert storage[0].get_many([sid]) == {}
    assert service.confirm(second) == (sid, "confirmed")


def test_a_link_without_a_request_is_not_accepted(
    service: Subscriptions, mailer: MemoryMailer, clock: FakeClock
) -> None:
    """Links made before tokens named their request (at most 48 hours old at the upgrade)."""
    _sign_up(service, mailer, "ada@example.com", [])
    sid = service.subscribe("ada@example.com", [], IP)[0]
    legacy = issue(KEYS, Purpose.CONFIRM, sid, now=clock(), ttl=timedelta(hours=48))
    assert service.confirm(legacy) == (sid, "missing")


def test_a_suppressed_address_gets_nothing_and_its_link_is_refused(
    storage: tuple[Any, Calls], service: Subscriptions, mailer: MemoryMailer, clock: FakeClock
) -> None:
    token = _sign_up(service, mailer, "ada@example.com", [])
    sid = suppress_address(storage[0], KEYS, "ada@example.com", "complaint", clock())
    clock.advance(timedelta(hours=2))
    assert service.subscribe("ada@example.com", [], IP) == (sid, "suppressed")
    assert service.confirm(token) == (sid, "suppressed")
    assert len(mailer.sent) == 1


# ----------------------------------------------------------------------------- the same work on every path
def test_every_sign_up_path_makes_the_same_storage_calls(
    storage: tuple[Any, Calls], mailer: MemoryMailer, clock: FakeClock
) -> None:
    """What makes the answer time independent of the address (before the stage's floor):
    new, pending (rate limited), confirmed, suppressed and over-limit sign-ups all make
    the same storage calls; only the claimed ones then send."""
    repository, calls = storage
    limits = SignupLimits(mailbox=Limit(1, timedelta(hours=1)))
    service = Subscriptions(repository, mailer, KEYS, SITE, clock, limits=limits)
    confirmed = _sign_up(service, mailer, "conf@example.com", [])
    service.confirm(confirmed)
    suppress_address(repository, KEYS, "gone@example.com", "bounce:General", clock())
    clock.advance(timedelta(minutes=11))
    _sign_up(service, mailer, "pending@example.com", [])
    calls.take()

    seen: dict[str, list[str]] = {}
    for label, address in [
        ("new", "new@example.com"),
        ("pending", "pending@example.com"),
        ("confirmed", "conf+again@example.com"),  # same mailbox as conf@: over its limit
        ("suppressed", "gone@example.com"),
        ("over-limit", "new+2@example.com"),
    ]:
        before = len(mailer.sent)
        _, outcome = service.subscribe(address, [], IP)
        seen[f"{label}:{outcome}"] = calls.take()
        assert len(mailer.sent) == before + (outcome == "sent")
    assert list(seen) == [
        "new:sent",
        "pending:rate_limited",
        "confirmed:limited",
        "suppressed:suppressed",
        "over-limit:limited",
    ]
    assert len({tuple(names) for names in seen.values()}) == 1, seen
    assert len(next(iter(seen.values()))) == 1  # one call: the check and the claim are one atomic step


def test_a_failed_send_frees_the_address_at_once(service: Subscriptions, mailer: MemoryMailer) -> None:
    mailer.throttle = True
    with pytest.raises(Exception, match="throttled"):
        service.subscribe("ada@example.com", [], IP)
    mailer.throttle = False
    assert service.subscribe("ada@example.com", [], IP)[1] == "sent"


def test_limits_hash_what_they_count() -> None:
    """A counter's key is a keyed hash: no address, domain or IP in the table."""
    allowances = SignupLimits().allowances(KEYS.id_key, "ada@example.com", IP)
    assert [a.name for a in allowances] == ["mailbox", "domain", "client", "overall"]
    for allowance in allowances:
        assert "ada" not in allowance.key and "example" not in allowance.key and "203" not in allowance.key
    other = replace(SignupLimits(), mailbox=Limit(1, timedelta(minutes=5))).allowances(
        KEYS.id_key, "ADA+x@example.com", IP
    )
    assert other[0].key == allowances[0].key and other[0].limit == 1
