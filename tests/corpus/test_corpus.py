"""The hostile-input corpus: every file in ``files/`` (and a few generated at run time, too big
to commit) with its expected outcome in ``expected.json``.

An expected outcome is either ``rejected`` (the field named and a substring of the reason,
exactly what the author's report says) or ``accepted``, in which case the post page is
rendered and checked: no executable script, event-handler attribute or dangerous URL
(``html_safety``), plus the texts it must and must not contain, the slug, the warnings.

``known_bug`` (``pipeline_known_bug``: only on the stack) marks an entry whose expected
outcome the pipeline does not meet yet: the test is a strict xfail naming the bug, so it
turns red the day the bug is fixed (then delete the key).

The unit test runs the pure rules and renderer (the ones Validate and Render run); the
integration test uploads the whole corpus to the stack on moto and checks the reports
and every page, listing and feed the pipeline wrote.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from html_safety import assert_feed_safe, assert_json_feed_safe, assert_safe, assert_sitemap_safe

from pressline.config import settings
from pressline.models import SourceRef
from pressline.posts.rules import MAX_POST_BYTES, check_post
from pressline.posts.slug import tag_slug
from pressline.site.pages import Site, render_post_page
from pressline.stages.render import render

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
MANIFEST: dict[str, dict[str, dict[str, Any]]] = json.loads((HERE / "expected.json").read_text())
SITE = Site(title="Corpus", url="https://blog.example", api_url="https://api.example/v1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
HEADER = b"---\ntitle: Generated\ndate: 2025-03-01 10:00\n---\n"
# Never in a published page, whatever the input: controls other than tab and newlines (form feed
# and CR are whitespace to HTML), surrogates and noncharacters (U+FDD0-U+FDEF, U+xFFFE/U+xFFFF).
NOT_TEXT = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane * 0x10000 + last) for plane in range(17) for last in (0xFFFE, 0xFFFF))
    + "]"
)


def _paragraphs(size: int) -> bytes:
    line = b"Plain words in a paragraph that goes on for a while.\n\n"
    body = (line * (size // len(line) + 1))[: size - len(HEADER) - 1]
    return HEADER + body + b"\n"


RECIPES: dict[str, Callable[[], bytes]] = {
    "over-size-limit": lambda: _paragraphs(MAX_POST_BYTES + 1),
    "at-size-limit": lambda: _paragraphs(MAX_POST_BYTES),
    "huge-single-line": lambda: HEADER + b"x" * (MAX_POST_BYTES - len(HEADER) - 100) + b"\n",
    "huge-front-matter": lambda: b"---\ntitle: big\n" + b"filler: " + b"y" * 70_000 + b"\n---\nBody.\n",
    "flow-nesting-100k": lambda: b"---\ntitle: deep\nx: " + b"[" * 60_000 + b"\n---\nBody.\n",
    "body-nesting-bomb": lambda: HEADER + b">" * (MAX_POST_BYTES - len(HEADER) - 10) + b" x\n",
    "nul-in-large-file": lambda: _paragraphs(500_000)[:-2] + b"\x00\n",
}


def _entries() -> list[Any]:
    params = []
    for section in ("files", "generated"):
        for name, expected in sorted(MANIFEST[section].items()):
            marks = [pytest.mark.xfail(strict=True, reason=expected["known_bug"])] if "known_bug" in expected else []
            params.append(pytest.param(name, expected, id=name, marks=marks))
    return params


def load(name: str, expected: dict[str, Any]) -> tuple[bytes, str]:
    """The bytes of one corpus entry and its source key."""
    if name.startswith("generated:"):
        raw = RECIPES[expected["recipe"]]()
        default_key = "posts/" + expected["recipe"] + ".md"
    else:
        raw = (FILES / name).read_bytes()
        default_key = "posts/" + name
    return raw, expected.get("key", default_key)


def test_corpus_is_large_and_every_file_has_an_expected_outcome() -> None:
    committed = {path.name for path in FILES.iterdir()}
    assert len(committed) >= 50
    assert committed == set(MANIFEST["files"]), "each corpus file needs an entry in expected.json, and vice versa"
    assert set(RECIPES) == {entry["recipe"] for entry in MANIFEST["generated"].values()}
    outcomes = [entry["status"] for section in MANIFEST.values() for entry in section.values()]
    assert {"accepted", "rejected"} == set(outcomes)


def check_page(html: str, expected: dict[str, Any], where: str) -> None:
    assert_safe(html, where)
    html.encode("utf-8")  # valid UTF-8: no lone surrogate
    unfit = NOT_TEXT.search(html)
    assert not unfit, f"{where} holds U+{ord(unfit.group(0)):04X}, which is not text"
    for text in expected.get("page_contains", []):
        assert text in html, f"{where} should contain {text!r}"
    for text in expected.get("page_lacks", []):
        assert text not in html, f"{where} should not contain {text!r}"


@pytest.mark.parametrize(("name", "expected"), _entries())
def test_outcome(name: str, expected: dict[str, Any]) -> None:
    raw, key = load(name, expected)
    checked = check_post(raw, key, uploaded_at=NOW, timezone=UTC)  # Validate's rules: cheap, never renders
    if expected["status"] == "rejected":
        assert checked.post is None or checked.errors, f"{name} was accepted; expected rejected ({expected['field']})"
        assert any(
            error.field == expected["field"] and expected["message"] in error.message for error in checked.errors
        ), f"{name}: expected {expected['field']}: …{expected['message']}…, got {checked.errors}"
        if "line" in expected:
            assert [e.line for e in checked.errors if e.field == expected["field"]] == [expected["line"]]
        return

    assert checked.ok, f"{name} was rejected: {checked.errors}"
    made = render(raw, SourceRef(bucket="src", key=key, version_id="v1"), uploaded_at=NOW, site=SITE, now=NOW)
    assert made.post is not None
    if "slug" in expected:
        assert made.post.meta.slug == expected["slug"]
    if "tag_slugs" in expected:
        assert [tag_slug(tag) for tag in made.post.meta.tags] == expected["tag_slugs"]
    if "warning" in expected:
        field, message = expected["warning"]
        assert any(w.field == field and message in w.message for w in made.warnings), made.warnings
    check_page(render_post_page(made.post, SITE), expected, f"{name}'s page")


# --------------------------------------------------------------------------- on moto
def _site_objects(stack: Any) -> dict[str, bytes]:
    bucket = stack.outputs["SiteBucketName"]
    objects = {}
    for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects[item["Key"]] = stack.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects


@pytest.mark.slow
def test_whole_corpus_through_the_pipeline(aws_stack: Any) -> None:
    """Upload every entry (except known bugs, which would hold Render for hours) and check what
    the author gets back and what readers get: every HTML page, listing and feed."""
    source = aws_stack.outputs["SourceBucketName"]
    uploaded: dict[str, tuple[str, dict[str, Any]]] = {}
    for section in ("files", "generated"):
        for name, expected in MANIFEST[section].items():
            if "known_bug" in expected or "pipeline_known_bug" in expected:
                continue
            raw, key = load(name, expected)
            aws_stack.s3.put_object(Bucket=source, Key=key, Body=raw)
            uploaded[key] = (name, expected)
    aws_stack.drain(retry_after=0)

    reports = {item["Key"] for item in aws_stack.s3.list_objects_v2(Bucket=source, Prefix="reports/")["Contents"]}
    missing = {f"reports/{key}.json" for key in uploaded} - reports
    assert not missing, f"uploads without a report: {sorted(missing)}"
    for key, (name, expected) in uploaded.items():
        report = json.loads(aws_stack.s3.get_object(Bucket=source, Key=f"reports/{key}.json")["Body"].read())
        if expected["status"] == "rejected":
            assert report["status"] == "rejected", f"{name}: {report}"
            assert any(
                e["field"] == expected["field"] and expected["message"] in e["message"] for e in report["errors"]
            ), f"{name}: {report['errors']}"
        else:
            assert report["status"] == "published", f"{name}: {report}"
            if "slug" in expected:
                assert report["url"].endswith(f"/posts/{expected['slug']}/")

    site = _site_objects(aws_stack)
    pages = [key for key in site if key.endswith(".html")]
    published = [e for _, e in uploaded.values() if e["status"] == "accepted"]
    assert len([key for key in pages if key.startswith("posts/")]) == len(published)
    for key in pages:
        assert_safe(site[key].decode("utf-8"), key)
    for key, expected in ((k, e) for k, e in uploaded.values() if e["status"] == "accepted" and "slug" in e):
        check_page(site[f"posts/{expected['slug']}/index.html"].decode(), expected, key)
    for feed in ("feed.xml", "rss.xml"):
        ET.fromstring(site[feed])  # well-formed even with control characters in titles
        assert_feed_safe(site[feed], feed)  # content as a page, summaries as text even read as HTML
    assert_json_feed_safe(json.loads(site["feed.json"]), "feed.json")
    for key in (k for k in site if k.endswith(".xml") and k not in ("feed.xml", "rss.xml")):
        assert_sitemap_safe(site[key], settings().base_url, key)
    assert all(".." not in key and not key.startswith("/") for key in site), sorted(site)


def _pipeline_bugs() -> list[Any]:
    return [
        pytest.param(
            name, expected, id=name, marks=pytest.mark.xfail(strict=True, reason=expected["pipeline_known_bug"])
        )
        for section in ("files", "generated")
        for name, expected in sorted(MANIFEST[section].items())
        if "pipeline_known_bug" in expected
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected"), _pipeline_bugs())
def test_known_pipeline_bug(aws_stack: Any, name: str, expected: dict[str, Any]) -> None:
    """One upload alone: its report must say what the rules decided, and no queue keeps it."""
    raw, key = load(name, expected)
    aws_stack.s3.put_object(Bucket=aws_stack.outputs["SourceBucketName"], Key=key, Body=raw)
    aws_stack.drain(retry_after=0)
    dead = {q: aws_stack.queue_depth(q) for q in aws_stack.outputs if q.endswith("DeadLetterQueueUrl")}
    assert not any(dead.values()), f"{name} ended in a DLQ: {dead}"
    report = aws_stack.s3.get_object(Bucket=aws_stack.outputs["SourceBucketName"], Key=f"reports/{key}.json")
    status = json.loads(report["Body"].read())["status"]
    assert status == ("published" if expected["status"] == "accepted" else "rejected")
