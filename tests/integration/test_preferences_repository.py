"""Preferences and digest windows on moto and in memory alike (the fake is checked against the
real adapter by the same tests): a versioned plan write, rows with their windows, finishing a
digest, and signing up again keeping the frequency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pressline.local.harness import StackHandle
from pressline.subscribers.model import Member
from pressline.subscribers.preferences import plan_finish, plan_preferences

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _confirmed(repository: Any, sid: str = "s1", tags: tuple[str, ...] = ("aws",)) -> None:
    assert repository.request_confirmation(sid, f"{sid}@example.com", NOW, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm(sid, tags, NOW) == "confirmed"


def _members(repository: Any, audience: str) -> dict[str, Member]:
    page, _ = repository.audience_page(audience, None, 100)
    return {member.id: member for member in page}


def test_a_confirmed_subscriber_reads_as_instant_with_its_rows_and_unknown_ones_as_none(repository: Any) -> None:
    assert repository.preferences("nobody") is None
    assert repository.request_confirmation("p1", "p1@example.com", NOW, timedelta(minutes=10), timedelta(days=3))
    assert repository.preferences("p1") is None  # pending: nothing to manage yet
    _confirmed(repository)
    current = repository.preferences("s1")
    assert current is not None
    assert (current.subscriber.frequency, current.subscriber.tags, current.subscriber.digest_from) == (
        "instant",
        ("aws",),
        None,
    )
    assert current.rows == {"TAG#aws": Member(id="s1", tags=("aws",))}


def test_switching_to_a_digest_and_back_writes_the_rows_and_windows_the_rules_say(repository: Any) -> None:
    _confirmed(repository)
    current = repository.preferences("s1")
    plan = plan_preferences(current.subscriber, current.rows, ("aws", "python"), "daily", NOW)
    assert repository.apply_preferences("s1", current.version, plan)
    assert not repository.apply_preferences("s1", current.version, plan)  # a stale version writes nothing
    daily = repository.preferences("s1")
    # Confirmed at NOW, less than 14 days ago: the window starts at the confirmation.
    assert daily.subscriber.frequency == "daily" and daily.subscriber.digest_from == NOW
    assert set(daily.rows) == {"DIGEST#daily"}
    assert _members(repository, "DIGEST#daily")["s1"] == Member(id="s1", tags=("aws", "python"), digest_from=NOW)
    assert "s1" not in _members(repository, "TAG#aws")
    assert repository.get_many(["s1"])["s1"].frequency == "daily"

    back_at = NOW + timedelta(hours=5)
    plan = plan_preferences(daily.subscriber, daily.rows, ("aws",), "instant", back_at)
    assert repository.apply_preferences("s1", daily.version, plan)
    instant = repository.preferences("s1")
    assert instant.subscriber.frequency == "instant" and instant.subscriber.digest_from == NOW
    assert _members(repository, "DIGEST#daily")["s1"] == Member(id="s1", tags=("aws",), digest_from=NOW, until=back_at)
    assert set(_members(repository, "TAG#aws")) == {"s1"}

    # The final digest (cutoff after the switch) removes the row and clears the window.
    repository.finish_digest("s1", "daily", back_at + timedelta(hours=1))
    done = repository.preferences("s1")
    assert set(done.rows) == {"TAG#aws"} and done.subscriber.digest_from is None
    repository.finish_digest("s1", "daily", back_at + timedelta(hours=1))  # repeated: nothing more
    assert repository.preferences("s1") == done


def test_finishing_a_regular_digest_moves_the_window_forward_only(repository: Any) -> None:
    _confirmed(repository, tags=())
    current = repository.preferences("s1")
    assert repository.apply_preferences(
        "s1", current.version, plan_preferences(current.subscriber, current.rows, (), "weekly", NOW)
    )
    cutoff = NOW + timedelta(days=3)
    repository.finish_digest("s1", "weekly", cutoff)
    assert repository.preferences("s1").subscriber.digest_from == cutoff
    assert _members(repository, "DIGEST#weekly")["s1"].digest_from == cutoff
    repository.finish_digest("s1", "weekly", cutoff - timedelta(days=1))  # an older finish: no step back
    repository.finish_digest("s1", "daily", cutoff + timedelta(days=1))  # another frequency: not theirs
    assert repository.preferences("s1").subscriber.digest_from == cutoff
    repository.finish_digest("gone", "weekly", cutoff)  # no such subscriber: nothing, no error


def test_signing_up_again_changes_the_tags_and_keeps_the_digest(repository: Any) -> None:
    _confirmed(repository)
    current = repository.preferences("s1")
    assert repository.apply_preferences(
        "s1", current.version, plan_preferences(current.subscriber, current.rows, ("aws",), "daily", NOW)
    )
    later = NOW + timedelta(hours=1)
    assert repository.request_confirmation("s1", "s1@example.com", later, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm("s1", ("rust",), later) == "confirmed"
    again = repository.preferences("s1")
    assert again.subscriber.frequency == "daily" and again.subscriber.digest_from == NOW
    assert again.rows == {"DIGEST#daily": Member(id="s1", tags=("rust",), digest_from=NOW)}


def test_a_suppressed_or_deleted_subscriber_has_no_preferences_and_takes_no_plan(repository: Any) -> None:
    _confirmed(repository, "s1")
    _confirmed(repository, "s2")
    first, second = repository.preferences("s1"), repository.preferences("s2")
    repository.suppress("s1", "bounce", NOW)
    assert repository.delete("s2")
    for sid, current in (("s1", first), ("s2", second)):
        plan = plan_preferences(current.subscriber, current.rows, (), "daily", NOW)
        assert repository.preferences(sid) is None
        assert not repository.apply_preferences(sid, current.version, plan)
        assert sid not in _members(repository, "DIGEST#daily")
    assert plan_finish(first.subscriber, first.rows, "daily", NOW) is None  # no digest row: nothing to finish


def test_a_regular_finish_is_one_call_and_the_others_read_first(aws_stack: StackHandle) -> None:
    from collections import Counter

    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    repository = DynamoSubscriberRepository(aws_stack.outputs["SubscribersTableName"], aws_stack.dynamodb)
    _confirmed(repository, tags=())
    current = repository.preferences("s1")
    assert repository.apply_preferences(
        "s1", current.version, plan_preferences(current.subscriber, current.rows, (), "daily", NOW)
    )
    calls: Counter[str] = Counter()
    aws_stack.dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    cutoff = NOW + timedelta(days=1)
    repository.finish_digest("s1", "daily", cutoff)
    assert calls == Counter({"TransactWriteItems": 1})
    after = repository.preferences("s1")
    assert after.subscriber.digest_from == cutoff and after.rows["DIGEST#daily"].digest_from == cutoff
    assert after.version == current.version + 2  # the save, then the finish: a stale form is refused
    calls.clear()
    repository.finish_digest("s1", "daily", cutoff)  # again (a redelivered batch): nothing moves
    assert calls["Query"] == 1 and repository.preferences("s1") == after
