"""Benchmark: what a daily digest costs, per 1,000 recipients (issue 15).

On moto, in-process (template.yaml provisioned as the local stack does): N daily-digest
subscribers (a quarter of them with a tag), five posts published through the pipeline
(Validate, Render, Index, Notify: the digest log), then the subscribers' clock moved past the
digest hour and the digest function invoked as its schedule would, its DigestBatch messages
delivered by Deliver's handler one SQS message at a time. Printed: AWS calls by operation of
the digest run and of Deliver, per 1,000 recipients, the digests sent, and the calls per post
carried (the same posts as instant emails cost Deliver about 2 calls a post and recipient:
bench_fanout). A second run of the digest function must send nothing.

Target: Deliver <= 5 calls per digest (one SES send, the ledger's claim and mark, the window's
move, and the batch's shared reads); exit 1 above it, or if a subscriber did not get exactly one
digest.

Run: .venv/bin/python tests/bench/bench_digests.py [--size 1000]   (about 2 minutes at 1,000, mostly moto)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "shared"))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

POSTS = 5
TARGET_PER_DIGEST = 5.0


class CallCounter:
    """Counts API calls per service.operation on the clients the stages use."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(
            f"before-call.{service}", lambda model, **_: self.calls.update([f"{service}.{model.name}"])
        )

    def take(self) -> Counter[str]:
        seen, self.calls = self.calls, Counter()
        return seen


def run(size: int) -> int:
    import boto3

    from pressline.adapters.aws import client, reset_clients
    from pressline.config import settings
    from pressline.local.lambda_runtime import invoke
    from pressline.local.runner import Runner, sqs_record
    from pressline.local.stack import clients_for, provision
    from pressline.stages import deliver, digest
    from pressline.subscribers import runtime
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository
    from pressline.subscribers.preferences import plan_preferences

    stack = provision(template_path=ROOT / "template.yaml")
    os.environ.update(stack.environment())
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the functions' INFO lines would bury the figures
    settings.cache_clear()
    reset_clients()
    counter = CallCounter()
    for service in ("dynamodb", "sqs", "sns", "sesv2", "secretsmanager", "s3"):
        counter.attach(client(service))
    # The bench's own calls go through clients of their own, never counted.
    db, sqs, s3 = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("s3")
    runner = Runner(stack, clients_for(stack.region, None))

    started = time.perf_counter()
    repository = DynamoSubscriberRepository(stack.outputs["SubscribersTableName"], db)
    now = datetime.now(UTC)
    for n in range(size):
        sid = f"{n:032x}"
        tags = ("python",) if n % 4 == 0 else ()
        repository.request_confirmation(sid, f"reader{n}@example.org", now, timedelta(0), timedelta(days=1))
        assert repository.confirm(sid, tags, now) == "confirmed"
        current = repository.preferences(sid)
        assert current is not None
        assert repository.apply_preferences(
            sid, current.version, plan_preferences(current.subscriber, current.rows, tags, "daily", now)
        )
    print(f"moto: {size:,} daily subscribers in {time.perf_counter() - started:.0f} s", flush=True)

    date = (now - timedelta(minutes=1)).isoformat(timespec="minutes")
    for n in range(POSTS):
        tags = "python" if n % 2 == 0 else "travel"
        text = f"---\ntitle: Post {n}\ndate: {date}\ntags: [{tags}]\nsummary: The bench's post {n}.\n---\nBody.\n"
        s3.put_object(Bucket=stack.outputs["SourceBucketName"], Key=f"posts/bench-{n}.md", Body=text.encode())
    runner.drain()
    counter.take()

    # The subscribers' clock a day on: past the next digest hour, whatever the time now.
    real = runtime.utc_now
    setattr(runtime, "utc_now", lambda: real() + timedelta(days=1, hours=1))  # noqa: B010
    digest.override(None)
    deliver.override_digests(None)
    ses = boto3.client("sesv2")
    sent_before = _sent(ses)

    function = stack.functions["DigestFunction"]
    started = time.perf_counter()
    result = invoke(function, {})
    run_seconds = time.perf_counter() - started
    run_calls = counter.take()
    periods = result["periods"]

    delivery_url = stack.outputs["DeliveryQueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=delivery_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    batches = 0
    started = time.perf_counter()
    while messages := sqs.receive_message(QueueUrl=delivery_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            answer = invoke(stack.functions["DeliverFunction"], {"Records": [sqs_record(message, arn, stack.region)]})
            assert answer == {"batchItemFailures": []}, answer
            sqs.delete_message(QueueUrl=delivery_url, ReceiptHandle=message["ReceiptHandle"])
            batches += 1
    deliver_seconds = time.perf_counter() - started
    deliver_calls = counter.take()
    digests = _sent(ses) - sent_before

    again = invoke(function, {})
    repeated = counter.take()

    per_1000 = 1000 / size
    print(f"\nDigest run: periods {periods}, {run_seconds:.1f} s; {batches} DigestBatch messages")
    for name, count in sorted(run_calls.items()):
        print(f"  {name:<40} {count:>7,}  ({count * per_1000:,.1f} per 1,000 recipients)")
    print(f"Deliver: {digests:,} digests of {POSTS} posts (a quarter of the readers get 3), {deliver_seconds:.1f} s")
    for name, count in sorted(deliver_calls.items()):
        print(f"  {name:<40} {count:>7,}  ({count * per_1000:,.1f} per 1,000 recipients)")
    total = sum(deliver_calls.values())
    posts_carried = sum(3 if n % 4 == 0 else POSTS for n in range(size))
    print(
        f"Deliver per 1,000 digest recipients: {total * per_1000:,.0f} calls"
        f" ({total / max(digests, 1):.2f} a digest, {total / posts_carried:.2f} a post carried);"
        f" the digest run: {sum(run_calls.values()) * per_1000:,.1f}"
    )
    print(f"A second run: {again['periods']}, {sum(repeated.values())} calls")

    failed = []
    if digests != size:
        failed.append(f"{digests} digests for {size} subscribers")
    if total / max(digests, 1) > TARGET_PER_DIGEST:
        failed.append(f"{total / max(digests, 1):.2f} calls a digest (target <= {TARGET_PER_DIGEST})")
    if set(again["periods"].values()) != {"duplicate"}:
        failed.append(f"the second run did {again['periods']}")
    for problem in failed:
        print(f"FAILED: {problem}")
    return 1 if failed else 0


def _sent(ses: Any) -> int:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return len(ses_backends[DEFAULT_ACCOUNT_ID][ses.meta.region_name].sent_messages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="daily-digest subscribers (default 1,000)")
    args = parser.parse_args()
    from moto import mock_aws

    with mock_aws():
        return run(args.size)


if __name__ == "__main__":
    sys.exit(main())
