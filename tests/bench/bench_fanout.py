"""Benchmark: fanning one new post out to 10,000 and 100,000 subscribers.

1. Notify on moto, in-process (template.yaml provisioned by the local stack, the handler
   invoked as Lambda would, continuations followed): its fixed cost per post (a post with
   two tags and 0, then 1 subscriber), then a burst (100 posts with two tags out of eight,
   sent ten a SendMessageBatch as Index sends them, received in the batches the template's
   BatchSize gives: calls per post with 0, 1 and 5 subscribers), then AWS calls by
   operation, delivery queue messages and wall time over the whole audience at each size.
2. Deliver on moto: a sample of those delivery batches, every SES call and ledger write
   for real. A batch's cost does not depend on the audience, so the whole fan-out's
   SES calls are one per recipient; the sample gives the cost per 1,000.
3. Peak memory (tracemalloc) of Notify's own code: the same fan-out core over in-memory
   ports that generate the audience page by page. (Under moto, the process also holds
   moto's emulation, which scans the whole table on every GSI query: that memory and
   time grow with the table and are moto's, not Notify's.)

Baseline, measured in the same run: the first size (10,000). Ratios for 100,000 should be
~10x for calls and messages (linear) and ~1x for peak memory (one page at a time); moto's
time grows faster than linearly (its GSI query scans and sorts the whole table per page).

Run: .venv/bin/python tests/bench/bench_fanout.py [--sizes 10000,100000] [--repeats 3] [--burst-only]
(about 12 minutes on 2 cores, mostly moto paging through 100,000 items; --sizes 1000,10000
takes about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
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

DEFAULT_SIZES = (10_000, 100_000)
DELIVERY_SAMPLE_BATCHES = 10  # 500 recipients
FIXED_TAGS = ("aws", "python")  # the fixed cost is measured with a post reaching three audiences
BURST_POSTS = 100
BURST_TAGS = ("python", "aws", "travel", "notes", "photography", "city", "essays", "guides")  # as sitegen's posts
FEW_TAGS = (("aws",), ("python", "city"), ("travel",), ("notes",))  # the burst's "a few": 1 without tags + these


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


def membership(sid: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"SUB#{sid}"},
        "sk": {"S": "AUD#ALL"},
        "gsi1pk": {"S": "AUD#ALL"},
        "gsi1sk": {"S": sid},
        "tags": {"L": []},
    }


def profile(sid: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"SUB#{sid}"},
        "sk": {"S": "PROFILE"},
        "address": {"S": f"r{sid[-8:]}@example.com"},
        "status": {"S": "confirmed"},
        "tags": {"L": []},
        "created_at": {"S": "2026-11-01T00:00:00+00:00"},
        "confirmed_at": {"S": "2026-11-01T00:00:00+00:00"},
    }


def tagged_membership(sid: str, tags: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "pk": {"S": f"SUB#{sid}"},
            "sk": {"S": f"AUD#TAG#{tag}"},
            "gsi1pk": {"S": f"AUD#TAG#{tag}"},
            "gsi1sk": {"S": sid},
            "tags": {"L": [{"S": t} for t in tags]},
        }
        for tag in tags
    ]


def batch_write(db: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        db.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in chunk]})


def post_body(slug: str, tags: tuple[str, ...] = ()) -> str:
    return json.dumps(
        {
            "slug": slug,
            "title": f"Post {slug}",
            "summary": "A benchmark post.",
            "url": f"https://blog.example/{slug}/",
            "tags": list(tags),
            "published_at": "2026-11-27T08:00:00Z",
            "source_key": f"posts/{slug}.md",
            "version": BENCH_VERSION,  # a full email (EmailContent's default): Deliver reads this rendering
        }
    )


BENCH_VERSION = "bench"
# About the size of an example post's rendering (examples/posts: 3 to 6 KB of HTML).
BENCH_BODY = "".join(f"<h2>Part {n}</h2>\n<p>{'A sentence of the benchmark post. ' * 25}</p>\n" for n in range(5))


def put_rendering(store: Any, post: dict[str, Any]) -> None:
    """The rendering Render would have stored for ``post`` (a PostPublished's JSON), where a
    full email's Deliver reads it."""
    from datetime import UTC, datetime

    from pressline.models import PostMeta, RenderedPost, SourceRef
    from pressline.posts.paths import rendered_key

    source = SourceRef(bucket=store.bucket, key=post["source_key"], version_id=BENCH_VERSION)
    meta = PostMeta(slug=post["slug"], title=post["title"], date=datetime(2026, 11, 27, 8, tzinfo=UTC))
    rendered = RenderedPost(
        source=source, meta=meta, body_html=BENCH_BODY, status="published", rendered_at=datetime.now(UTC)
    )
    store.put(rendered_key(source), rendered.model_dump_json().encode(), "application/json")


# --------------------------------------------------------------------------- 1 + 2: moto
def run_moto(
    sizes: list[int], repeats: int, burst_only: bool = False
) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]], dict[int, dict[str, Any]], dict[str, Any]]:
    from pressline.adapters.aws import client, reset_clients
    from pressline.config import settings
    from pressline.local.lambda_runtime import invoke
    from pressline.local.runner import sqs_record
    from pressline.local.stack import provision

    stack = provision(template_path=ROOT / "template.yaml")
    os.environ.update(stack.environment())
    settings.cache_clear()
    reset_clients()
    counter = CallCounter()
    for service in ("dynamodb", "sqs", "sns", "sesv2", "secretsmanager", "s3"):
        counter.attach(client(service))
    db, sqs = client("dynamodb"), client("sqs")
    table = stack.outputs["SubscribersTableName"]
    notify_url, delivery_url = stack.outputs["NotifyQueueUrl"], stack.outputs["DeliveryQueueUrl"]

    def arn(url: str) -> str:
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    notify_arn, delivery_arn = arn(notify_url), arn(delivery_url)
    notify_fn, deliver_fn = stack.functions["NotifyFunction"], stack.functions["DeliverFunction"]

    def receive(url: str, count: int = 10) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count).get(
            "Messages", []
        )
        return messages

    def purge(url: str) -> None:
        while messages := receive(url):
            entries = [{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    def depth(url: str) -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def fan_out(slug: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
        """Notify for one new post, following continuations until the fan-out is done."""
        sqs.send_message(QueueUrl=notify_url, MessageBody=post_body(slug, tags))
        counter.take()
        invocations = 0
        start = time.perf_counter()
        while messages := receive(notify_url, 1):
            result = invoke(notify_fn, {"Records": [sqs_record(messages[0], notify_arn, stack.region)]})
            assert result == {"batchItemFailures": []}, result
            sqs.delete_message(QueueUrl=notify_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            invocations += 1
        seconds = time.perf_counter() - start
        calls = counter.take()
        # The harness's own receive/delete of the notify messages are Lambda's, not Notify's.
        calls.subtract({"sqs.ReceiveMessage": invocations + 1, "sqs.DeleteMessage": invocations})
        return {"seconds": seconds, "calls": +calls, "invocations": invocations, "messages": depth(delivery_url)}

    [source] = notify_fn.events_of("SQS")
    batch_size = source.batch_size  # as the template says (the local runner honours it too)

    def burst(prefix: str) -> dict[str, Any]:
        """BURST_POSTS new posts at once, sent as Index sends them (SendMessageBatch), then
        Notify in batches of the template's BatchSize until the queue is empty."""
        for start in range(0, BURST_POSTS, 10):
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": post_body(f"{prefix}-{n}", (BURST_TAGS[n % 8], BURST_TAGS[(n * 3 + 1) % 8])),
                }
                for n in range(start, min(start + 10, BURST_POSTS))
            ]
            sqs.send_message_batch(QueueUrl=notify_url, Entries=entries)
        counter.take()
        harness: Counter[str] = Counter()  # Lambda's poller's calls, not Notify's

        def gather() -> list[dict[str, Any]]:
            messages: list[dict[str, Any]] = []
            while len(messages) < batch_size:
                harness["sqs.ReceiveMessage"] += 1
                if not (got := receive(notify_url, min(10, batch_size - len(messages)))):
                    break
                messages.extend(got)
            return messages

        invocations = 0
        started = time.perf_counter()
        while messages := gather():
            records = [sqs_record(message, notify_arn, stack.region) for message in messages]
            result = invoke(notify_fn, {"Records": records})
            assert result == {"batchItemFailures": []}, result
            for start in range(0, len(messages), 10):
                chunk = messages[start : start + 10]
                entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)]
                sqs.delete_message_batch(QueueUrl=notify_url, Entries=entries)
                harness["sqs.DeleteMessageBatch"] += 1
            invocations += 1
        seconds = time.perf_counter() - started
        calls = counter.take()
        calls.subtract(harness)
        return {"calls": +calls, "invocations": invocations, "seconds": seconds, "messages": depth(delivery_url)}

    fan_out("warm-up")  # imports, the secret, the clients

    # The fixed cost: a post with two tags (three audiences: ALL and one per tag) and nobody,
    # then one subscriber, to read; and a burst of posts with each.
    fixed: dict[int, dict[str, Any]] = {}
    bursts: dict[int, dict[str, Any]] = {}
    for size in (0, 1):
        batch_write(db, table, [membership(f"{n:032x}") for n in range(size)])
        fixed[size] = fan_out(f"fixed-{size}", FIXED_TAGS)
        purge(delivery_url)
        bursts[size] = burst(f"burst-{size}")
        purge(delivery_url)
    # A few: tagged readers beside the one without tags (only in TAG# audiences: the fan-outs
    # below, of posts without tags, do not reach them).
    few = [item for n, tags in enumerate(FEW_TAGS) for item in tagged_membership(f"few{n:029x}", tags)]
    batch_write(db, table, few)
    bursts[1 + len(FEW_TAGS)] = burst("burst-few")
    purge(delivery_url)
    if burst_only:
        return fixed, bursts, {}, {}

    results: dict[int, dict[str, Any]] = {}
    seeded = 1
    for index, size in enumerate(sizes):
        started = time.perf_counter()
        batch_write(db, table, [membership(f"{n:032x}") for n in range(seeded, size)])
        seeded = size
        print(f"moto: seeded {size:,} subscribers in {time.perf_counter() - started:.0f} s", flush=True)
        runs = []
        for repeat in range(repeats if index == 0 else 1):
            runs.append(fan_out(f"post-{size}-{repeat}"))
            print(f"moto: fan-out to {size:,} in {runs[-1]['seconds']:.1f} s", flush=True)
            if size != sizes[-1]:
                purge(delivery_url)
        results[size] = {**runs[0], "seconds": statistics.median(r["seconds"] for r in runs), "runs": len(runs)}

    # Deliver a sample of the last fan-out's batches (their recipients get profiles first).
    sample = []
    while len(sample) < DELIVERY_SAMPLE_BATCHES and (messages := receive(delivery_url)):
        sample.extend(messages)
    sample = sample[:DELIVERY_SAMPLE_BATCHES]
    ids = [sid for message in sample for sid in json.loads(message["Body"])["subscriber_ids"]]
    batch_write(db, table, [profile(sid) for sid in ids])
    from pressline.adapters.store import S3Store

    for post in {message["Body"]: json.loads(message["Body"])["post"] for message in sample}.values():
        put_rendering(S3Store(stack.outputs["SourceBucketName"], client("s3")), post)
    counter.take()
    start = time.perf_counter()
    for message in sample:
        result = invoke(deliver_fn, {"Records": [sqs_record(message, delivery_arn, stack.region)]})
        assert result == {"batchItemFailures": []}, result
    seconds = time.perf_counter() - start
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    sent = len(ses_backends[DEFAULT_ACCOUNT_ID][stack.region].sent_messages)
    assert sent == len(ids), (sent, len(ids))
    delivery = {"batches": len(sample), "recipients": len(ids), "calls": counter.take(), "seconds": seconds}
    return fixed, bursts, results, delivery


# --------------------------------------------------------------------------- 3: memory
def notify_memory(size: int) -> dict[str, float]:
    """Peak memory and time of the fan-out core over in-memory ports (no moto)."""
    from pressline.models import DeliveryBatch, PostPublished
    from pressline.subscribers.fanout import Fanout
    from pressline.subscribers.memory import MemoryAnnouncer, MemoryLedger
    from pressline.subscribers.model import Member

    class GeneratedAudience:
        """Serves ``size`` subscribers without tags, one page at a time, holding none."""

        def audience_page(
            self, audience: str, cursor: dict[str, Any] | None, limit: int
        ) -> tuple[list[Member], dict[str, Any] | None]:
            if audience != "ALL":
                return [], None
            start = int(cursor["offset"]) if cursor else 0
            end = min(start + limit, size)
            return [Member(id=f"{n:032x}") for n in range(start, end)], ({"offset": end} if end < size else None)

    class CountingQueue:
        def __init__(self) -> None:
            self.messages = 0
            self.bytes = 0

        def send_batches(self, batches: list[DeliveryBatch]) -> None:
            for start in range(0, len(batches), 10):  # serialized as SqsTaskQueue would
                self.messages += len(batch := batches[start : start + 10])
                self.bytes += sum(len(b.model_dump_json()) for b in batch)

    post = PostPublished.model_validate_json(post_body("memory"))
    queue = CountingQueue()
    fanout = Fanout(
        GeneratedAudience(),  # type: ignore[arg-type]
        MemoryLedger(),
        queue,
        MemoryAnnouncer(),
        lambda: datetime.now(UTC),
        timedelta(seconds=90),
    )
    tracemalloc.start()
    start = time.perf_counter()
    result = fanout.run(post, "bench", lambda: timedelta(minutes=10), timedelta(seconds=20))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert result.status == "done" and result.recipients == size, result
    return {
        "peak_mib": peak,
        "seconds": seconds,
        "messages": queue.messages,
        "avg_message_kib": queue.bytes / queue.messages / 1024,
    }


# --------------------------------------------------------------------------- report
def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(str(size) for size in DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=3, help="fan-outs at the first size (median)")
    parser.add_argument("--burst-only", action="store_true", help="the fixed cost and the burst only (~1 min)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    from moto import mock_aws

    with mock_aws():
        fixed, bursts, moto, delivery = run_moto(sizes, args.repeats, args.burst_only)
    memory = {} if args.burst_only else {size: notify_memory(size) for size in [*sizes, 1_000_000]}

    base = sizes[0]
    print()
    print(f"Notify's fixed cost per post (tags {', '.join(FIXED_TAGS)}: {len(FIXED_TAGS) + 1} audiences read)")
    for size, r in fixed.items():
        detail = ", ".join(f"{name} {count}" for name, count in sorted(r["calls"].items()))
        print(f"{size:>12,} subscriber(s): {sum(r['calls'].values()):>3} AWS calls  {detail}")
    print()
    print(
        f"Notify, a burst of {BURST_POSTS} posts (two tags out of eight each) in batches of the template's BatchSize"
        f" (load average {os.getloadavg()[0]:.2f})"
    )
    for size, r in bursts.items():
        total = sum(r["calls"].values())
        detail = ", ".join(f"{name} {count}" for name, count in sorted(r["calls"].items()))
        print(
            f"{size:>12,} subscriber(s): {total / BURST_POSTS:>5.2f} AWS calls a post ({total} in"
            f" {r['invocations']} invocations, {r['messages']} delivery messages, {r['seconds']:.2f} s on moto)"
            f"  {detail}"
        )
    if args.burst_only:
        return 0
    print()
    print("Notify on moto (whole audience; time is the median of the runs)")
    print(
        f"{'subscribers':>12} {'runs':>4} {'invocations':>11} {'queue msgs':>10} {'AWS calls':>9} {'seconds':>8}"
        "  by operation"
    )
    for size, r in moto.items():
        detail = ", ".join(f"{name} {count}" for name, count in sorted(r["calls"].items()))
        print(
            f"{size:>12,} {r['runs']:>4} {r['invocations']:>11} {r['messages']:>10,} {sum(r['calls'].values()):>9,}"
            f" {r['seconds']:>8.1f}  {detail}"
        )
    print()
    print("Notify's own peak memory (tracemalloc; fan-out core over in-memory ports)")
    for size, m in memory.items():
        print(
            f"{size:>12,} subscribers: peak {m['peak_mib']:.2f} MiB, {m['messages']:,} delivery messages"
            f" (avg {m['avg_message_kib']:.1f} KiB), {m['seconds']:.2f} s in the core (slowed by tracemalloc)"
        )
    for size in sizes[1:]:
        r, b = moto[size], moto[base]
        calls_ratio = sum(r["calls"].values()) / sum(b["calls"].values())
        memory_ratio = memory[size]["peak_mib"] / memory[base]["peak_mib"]
        print(
            f"ratio {size:,} / {base:,} (audience x{size / base:g}): AWS calls x{calls_ratio:.1f},"
            f" queue messages x{r['messages'] / b['messages']:.1f}, moto time x{r['seconds'] / b['seconds']:.1f},"
            f" peak memory x{memory_ratio:.2f}"
        )
    per_k = 1000 / delivery["recipients"]
    calls = delivery["calls"]
    ses = calls["sesv2.SendEmail"]
    print()
    print(
        f"Deliver on moto: {delivery['batches']} batches, {delivery['recipients']:,} recipients,"
        f" {delivery['seconds']:.1f} s"
    )
    print("  " + ", ".join(f"{name} {count}" for name, count in sorted(calls.items())))
    print()
    print("Cost per 1,000 subscribers (moto's GSI query scans the whole table, so its time per page grows")
    print("with the table; on DynamoDB a page is one read of ~1,000 items)")
    for size, r in moto.items():
        print(
            f"  Notify at {size:,}: {sum(r['calls'].values()) * 1000 / size:.1f} AWS calls,"
            f" {r['messages'] * 1000 / size:.0f} delivery messages, {r['seconds'] * 1000 / size:.2f} s on moto,"
            f" peak {memory[size]['peak_mib']:.2f} MiB"
        )
    print(
        f"  Deliver: {ses * per_k:.0f} SES calls, {sum(calls.values()) * per_k:.0f} AWS calls,"
        f" {delivery['seconds'] * per_k:.1f} s on moto"
    )
    print()
    print("Whole fan-out: delivery messages measured; SES calls = recipients (measured per batch above)")
    for size, r in moto.items():
        print(
            f"  {size:>9,} subscribers: {r['messages']:,} delivery messages,"
            f" {size * ses // delivery['recipients']:,} SES calls"
        )
    last = sizes[-1]
    print(
        f"  1,000,000 subscribers: {memory[1_000_000]['messages']:,} delivery messages (core, measured),"
        f" ~{sum(moto[last]['calls'].values()) * 1_000_000 // last:,} Notify AWS calls (projected from {last:,}),"
        f" 1,000,000 SES calls; Notify peak {memory[1_000_000]['peak_mib']:.2f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
