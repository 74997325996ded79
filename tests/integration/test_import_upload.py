"""``pressline import`` uploading to a source bucket on moto: every object tagged with its
import and hash; a second run puts nothing (no new object version); a dry run puts nothing;
the author's own object is never overwritten; and on the whole stack (every resource of
template.yaml on moto), an imported blog is published and emails nobody."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pressline.cli import main
from pressline.local.harness import StackHandle

ROOT = Path(__file__).resolve().parents[2]
GHOST = ROOT / "tests" / "fixtures" / "import" / "ghost" / "ghost-export.json"
BUCKET = "source-bucket"


@pytest.fixture(autouse=True)
def _away_from_any_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .local/outputs.json here to point the command elsewhere
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        from pressline.adapters.aws import reset_clients

        reset_clients()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
        reset_clients()


def versions(s3: Any, bucket: str = BUCKET) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=bucket).get("Versions", [])
    return sorted((version["Key"], version["VersionId"]) for version in listed)


def latest(s3: Any, bucket: str = BUCKET) -> dict[str, str]:
    listed = s3.list_object_versions(Bucket=bucket).get("Versions", [])
    return {version["Key"]: version["VersionId"] for version in listed if version["IsLatest"]}


def import_to(bucket: str, tmp_path: Path, *extra: str) -> int:
    return main(["import", str(GHOST), "--bucket", bucket, "--no-download", "--cache", str(tmp_path / "cache"), *extra])


def test_upload_tags_every_object_and_a_second_run_puts_nothing(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_to(BUCKET, tmp_path)
    first = versions(s3)
    keys = [key for key, _ in first]
    assert "posts/welcome.md" in keys and "pages/about.md" in keys
    head = s3.head_object(Bucket=BUCKET, Key="posts/welcome.md")
    assert head["Metadata"]["pressline-import"] == "ghost:6452a1f0c1a2b30001a1b001"
    assert len(head["Metadata"]["pressline-sha256"]) == 64
    assert head["ContentType"].startswith("text/markdown")
    capsys.readouterr()

    import_to(BUCKET, tmp_path)
    assert versions(s3) == first
    assert "0 created, 0 updated, 6 unchanged, 0 skipped" in capsys.readouterr().out


def test_a_second_run_costs_a_listing_and_nothing_else(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import Counter

    from pressline.adapters import aws

    calls: Counter[str] = Counter()
    counted = boto3.client("s3", region_name="us-east-1")
    counted.meta.events.register("before-call.s3", lambda model, **_: calls.update([model.name]))

    def client(service: str) -> Any:
        assert service == "s3"
        return counted

    client.cache_clear = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(aws, "client", client)
    import_to(BUCKET, tmp_path)
    assert calls == {"ListObjectsV2": 3, "PutObject": 6}  # posts/, pages/, imports/: absent keys need no HEAD
    calls.clear()
    import_to(BUCKET, tmp_path)
    assert calls == {"ListObjectsV2": 3}  # every ETag is the MD5 of what would be written
    s3.put_object(Bucket=BUCKET, Key="posts/welcome.md", Body=b"---\ntitle: Mine\n---\n\nMine.\n")
    calls.clear()
    import_to(BUCKET, tmp_path)
    assert calls == {"ListObjectsV2": 3, "HeadObject": 1}  # only what differs is asked whose it is


def test_a_dry_run_compares_with_the_bucket_and_puts_nothing(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_to(BUCKET, tmp_path, "--dry-run")
    assert versions(s3) == []
    assert "would create posts/welcome.md" in capsys.readouterr().out
    import_to(BUCKET, tmp_path)
    before = versions(s3)
    import_to(BUCKET, tmp_path, "--dry-run")
    assert versions(s3) == before
    assert "would leave posts/welcome.md unchanged" in capsys.readouterr().out


def test_the_authors_own_object_is_never_overwritten(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = b"---\ntitle: My own welcome\n---\n\nMine.\n"
    s3.put_object(Bucket=BUCKET, Key="posts/welcome.md", Body=own)
    assert import_to(BUCKET, tmp_path) == 1
    assert s3.get_object(Bucket=BUCKET, Key="posts/welcome.md")["Body"].read() == own
    captured = capsys.readouterr()
    assert "posts/welcome.md: conflict" in captured.err and "1 skipped (conflicts)" in captured.out


def test_an_imported_object_replaced_by_hand_is_not_overwritten(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_to(BUCKET, tmp_path)
    edited = s3.get_object(Bucket=BUCKET, Key="posts/second-post.md")["Body"].read() + b"\nEdited.\n"
    s3.put_object(Bucket=BUCKET, Key="posts/second-post.md", Body=edited)  # no import metadata: the author's now
    import_to(BUCKET, tmp_path)
    assert s3.get_object(Bucket=BUCKET, Key="posts/second-post.md")["Body"].read() == edited


def test_a_changed_export_updates_only_what_changed(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_to(BUCKET, tmp_path)
    before = latest(s3)
    export = json.loads(GHOST.read_text(encoding="utf-8"))
    post = next(p for p in export["db"][0]["data"]["posts"] if p["slug"] == "welcome")
    post["title"] = "Welcome, retitled"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(export), encoding="utf-8")
    capsys.readouterr()
    main(["import", str(changed), "--bucket", BUCKET, "--no-download", "--cache", str(tmp_path / "cache")])
    after = latest(s3)
    assert "1 updated, 5 unchanged" in capsys.readouterr().out
    assert {key for key in after if after[key] != before.get(key)} == {"posts/welcome.md"}
    body = s3.get_object(Bucket=BUCKET, Key="posts/welcome.md")["Body"].read().decode()
    assert "title: Welcome, retitled" in body


def test_an_imported_blog_is_published_on_the_stack_and_emails_nobody(
    aws_stack: StackHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    from pressline.subscribers import runtime
    from pressline.subscribers.addresses import subscriber_id
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    repository = DynamoSubscriberRepository(aws_stack.outputs["SubscribersTableName"], aws_stack.dynamodb)
    sid = subscriber_id(runtime.keys().id_key, "reader@example.com")
    now = datetime.now(UTC)
    assert repository.request_confirmation(sid, "reader@example.com", now, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm(sid, (), now) == "confirmed"
    emails_before = len(aws_stack.sent_emails())

    source = aws_stack.outputs["SourceBucketName"]
    site = aws_stack.outputs["SiteBucketName"]
    import_to(source, tmp_path)
    aws_stack.drain()
    pages = {item["Key"] for item in aws_stack.s3.list_objects_v2(Bucket=site).get("Contents", [])}
    for slug in ("welcome", "hello-ghost-1", "ghost-4-unicode"):  # published; the draft and the scheduled one wait
        assert f"posts/{slug}/index.html" in pages
    assert "posts/second-post/index.html" not in pages and "posts/coming-soon/index.html" not in pages
    assert len(aws_stack.sent_emails()) == emails_before  # notify: false on every imported post

    reports = [
        json.loads(aws_stack.s3.get_object(Bucket=source, Key=f"reports/posts/{slug}.md.json")["Body"].read())
        for slug in ("welcome", "hello-ghost-1")
    ]
    assert all(report["status"] == "published" and not report["errors"] for report in reports)

    # Importing again changes nothing: no new version, nothing for the pipeline to do.
    before = versions(aws_stack.s3, source)
    import_to(source, tmp_path)
    assert [key for key in versions(aws_stack.s3, source) if key[0].startswith(("posts/", "pages/"))] == [
        key for key in before if key[0].startswith(("posts/", "pages/"))
    ]


def test_rebuild_after_an_import_shows_its_progress(
    aws_stack: StackHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from pressline.indexing import rebuild

    import_to(aws_stack.outputs["SourceBucketName"], tmp_path)
    aws_stack.drain()
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(aws_stack.outputs))
    parser = argparse.ArgumentParser()
    rebuild.add_arguments(parser)
    capsys.readouterr()
    assert rebuild.run(parser.parse_args(["--outputs", str(outputs), "--site-url", "https://blog.example"])) == 0
    captured = capsys.readouterr()
    published = 3  # welcome, hello-ghost-1, ghost-4-unicode
    assert f"Rebuilding: {published}/{published}" in captured.err and "\r" not in captured.err  # not a terminal
    assert f"Rebuilt {published} posts" in captured.out
