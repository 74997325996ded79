"""The digest function and Deliver's digests through their handlers on moto (in process), with
the events/ files: a run after the digest hour sends one digest, a repeated run nothing more."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from test_notify import emails, load, seed_confirmed

from pressline.local.harness import StackHandle
from pressline.subscribers.dynamodb import DynamoSubscriberRepository
from pressline.subscribers.preferences import plan_preferences


def choose_daily(stack: StackHandle, sid: str) -> None:
    repository = DynamoSubscriberRepository(stack.outputs["SubscribersTableName"], stack.dynamodb)
    current = repository.preferences(sid)
    assert current is not None
    plan = plan_preferences(current.subscriber, current.rows, (), "daily", datetime.now(UTC))
    assert repository.apply_preferences(sid, current.version, plan)


def digests(stack: StackHandle) -> list[str]:
    return [str(m["To"]) for m in emails(stack) if str(m["Subject"]).endswith("(daily digest)")]


def forget_services() -> None:
    """The digest stages' services hold the clock they were made with: make them again."""
    from pressline.stages import deliver, digest

    digest.override(None)
    deliver.override_digests(None)


@pytest.fixture
def move_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[timedelta], None]]:
    """Move the subscriber stages' clock (runtime.utc_now) ahead; services made again after."""
    from pressline.subscribers import runtime

    real: Callable[[], datetime] = runtime.utc_now

    def move(ahead: timedelta) -> None:
        monkeypatch.setattr(runtime, "utc_now", lambda: real() + ahead)
        forget_services()

    yield move
    forget_services()


def test_a_digest_run_after_the_hour_sends_one_digest_and_a_repeated_run_nothing(
    aws_stack: StackHandle, move_clock: Callable[[timedelta], None]
) -> None:
    daily = seed_confirmed(aws_stack, "daily@example.com")
    seed_confirmed(aws_stack, "instant@example.com")
    choose_daily(aws_stack, daily)
    date = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="minutes")
    aws_stack.s3.put_object(
        Bucket=aws_stack.outputs["SourceBucketName"],
        Key="posts/news.md",
        Body=f"---\ntitle: News of the day\ndate: {date}\nsummary: What happened.\n---\nBody.\n".encode(),
    )
    aws_stack.drain()
    assert [str(m["To"]) for m in emails(aws_stack)] == ["instant@example.com"]

    move_clock(timedelta(days=1, hours=1))  # past the next 07:00 (DigestHour, UTC)
    for _ in range(2):
        result = aws_stack.invoke("Digest", load("digest-tick"))
        assert set(result["periods"].values()) <= {"done", "duplicate"}
        aws_stack.drain()
    assert digests(aws_stack) == ["daily@example.com"]
    [digest] = [m for m in emails(aws_stack) if str(m["To"]) == "daily@example.com"]
    text = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "News of the day" in text and "What happened." in text and "/posts/news/" in text


def test_the_deliver_digest_event_file_is_a_digest_batch(aws_stack: StackHandle) -> None:
    sid = seed_confirmed(aws_stack, "reader@example.com")
    event = json.loads(json.dumps(load("deliver-digest-batch")).replace("REPLACE_WITH_SUBSCRIBER_ID", sid))
    # An instant subscriber, in no digest: nothing to send, nothing to retry.
    assert aws_stack.invoke("Deliver", event) == {"batchItemFailures": []}
    assert digests(aws_stack) == []
