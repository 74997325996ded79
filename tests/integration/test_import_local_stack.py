"""Issue 13's "Done when", on the local stack (``pressline local`` in a subprocess): each
import fixture, imported with ``pressline import --local``, gives a site where every post and
page is live, every image is served from the new site, every link inside the site answers,
nothing points at the old site, and every old URL answers 301 to its new address.

Each fixture gets a stack of its own: fixtures share slugs (two "about" pages), and the
second import would rightly refuse to overwrite the first's."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from pressline.local.harness import RunningLocalStack, start_local_stack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"
# The fixture of each reader (their old site is old.example).
SOURCES = {
    "ghost": FIXTURES / "ghost" / "ghost-export.json",
    "hugo": FIXTURES / "hugo",
    "jekyll": FIXTURES / "jekyll",
    # The WXR fixture, whatever its name, once it lands.
    "wordpress": next(iter(sorted(FIXTURES.glob("w*/*.xml"))), FIXTURES / "wordpress" / "export.xml"),
}

pytestmark = pytest.mark.slow


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"] or "")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with _OPENER.open(url, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def wait_for(url: str, timeout: float = 90.0, until: tuple[int, ...] = (200,)) -> tuple[int, dict[str, str], bytes]:
    """The answer at ``url`` once it is one of ``until`` (the pipeline is asynchronous), or the last."""
    deadline = time.monotonic() + timeout
    while True:
        status, headers, body = fetch(url)
        if status in until or time.monotonic() > deadline:
            return status, headers, body
        time.sleep(0.3)


def pressline(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pressline.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def written(out: Path) -> list[tuple[str, dict[str, Any]]]:
    """(path, front matter) of every post and page an import wrote under ``out``."""
    found = []
    for path in sorted([*out.glob("posts/*.md"), *out.glob("pages/*.md")]):
        front = path.read_text(encoding="utf-8").split("---\n", 2)[1]
        found.append((str(path.relative_to(out)), yaml.safe_load(front)))
    return found


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningLocalStack]:
    workdir = tmp_path / "stack"
    workdir.mkdir()
    with start_local_stack(workdir, "--no-examples") as running:
        yield running


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_fixture_imports_into_a_live_site(name: str, stack: RunningLocalStack, tmp_path: Path) -> None:
    source = SOURCES[name]
    if not source.exists():
        pytest.skip(f"the {name} fixture ({source.relative_to(ROOT)}) has not landed")
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    reviewed = pressline("import", str(source), "--out", str(out), "--no-download", "--cache", str(cache), cwd=tmp_path)
    assert reviewed.returncode in (0, 1), reviewed.stderr
    uploaded = pressline(
        "import", str(source), "--local", "--outputs", str(stack.outputs_path), "--no-download", "--cache", str(cache),
        cwd=tmp_path,
    )  # fmt: skip
    assert uploaded.returncode in (0, 1), uploaded.stdout + uploaded.stderr
    assert "0 skipped (conflicts)" in uploaded.stdout

    site = stack.site_url
    now = datetime.now(UTC)
    live: list[str] = []
    waiting: set[str] = set()  # drafts and scheduled posts: a link to one answers 404 until it is out
    aliases: dict[str, str] = {}
    for path, fields in written(out):
        slug = Path(path).stem
        address = f"/posts/{slug}/" if path.startswith("posts/") else f"/{slug}/"
        date = datetime.fromisoformat(fields["date"]) if "date" in fields else None
        if fields.get("draft") or (date is not None and date.astimezone(UTC) > now):
            waiting.add(address)
            continue
        assert fields["notify"] is False
        live.append(address)
        aliases.update({alias: address for alias in fields.get("aliases", [])})
    assert live, "the fixture has nothing to publish"

    checked: dict[str, int] = {}
    for address in live:
        status, _, body = wait_for(site + address)
        assert status == 200, f"{address} is not live"
        page = _Page()
        page.feed(body.decode("utf-8"))
        for src in page.images:
            assert src.startswith("/") and not src.startswith("//"), f"{address} shows an image from elsewhere: {src}"
            if src not in checked:
                image_status, headers, _ = fetch(urljoin(site, src))
                checked[src] = image_status
                assert headers.get("Content-Type", "").startswith("image/"), src
            assert checked[src] == 200, f"{address}: image {src} answers {checked[src]}"
        for href in page.links:
            parts = urlsplit(href)
            if "old.example" in (parts.hostname or ""):
                # Only what the pipeline cannot publish (a video, a PDF) stays there, and the author is told.
                assert f"links to {href} on the old site" in reviewed.stdout, f"{address} links to the old site: {href}"
                continue
            if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/api/"):
                continue
            if parts.path in waiting:
                continue
            if parts.path not in checked:
                checked[parts.path] = wait_for(site + parts.path, 30, (200, 301))[0]
            assert checked[parts.path] in (200, 301), f"{address} links to {href}, which answers {checked[parts.path]}"

    for alias, address in aliases.items():
        status, headers, _ = fetch(site + alias)
        assert status == 301, f"old URL {alias} answers {status}"
        assert headers["Location"] == address, f"old URL {alias} goes to {headers['Location']}, not {address}"

    # Importing again changes nothing.
    again = pressline(
        "import", str(source), "--local", "--outputs", str(stack.outputs_path), "--no-download", "--cache", str(cache),
        cwd=tmp_path,
    )  # fmt: skip
    assert " 0 created, 0 updated," in again.stdout, again.stdout
