"""Validate and Render on moto: the handlers invoked with the files in events/, against
every resource of template.yaml (the ``aws_stack`` fixture), and the AWS calls they make
for one post and for a batch of ten."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from pressline.local.harness import StackHandle
from pressline.models import ImageRequest, IndexUpdate, RenderedPost, RenderRequest, Report, S3Notification

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
EXAMPLES = ROOT / "examples" / "posts"


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def invoke(stack: StackHandle, function: str, name: str, version: str | None = None) -> Any:
    """Call a handler with an events/ file pointed at this stack's bucket."""
    return stack.invoke(function, with_bucket(event(name), stack.outputs["SourceBucketName"], version))


def with_bucket(data: dict[str, Any], bucket: str, version: str | None = None) -> dict[str, Any]:
    """Point an events/ file at this stack's bucket (and a version moto really made)."""
    for record in data["Records"]:
        try:
            body = json.loads(record["body"])
        except json.JSONDecodeError:
            continue
        for s3_record in body.get("Records", []):
            s3_record["s3"]["bucket"]["name"] = bucket
            if version:
                s3_record["s3"]["object"]["versionId"] = version
        if "source" in body and "key" in body["source"]:
            body["source"]["bucket"] = bucket
            if version:
                body["source"]["version_id"] = version
        if "Bucket" in body:
            body["Bucket"] = bucket
        record["body"] = json.dumps(body)
    return data


def receive(stack: StackHandle, output: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = stack.sqs.receive_message(
            QueueUrl=stack.outputs[output], MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        found = batch.get("Messages", [])
        if not found:
            return messages
        messages.extend(found)
        for message in found:
            stack.sqs.delete_message(QueueUrl=stack.outputs[output], ReceiptHandle=message["ReceiptHandle"])


def upload(stack: StackHandle, key: str, body: bytes) -> str:
    response = stack.s3.put_object(Bucket=stack.outputs["SourceBucketName"], Key=key, Body=body)
    version: str = response["VersionId"]
    return version


def get_json(stack: StackHandle, bucket_output: str, key: str) -> Any:
    body = stack.s3.get_object(Bucket=stack.outputs[bucket_output], Key=key)["Body"].read()
    return json.loads(body)


def exists(stack: StackHandle, bucket_output: str, key: str) -> bool:
    listing = stack.s3.list_objects_v2(Bucket=stack.outputs[bucket_output], Prefix=key)
    return any(item["Key"] == key for item in listing.get("Contents", []))


@pytest.fixture
def stack(aws_stack: StackHandle) -> StackHandle:
    return aws_stack


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """The AWS calls made inside the block ("s3.GetObject": 2), by any client."""
    from botocore.client import BaseClient

    calls: Counter[str] = Counter()
    real = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[f"{client.meta.service_model.service_name}.{operation}"] += 1
        return real(client, operation, params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = real  # type: ignore[method-assign]


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Received messages as Lambda's SQS event source hands them to a function."""
    records = [
        {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {},
         "messageAttributes": {}, "eventSource": "aws:sqs"}
        for m in messages
    ]  # fmt: skip
    return {"Records": records}


def test_uploads_under_posts_reach_the_intake_queue(stack: StackHandle) -> None:
    receive(stack, "IntakeQueueUrl")  # the s3:TestEvent of the notification set-up
    upload(stack, "posts/pic.PNG", (EXAMPLES / "harbour-at-dawn.png").read_bytes())
    upload(stack, "posts/welcome-to-pressline.md", (EXAMPLES / "welcome-to-pressline.md").read_bytes())
    upload(stack, "drafts/elsewhere.md", b"not a post location")
    keys = {
        S3Notification.model_validate_json(m["Body"]).Records[0].s3.object.key for m in receive(stack, "IntakeQueueUrl")
    }
    assert keys == {"posts/pic.PNG", "posts/welcome-to-pressline.md"}


def test_validate_a_created_post_sends_a_render_request(stack: StackHandle) -> None:
    version = upload(stack, "posts/welcome-to-pressline.md", (EXAMPLES / "welcome-to-pressline.md").read_bytes())
    bucket = stack.outputs["SourceBucketName"]
    result = stack.invoke("Validate", with_bucket(event("validate-post-created.json"), bucket))
    assert result == {"batchItemFailures": []}
    [message] = receive(stack, "RenderQueueUrl")
    request = RenderRequest.model_validate_json(message["Body"])
    assert (request.source.bucket, request.source.key) == (bucket, "posts/welcome-to-pressline.md")
    assert request.source.version_id == version  # what S3 holds now, not what the event said
    assert request.text is not None  # the bytes of that version, read by the same GET
    assert request.text.encode() == (EXAMPLES / "welcome-to-pressline.md").read_bytes()


def test_validate_a_rejected_post_writes_its_report_only(stack: StackHandle) -> None:
    version = upload(stack, "posts/welcome-to-pressline.md", b"---\ntitle: ''\ntags: 5\n---\n")
    result = stack.invoke(
        "Validate", with_bucket(event("validate-post-created.json"), stack.outputs["SourceBucketName"])
    )
    assert result == {"batchItemFailures": []}  # an invalid post is a report, not a failure
    report = Report.model_validate(get_json(stack, "SourceBucketName", "reports/posts/welcome-to-pressline.md.json"))
    assert (report.status, report.version) == ("rejected", version)
    assert [(e.field, e.line) for e in report.errors] == [("title", 2), ("tags", 3), ("body", 5)]
    assert receive(stack, "RenderQueueUrl") == [] and receive(stack, "IndexQueueUrl") == []


def test_validate_a_removed_post_sends_a_delete_to_the_index_queue(stack: StackHandle) -> None:
    result = stack.invoke(
        "Validate", with_bucket(event("validate-post-removed.json"), stack.outputs["SourceBucketName"])
    )
    assert result == {"batchItemFailures": []}
    [message] = receive(stack, "IndexQueueUrl")
    update = IndexUpdate.model_validate_json(message["Body"])
    assert (update.action, update.source.key) == ("delete", "posts/welcome-to-pressline.md")
    assert "MessageGroupId" not in message["Attributes"]  # a standard queue: Index orders changes itself


def test_validate_hands_an_image_to_the_image_stage_and_publishes_nothing(stack: StackHandle) -> None:
    png = (EXAMPLES / "harbour-at-dawn.png").read_bytes()
    version = upload(stack, "posts/harbour-at-dawn.png", png)
    data = with_bucket(event("validate-image-created.json"), stack.outputs["SourceBucketName"], version)
    with counting() as calls:
        result = stack.invoke("Validate", data)
    assert result == {"batchItemFailures": []}
    [message] = receive(stack, "ImageQueueUrl")
    request = ImageRequest.model_validate_json(message["Body"])
    assert (request.source.key, request.source.version_id) == ("posts/harbour-at-dawn.png", version)
    # One ranged GET and one send; the original (with whatever metadata it has) is never published.
    assert calls == Counter({"s3.GetObject": 1, "sqs.SendMessageBatch": 1})
    assert not exists(stack, "SiteBucketName", "media/harbour-at-dawn.png")
    assert not exists(stack, "SourceBucketName", "reports/posts/harbour-at-dawn.png.json")  # the Image stage's


def test_validate_skips_the_test_event(stack: StackHandle) -> None:
    result = invoke(stack, "Validate", "validate-test-event.json")
    assert result == {"batchItemFailures": []}


def test_validate_fails_only_the_malformed_record(stack: StackHandle) -> None:
    upload(stack, "posts/welcome-to-pressline.md", (EXAMPLES / "welcome-to-pressline.md").read_bytes())
    data = with_bucket(event("validate-malformed.json"), stack.outputs["SourceBucketName"])
    result = stack.invoke("Validate", data)
    assert result == {"batchItemFailures": [{"itemIdentifier": data["Records"][0]["messageId"]}]}
    assert len(receive(stack, "RenderQueueUrl")) == 1  # the good record went through


def test_render_stores_the_post_and_updates_index_without_writing_a_page(stack: StackHandle) -> None:
    key = "posts/city-council-approves-riverside-cycle-lanes.md"
    version = upload(stack, key, (EXAMPLES / key.removeprefix("posts/")).read_bytes())
    result = stack.invoke(
        "Render", with_bucket(event("render-request.json"), stack.outputs["SourceBucketName"], version)
    )
    assert result == {"batchItemFailures": []}
    rendered = RenderedPost.model_validate(get_json(stack, "SourceBucketName", f"rendered/{key}/{version}.json"))
    assert rendered.status == "published" and rendered.meta.slug == "city-council-approves-riverside-cycle-lanes"
    assert "five-hour debate" in rendered.meta.title
    # Index writes every post page it applies; Render writes nothing in the site bucket.
    assert stack.s3.list_objects_v2(Bucket=stack.outputs["SiteBucketName"]).get("KeyCount", 0) == 0
    [message] = receive(stack, "IndexQueueUrl")
    assert "MessageGroupId" not in message["Attributes"]
    update = IndexUpdate.model_validate_json(message["Body"])
    assert (update.action, update.slug, update.source.version_id) == ("upsert", rendered.meta.slug, version)
    assert update.rendered == rendered  # small: carried, so Index reads nothing


def test_render_of_carried_text_reads_nothing(stack: StackHandle) -> None:
    key = "posts/city-council-approves-riverside-cycle-lanes.md"
    version = upload(stack, key, (EXAMPLES / key.removeprefix("posts/")).read_bytes())
    with counting() as calls:
        result = invoke(stack, "Render", "render-request-carried.json", version)
    assert result == {"batchItemFailures": []}
    assert calls["s3.GetObject"] == 0 and calls["s3.PutObject"] == 1 and calls["sqs.SendMessageBatch"] == 1
    [message] = receive(stack, "IndexQueueUrl")
    update = IndexUpdate.model_validate_json(message["Body"])
    assert update.rendered is not None and update.rendered.source.version_id == version


def test_render_of_a_replaced_version_leaves_the_verdict_to_index(stack: StackHandle) -> None:
    key = "posts/city-council-approves-riverside-cycle-lanes.md"
    old = upload(stack, key, (EXAMPLES / key.removeprefix("posts/")).read_bytes())
    upload(stack, key, b"---\ntitle: Newer\n---\nNewer text.\n")
    result = invoke(stack, "Render", "render-request.json", old)
    assert result == {"batchItemFailures": []}
    # Index judges it (stale, unless the newer upload turns out to be rejected: then it stands).
    [message] = receive(stack, "IndexQueueUrl")
    update = IndexUpdate.model_validate_json(message["Body"])
    assert (update.action, update.source.version_id) == ("upsert", old)
    assert update.rendered is not None and update.rendered.source.version_id == old


def test_render_fails_a_malformed_request(stack: StackHandle) -> None:
    data = event("render-malformed.json")
    result = stack.invoke("Render", data)
    assert result == {"batchItemFailures": [{"itemIdentifier": data["Records"][0]["messageId"]}]}


def test_a_slug_in_the_catalog_is_refused(stack: StackHandle) -> None:
    stack.dynamodb.put_item(
        TableName=stack.outputs["PostsTableName"],
        Item={
            "pk": {"S": "SLUG#welcome-to-pressline"},
            "sk": {"S": "SLUG"},
            "source_key": {"S": "posts/old/welcome.md"},
        },
    )
    upload(stack, "posts/welcome-to-pressline.md", (EXAMPLES / "welcome-to-pressline.md").read_bytes())
    invoke(stack, "Validate", "validate-post-created.json")
    report = get_json(stack, "SourceBucketName", "reports/posts/welcome-to-pressline.md.json")
    assert report["status"] == "rejected"
    assert (
        report["errors"][0]["message"]
        == "'welcome-to-pressline' is already used by posts/old/welcome.md; choose another slug"
    )


def test_the_examples_go_through_the_whole_pipeline(stack: StackHandle) -> None:
    for path in sorted(EXAMPLES.iterdir()):
        upload(stack, f"posts/{path.name}", path.read_bytes())
    stack.drain()
    statuses = {
        path.name: get_json(stack, "SourceBucketName", f"reports/posts/{path.name}.json")["status"]
        for path in EXAMPLES.iterdir()
    }
    assert statuses == {
        "welcome-to-pressline.md": "published",
        "city-council-approves-riverside-cycle-lanes.md": "published",
        "markdown-in-pressline.md": "published",
        "a-photo-walk-along-the-harbour.md": "published",
        "harbour-at-dawn.png": "published",
        "roadmap-next-quarter.md": "draft",
        "looking-back-on-ten-years.md": "scheduled",
    }
    assert not exists(stack, "SiteBucketName", "posts/roadmap-next-quarter/index.html")
    assert not exists(stack, "SiteBucketName", "posts/looking-back-on-ten-years/index.html")
    page_key = "posts/a-photo-walk-along-the-harbour/index.html"
    html = stack.s3.get_object(Bucket=stack.outputs["SiteBucketName"], Key=page_key)["Body"].read().decode()
    # The page names the photo (the original's path or its variants: Index's markup) and
    # every file it names under /media/ exists.
    named = set(re.findall(r"/media/[^\s\"',]+", html))
    assert any(path.startswith("/media/harbour-at-dawn") for path in named), named
    assert all(exists(stack, "SiteBucketName", unquote(path.lstrip("/"))) for path in named), named
    assert exists(stack, "SiteBucketName", "media/harbour-at-dawn.png")  # old links get the stripped copy
    for queue in (
        "IntakeDeadLetterQueueUrl",
        "RenderDeadLetterQueueUrl",
        "IndexDeadLetterQueueUrl",
        "ImageDeadLetterQueueUrl",
    ):
        assert stack.queue_depth(queue) == 0, queue


@pytest.mark.parametrize("posts", [1, 10])
def test_calls_per_post_for_one_publish_and_a_batch_of_ten(stack: StackHandle, posts: int) -> None:
    """A single publish costs Validate 3 calls (its GET, the slug read, the send) and Render 2
    (its conditional put, the send; it had 4: a GET and the page too). A batch of ten shares
    the slug read and the sends: 1.2 and 1.1 calls a post."""
    receive(stack, "IntakeQueueUrl")  # the s3:TestEvent of the notification set-up
    for n in range(posts):
        upload(
            stack, f"posts/post-{n}.md", f"---\ntitle: Post {n}\ndate: 2026-01-0{1 + n % 9}\n---\nText {n}.\n".encode()
        )
    intake = receive(stack, "IntakeQueueUrl")
    assert len(intake) == posts
    with counting() as validate:
        assert stack.invoke("Validate", sqs_event(intake)) == {"batchItemFailures": []}
    requests = receive(stack, "RenderQueueUrl")
    assert len(requests) == posts
    with counting() as render:
        assert stack.invoke("Render", sqs_event(requests)) == {"batchItemFailures": []}
    assert len(receive(stack, "IndexQueueUrl")) == posts
    sends = -(-posts // 10)
    assert validate == {"s3.GetObject": posts, "dynamodb.BatchGetItem": 1, "sqs.SendMessageBatch": sends}
    assert render == {"s3.PutObject": posts, "sqs.SendMessageBatch": sends}
    print(f"\n{posts} posts: Validate {validate.total() / posts:.2f}, Render {render.total() / posts:.2f} calls a post")
