"""pressline redrive on moto: a dry run moves nothing; a real run moves every message once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pressline.ops.redrive import redrive, resolve_queue_url


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _queue_pair(sqs: Any, fifo: bool = False) -> tuple[str, str]:
    suffix = ".fifo" if fifo else ""
    attributes = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"dlq{suffix}", Attributes=attributes)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    source = sqs.create_queue(QueueName=f"source{suffix}", Attributes={**attributes, "RedrivePolicy": policy})
    return source["QueueUrl"], dlq


def _bodies(sqs: Any, url: str) -> list[str]:
    found: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [m["Body"] for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def test_dry_run_counts_and_moves_nothing(sqs: Any) -> None:
    source, dlq = _queue_pair(sqs)
    for n in range(12):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": n}))
    result = redrive(sqs, dlq, dry_run=True)
    assert (result.seen, result.moved) == (12, 0)
    assert result.source_queue == source
    assert _bodies(sqs, source) == []
    assert len(_bodies(sqs, dlq)) == 12


def test_redrive_moves_every_message_once(sqs: Any) -> None:
    source, dlq = _queue_pair(sqs)
    sent = {json.dumps({"n": n}) for n in range(23)}
    for body in sent:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    result = redrive(sqs, dlq, dry_run=False)
    assert result.moved == 23
    assert sorted(_bodies(sqs, source)) == sorted(sent)
    assert _bodies(sqs, dlq) == []


def test_redrive_respects_limit(sqs: Any) -> None:
    source, dlq = _queue_pair(sqs)
    for n in range(5):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(n))
    assert redrive(sqs, dlq, dry_run=False, limit=2).moved == 2
    assert len(_bodies(sqs, source)) == 2
    assert len(_bodies(sqs, dlq)) == 3


def test_fifo_redrive_keeps_the_group(sqs: Any) -> None:
    source, dlq = _queue_pair(sqs, fifo=True)
    sqs.send_message(QueueUrl=dlq, MessageBody="a", MessageGroupId="site", MessageDeduplicationId="1")
    assert redrive(sqs, dlq, dry_run=False).moved == 1
    message = sqs.receive_message(QueueUrl=source, MessageSystemAttributeNames=["MessageGroupId"])["Messages"][0]
    assert message["Body"] == "a"
    assert message["Attributes"]["MessageGroupId"] == "site"


def test_stage_names_resolve_through_outputs(sqs: Any) -> None:
    _, dlq = _queue_pair(sqs)
    assert resolve_queue_url(sqs, "render", {"RenderDeadLetterQueueUrl": dlq}) == dlq
    assert resolve_queue_url(sqs, "dlq", {}) == dlq
    with pytest.raises(SystemExit, match="RenderDeadLetterQueueUrl"):
        resolve_queue_url(sqs, "render", {})
