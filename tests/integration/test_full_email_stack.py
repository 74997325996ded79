"""Full-post emails on moto (issue 15): a post uploaded to the stack's source bucket reaches a
subscriber whole, Deliver reading its rendering from S3 once per batch with the environment
template.yaml gives it (EMAIL_CONTENT, SOURCE_BUCKET); the EmailContent parameter and a
rendering deleted since both give the summary."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from pressline.config import settings
from pressline.local.harness import StackHandle
from pressline.local.stack import provision
from pressline.local.template import ParameterError
from pressline.models import DeliveryBatch, PostPublished
from pressline.posts.paths import rendered_key_of
from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.dynamodb import DynamoSubscriberRepository

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
BODY = "Every word of this post, in the email itself."


def seed_confirmed(stack: StackHandle, address: str) -> str:
    from pressline.subscribers import runtime

    repository = DynamoSubscriberRepository(stack.outputs["SubscribersTableName"], stack.dynamodb)
    sid = subscriber_id(runtime.keys().id_key, address)
    now = datetime.now(UTC)
    assert repository.request_confirmation(sid, address, now, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm(sid, (), now) == "confirmed"
    return sid


def texts_to(stack: StackHandle, address: str) -> list[str]:
    found = []
    for sent in stack.sent_emails():
        message: Any = message_from_string(sent["raw"] or "", policy=policy.default)
        if sent["raw"] and address in sent["destinations"] and message["List-Unsubscribe"]:
            found.append(str(message.get_body(preferencelist=("plain",)).get_content()))
    return found


def test_an_uploaded_post_reaches_a_subscriber_whole_and_deliver_reads_it_once_a_batch(aws_stack: StackHandle) -> None:
    from pressline.adapters.aws import client

    reader = seed_confirmed(aws_stack, "reader@example.com")
    date = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="minutes")
    text = f"---\ntitle: Whole post\ndate: {date}\nsummary: Just the summary.\n---\n\n{BODY}\n"
    aws_stack.s3.put_object(Bucket=aws_stack.outputs["SourceBucketName"], Key="posts/whole.md", Body=text.encode())
    aws_stack.drain()
    [email] = texts_to(aws_stack, "reader@example.com")
    assert BODY in email and "Read on " in email

    # Ten more recipients of the same post in one batch: one GetObject of its rendering.
    record = aws_stack.s3.list_objects_v2(
        Bucket=aws_stack.outputs["SourceBucketName"], Prefix="rendered/posts/whole.md/"
    )
    [rendering] = [item["Key"] for item in record["Contents"]]
    version = rendering.rsplit("/", 1)[1].removesuffix(".json")
    post = PostPublished(
        slug="whole", title="Whole post", summary="Just the summary.",
        url=f"{settings().base_url}/posts/whole/", published_at=datetime.now(UTC),
        source_key="posts/whole.md", version=version,
    )  # fmt: skip
    assert rendered_key_of(post.source_key, version) == rendering
    ids = [seed_confirmed(aws_stack, f"more{n}@example.com") for n in range(10)]
    calls: Counter[str] = Counter()
    s3 = client("s3")
    s3.meta.events.register("before-call.s3.GetObject", lambda **_: calls.update(["GetObject"]))
    try:
        batch = DeliveryBatch(post=post, subscriber_ids=[reader, *ids])
        answer = aws_stack.invoke("Deliver", {"Records": [sqs_record(batch.model_dump_json())]})
    finally:
        s3.meta.events.unregister("before-call.s3.GetObject")
    assert answer == {"batchItemFailures": []}
    assert calls == Counter({"GetObject": 1})
    assert all(BODY in texts_to(aws_stack, f"more{n}@example.com")[0] for n in range(10))
    assert len(texts_to(aws_stack, "reader@example.com")) == 1  # already sent: not again

    # Its rendering deleted since: the next recipient gets the summary, and no failure.
    aws_stack.s3.delete_object(Bucket=aws_stack.outputs["SourceBucketName"], Key=rendering)
    late = seed_confirmed(aws_stack, "late@example.com")
    batch = DeliveryBatch(post=post, subscriber_ids=[late])
    assert aws_stack.invoke("Deliver", {"Records": [sqs_record(batch.model_dump_json())]}) == {"batchItemFailures": []}
    [summary] = texts_to(aws_stack, "late@example.com")
    assert "Just the summary." in summary and BODY not in summary and "Read the post: " in summary


def sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": "full-email-1",
        "receiptHandle": "full-email-receipt",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:pressline-DeliveryQueue",
        "awsRegion": "us-east-1",
    }


def _deliver_environment(parameters: dict[str, str] | None = None) -> dict[str, str]:
    with mock_aws():
        return provision(template_path=TEMPLATE, parameters=parameters).functions["DeliverFunction"].environment


def test_deliver_gets_the_email_content_parameter() -> None:
    default = _deliver_environment()
    assert default["EMAIL_CONTENT"] == "full" and default["SOURCE_BUCKET"]
    assert _deliver_environment({"EmailContent": "summary"})["EMAIL_CONTENT"] == "summary"
    with pytest.raises(ParameterError, match="EmailContent"):
        _deliver_environment({"EmailContent": "excerpt"})
