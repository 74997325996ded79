"""Static pages on the local stack, through its public surface: a file uploaded under
``pages/`` in the source bucket (``aws s3 cp``, or the same PutObject through the S3 API when
the CLI is not installed) is served at ``/<name>/`` by the local web server, with the
navigation on the home page and on a post's page, and in no feed; removed, it is gone from
all of them. The S3 notifications for ``pages/`` are the template's (the local stack applies
them as they are), so this also checks that the template wires ``pages/`` at all."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pressline.local.harness import RunningLocalStack, aws_cli

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # the local stack, on 127.0.0.1
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(what: str, check: Callable[[], Any], local_stack: RunningLocalStack, timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n--- log (tail) ---\n{local_stack.log()[-6000:]}")
        time.sleep(0.2)


def _upload(local_stack: RunningLocalStack, path: Path, key: str) -> None:
    bucket = local_stack.outputs["SourceBucketName"]
    if aws_cli() is not None:
        local_stack.aws("s3", "cp", str(path), f"s3://{bucket}/{key}")
    else:  # the same PutObject the CLI makes
        local_stack.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def _remove(local_stack: RunningLocalStack, key: str) -> None:
    bucket = local_stack.outputs["SourceBucketName"]
    if aws_cli() is not None:
        local_stack.aws("s3", "rm", f"s3://{bucket}/{key}")
    else:
        local_stack.client("s3").delete_object(Bucket=bucket, Key=key)


def test_a_page_uploaded_under_pages_is_served_in_the_navigation_and_gone_when_removed(
    local_stack: RunningLocalStack, tmp_path: Path
) -> None:
    site = local_stack.site_url
    unique = uuid.uuid4().hex[:8]
    post_slug, name = f"with-nav-{unique}", f"about-{unique}"
    title = f"About us {unique}"
    (tmp_path / "post.md").write_text(f"---\ntitle: A post {unique}\n---\n\nHello.\n", encoding="utf-8")
    (tmp_path / "page.md").write_text(f"---\ntitle: {title}\nnav_order: 1\n---\n\nWho we are.\n", encoding="utf-8")
    link = f'href="/{name}/"'.encode()

    _upload(local_stack, tmp_path / "post.md", f"posts/{post_slug}.md")
    _wait_for("the post", lambda: _get(f"{site}/posts/{post_slug}/")[0] == 200, local_stack)
    _upload(local_stack, tmp_path / "page.md", f"pages/{name}.md")

    _, body = _wait_for("the page", lambda: (found := _get(f"{site}/{name}/"))[0] == 200 and found, local_stack)
    assert b"Who we are." in body and title.encode() in body
    _wait_for("the navigation on the home page", lambda: link in _get(f"{site}/")[1], local_stack)
    assert link in _get(f"{site}/posts/{post_slug}/")[1]  # the same batch wrote every page
    for feed in ("/feed.xml", "/rss.xml", "/feed.json"):
        assert f"/{name}/".encode() not in _get(site + feed)[1], feed
    assert f"/{name}/".encode() in _get(f"{site}/sitemaps/pages.xml")[1]

    _remove(local_stack, f"pages/{name}.md")
    _wait_for("the page gone", lambda: _get(f"{site}/{name}/")[0] == 404, local_stack)
    _wait_for("the navigation without it", lambda: link not in _get(f"{site}/")[1], local_stack)
    assert link not in _get(f"{site}/posts/{post_slug}/")[1]
    assert f"/{name}/".encode() not in _get(f"{site}/sitemaps/pages.xml")[1]


def test_a_page_with_a_reserved_name_is_refused_with_a_report(local_stack: RunningLocalStack, tmp_path: Path) -> None:
    import json

    from pressline.posts.paths import report_key

    (tmp_path / "tags.md").write_text("---\ntitle: Tags\n---\n\nMine.\n", encoding="utf-8")
    key = "pages/tags.md"
    _upload(local_stack, tmp_path / "tags.md", key)
    bucket, s3 = local_stack.outputs["SourceBucketName"], local_stack.client("s3")

    def report() -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=report_key(key))["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None
        return found

    found = _wait_for("the report", report, local_stack)
    assert found["status"] == "rejected"
    assert [error["field"] for error in found["errors"]] == ["file"]
    assert "site's own addresses" in found["errors"][0]["message"]
    assert b"Mine." not in _get(f"{local_stack.site_url}/tags/")[1]
