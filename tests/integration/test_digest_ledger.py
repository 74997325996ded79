"""The ledger's digest parts on moto and in memory alike (the fake is checked against the real
adapter by the same tests): the digest log and its seal, digests' claims in transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pressline.subscribers.digests import LogEntry, Record, log_day, log_days
from pressline.subscribers.ports import DigestClaim, DigestClaimed

LEASE = timedelta(minutes=5)
DIGEST = "digest#daily#2026-12-04"


def now() -> datetime:
    return datetime(2026, 12, 4, 5, 30, tzinfo=UTC)


def test_the_log_keeps_each_posts_first_entry(ledger: Any) -> None:
    t = now()
    assert ledger.log_posts([("a", "posts/a.md"), ("b", "posts/b.md")], t) == t
    later = t + timedelta(minutes=3)
    assert ledger.log_posts([("a", "posts/a.md"), ("c", "posts/c.md")], later) == later  # a repeated announcement
    entries = sorted(ledger.read_log([log_day(t)]), key=lambda e: e.slug)
    assert entries == [
        LogEntry("a", "posts/a.md", t),
        LogEntry("b", "posts/b.md", t),
        LogEntry("c", "posts/c.md", later),
    ]
    assert ledger.read_log(["2026-12-01"]) == []
    assert ledger.log_posts([], t) == t


def test_a_sealed_log_takes_no_entry_dated_before_the_seal(ledger: Any) -> None:
    t = now()
    cutoff = t + timedelta(minutes=30)
    ledger.log_posts([("before", "posts/before.md")], t)
    ledger.seal_log(cutoff)
    ledger.seal_log(cutoff - timedelta(hours=1))  # an older seal never moves it back
    # A log write stamped before the cutoff that lands after the seal: it is the next digest's.
    assert ledger.log_posts([("late", "posts/late.md")], t + timedelta(minutes=10)) == cutoff
    assert ledger.log_posts([("after", "posts/after.md")], cutoff + timedelta(minutes=1)) == cutoff + timedelta(
        minutes=1
    )
    entries = {e.slug: e.logged_at for e in ledger.read_log(log_days(t, cutoff + timedelta(minutes=1)))}
    assert entries == {"before": t, "late": cutoff, "after": cutoff + timedelta(minutes=1)}


def test_the_seal_covers_a_write_stamped_just_before_midnight(ledger: Any) -> None:
    cutoff = datetime(2026, 12, 4, 0, 0, 30, tzinfo=UTC)
    ledger.seal_log(cutoff)
    at = ledger.log_posts([("p", "posts/p.md")], datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC))
    assert at == cutoff
    assert [e.logged_at for e in ledger.read_log(["2026-12-03", "2026-12-04"])] == [cutoff]


def test_many_posts_in_one_day(ledger: Any) -> None:
    t = now()
    posts = [(f"post-{n:03d}", f"posts/post-{n:03d}.md") for n in range(120)]  # three updates on DynamoDB
    ledger.log_posts(posts, t)
    assert sorted(e.slug for e in ledger.read_log([log_day(t)])) == [slug for slug, _ in posts]


def test_a_digest_claims_its_record_and_its_posts_at_once(ledger: Any) -> None:
    t = now()
    claimed = ledger.claim_digests([DigestClaim(DIGEST, "s1", ("a", "b"))], t, LEASE)
    assert claimed == {"s1": DigestClaimed("claimed")}
    records = ledger.digest_records(DIGEST, ["s1", "s2"], ["a", "b", "c"])
    assert records == {
        (DIGEST, "s1"): Record("sending", t),
        ("a", "s1"): Record("digest", t, DIGEST),
        ("b", "s1"): Record("digest", t, DIGEST),
    }
    # While it is being sent: busy, and nothing more is written.
    again = ledger.claim_digests([DigestClaim(DIGEST, "s1", ("a", "b", "c"))], t + timedelta(minutes=1), LEASE)
    assert again == {"s1": DigestClaimed("busy")}
    assert ("c", "s1") not in ledger.digest_records(DIGEST, ["s1"], ["c"])
    # An instant email of a post in a digest is already done.
    assert ledger.claim("a", "s1", t, LEASE) == "done"
    ledger.mark_sent(DIGEST, "s1", "message-1", t)
    done = ledger.claim_digests([DigestClaim(DIGEST, "s1", ("c",))], t + timedelta(minutes=10), LEASE)
    assert done == {"s1": DigestClaimed("done")}
    assert ("c", "s1") not in ledger.digest_records(DIGEST, ["s1"], ["c"])


def test_a_dead_senders_digest_is_taken_over_with_its_posts(ledger: Any) -> None:
    t = now()
    ledger.claim_digests([DigestClaim(DIGEST, "s1", ("a",))], t, LEASE)
    # The sender died between the claims and the send; the retry comes after the lease.
    retry = ledger.claim_digests([DigestClaim(DIGEST, "s1", ("a", "b"))], t + LEASE, LEASE)
    assert retry == {"s1": DigestClaimed("claimed")}
    records = ledger.digest_records(DIGEST, ["s1"], ["a", "b"])
    assert records[("a", "s1")].digest == DIGEST and records[("b", "s1")].digest == DIGEST


def test_posts_someone_else_carries_are_lost_to_the_claim(ledger: Any) -> None:
    t = now()
    assert ledger.claim("sent", "s1", t, LEASE) == "claimed"
    ledger.mark_sent("sent", "s1", "m", t)
    assert ledger.claim("sending", "s1", t, LEASE) == "claimed"  # an instant email being sent
    assert ledger.claim("dead", "s1", t - LEASE, LEASE) == "claimed"  # its sender died
    other = "digest#weekly#2026-W49"
    ledger.claim_digests([DigestClaim(other, "s1", ("weekly",))], t, LEASE)
    claimed = ledger.claim_digests(
        [
            DigestClaim(DIGEST, "s1", ("sent", "sending", "dead", "weekly", "new")),
            DigestClaim(DIGEST, "s2", ("sent", "new")),
        ],
        t,
        LEASE,
    )
    assert claimed == {
        "s1": DigestClaimed("claimed", frozenset({"sent", "sending", "weekly"})),
        "s2": DigestClaimed("claimed"),
    }
    records = ledger.digest_records(DIGEST, ["s1", "s2"], ["sent", "sending", "dead", "weekly", "new"])
    assert records[("dead", "s1")] == Record("digest", t, DIGEST)
    assert records[("new", "s1")] == Record("digest", t, DIGEST)
    assert records[("sending", "s1")].status == "sending"
    assert records[("weekly", "s1")].digest == other
    assert records[("sent", "s2")] == Record("digest", t, DIGEST)


def test_a_claim_refused_for_its_own_record_writes_none_of_its_posts(ledger: Any) -> None:
    t = now()
    ledger.claim_digests([DigestClaim(DIGEST, "s1", ())], t, LEASE)
    ledger.mark_sent(DIGEST, "s1", "m", t)
    claimed = ledger.claim_digests(
        [DigestClaim(DIGEST, "s1", ("a", "b")), DigestClaim(DIGEST, "s2", ("a", "b"))], t, LEASE
    )
    assert claimed == {"s1": DigestClaimed("done"), "s2": DigestClaimed("claimed")}
    records = ledger.digest_records(DIGEST, ["s1", "s2"], ["a", "b"])
    assert set(records) == {(DIGEST, "s1"), (DIGEST, "s2"), ("a", "s2"), ("b", "s2")}


def test_claims_larger_than_a_transaction(ledger: Any) -> None:
    t = now()
    many = tuple(f"post-{n:03d}" for n in range(150))
    claims = [DigestClaim(DIGEST, "s1", many), DigestClaim(DIGEST, "s2", many[:30])]
    assert ledger.claim_digests(claims, t, LEASE) == {"s1": DigestClaimed("claimed"), "s2": DigestClaimed("claimed")}
    records = ledger.digest_records(DIGEST, ["s1", "s2"], many)
    assert len(records) == 2 + 150 + 30
