"""Index and PublishScheduled on moto: every resource of template.yaml (``aws_stack``),
posts uploaded to the source bucket and taken through Validate -> Render -> Index by
the local runner, and the handlers invoked with the files in events/."""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pressline.indexing.announce import DEFAULT_ANNOUNCE_WINDOW
from pressline.local.harness import StackHandle
from pressline.local.runner import Invocation

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def post(
    title: str, date: datetime, *, tags: tuple[str, ...] = (), draft: bool = False, slug: str | None = None
) -> bytes:
    lines = ["---", f'title: "{title}"', f"date: {date.isoformat()}", f"tags: [{', '.join(tags)}]"]
    lines.append(f"slug: {slug or title.lower().replace(' ', '-')}")
    if draft:
        lines.append("draft: true")
    lines += ["---", "", f"The body of {title}, with enough words to be a post.", ""]
    return "\n".join(lines).encode()


class Site:
    """The stack seen from outside: upload posts, run the pipeline, read the site."""

    def __init__(self, stack: StackHandle) -> None:
        self.stack = stack
        self.source = stack.outputs["SourceBucketName"]
        self.bucket = stack.outputs["SiteBucketName"]
        self.site_url = stack.stack.environment()["SITE_URL"].rstrip("/")
        self.calls: list[Invocation] = []

    def upload(self, key: str, body: bytes) -> str:
        version: str = self.stack.s3.put_object(Bucket=self.source, Key=key, Body=body)["VersionId"]
        return version

    def run(self) -> None:
        self.calls.extend(self.stack.drain())

    def text(self, key: str) -> str | None:
        try:
            return str(self.stack.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode())
        except self.stack.s3.exceptions.NoSuchKey:
            return None

    def report(self, key: str) -> dict[str, Any]:
        body = self.stack.s3.get_object(Bucket=self.source, Key=f"reports/{key}.json")["Body"].read()
        return dict(json.loads(body))

    def feed_urls(self) -> list[str]:
        return [item["url"] for item in json.loads(self.text("feed.json") or '{"items": []}')["items"]]

    def sitemap_urls(self) -> set[str]:
        urls: set[str] = set()
        index = ET.fromstring(self.text("sitemap.xml") or "")
        for loc in index.iter(f"{SITEMAP}loc"):
            child = ET.fromstring(self.text(loc.text.removeprefix(self.site_url + "/")) or "")
            urls.update(url.text for url in child.iter(f"{SITEMAP}loc"))
        return urls

    def post_url(self, slug: str) -> str:
        return f"{self.site_url}/posts/{slug}/"

    def announced(self) -> int:
        """PostPublished messages Notify received from Index so far."""
        return sum(call.records for call in self.calls if call.function.startswith("Notify"))

    def first_published(self, slug: str) -> bool:
        key = {"pk": {"S": f"FIRST#SLUG#{slug}"}, "sk": {"S": "FIRST"}}
        return "Item" in self.stack.dynamodb.get_item(TableName=self.stack.outputs["PostsTableName"], Key=key)


@pytest.fixture
def site(aws_stack: StackHandle) -> Site:
    return Site(aws_stack)


def index_event(name: str, site: Site, **source: Any) -> dict[str, Any]:
    """An events/ file pointed at this stack's bucket (and the given source fields)."""
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    for record in data["Records"]:
        try:
            body = json.loads(record["body"])
        except json.JSONDecodeError:
            continue
        if isinstance(body.get("source"), dict):
            body["source"].update({"bucket": site.source, **source})
            if isinstance(body.get("rendered"), dict):  # the carried rendering is of the same version
                body["rendered"]["source"] = body["source"]
        record["body"] = json.dumps(body)
    return data


NOW = datetime.now(UTC).replace(microsecond=0)


def test_an_upload_goes_live_everywhere_through_the_pipeline(site: Site) -> None:
    site.upload("posts/first.md", post("First light", NOW - timedelta(days=2), tags=("photo",)))
    site.upload("posts/second.md", post("Second wind", NOW - timedelta(days=1), tags=("photo", "news")))
    site.run()

    assert site.feed_urls() == [site.post_url("second-wind"), site.post_url("first-light")]
    assert {site.post_url("first-light"), site.post_url("second-wind")} <= site.sitemap_urls()
    assert 'href="/posts/second-wind/"' in site.text("posts/first-light/index.html")  # neighbour relinked
    assert "/posts/first-light/" in site.text("tags/photo/index.html")
    assert site.report("posts/first.md")["status"] == "published"
    assert site.announced() == 2 and site.first_published("first-light") and site.first_published("second-wind")
    # The catalog answers Validate's question: who owns a slug?
    item = site.stack.dynamodb.get_item(
        TableName=site.stack.outputs["PostsTableName"], Key={"pk": {"S": "SLUG#first-light"}, "sk": {"S": "SLUG"}}
    )["Item"]
    assert item["source_key"]["S"] == "posts/first.md"


def test_edits_and_several_quick_uploads_end_in_the_latest_state(site: Site) -> None:
    for take in range(4):
        site.upload("posts/draft.md", post(f"Take {take}", NOW - timedelta(hours=3), slug="evolving"))
    site.run()

    page = site.text("posts/evolving/index.html") or ""
    assert "Take 3" in page and "Take 2" not in page
    assert "Take 3" in (site.text("feed.xml") or "")
    assert site.announced() == 1


def test_a_draft_takes_a_live_post_down_and_a_delete_removes_every_reference(site: Site) -> None:
    site.upload("posts/p.md", post("Going away", NOW - timedelta(days=1), tags=("t",)))
    site.upload("posts/q.md", post("Staying", NOW - timedelta(days=2)))
    site.run()
    assert site.post_url("going-away") in site.feed_urls()

    site.upload("posts/p.md", post("Going away", NOW - timedelta(days=1), tags=("t",), draft=True))
    site.run()
    assert site.text("posts/going-away/index.html") is None
    assert site.post_url("going-away") not in site.feed_urls()
    assert site.report("posts/p.md")["status"] == "draft"

    # moto sends no event when a versioned object is deleted: Validate's delete is sent by hand.
    site.upload("posts/p.md", post("Going away", NOW - timedelta(days=1), tags=("t",)))
    site.run()
    site.stack.s3.delete_object(Bucket=site.source, Key="posts/p.md")
    result = site.stack.invoke("Index", index_event("index-delete.json", site, key="posts/p.md"))
    assert result == {"batchItemFailures": []}
    assert site.text("posts/going-away/index.html") is None
    assert site.post_url("going-away") not in site.sitemap_urls()
    assert site.text("tags/t/index.html") is None
    assert "/posts/going-away/" not in (site.text("posts/staying/index.html") or "")
    assert site.report("posts/p.md")["status"] == "unpublished"
    assert site.announced() == 2  # going-away once, whatever came after; staying once


def test_a_scheduled_post_goes_live_when_the_scheduler_finds_it_due(site: Site) -> None:
    due = datetime.now(UTC) + timedelta(seconds=8)  # room for the pipeline on a loaded machine
    site.upload("posts/soon.md", post("Coming soon", due))
    site.run()
    assert site.report("posts/soon.md")["status"] == "scheduled"
    assert site.text("posts/coming-soon/index.html") is None

    ran = site.stack.run_schedules()  # the digest function's schedule runs too
    assert all(result.ok for result in ran) and "PublishScheduledFunction" in {result.function for result in ran}
    site.run()
    assert site.text("posts/coming-soon/index.html") is None  # not yet due

    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.1)  # the date has to pass
    site.stack.run_schedules()
    site.run()
    assert site.text("posts/coming-soon/index.html") is not None
    assert site.post_url("coming-soon") in site.feed_urls()
    assert site.report("posts/soon.md")["status"] == "published"
    assert site.announced() == 1 and site.first_published("coming-soon")


def test_a_valid_edit_followed_at_once_by_a_rejected_upload_is_not_lost(site: Site) -> None:
    """Both uploaded before Validate runs: every event reconciles with S3's current version,
    the rejected one, yet the edit before it goes live and the report says why the last
    upload was refused."""
    site.upload("posts/e.md", post("First words", NOW - timedelta(days=1), slug="edited"))
    site.run()
    site.upload("posts/e.md", post("Better words", NOW - timedelta(days=1), slug="edited"))
    site.upload("posts/e.md", b"---\ntitle: [unclosed\n---\nBody.\n")
    site.run()
    page = site.text("posts/edited/index.html") or ""
    assert "Better words" in page and "First words" not in page
    assert "Better words" in (site.text("feed.xml") or "")
    assert site.report("posts/e.md")["status"] == "rejected"
    assert site.announced() == 1


def test_a_burst_of_a_hundred_uploads_loses_no_update(site: Site) -> None:
    for n in range(100):
        site.upload(f"posts/burst/{n}.md", post(f"Burst {n}", NOW - timedelta(hours=n * 7), slug=f"burst-{n}"))
    site.run()

    expected = {site.post_url(f"burst-{n}") for n in range(100)}
    assert expected <= site.sitemap_urls()
    assert site.feed_urls() == [site.post_url(f"burst-{n}") for n in range(20)]
    archives = "".join(
        site.text(f"archive/{month[:4]}/{month[5:]}/index.html") or ""
        for month in {(NOW - timedelta(hours=n * 7)).strftime("%Y-%m") for n in range(100)}
    )
    assert all(f'href="/posts/burst-{n}/"' in archives for n in range(100))
    # Those dated within the announce window are news; the older ones go live without an email.
    news = [n for n in range(100) if timedelta(hours=n * 7) <= DEFAULT_ANNOUNCE_WINDOW]
    assert site.announced() == len(news) and 0 < len(news) < 100
    assert site.report("posts/burst/99.md")["announced"] is False
    assert "older than the announce window of 72 hours" in site.report("posts/burst/99.md")["announcement"]
    assert site.stack.queue_depth("IndexDeadLetterQueueUrl") == 0


def test_the_index_handler_with_events_files(site: Site) -> None:
    version = site.upload("posts/welcome-to-pressline.md", post("Welcome", NOW - timedelta(days=1)))
    site.run()
    before = site.text("index.html")

    # The upsert event for a version that is no longer current: dropped.
    assert site.stack.invoke("Index", index_event("index-upsert.json", site)) == {"batchItemFailures": []}
    # The current version again (a duplicate), and a "due" for it: nothing changes.
    upsert = index_event("index-upsert.json", site, version_id=version, etag=None, sequencer=None)
    assert site.stack.invoke("Index", upsert) == {"batchItemFailures": []}
    due = index_event("index-due.json", site, version_id=version, etag=None)
    assert site.stack.invoke("Index", due) == {"batchItemFailures": []}
    assert site.text("index.html") == before
    # A delete while the key exists: stale, dropped.
    assert site.stack.invoke("Index", index_event("index-delete.json", site)) == {"batchItemFailures": []}
    assert site.text("posts/welcome/index.html") is not None
    # A malformed update goes to the DLQ at once, with its reason.
    assert site.stack.invoke("Index", index_event("index-malformed.json", site)) == {"batchItemFailures": []}
    assert site.stack.queue_depth("IndexDeadLetterQueueUrl") == 1


def test_an_update_carrying_its_rendering_goes_live_without_reading_one(site: Site) -> None:
    """events/index-upsert-carried.json is what Render sends for a post under 192 KiB."""
    key = "posts/harbour-ferry-timetable.md"
    version = site.upload(key, post("The harbour ferry's winter timetable", NOW - timedelta(days=1)))
    # Not run through Validate and Render: no rendering is stored, the update carries it.
    event = index_event("index-upsert-carried.json", site, key=key, version_id=version, etag=None, sequencer=None)
    assert site.stack.invoke("Index", event) == {"batchItemFailures": []}
    page = site.text("posts/harbour-ferry-timetable/index.html") or ""
    assert "<h2>Weekend sailings</h2>" in page
    assert site.feed_urls() == [site.post_url("harbour-ferry-timetable")]
    assert site.report(key)["status"] == "published"
    assert not site.stack.s3.list_objects_v2(Bucket=site.source, Prefix=f"rendered/{key}").get("KeyCount")


def test_the_scheduler_handler_with_its_event_file(site: Site) -> None:
    site.upload("posts/later.md", post("Much later", NOW + timedelta(days=365)))
    site.run()
    event = json.loads((EVENTS / "scheduler-tick.json").read_text())
    assert site.stack.invoke("PublishScheduled", event) == {"due": []}


def test_rebuild_regenerates_the_same_site(site: Site, tmp_path: Path) -> None:
    from pressline.indexing import rebuild

    for n in range(5):
        site.upload(f"posts/{n}.md", post(f"Post {n}", NOW - timedelta(days=n * 9), tags=("a", f"t{n % 2}")))
    site.run()
    keys = [item["Key"] for item in site.stack.s3.list_objects_v2(Bucket=site.bucket)["Contents"]]
    before = {key: site.text(key) for key in keys}
    site.stack.s3.put_object(Bucket=site.bucket, Key="archive/1999/01/index.html", Body=b"stale")
    site.stack.s3.delete_object(Bucket=site.bucket, Key="feed.xml")

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(site.stack.outputs))
    parser = argparse.ArgumentParser()
    rebuild.add_arguments(parser)
    assert rebuild.run(parser.parse_args(["--outputs", str(outputs), "--site-url", site.site_url])) == 0

    after_keys = [item["Key"] for item in site.stack.s3.list_objects_v2(Bucket=site.bucket)["Contents"]]
    assert sorted(after_keys) == sorted(keys)  # the stale page is gone, the feed is back
    assert {key: site.text(key) for key in keys} == before

    # A deployed stack by name: outputs and the site parameters come from CloudFormation.
    site.stack.s3.delete_object(Bucket=site.bucket, Key="index.html")
    by_name = parser.parse_args(["--stack-name", site.stack.stack.stack_name, "--site-url", site.site_url])
    assert rebuild.run(by_name) == 0
    assert site.text("index.html") == before["index.html"]


# --------------------------------------------------------------------------- the catalog port
def catalogs(stack: StackHandle) -> list[Any]:
    from pressline.indexing.dynamo import DynamoCatalog
    from pressline.indexing.memory import MemoryCatalog

    return [MemoryCatalog(), DynamoCatalog(stack.outputs["PostsTableName"], dynamodb=stack.dynamodb)]


def catalog_post(n: int, status: str = "published", days: float = 0, version: str = "v1") -> Any:
    from pressline.indexing.catalog import CatalogPost

    date = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=n + days)
    return CatalogPost(
        source_key=f"posts/{n}.md",
        version=version,
        status=status,  # type: ignore[arg-type]
        slug=f"p{n}",
        title=f"P{n}",
        date=date,
        applied_at=date,
    )


def test_dynamo_and_memory_catalogs_keep_the_same_contract(aws_stack: StackHandle) -> None:
    from pressline.indexing.catalog import CatalogConflictError, Commit, Entry, Listing, Summary

    for catalog in catalogs(aws_stack):
        for n in range(5):
            catalog.commit(
                Commit(source_key=f"posts/{n}.md", expected_version=None, post=catalog_post(n), claim_slugs=(f"p{n}",))
            )
        catalog.commit(
            Commit(source_key="posts/9.md", expected_version=None, post=catalog_post(9, "scheduled", days=30))
        )
        with pytest.raises(CatalogConflictError):  # the guard: it exists now
            catalog.commit(Commit(source_key="posts/0.md", expected_version=None, post=catalog_post(0)))
        with pytest.raises(CatalogConflictError):  # the guard: another version was applied
            catalog.commit(Commit(source_key="posts/0.md", expected_version="v0", post=catalog_post(0, version="v2")))

        assert [post.slug for post in catalog.published(limit=3)] == ["p4", "p3", "p2"]
        middle = catalog_post(2).order
        assert [post.slug for post in catalog.published(older_than=middle, limit=5)] == ["p1", "p0"]
        assert [post.slug for post in catalog.published(newer_than=middle, limit=1)] == ["p3"]
        assert [post.slug for post in catalog.all_published()] == ["p4", "p3", "p2", "p1", "p0"]
        assert catalog.due(datetime(2026, 3, 20, tzinfo=UTC)) == []
        assert [post.slug for post in catalog.due(datetime(2026, 4, 30, tzinfo=UTC))] == ["p9"]

        # More than a transaction holds (100 items): written in chunks, the post item last.
        entry = Entry(
            slug="p1", title="P1", date=datetime(2026, 3, 2, tzinfo=UTC), source_key="posts/1.md", version="v2"
        )
        listings = {f"TAGYEAR#t{n}#2026": Listing(entries=(entry,)) for n in range(120)}
        commit = Commit(
            source_key="posts/1.md",
            expected_version="v1",
            post=catalog_post(1, version="v2"),
            first_published={"KEY#posts/1.md": datetime(2026, 3, 2, tzinfo=UTC)},
            listings=listings,
            summary=Summary(months={"2026-03": 5}),
        )
        catalog.commit(commit)
        snapshot = catalog.snapshot("posts/1.md", ["p1", "nobody"], ["KEY#posts/1.md", "SLUG#p1"], list(listings)[:3])
        assert snapshot.post is not None and snapshot.post.version == "v2"
        assert snapshot.slug_owners == {"p1": "posts/1.md"}
        assert set(snapshot.first_published) == {"KEY#posts/1.md"}
        assert snapshot.summary.months == {"2026-03": 5}
        assert len(snapshot.listings) == 3
        assert len(catalog.listings(list(listings))) == 120

        # Removal: the post item goes, the slug is released, the first publication stays.
        catalog.commit(
            Commit(
                source_key="posts/1.md",
                expected_version="v2",
                post=None,
                release_slugs=("p1",),
                listings=dict.fromkeys(listings),
            )
        )
        snapshot = catalog.snapshot("posts/1.md", ["p1"], ["KEY#posts/1.md"], list(listings)[:3])
        assert snapshot.post is None and snapshot.slug_owners == {} and snapshot.listings == {}
        assert set(snapshot.first_published) == {"KEY#posts/1.md"}


def test_dynamo_and_memory_catalogs_read_and_apply_batches_alike(aws_stack: StackHandle) -> None:
    """``read``/``apply``, the pair Index uses for a whole batch: one read of many items, one
    write of the net changes (split into transactions past 100 items), guarded by the
    revision read and each post's version."""
    from pressline.indexing.catalog import (
        CatalogChanges,
        CatalogConflictError,
        CatalogKeys,
        Entry,
        Listing,
        PostWrite,
        Summary,
    )

    for catalog in catalogs(aws_stack):
        first = catalog.read(CatalogKeys(posts=("posts/0.md",)))
        assert first.posts == {} and first.revision == 0
        posts = [catalog_post(n) for n in range(60)]  # 60 posts, slugs and markers: > 100 items
        listing = Listing(entries=tuple(Entry(slug=p.slug, title=p.title, date=p.date) for p in posts))
        changes = CatalogChanges(
            revision=first.revision,
            posts={p.source_key: PostWrite(expected_version=None, post=p) for p in posts},
            slugs={p.slug: p.source_key for p in posts},
            first_published={f"KEY#{p.source_key}": p.date for p in posts},
            listings={"MONTH#2026-03": listing},
            summary=Summary(months={"2026-03": 60}),
        )
        catalog.apply(changes)
        with pytest.raises(CatalogConflictError):  # the revision moved: another batch committed
            catalog.apply(changes)

        found = catalog.read(
            CatalogKeys(
                posts=("posts/0.md", "posts/59.md", "posts/nope.md"),
                slugs=("p0", "nope"),
                markers=("KEY#posts/0.md",),
                listings=("MONTH#2026-03", "MONTH#1999-01"),
            )
        )
        assert set(found.posts) == {"posts/0.md", "posts/59.md"} and found.revision == 1
        assert found.slug_owners == {"p0": "posts/0.md"}
        assert set(found.first_published) == {"KEY#posts/0.md"}
        assert found.listings == {"MONTH#2026-03": listing} and found.summary.months == {"2026-03": 60}

        stale = CatalogChanges(  # the right revision, but a post version that is not the catalog's
            revision=1,
            posts={"posts/0.md": PostWrite(expected_version="v0", post=None)},
            summary=found.summary,
        )
        with pytest.raises(CatalogConflictError):
            catalog.apply(stale)
        gone = CatalogChanges(
            revision=catalog.read(CatalogKeys()).revision,
            posts={"posts/0.md": PostWrite(expected_version="v1", post=None)},
            slugs={"p0": None},
            listings={"MONTH#2026-03": None},
            summary=Summary(),
        )
        catalog.apply(gone)
        after = catalog.read(CatalogKeys(posts=("posts/0.md",), slugs=("p0",), listings=("MONTH#2026-03",)))
        assert after.posts == {} and after.slug_owners == {} and after.listings == {}
