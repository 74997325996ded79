"""No message can hold back the site, on the real local stack with default settings.

An update that Index can never apply (here: a rendering dated 9999-12-31T23:30:00-12:00,
whose UTC time does not exist -- what Render passed before the date rules refused it, and
what any deterministic Index failure looks like) is sent to the Index queue; a valid post
uploaded right after it must be live within 60 s, the bad one's author must get a report
that says why, and the message must be in the dead-letter queue. On main before issue 18
the FIFO queue held every later post for 5 receives x 360 s."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from poison import send_unappliable_update

from pressline.local.harness import RunningLocalStack, start_local_stack

pytestmark = pytest.mark.slow

LIMIT_S = 60.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalStack]:
    with start_local_stack(tmp_path_factory.mktemp("isolation"), "--no-examples") as running:
        yield running


def post(title: str, date: str) -> bytes:
    return f"---\ntitle: {title}\ndate: {date}\n---\nThe body of {title}.\n".encode()


def wait_for(check: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def report(stack: RunningLocalStack, key: str) -> dict[str, Any] | None:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.outputs["SourceBucketName"], Key=f"reports/{key}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    found: dict[str, Any] = json.loads(body)
    return found


def home(stack: RunningLocalStack) -> str:
    s3 = stack.client("s3")
    try:
        return str(s3.get_object(Bucket=stack.outputs["SiteBucketName"], Key="index.html")["Body"].read().decode())
    except s3.exceptions.NoSuchKey:
        return ""


def test_an_update_index_cannot_apply_holds_nothing_back(stack: RunningLocalStack) -> None:
    s3, sqs = stack.client("s3"), stack.client("sqs")
    bucket = stack.outputs["SourceBucketName"]
    s3.put_object(Bucket=bucket, Key="posts/doomed.md", Body=post("Doomed", "2026-01-05"))
    assert wait_for(lambda: (report(stack, "posts/doomed.md") or {}).get("status") == "published", LIMIT_S)

    # The update an older Render sent for it: valid JSON, the current version, an impossible date.
    send_unappliable_update(stack, "posts/doomed.md", "doomed", "Doomed", datetime(2026, 1, 5, tzinfo=UTC))
    sent = time.monotonic()
    s3.put_object(Bucket=bucket, Key="posts/after.md", Body=post("After the doomed one", "2026-01-06"))

    assert wait_for(lambda: "/posts/after/" in home(stack), LIMIT_S), stack.log()[-3000:]
    assert time.monotonic() - sent <= LIMIT_S
    failed = report(stack, "posts/doomed.md") or {}
    assert failed.get("status") == "failed", failed
    assert "could not be published" in failed["errors"][0]["message"]
    depth = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["IndexDeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "1"

    # The dead-letter message says why (in this test: pytest-xdist may run two tests of one
    # module in two workers, each with its own stack).
    messages = sqs.receive_message(
        QueueUrl=stack.outputs["IndexDeadLetterQueueUrl"], MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    assert messages, "the update Index could not apply is in its DLQ"
    reason = messages[0]["MessageAttributes"]["reason"]["StringValue"]
    assert "OverflowError" in reason or "date" in reason
