"""No emails for the past, on the local stack (``pressline local`` in a subprocess), as
issue 13's "Done when" says: with a confirmed subscriber, 500 posts dated years back and
marked ``notify: false`` (as ``pressline import`` writes them) are uploaded at once and all
go live, and no email reaches the subscriber; one new post afterwards sends exactly one."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import pytest
from test_subscriber_e2e import _emails_to, _subscribe_and_confirm, _wait_for

from pressline.local.harness import RunningLocalStack
from pressline.posts.paths import report_key

pytestmark = pytest.mark.slow

IMPORTED = 500
FIRST_DATE = datetime(2019, 5, 1, tzinfo=UTC)  # 500 posts an hour apart: all in May 2019, one sitemap
UPLOADERS = 16  # parallel PutObjects, as bench_bulk.py and `aws s3 cp --recursive` upload


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # the local stack, on 127.0.0.1
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _imported_post(n: int) -> bytes:
    date = (FIRST_DATE + timedelta(hours=n)).isoformat(timespec="minutes")
    return (
        f"---\ntitle: Imported post {n}\nslug: imported-{n}\ndate: {date}\ntags: [archive]\nnotify: false\n---\n\n"
        f"Written long ago, post {n} of the old blog.\n"
    ).encode()


def _sent(stack: RunningLocalStack) -> int:
    """Emails SES accepted, to anyone (moto counts every recipient of every SendEmail)."""
    return int(stack.client("ses").get_send_quota()["SentLast24Hours"])


def _all_emails(stack: RunningLocalStack) -> list[EmailMessage]:
    """Every email sent, from moto's dump of everything (slow on a large stack: read once)."""
    with urllib.request.urlopen(f"{stack.endpoint_url}/moto-api/data.json", timeout=300) as response:
        data = json.load(response)
    raw = [
        message.get("raw_data") for kind in ("Message", "RawMessage") for message in data.get("ses", {}).get(kind, [])
    ]
    return [message_from_string(text, policy=policy.default) for text in raw if text]


def _live_in_sitemap(stack: RunningLocalStack) -> set[str]:
    status, body = _get(f"{stack.site_url}/sitemaps/2019-05.xml")
    return set(re.findall(r"/posts/(imported-\d+)/</loc>", body.decode())) if status == 200 else set()


def _report(stack: RunningLocalStack, key: str) -> dict[str, Any] | None:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.outputs["SourceBucketName"], Key=report_key(key))["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    report: dict[str, Any] = json.loads(body.read())
    return report


def _published_reports(stack: RunningLocalStack, keys: Iterable[str]) -> list[dict[str, Any]] | None:
    with ThreadPoolExecutor(UPLOADERS) as pool:
        reports = list(pool.map(lambda key: _report(stack, key), keys))
    published = [report for report in reports if report is not None and report["status"] == "published"]
    return published if len(published) == len(reports) else None


def test_importing_500_old_posts_emails_no_one_and_a_new_post_afterwards_sends_one(
    local_stack: RunningLocalStack,
) -> None:
    run = uuid.uuid4().hex[:8]
    reader = f"reader-{run}@example.org"
    _subscribe_and_confirm(local_stack, reader, [])
    assert len(_emails_to(local_stack, reader)) == len(local_stack.sent_emails()) == 1  # the confirmation
    one_email = _sent(local_stack)  # what SES counts for one email (moto: its destinations and its To)

    s3, bucket = local_stack.client("s3"), local_stack.outputs["SourceBucketName"]
    keys = {f"posts/imported/{n:03d}.md": f"imported-{n}" for n in range(IMPORTED)}
    with ThreadPoolExecutor(UPLOADERS) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=bucket, Key=f"posts/imported/{n:03d}.md",
                                              Body=_imported_post(n)), range(IMPORTED)))  # fmt: skip

    _wait_for(local_stack, "all 500 imported posts in the sitemap",
              lambda: len(_live_in_sitemap(local_stack)) == IMPORTED, timeout=600)  # fmt: skip
    assert _live_in_sitemap(local_stack) == set(keys.values())
    # A report says "published" once the batch's pages are out (they are written first, in parallel).
    reports = _wait_for(local_stack, "every imported post's report", lambda: _published_reports(local_stack, keys))
    for n in (0, 250, IMPORTED - 1):
        status, body = _get(f"{local_stack.site_url}/posts/imported-{n}/")
        assert status == 200, (n, status, body[:200])
    assert {report["announced"] for report in reports} == {False}
    assert {report["announcement"] for report in reports} == {"notify: false in the front matter"}

    # moto's dump of every email (``sent_emails``) grows with the whole stack (500 posts' worth
    # of S3 objects): while it is this large, SES's own count of the emails sent says enough.
    assert _sent(local_stack) == one_email, "no email about the past, to anyone"

    # A new post: one email. Anything the import had announced was sent before it (Index
    # publishes in upload order), so it would have arrived by the time this one's has.
    slug = f"fresh-{run}"
    date = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="minutes")
    s3.put_object(Bucket=bucket, Key=f"posts/{slug}.md",
                  Body=f"---\ntitle: Fresh {run}\ndate: {date}\n---\n\nNews at last.\n".encode())  # fmt: skip
    _wait_for(local_stack, "the new post's email", lambda: _sent(local_stack) > one_email, timeout=120)
    time.sleep(2)  # a duplicate, or a late email about the past, would arrive within the pipeline's latency
    assert _sent(local_stack) == 2 * one_email
    report = _report(local_stack, f"posts/{slug}.md")
    assert report is not None and report["announced"] is True
    assert "within the announce window of 72 hours" in report["announcement"]
    # Once, the emails themselves: the confirmation and the new post's, to the subscriber, and no other.
    everything = _all_emails(local_stack)
    confirmation, post_email = everything
    assert all(reader in str(message["To"]) for message in everything)
    assert not confirmation["List-Unsubscribe"] and post_email["List-Unsubscribe"]
    assert f"/posts/{slug}/" in str(post_email.get_body(preferencelist=("plain",)))
