"""``pressline preview`` as an author runs it: a subprocess on a free port, read over HTTP.

- every post and page of examples/ is the local stack's page, byte for byte, once the site's
  address and the preview's own block (the reload script) are set aside;
- a save reaches an open page: the event stream announces a new build and the page has the edit;
- a post the pipeline would refuse shows, at its address, the lines ``pressline check`` prints;
- a PATH that is not there is one line and exit code 2.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from pressline.local.harness import RunningLocalStack, start_local_stack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INJECTED = re.compile(r"<!-- pressline preview -->.*?<!-- /pressline preview -->", re.DOTALL)


@contextmanager
def preview(*paths: Path | str, cwd: Path = ROOT) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``pressline preview PATH… --port 0`` until the block ends; yields its address."""
    command = [sys.executable, "-m", "pressline.cli", "preview", *map(str, paths), "--port", "0"]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert found, f"no address in {first!r}"
        yield found.group(0), process
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(url: str, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def normalised(page: bytes, origin: str) -> str:
    """A page without the preview's block and with the site's address as ``SITE``."""
    return INJECTED.sub("", page.decode("utf-8")).replace(origin, "SITE")


# --------------------------------------------------------------------------- like the site
@pytest.fixture(scope="module")
def examples_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalStack]:
    """The local stack as ``make run`` starts it: examples/ uploaded, as an author would."""
    with start_local_stack(tmp_path_factory.mktemp("preview-stack"), "--retry-after", "1") as stack:
        yield stack


def _reports(stack: RunningLocalStack, keys: list[str], timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """Each key's final report, once every one is there."""
    s3 = stack.client("s3")
    bucket = stack.outputs["SourceBucketName"]
    deadline = time.monotonic() + timeout
    found: dict[str, dict[str, Any]] = {}
    while len(found) < len(keys):
        for key in keys:
            try:
                body = s3.get_object(Bucket=bucket, Key=f"reports/{key}.json")["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            found[key] = json.loads(body)
        if time.monotonic() > deadline:
            raise AssertionError(f"no report yet for {sorted(set(keys) - set(found))}")
        time.sleep(0.2)
    return found


def test_every_post_and_page_of_the_examples_is_the_local_stacks(examples_stack: RunningLocalStack) -> None:
    sources = [f"posts/{p.name}" for p in sorted((EXAMPLES / "posts").glob("*.md"))]
    sources += [f"pages/{p.name}" for p in sorted((EXAMPLES / "pages").glob("*.md"))]
    reports = _reports(examples_stack, sources)
    site = examples_stack.site_url
    published = [report["url"].removeprefix(site) for report in reports.values() if report["status"] == "published"]
    assert len(published) >= 5, reports  # the examples: four published posts and the About page
    compared = [*published, "/", "/tags/", "/archive/"]
    with preview(EXAMPLES) as (origin, _):
        for path in compared:
            stack_status, _, stack_page = get(site + path)
            status, headers, page = get(origin + path)
            assert (status, stack_status) == (200, 200), path
            assert headers["Content-Type"] == "text/html; charset=utf-8"
            assert normalised(page, origin) == stack_page.decode("utf-8").replace(site, "SITE"), path
        # The stack leaves drafts and scheduled posts out; the preview shows their page, marked.
        unlisted = [key for key, report in reports.items() if report["status"] in ("draft", "scheduled")]
        assert len(unlisted) == 2, reports  # the examples' draft and scheduled post
        for key in unlisted:
            path = f"/posts/{Path(key).stem}/"  # no example sets a slug: the file's name is its slug
            assert get(site + path)[0] == 404
            status, _, page = get(origin + path)
            assert status == 200 and b'class="pressline-preview-banner"' in page, path


def test_the_preview_sends_the_sites_security_headers(tmp_path: Path) -> None:
    from pressline.site.headers import site_headers

    with preview(EXAMPLES) as (origin, _):
        paths = (
            "/",
            "/posts/welcome-to-pressline/",
            "/media/harbour-at-dawn.png",
            "/feed.xml",
            "/missing/",
            "/__preview/",
        )
        for path in paths:
            _, headers, _ = get(origin + path)
            for name, value in site_headers().items():
                assert headers.get(name) == value, (path, name)
        _, headers, script = get(origin + "/__preview/reload.js")
        assert headers["Content-Type"].startswith("text/javascript") and b"EventSource" in script
        # connect-src 'self' lets the page open its same-origin event stream.
        assert "connect-src 'self'" in headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- reload on save
def _next_event(stream: IO[bytes], deadline: float) -> tuple[str, str]:
    """The next Server-Sent Event (name, data), comments skipped."""
    name, data = "message", ""
    while time.monotonic() < deadline:
        line = stream.readline().decode("utf-8").rstrip("\n")
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
        elif line == "" and data:
            return name, data
    raise AssertionError("no event before the deadline")


def test_a_save_reloads_the_open_page_with_the_edit(tmp_path: Path) -> None:
    folder = tmp_path / "blog"
    shutil.copytree(EXAMPLES, folder)
    post = folder / "posts" / "welcome-to-pressline.md"
    with preview(folder) as (origin, _):
        status, _, page = get(origin + "/posts/welcome-to-pressline/")
        assert status == 200 and b"A sentence added while previewing" not in page
        build = re.search(rb"/__preview/reload\.js\?build=(\d+)", page)
        assert build, "the page loads the reload script"
        with urllib.request.urlopen(origin + "/__preview/events", timeout=20) as events:
            assert events.headers["Content-Type"].startswith("text/event-stream")
            deadline = time.monotonic() + 20
            assert _next_event(events, deadline) == ("build", build.group(1).decode())
            post.write_text(post.read_text(encoding="utf-8") + "\nA sentence added while previewing.\n", "utf-8")
            name, newer = _next_event(events, deadline)
        assert name == "build" and newer != build.group(1).decode()
        status, _, page = get(origin + "/posts/welcome-to-pressline/")
        assert status == 200 and b"A sentence added while previewing." in page
        assert f"reload.js?build={newer}".encode() in page


# --------------------------------------------------------------------------- refused posts
def test_a_refused_post_shows_at_its_address_what_check_says(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "fine.md").write_text("---\ntitle: Fine\ndate: 2026-01-02\n---\nAll good.\n", "utf-8")
    (posts / "broken.md").write_text("---\ntitle: Broken\ndate: 2026-13-45\ncolour: blue\n---\nBody.\n", "utf-8")
    check = subprocess.run(
        [sys.executable, "-m", "pressline.cli", "check", "posts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in check.stdout.splitlines() if line.startswith("posts/broken.md")]
    assert check.returncode == 1 and any("date" in line for line in lines), check.stdout
    with preview("posts", cwd=tmp_path) as (origin, process):
        status, _, page = get(origin + "/posts/broken/")
        assert status == 422
        text = page.decode("utf-8")
        for line in lines:
            assert html.escape(line) in text, line
        assert get(origin + "/posts/fine/")[0] == 200
        assert b"Broken" not in get(origin + "/")[2]  # nowhere on the site, as the pipeline would have it
    assert process.stdout is not None
    printed = process.stdout.read()
    for line in lines:  # the terminal says it too, in check's words
        assert line in printed


# --------------------------------------------------------------------------- bad input
def test_a_path_that_is_not_there_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = subprocess.run(
        [sys.executable, "-m", "pressline.cli", "preview", str(missing), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"pressline preview: no such file or folder: {missing}"]
    assert "Traceback" not in result.stderr + result.stdout


def test_an_old_url_answers_301_to_its_post_as_on_the_stack(tmp_path: Path) -> None:
    import http.client
    from urllib.parse import urlsplit

    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "moved.md").write_text("---\ntitle: Moved\ndate: 2026-01-02\naliases: [/2019/05/moved/]\n---\nHi.\n")
    with preview("posts", cwd=tmp_path) as (origin, _):
        address = urlsplit(origin)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        connection.request("GET", "/2019/05/moved/")
        response = connection.getresponse()
        assert (response.status, response.getheader("Location")) == (301, "/posts/moved/")
        connection.close()
        assert get(origin + "/2019/05/moved/")[0] == 200  # followed: the post
