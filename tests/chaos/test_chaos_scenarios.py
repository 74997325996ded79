"""Single scenarios the chaos model expects, checked alone with a controlled calendar."""

from __future__ import annotations

import json
from datetime import timedelta

from chaos_clock import Clocks

from pressline.local.harness import StackHandle


def _status(stack: StackHandle, key: str) -> str:
    body = stack.s3.get_object(Bucket=stack.outputs["SourceBucketName"], Key=f"reports/{key}.json")["Body"].read()
    status: str = json.loads(body)["status"]
    return status


def test_a_scheduled_post_whose_edit_is_rejected_still_publishes_at_its_date(
    aws_stack: StackHandle, clocks: Clocks
) -> None:
    """A rejected upload changes nothing (a published post stays published), so a scheduled
    version stays scheduled and goes live at its date. Found while modelling the chaos run:
    the scheduler sends "due" for the catalog's (valid) version, Index drops it as stale
    because S3's current version is the rejected one, and the post never publishes (the
    scheduler asks again every minute, for ever)."""
    source = aws_stack.outputs["SourceBucketName"]
    due = clocks.calendar + timedelta(hours=1)
    post = f"---\ntitle: Later\ndate: {due.isoformat()}\n---\nBody.\n"
    aws_stack.s3.put_object(Bucket=source, Key="posts/later.md", Body=post.encode())
    aws_stack.drain(retry_after=0)
    assert _status(aws_stack, "posts/later.md") == "scheduled"
    aws_stack.s3.put_object(Bucket=source, Key="posts/later.md", Body=b"---\ntitle: [broken\n---\nBody.\n")
    aws_stack.drain(retry_after=0)
    assert _status(aws_stack, "posts/later.md") == "rejected"

    clocks.calendar += timedelta(hours=2)
    aws_stack.run_schedules()
    aws_stack.drain(retry_after=0)

    site = aws_stack.s3.list_objects_v2(Bucket=aws_stack.outputs["SiteBucketName"], Prefix="posts/later/")
    assert [item["Key"] for item in site.get("Contents", [])] == ["posts/later/index.html"]
