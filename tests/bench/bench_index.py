"""Constant cost: publishing one post into sites of 100, 1,000 and 10,000 posts.

Counts the AWS API calls Index makes (a botocore ``before-call`` hook on its clients) and
times ``apply_update`` for a new post, on in-process moto. Everything, the fake AWS
included, runs in this process, so its CPU time (``time.process_time``) is the work a
publish takes; wall time is printed too but not judged, as on a shared machine it also
measures the neighbours. The catalog is seeded
directly (post and slug items, listings and summary as ``pressline rebuild`` derives
them, the newest-posts state): posts arrive one a day, as on a real site, so a bigger
site has more months, not bigger months. Prints medians and the 10,000/100 ratios;
exits non-zero when a ratio passes 1.3 or a publish takes more than 25 calls.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_index.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

for name, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[name] = value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from pressline.stages.index import IndexDeps, apply_update  # noqa: E402  (after the fake credentials)

SIZES = (100, 1_000, 10_000)
RUNS = 25  # publishes measured per site size (after one warm-up)
MAX_RATIO = 1.3
MAX_CALLS = 25
END = datetime(2026, 3, 20, 12, tzinfo=UTC)  # the newest seeded post
TAGS = ("python", "aws", "travel", "notes", "photography", "city", "essays", "guides")
REGION = "us-east-1"


def without_table_backups() -> None:
    """moto backs up the WHOLE table (``copy.deepcopy``) for every item of every
    TransactWriteItems call, so its transactions cost O(table size); DynamoDB's do not.
    Measuring that would measure moto. The benchmark's transactions never fail, so the
    backup is skipped for tables (everything else is copied as before)."""
    import copy

    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table

    real_deepcopy = copy.deepcopy

    class _Copy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else real_deepcopy(value, memo)

    dynamodb_models.copy = _Copy  # type: ignore[attr-defined]


class Counting:
    """Counts the API calls made through the clients it is attached to, while on."""

    def __init__(self) -> None:
        self.on = False
        self.calls: Counter[str] = Counter()
        self.round_trip = 0.0  # seconds added to every call while on: AWS's latency, which moto has not

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name

        def count(**kwargs: Any) -> None:
            if self.on:
                self.calls[f"{service}:{kwargs['model'].name}"] += 1
                if self.round_trip:
                    time.sleep(self.round_trip)

        client.meta.events.register("before-call.*.*", count)
        return client

    def total(self) -> int:
        return sum(self.calls.values())


def seed(size: int, s3: Any, dynamodb: Any, names: dict[str, str], site: Any) -> None:
    from pressline.indexing import layout, search
    from pressline.indexing.catalog import CatalogPost, Recent, RecentPost, month_of
    from pressline.indexing.dynamo import DynamoCatalog
    from pressline.indexing.rebuild import derive, state_blobs
    from pressline.models import PostMeta, RenderedPost, SourceRef

    posts = []
    for n in range(size):
        date = END - timedelta(days=n)
        posts.append(
            CatalogPost(
                source_key=f"posts/seed/{n}.md",
                version=f"v{n}",
                version_id=f"v{n}",
                status="published",
                slug=f"seed-{n}",
                title=f"Seeded post number {n}",
                date=date,
                tags=(TAGS[n % len(TAGS)], TAGS[(n * 3 + 1) % len(TAGS)]),
                summary=f"A summary of seeded post {n}, long enough to look like a real one on a listing page.",
                applied_at=date,
            )
        )
    catalog = DynamoCatalog(names["table"], dynamodb=dynamodb)
    catalog.put_posts(posts)
    summary, listings = derive(posts, "UTC")
    body = "<p>" + " ".join(f"word{i}" for i in range(600)) + "</p>"
    shards: dict[str, list[dict[str, Any]]] = {}
    for post in posts:
        shards.setdefault(month_of(post.date, "UTC"), []).append(search.document(post, body, site))
    recent = []
    for post in posts[:20]:
        source = SourceRef(bucket=names["source"], key=post.source_key, version_id=post.version_id)
        meta = PostMeta(slug=post.slug, title=post.title, date=post.date, tags=post.tags, summary=post.summary)
        rendered = RenderedPost(source=source, meta=meta, body_html=body, status="published", rendered_at=post.date)
        recent.append(RecentPost(post=post, rendered=rendered))
    state = Recent(posts=tuple(recent))
    s3.put_object(Bucket=names["source"], Key=layout.RECENT_STATE, Body=state.model_dump_json().encode())
    catalog.replace_derived(summary, listings, state_blobs(shards, state))


def publish_one(n: int, s3: Any, names: dict[str, str], deps: Any, date: datetime | None = None) -> Any:
    """What Validate and Render leave behind for a new post, then the update Index receives."""
    from pressline.models import PostMeta, RenderedPost, SourceRef
    from pressline.posts import messages
    from pressline.posts.paths import rendered_key

    key = f"posts/new/{n}.md"
    version = s3.put_object(Bucket=names["source"], Key=key, Body=b"---\ntitle: x\n---\nbody")["VersionId"]
    source = SourceRef(bucket=names["source"], key=key, version_id=version)
    meta = PostMeta(
        slug=f"new-{n}",
        title=f"A new post {n}",
        date=date or END + timedelta(minutes=n + 1),
        tags=(TAGS[n % len(TAGS)], TAGS[(n + 3) % len(TAGS)]),
        summary="What is new today.",
    )
    body = "<p>" + " ".join(f"fresh{i}" for i in range(600)) + "</p>"
    rendered = RenderedPost(source=source, meta=meta, body_html=body, status="published", rendered_at=END)
    s3.put_object(Bucket=names["source"], Key=rendered_key(source), Body=rendered.model_dump_json().encode())
    return messages.upsert(source, meta.slug, rendered)  # as Render sends it: the rendered post inside


def counted(update: Any, deps: Any, counting: Counting) -> int:
    counting.calls.clear()
    counting.on = True
    outcome = apply_update(update, deps)
    counting.on = False
    assert outcome.applied, outcome
    return counting.total()


def edit_old(n: int, s3: Any, names: dict[str, str], deps: Any, counting: Counting) -> int:
    """A new title for a post in the middle of the site (its neighbours' links change)."""
    from pressline.models import PostMeta, RenderedPost, SourceRef
    from pressline.posts import messages
    from pressline.posts.paths import rendered_key

    key = f"posts/seed/{n}.md"
    version = s3.put_object(Bucket=names["source"], Key=key, Body=b"edited")["VersionId"]
    source = SourceRef(bucket=names["source"], key=key, version_id=version)
    date = END - timedelta(days=n)
    meta = PostMeta(slug=f"seed-{n}", title="An edited title", date=date, tags=(TAGS[n % len(TAGS)],))
    rendered = RenderedPost(source=source, meta=meta, body_html="<p>edited</p>", status="published", rendered_at=date)
    for neighbour in (n - 1, n + 1):  # seeded posts beyond the newest 20 have no rendered object yet
        ref = SourceRef(bucket=names["source"], key=f"posts/seed/{neighbour}.md", version_id=f"v{neighbour}")
        other = rendered.model_copy(
            update={"source": ref, "meta": meta.model_copy(update={"slug": f"seed-{neighbour}"})}
        )
        s3.put_object(Bucket=names["source"], Key=rendered_key(ref), Body=other.model_dump_json().encode())
    s3.put_object(Bucket=names["source"], Key=rendered_key(source), Body=rendered.model_dump_json().encode())
    return counted(messages.upsert(source, meta.slug, rendered), deps, counting)


def delete_recent(s3: Any, names: dict[str, str], deps: Any, counting: Counting) -> int:
    """One of the newest posts goes: feeds refill from the catalog, neighbours relink."""
    from pressline.models import IndexUpdate, SourceRef

    key = f"posts/new/{RUNS // 2}.md"
    versions = s3.list_object_versions(Bucket=names["source"], Prefix=key)["Versions"]
    s3.delete_objects(
        Bucket=names["source"], Delete={"Objects": [{"Key": key, "VersionId": v["VersionId"]} for v in versions]}
    )
    return counted(IndexUpdate(action="delete", source=SourceRef(bucket=names["source"], key=key)), deps, counting)


class SiteUnderTest:
    """One seeded site (its own buckets and table) inside the shared moto backend."""

    def __init__(self, size: int, session: Any) -> None:
        from pressline.adapters.queue import SqsQueue
        from pressline.adapters.store import S3Store
        from pressline.indexing.dynamo import DynamoCatalog
        from pressline.site.pages import Site

        self.size = size
        self.s3, dynamodb, sqs = (session.client(service) for service in ("s3", "dynamodb", "sqs"))
        self.names = {"source": f"bench-source-{size}", "site": f"bench-site-{size}", "table": f"bench-posts-{size}"}
        self.s3.create_bucket(Bucket=self.names["source"])
        self.s3.put_bucket_versioning(Bucket=self.names["source"], VersioningConfiguration={"Status": "Enabled"})
        self.s3.create_bucket(Bucket=self.names["site"])
        dynamodb.create_table(
            TableName=self.names["table"],
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        notify_url = sqs.create_queue(QueueName=f"bench-notify-{size}")["QueueUrl"]
        site = Site(title="Bench", url="https://bench.example", api_url="https://api.bench.example")
        started = time.perf_counter()
        seed(size, self.s3, dynamodb, self.names, site)
        self.seeded_s = time.perf_counter() - started
        self.counting = Counting()
        self.deps = IndexDeps(
            source=S3Store(self.names["source"], s3=self.counting.attach(self.s3)),
            site_store=S3Store(self.names["site"], s3=self.s3),
            catalog=DynamoCatalog(self.names["table"], dynamodb=self.counting.attach(dynamodb)),
            notify=SqsQueue(notify_url, sqs=self.counting.attach(sqs)),
            site=site,
            clock=lambda: END + timedelta(days=60),
            # What a new post costs, its announcement included: the bench's posts are dated weeks
            # before its clock, older than the default announce window (indexing.announce).
            announce_window=timedelta(days=3650),
        )
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.calls: list[int] = []
        self.breakdown: Counter[str] = Counter()
        self.other: dict[str, int] = {}
        self.latency: dict[int, list[float]] = {}

    def publish(self, n: int, measured: bool = True) -> None:
        update = publish_one(n, self.s3, self.names, self.deps)
        self.counting.calls.clear()
        self.counting.on = True
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = apply_update(update, self.deps)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.counting.on = False
        assert outcome.applied and outcome.status == "published", outcome
        if measured:
            self.wall.append(wall * 1000)
            self.cpu.append(cpu * 1000)
            self.calls.append(self.counting.total())
            self.breakdown = self.counting.calls.copy()


ROUND_TRIP_MS = 20  # a typical S3 PUT from Lambda in the same region
LATENCY_RUNS = 9


def latency_runs(site: SiteUnderTest) -> None:
    """Index's time per publish when every AWS call also waits a round trip (moto answers at
    once; AWS does not): its page writes one after another (1 writer) against in parallel."""
    from pressline.adapters import buffered  # the parallel writer of Index (and rebuild)

    site.latency = {1: [], buffered.PARALLEL_WRITES: []}
    default = buffered.PARALLEL_WRITES
    site.counting.round_trip = ROUND_TRIP_MS / 1000
    try:
        for n in range(LATENCY_RUNS):
            for writers in (1, default):  # interleaved: load on the machine hits both alike
                buffered.PARALLEL_WRITES = writers
                update = publish_one(1000 + n * 2 + (writers > 1), site.s3, site.names, site.deps)
                site.counting.on = True
                started = time.perf_counter()
                outcome = apply_update(update, site.deps)
                site.latency[writers].append((time.perf_counter() - started) * 1000)
                site.counting.on = False
                assert outcome.applied, outcome
    finally:
        buffered.PARALLEL_WRITES = default
        site.counting.round_trip = 0.0
        site.counting.on = False


def measure_all() -> list[SiteUnderTest]:
    """Every site lives in one moto backend and the publishes take turns (100, 1,000,
    10,000, 100, ...), so that whatever else the machine is doing slows all sizes alike."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        sites = [SiteUnderTest(size, session) for size in SIZES]
        for site in sites:
            site.publish(0, measured=False)  # warm-up: first-run code paths, templates
        for n in range(1, RUNS + 1):
            for site in sites:
                site.publish(n)
        latency_runs(sites[1])
        for site in sites:
            next_month = publish_one(RUNS + 1, site.s3, site.names, site.deps, date=END + timedelta(days=20))
            site.other = {
                "publish the first post of a month": counted(next_month, site.deps, site.counting),
                "edit an old post": edit_old(site.size // 2, site.s3, site.names, site.deps, site.counting),
                "delete a recent post": delete_recent(site.s3, site.names, site.deps, site.counting),
            }
    return sites


def main() -> int:
    without_table_backups()
    import logging

    logging.disable(logging.WARNING)
    sites = measure_all()
    print(f"Publishing one new post into a site (median of {RUNS}, in-process moto):")
    print(f"{'posts':>8} {'wall ms':>9} {'cpu ms':>8} {'AWS calls':>10} {'max calls':>10} {'seeded in':>10}")
    for site in sites:
        print(
            f"{site.size:>8,} {statistics.median(site.wall):>9.1f} {statistics.median(site.cpu):>8.1f}"
            f" {statistics.median(site.calls):>10.0f} {max(site.calls):>10} {site.seeded_s:>9.1f}s"
        )
    for name in sites[0].other:
        figures = ", ".join(f"{site.size:,} posts: {site.other[name]}" for site in sites)
        print(f"AWS calls to {name}: {figures}")
    (_, one_ms), (many, many_ms) = ((w, statistics.median(ms)) for w, ms in sorted(sites[1].latency.items()))
    print(
        f"With a {ROUND_TRIP_MS} ms round trip added to every AWS call ({sites[1].size:,} posts, median of"
        f" {LATENCY_RUNS}): Index takes {one_ms:.0f} ms writing pages one at a time, {many_ms:.0f} ms with"
        f" {many} in flight ({one_ms / many_ms:.1f}x faster)"
    )
    breakdown = ", ".join(f"{name} {count}" for name, count in sorted(sites[-1].breakdown.items()))
    print(f"Calls of one publish: {breakdown}")
    base, top = sites[0], sites[-1]
    time_ratio = statistics.median(top.cpu) / statistics.median(base.cpu)
    wall_ratio = statistics.median(top.wall) / statistics.median(base.wall)
    calls_ratio = statistics.median(top.calls) / statistics.median(base.calls)
    print(
        f"ratio {top.size:,}/{base.size:,}: time {time_ratio:.2f}x (wall {wall_ratio:.2f}x),"
        f" AWS calls {calls_ratio:.2f}x (target <= {MAX_RATIO}x)"
    )
    failures = []
    if time_ratio > MAX_RATIO or calls_ratio > MAX_RATIO:
        failures.append(f"not flat: time {time_ratio:.2f}x, calls {calls_ratio:.2f}x")
    if any(max(site.calls) > MAX_CALLS for site in sites):
        failures.append(f"a publish took more than {MAX_CALLS} AWS calls")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
