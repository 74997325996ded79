"""An update Index can never apply, sent as an older Render would have sent it (valid JSON, the
file's current version, a date whose UTC time does not exist): its report says failed and its
message goes to the Index DLQ at once. Used by test_index_isolation and test_status."""

from __future__ import annotations

from datetime import datetime

from pressline.local.harness import RunningLocalStack
from pressline.models import IndexUpdate, RenderedPost, SourceRef

IMPOSSIBLE_DATE = "9999-12-31T23:30:00-12:00"  # past the calendar's end once in UTC


def send_unappliable_update(stack: RunningLocalStack, key: str, slug: str, title: str, rendered_at: datetime) -> None:
    """Send Index the update for ``key`` (already uploaded) with the impossible date."""
    bucket = stack.outputs["SourceBucketName"]
    head = stack.client("s3").head_object(Bucket=bucket, Key=key)
    source = SourceRef(bucket=bucket, key=key, version_id=head.get("VersionId"), etag=head["ETag"])
    rendered = RenderedPost.model_validate(
        {
            "source": source.model_dump(),
            "meta": {"slug": slug, "title": title, "date": IMPOSSIBLE_DATE},
            "body_html": f"<p>The body of {title}.</p>",
            "status": "published",
            "rendered_at": rendered_at.isoformat(),
        }
    )
    poison = IndexUpdate(action="upsert", source=source, slug=slug, rendered=rendered)
    stack.client("sqs").send_message(QueueUrl=stack.outputs["IndexQueueUrl"], MessageBody=poison.model_dump_json())
