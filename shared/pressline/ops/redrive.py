"""``pressline redrive QUEUE``: move messages from a dead-letter queue back to its source.

QUEUE is a dead-letter queue's URL or name, or a stage name (``intake``, ``render``,
``index``, ``notify``, ``delivery``, ``image``, as the alarm runbook says; or the DLQ's logical id or
alarm name) resolved through the local stack's outputs file or, with ``--stack-name``, the
CloudFormation stack's outputs and resources. The source queue is the one whose RedrivePolicy names the DLQ (SQS's own
ListDeadLetterSourceQueues), so nothing here keeps a second list of queues.

Each message is sent to the source first and deleted from the DLQ only after the send
succeeded: a crash in between duplicates a message, which every stage tolerates,
and never loses one. FIFO messages keep their group; they get a fresh deduplication id
so the source queue does not drop them as repeats of the original.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The runbook's stage names (README, Operations) and the logical-id prefix of each DLQ in
# template.yaml: ``<Prefix>DeadLetterQueue``, output ``<Prefix>DeadLetterQueueUrl``, alarm
# ``<Prefix>DeadLetterAlarm``.
STAGES = {
    "intake": "Intake",
    "render": "Render",
    "index": "Index",
    "notify": "Notify",
    "delivery": "Delivery",
    "feedback": "EmailFeedback",
    "websub": "WebSub",  # Index's pings to the WebSub hub (template.yaml's HubUrl)
    "image": "Image",  # Validate's image requests to the Image stage (issue 14)
}
STAGE_OUTPUTS = {stage: f"{prefix}DeadLetterQueueUrl" for stage, prefix in STAGES.items()}
_SUFFIXES = ("DeadLetterQueueUrl", "DeadLetterQueue", "DeadLetterAlarm")


def stage_of(queue: str) -> str | None:
    """The stage ``queue`` names: ``intake``, or an id of its DLQ (``IntakeDeadLetterQueue``,
    ``IntakeDeadLetterQueueUrl``, the alarm ``IntakeDeadLetterAlarm``), any case."""
    name = queue.lower()
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix.lower())
    return next((stage for stage, prefix in STAGES.items() if name in (stage, prefix.lower())), None)


class StackQueues:
    """A CloudFormation stack's DLQs, from its outputs first and its resources when an
    output is missing (a stack deployed from an older template)."""

    def __init__(self, cloudformation: Any, stack_name: str) -> None:
        self.cloudformation = cloudformation
        self.stack_name = stack_name
        try:
            stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        except cloudformation.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":  # CloudFormation's "does not exist"
                raise SystemExit(
                    f"redrive: no stack named {stack_name!r} here (check --stack-name and --region)"
                ) from None
            raise
        self.outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stack.get("Outputs", [])}

    def physical_id(self, logical_id: str) -> str | None:
        try:
            resource = self.cloudformation.describe_stack_resource(
                StackName=self.stack_name, LogicalResourceId=logical_id
            )
        except self.cloudformation.exceptions.ClientError:
            return None
        return str(resource["StackResourceDetail"]["PhysicalResourceId"]) or None


def resolve_queue_url(sqs: Any, queue: str, outputs: dict[str, str], stack: StackQueues | None = None) -> str:
    """The URL of the DLQ ``queue`` names: a URL as is; a stage (see :func:`stage_of`) through
    the outputs file or ``stack``; else a queue name (SQS's GetQueueUrl)."""
    if queue.startswith(("https://", "http://")):
        return queue
    stage = stage_of(queue)
    if stage is None:
        return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    key = STAGE_OUTPUTS[stage]
    if stack is not None:
        found = stack.outputs.get(key) or stack.physical_id(f"{STAGES[stage]}DeadLetterQueue")
        if not found:
            raise SystemExit(f"redrive: stack {stack.stack_name!r} has no {STAGES[stage]}DeadLetterQueue")
        # CloudFormation's physical id of a queue is its URL; a name is looked up.
        return (
            found if found.startswith(("https://", "http://")) else str(sqs.get_queue_url(QueueName=found)["QueueUrl"])
        )
    if key not in outputs:
        raise SystemExit(f"redrive: {key} is not in the outputs; pass --stack-name, --local, or the DLQ's URL")
    return outputs[key]


def source_queue_of(sqs: Any, dlq_url: str) -> str:
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if not sources:
        raise SystemExit(
            f"redrive: {dlq_url} is no queue's dead-letter queue, so there is nowhere to move its messages. A"
            " function's own DLQ (EmailFeedbackFunction's, for SNS notices) is redriven by hand: see README, Operations"
        )
    if len(sources) != 1:
        raise SystemExit(f"redrive: expected one source queue for {dlq_url}, found {len(sources)}")
    return str(sources[0])


@dataclass
class RedriveResult:
    dead_letter_queue: str
    source_queue: str
    moved: int = 0
    seen: int = 0
    samples: list[str] = field(default_factory=list)


def redrive(sqs: Any, dlq_url: str, *, dry_run: bool, limit: int | None = None) -> RedriveResult:
    """Move up to ``limit`` messages (all when None). A dry run moves nothing: it reports
    the queue's depth as SQS counts it and shows a few bodies, received with no
    visibility timeout so that they stay available."""
    result = RedriveResult(dead_letter_queue=dlq_url, source_queue=source_queue_of(sqs, dlq_url))
    if dry_run:
        depth = _approximate_depth(sqs, dlq_url)
        result.seen = depth if limit is None else min(depth, limit)
        peek = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=5, VisibilityTimeout=0)
        result.samples = [m["Body"][:200] for m in peek.get("Messages", [])]
        return result
    fifo = dlq_url.endswith(".fifo")
    while limit is None or result.moved < limit:
        batch = 10 if limit is None else min(10, limit - result.moved)
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,
            VisibilityTimeout=60,  # held while we send; reappears if we crash
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["MessageGroupId"],
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            result.seen += 1
            if len(result.samples) < 5:
                result.samples.append(message["Body"][:200])
            send: dict[str, Any] = {"QueueUrl": result.source_queue, "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                send["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                send["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId", "site")
                send["MessageDeduplicationId"] = f"redrive-{uuid.uuid4().hex}"
            sqs.send_message(**send)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            result.moved += 1
    return result


def _approximate_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "queue",
        help="a stage (" + ", ".join(STAGES) + "), a DLQ's logical id or alarm name (IntakeDeadLetterQueue), or a DLQ's"
        " URL or name",
    )
    parser.add_argument("--dry-run", action="store_true", help="count and show messages, move nothing")
    parser.add_argument("--limit", type=int, default=None, help="move at most this many messages")
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument(
        "--stack-name", default=None, help="a deployed stack: find its DLQs in its CloudFormation outputs and resources"
    )


def run(args: argparse.Namespace) -> int:
    """Called by ``pressline.cli`` after ``pressline.ops.target`` has pointed boto3 at the stack
    (endpoint, region, credentials) and set ``args.outputs`` to the outputs file it used."""
    import boto3

    outputs: dict[str, str] = {}
    if args.outputs is not None and not args.stack_name:
        outputs = json.loads(Path(args.outputs).read_text(encoding="utf-8"))
    sqs = boto3.client("sqs")
    stack = StackQueues(boto3.client("cloudformation"), args.stack_name) if args.stack_name else None
    dlq_url = resolve_queue_url(sqs, args.queue, outputs, stack)
    result = redrive(sqs, dlq_url, dry_run=args.dry_run, limit=args.limit)
    verb = "would move" if args.dry_run else "moved"
    count = result.seen if args.dry_run else result.moved
    print(f"{verb} {count} message(s) from {result.dead_letter_queue} to {result.source_queue}")
    for sample in result.samples:
        print(f"  {sample}", file=sys.stdout)
    return 0
