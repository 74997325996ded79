"""pressline redrive on moto: a dry run moves nothing; a real run moves every message once; every
queue the alarm runbook names redrives by stack name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pressline.cli import main
from pressline.local.harness import StackHandle
from pressline.ops.redrive import STAGE_OUTPUTS, STAGES, StackQueues, redrive, resolve_queue_url, stage_of


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
    with pytest.raises(SystemExit, match="RenderDeadLetterQueueUrl is not in the outputs; pass --stack-name"):
        resolve_queue_url(sqs, "render", {})


# --------------------------------------------------------------------------- the command
README = Path(__file__).resolve().parents[2] / "README.md"


def _runbook_queues() -> list[str]:
    """Every QUEUE the README's runbook (the alarm table) tells an operator to redrive."""
    names = re.findall(r"`pressline redrive (\w+)`", README.read_text(encoding="utf-8"))
    assert {"intake", "render", "index", "notify", "delivery"} <= set(names)
    return sorted(set(names))


@pytest.fixture
def in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No .local/outputs.json of a running `make run` stack is picked up by the command."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _dead_letter(aws_stack: StackHandle, stage: str, body: str) -> None:
    url = aws_stack.outputs[STAGE_OUTPUTS[stage]]
    extra = {"MessageGroupId": "site", "MessageDeduplicationId": body} if url.endswith(".fifo") else {}
    aws_stack.sqs.send_message(QueueUrl=url, MessageBody=body, **extra)


@pytest.mark.parametrize("queue", _runbook_queues())
def test_every_runbook_queue_redrives_by_stack_name(
    aws_stack: StackHandle, in_empty_directory: Path, capsys: pytest.CaptureFixture[str], queue: str
) -> None:
    _dead_letter(aws_stack, queue, json.dumps({"stuck": queue}))
    assert main(["redrive", queue, "--stack-name", aws_stack.stack.stack_name]) == 0
    out = capsys.readouterr().out
    source = aws_stack.outputs[STAGE_OUTPUTS[queue].replace("DeadLetterQueueUrl", "QueueUrl")]
    assert f"moved 1 message(s) from {aws_stack.outputs[STAGE_OUTPUTS[queue]]} to {source}" in out
    assert _bodies(aws_stack.sqs, source) == [json.dumps({"stuck": queue})]


@pytest.mark.parametrize(
    "queue", ["IntakeDeadLetterQueue", "IntakeDeadLetterAlarm", "INTAKE", "intakedeadletterqueueurl"]
)
def test_logical_ids_and_alarm_names_name_the_stage(
    aws_stack: StackHandle, in_empty_directory: Path, capsys: pytest.CaptureFixture[str], queue: str
) -> None:
    _dead_letter(aws_stack, "intake", "x")
    assert main(["redrive", queue, "--stack-name", aws_stack.stack.stack_name, "--dry-run"]) == 0
    assert f"would move 1 message(s) from {aws_stack.outputs['IntakeDeadLetterQueueUrl']}" in capsys.readouterr().out


def test_a_stack_without_the_output_is_read_through_its_resources(aws_stack: StackHandle) -> None:
    stack = StackQueues(aws_stack.client("cloudformation"), aws_stack.stack.stack_name)
    stack.outputs = {}  # a stack deployed from a template without the DLQ outputs
    url = resolve_queue_url(aws_stack.sqs, "render", {}, stack)
    assert url == aws_stack.outputs["RenderDeadLetterQueueUrl"]


def test_an_unknown_stack_is_named(aws_stack: StackHandle, in_empty_directory: Path) -> None:
    with pytest.raises(SystemExit, match="no stack named 'nope' here"):
        main(["redrive", "intake", "--stack-name", "nope"])


def test_the_feedback_dlq_has_no_source_and_says_so(aws_stack: StackHandle, in_empty_directory: Path) -> None:
    with pytest.raises(SystemExit, match=r"is no queue's dead-letter queue.*redriven by hand"):
        main(["redrive", "feedback", "--stack-name", aws_stack.stack.stack_name, "--dry-run"])


def test_stage_of_every_spelling() -> None:
    for stage, prefix in STAGES.items():
        for spelling in (
            stage,
            prefix,
            f"{prefix}DeadLetterQueue",
            f"{prefix}DeadLetterQueueUrl",
            f"{prefix}DeadLetterAlarm",
        ):
            assert stage_of(spelling) == stage
            assert stage_of(spelling.upper()) == stage
    for other in ("dlq", "IntakeQueue", "pressline-IntakeDeadLetterQueue-ABC", ""):
        assert stage_of(other) is None
