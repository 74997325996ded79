"""``pressline redrive QUEUE``: move messages from a dead-letter queue back to its source.

QUEUE is a dead-letter queue's URL or name, or a stage name (``intake``, ``render``,
``index``, ``notify``, ``delivery``) resolved through the stack's outputs file. The
source queue is the one whose RedrivePolicy names the DLQ (SQS's own
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

STAGE_OUTPUTS = {
    "intake": "IntakeDeadLetterQueueUrl",
    "render": "RenderDeadLetterQueueUrl",
    "index": "IndexDeadLetterQueueUrl",
    "notify": "NotifyDeadLetterQueueUrl",
    "delivery": "DeliveryDeadLetterQueueUrl",
}


@dataclass
class RedriveResult:
    dead_letter_queue: str
    source_queue: str
    moved: int = 0
    seen: int = 0
    samples: list[str] = field(default_factory=list)


def resolve_queue_url(sqs: Any, queue: str, outputs: dict[str, str]) -> str:
    if queue.startswith(("https://", "http://")):
        return queue
    if queue.lower() in STAGE_OUTPUTS:
        key = STAGE_OUTPUTS[queue.lower()]
        if key not in outputs:
            raise SystemExit(f"redrive: {key} is not in the outputs; pass --outputs or the DLQ's URL")
        return outputs[key]
    return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])


def source_queue_of(sqs: Any, dlq_url: str) -> str:
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise SystemExit(f"redrive: expected one source queue for {dlq_url}, found {len(sources)}")
    return str(sources[0])


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
    parser.add_argument("queue", help="DLQ URL or name, or a stage: " + ", ".join(STAGE_OUTPUTS))
    parser.add_argument("--dry-run", action="store_true", help="count and show messages, move nothing")
    parser.add_argument("--limit", type=int, default=None, help="move at most this many messages")
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )


def run(args: argparse.Namespace) -> int:
    import boto3

    outputs: dict[str, str] = {}
    outputs_path: Path | None = args.outputs
    if outputs_path is None and Path(".local/outputs.json").exists():
        outputs_path = Path(".local/outputs.json")
    if outputs_path is not None:
        outputs = json.loads(outputs_path.read_text())
    kwargs: dict[str, Any] = {}
    if outputs.get("Endpoint"):
        kwargs["endpoint_url"] = outputs["Endpoint"]
        kwargs["region_name"] = outputs.get("Region", "us-east-1")
    sqs = boto3.client("sqs", **kwargs)
    dlq_url = resolve_queue_url(sqs, args.queue, outputs)
    result = redrive(sqs, dlq_url, dry_run=args.dry_run, limit=args.limit)
    verb = "would move" if args.dry_run else "moved"
    count = result.seen if args.dry_run else result.moved
    print(f"{verb} {count} message(s) from {result.dead_letter_queue} to {result.source_queue}")
    for sample in result.samples:
        print(f"  {sample}", file=sys.stdout)
    return 0
