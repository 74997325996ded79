"""Old URLs on the local stack, through the public surface: a post uploaded with ``aws s3 cp``
with ``aliases:`` in its front matter makes each old URL answer 301 to the post on the local
web server; an edit that drops an alias stops that one; ``aws s3 rm`` stops them all."""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pressline.local.harness import RunningLocalStack, aws_cli
from pressline.posts.paths import report_key

pytestmark = pytest.mark.slow


def get(local_stack: RunningLocalStack, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed (the point is to see them)."""
    site = urlsplit(local_stack.site_url)
    connection = http.client.HTTPConnection(site.hostname or "127.0.0.1", site.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def wait_for(what: str, check: Callable[[], Any], local_stack: RunningLocalStack, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}\n--- pressline local log ---\n{local_stack.log()[-6000:]}"
            )
        time.sleep(0.2)


def cli(local_stack: RunningLocalStack, *arguments: str) -> None:
    if aws_cli() is None:
        message = "no AWS CLI: run `make awscli`"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    local_stack.aws(*arguments)


def report(local_stack: RunningLocalStack, key: str) -> dict[str, Any]:
    s3 = local_stack.client("s3")
    try:
        body = s3.get_object(Bucket=local_stack.outputs["SourceBucketName"], Key=report_key(key))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {}
    found: dict[str, Any] = json.loads(body)
    return found


def moved_to(local_stack: RunningLocalStack, path: str) -> str | None:
    status, headers, _ = get(local_stack, path)
    return headers.get("location") if status == 301 else None


def test_aliases_answer_301_until_dropped_or_deleted(local_stack: RunningLocalStack, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    slug, key = f"moved-in-{tag}", f"posts/moved-in-{tag}.md"
    old_dir, old_file = f"/2019/05/hello-{tag}/", f"/old-{tag}.html"
    bucket = local_stack.outputs["SourceBucketName"]
    post = tmp_path / f"{slug}.md"

    def upload(*aliases: str) -> None:
        listed = "".join(f"  - {alias}\n" for alias in aliases)
        post.write_text(
            f"---\ntitle: Moved in {tag}\ndate: 2019-05-04 10:00\naliases:\n{listed}---\n\nFrom the old blog.\n",
            encoding="utf-8",
        )
        cli(local_stack, "s3", "cp", str(post), f"s3://{bucket}/{key}")

    upload(old_dir, old_file)
    wait_for("the post published", lambda: report(local_stack, key).get("status") == "published", local_stack)
    assert wait_for("the old URL's 301", lambda: moved_to(local_stack, old_dir), local_stack) == f"/posts/{slug}/"
    assert moved_to(local_stack, old_dir.rstrip("/")) == f"/posts/{slug}/"  # as the viewer-request function maps it
    status, headers, body = get(local_stack, old_file)
    assert (status, headers["location"]) == (301, f"/posts/{slug}/")
    assert f'href="/posts/{slug}/"'.encode() in body  # the fallback for clients that do not follow
    assert "x-amz-website-redirect-location" not in headers
    assert get(local_stack, f"/posts/{slug}/")[0] == 200  # where it leads

    upload(old_dir)  # the file-like alias dropped
    wait_for("the dropped alias gone", lambda: get(local_stack, old_file)[0] == 404, local_stack)
    assert moved_to(local_stack, old_dir) == f"/posts/{slug}/"

    cli(local_stack, "s3", "rm", f"s3://{bucket}/{key}")
    wait_for("the redirect gone with the post", lambda: get(local_stack, old_dir)[0] == 404, local_stack)


def test_a_static_pages_old_url_answers_301(local_stack: RunningLocalStack, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    name, old = f"team-{tag}", f"/company/team-{tag}/"
    key = f"pages/{name}.md"
    page = tmp_path / f"{name}.md"
    page.write_text(f"---\ntitle: Team {tag}\naliases: [{old}]\n---\n\nWho we are.\n", encoding="utf-8")
    cli(local_stack, "s3", "cp", str(page), f"s3://{local_stack.outputs['SourceBucketName']}/{key}")
    wait_for("the page published", lambda: report(local_stack, key).get("status") == "published", local_stack)
    assert wait_for("the page's old URL's 301", lambda: moved_to(local_stack, old), local_stack) == f"/{name}/"
    assert get(local_stack, f"/{name}/")[0] == 200
