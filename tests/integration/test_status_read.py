"""``pressline status``'s readers on the template's stack in in-process moto: the subscriber
states as the repository writes them, the bounds of the report listing and the subscriber
scan, and a section AWS refuses becoming that section's error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pressline.local.harness import StackHandle
from pressline.ops.status.model import Reading, decide
from pressline.ops.status.read import count_subscribers, read_queues, read_reports, read_scheduled, read_stack
from pressline.subscribers.dynamodb import DynamoSubscriberRepository

NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)


def _sign_up(
    repository: DynamoSubscriberRepository,
    subscriber_id: str,
    *,
    confirm: bool,
    ttl: timedelta,
    asked_at: datetime = NOW - timedelta(days=2),
) -> None:
    request = f"request-{subscriber_id}-{asked_at.timestamp()}"
    claimed = repository.request_confirmation(
        subscriber_id, f"{subscriber_id}@example.org", asked_at, HOUR, ttl, request=request
    )
    assert claimed.outcome == "claimed"
    if confirm:
        assert repository.confirm(subscriber_id, (), NOW, request=request) == "confirmed"


def test_subscribers_are_counted_by_state(aws_stack: StackHandle) -> None:
    table = aws_stack.outputs["SubscribersTableName"]
    repository = DynamoSubscriberRepository(table, aws_stack.dynamodb)
    for n in range(3):
        _sign_up(repository, f"confirmed{n}", confirm=True, ttl=timedelta(days=7))
    _sign_up(repository, "pending", confirm=False, ttl=timedelta(days=7))
    _sign_up(repository, "expired", confirm=False, ttl=timedelta(days=1))  # asked two days ago, never confirmed
    _sign_up(repository, "retagging", confirm=True, ttl=timedelta(days=7))
    # A confirmed subscriber asking for other tags has a request waiting too, but is not pending.
    _sign_up(repository, "retagging", confirm=False, ttl=timedelta(days=7), asked_at=NOW - HOUR)
    _sign_up(repository, "bouncing", confirm=True, ttl=timedelta(days=7))
    repository.suppress("bouncing", "bounce:General", NOW)
    repository.suppress("complaining", "complaint:abuse", NOW)
    repository.suppress("imported", "import: bounced or complained on the old platform", NOW)
    _sign_up(repository, "leaving", confirm=True, ttl=timedelta(days=7))
    repository.delete("leaving")  # an unsubscribe: nothing is left to count

    counts = count_subscribers(aws_stack.dynamodb, table, NOW)
    assert (counts.confirmed, counts.pending, counts.expired) == (4, 1, 1)
    assert (counts.bounced, counts.complained, counts.suppressed_other) == (1, 1, 1)
    assert counts.complete and counts.error is None


def test_the_subscriber_scan_stops_at_its_bound_and_says_so(aws_stack: StackHandle) -> None:
    table = aws_stack.outputs["SubscribersTableName"]
    repository = DynamoSubscriberRepository(table, aws_stack.dynamodb)
    for n in range(30):
        _sign_up(repository, f"s{n:02}", confirm=True, ttl=timedelta(days=7))
    complete = count_subscribers(aws_stack.dynamodb, table, NOW)
    assert complete.confirmed == 30 and complete.complete
    # Pages of 10 items (DynamoDB's are 1 MB: the same loop, cheaper to test), stopped after 20.
    bounded = count_subscribers(aws_stack.dynamodb, table, NOW, items_at_most=20, page_size=10)
    assert (bounded.scanned_items, bounded.complete) == (20, False)
    assert bounded.confirmed < 30
    notes = decide(Reading(read_at=NOW, subscribers=bounded)).notes
    assert "subscribers: counted in the first 20 items only (the counts are at least)" in notes


def _put_report(aws_stack: StackHandle, key: str, status: str) -> None:
    body = {"key": key, "version": None, "status": status, "processed_at": datetime.now(UTC).isoformat()}
    aws_stack.s3.put_object(
        Bucket=aws_stack.outputs["SourceBucketName"], Key=f"reports/{key}.json", Body=json.dumps(body).encode()
    )


def test_the_newest_reports_across_pages_of_the_listing(aws_stack: StackHandle) -> None:
    bucket = aws_stack.outputs["SourceBucketName"]
    # 25 reports in pages of 10 (S3's are 1,000: the same loop, cheaper to test). Most share a
    # second of S3's LastModified; the time inside them orders those.
    for n in range(25):
        _put_report(aws_stack, f"posts/{n:02}.md", "published")
    reading = read_reports(aws_stack.s3, bucket, 3, page_size=10)
    assert reading.listed == 25 and reading.complete
    assert [line.key for line in reading.newest] == ["posts/24.md", "posts/23.md", "posts/22.md"]

    bounded = read_reports(aws_stack.s3, bucket, 3, listed_at_most=20, page_size=10)
    assert (bounded.listed, bounded.complete) == (20, False)
    assert [line.key for line in bounded.newest] == ["posts/19.md", "posts/18.md", "posts/17.md"]
    notes = decide(Reading(read_at=NOW, reports=bounded)).notes
    assert "reports: the newest among the first 20 listed (there are more)" in notes


def test_a_report_that_is_not_json_is_shown_as_unreadable(aws_stack: StackHandle) -> None:
    bucket = aws_stack.outputs["SourceBucketName"]
    aws_stack.s3.put_object(Bucket=bucket, Key="reports/posts/broken.md.json", Body=b"{not json")
    _put_report(aws_stack, "posts/fine.md", "draft")
    lines = {line.key: line.status for line in read_reports(aws_stack.s3, bucket, 10).newest}
    assert lines == {"posts/broken.md": "unreadable", "posts/fine.md": "draft"}


def test_a_refused_section_is_its_error_and_the_rest_is_read(aws_stack: StackHandle) -> None:
    outputs = {
        **aws_stack.outputs,
        "PostsTableName": "no-such-table",
        "RenderDeadLetterQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/gone",
    }
    reading = read_stack(aws_stack.client, outputs, {}, reports=5, scheduled=5, now=NOW)
    assert reading.scheduled.error and reading.scheduled.error.startswith("ResourceNotFoundException")
    [gone] = [queue for queue in reading.queues if queue.output == "RenderDeadLetterQueueUrl"]
    assert gone.counts is None and gone.error and "NonExistentQueue" in gone.error
    assert reading.subscribers is not None and reading.subscribers.error is None
    status = decide(reading)
    assert status.exit_code == 0  # unknown is not broken: the notes say what could not be read
    assert any(note.startswith("scheduled posts: ResourceNotFoundException") for note in status.notes)
    assert any(note.startswith("RenderDeadLetterQueueUrl: ") for note in status.notes)


def test_queues_and_scheduled_posts_on_the_template_s_stack(aws_stack: StackHandle) -> None:
    aws_stack.sqs.send_message(QueueUrl=aws_stack.outputs["NotifyDeadLetterQueueUrl"], MessageBody="{}")
    aws_stack.sqs.send_message(QueueUrl=aws_stack.outputs["IntakeQueueUrl"], MessageBody="{}", DelaySeconds=60)
    readings = {reading.output: reading.counts for reading in read_queues(aws_stack.sqs, aws_stack.outputs)}
    assert readings["NotifyDeadLetterQueueUrl"] is not None and readings["NotifyDeadLetterQueueUrl"].visible == 1
    assert readings["IntakeQueueUrl"] is not None and readings["IntakeQueueUrl"].delayed == 1
    assert (
        decide(read_stack(aws_stack.client, aws_stack.outputs, {}, reports=0, scheduled=0, now=NOW))
        .problems[0]
        .startswith(
            "notify: 1 message(s) in the dead-letter queue; once the cause is fixed, `pressline redrive notify`"
        )
    )
    assert read_scheduled(aws_stack.dynamodb, aws_stack.outputs["PostsTableName"], 5).posts == ()
