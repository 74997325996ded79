"""Issue 13's "Done when", on the local stack (``pressline local`` in a subprocess): each
import fixture, imported with ``pressline import --local``, gives a site where every post and
page is live, every image is served from the new site, every link inside the site answers,
nothing points at the old site, and every old URL answers 301 to its new address.

Each fixture gets a stack of its own: fixtures share slugs (two "about" pages), and the
second import would rightly refuse to overwrite the first's.

Hugo's and Jekyll's images are files beside the content. WordPress's and Ghost's are on their
old site, ``http://old.example``: an HTTP server on 127.0.0.1 started here serves them (the
WXR fixture's ``site/`` folder; for Ghost, images made here), and the import reaches it as an
author would reach an old server their domain no longer names, ``--connect-to
old.example:80:127.0.0.1:PORT --allow-local``, so the fixtures' URLs stay as they are. Each
image is distinct, so a picture on the new site is known to be the old site's own. An image
the old site has lost (404) is reported, and leaves its alt text, never a link to the old site."""

from __future__ import annotations

import contextlib
import re
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
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml
from old_site import OldSite

from pressline.local.harness import RunningLocalStack, start_local_stack

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "import"
# The fixture of each reader (their old site is old.example).
SOURCES = {
    "ghost": FIXTURES / "ghost" / "ghost-export.json",
    "hugo": FIXTURES / "hugo",
    "jekyll": FIXTURES / "jekyll",
    "wordpress": FIXTURES / "wordpress" / "export.xml",  # WXR 1.2: the one with every kind of item
}
# The fixtures whose images are on the old site, and the folder of its files (None: made here).
OLD_SITES: dict[str, Path | None] = {"ghost": None, "wordpress": FIXTURES / "wordpress" / "site"}
# How each export names an image on its old site (Ghost writes its own address as __GHOST_URL__).
_OLD_IMAGE = re.compile(
    r"(?:http://old\.example|__GHOST_URL__)(/[^\s\"'<>()\]\\]+?\.(?:png|jpe?g|gif|webp))", re.IGNORECASE
)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def old_site_images(source: Path) -> set[str]:
    """The path of every image on the old site that the export names, read from its text (not
    by the importer's readers: what they should find, found another way)."""
    return set(_OLD_IMAGE.findall(source.read_text(encoding="utf-8")))


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.covers: list[str] = []  # og:image and twitter:image: the front matter's image
        self.srcsets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"] or "")
        if tag in ("img", "source") and attributes.get("srcset"):
            self.srcsets.append(attributes["srcset"] or "")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"] or "")
        if tag == "meta" and (attributes.get("property") or attributes.get("name")) in ("og:image", "twitter:image"):
            self.covers.append(attributes.get("content") or "")


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


# A variant's name, as the Image stage writes it: <the upload's stem, made URL-safe>-<width>w-<hash>.<ext>.
_VARIANT = re.compile(r"^(?P<stem>[a-z0-9-]+)-\d+w-[0-9a-f]{8}\.(?:avif|webp|jpg|png)$")


def made_from(out: Path, site_path: str) -> bytes:
    """The uploaded file (under ``out``) an image on the site was made from. The site never
    serves an upload's own bytes (issue 14: its variants, without metadata, and the widest of
    them at the upload's path), so a picture is known by the file it came from."""
    relative = unquote(site_path).removeprefix("/media/")
    uploaded = out / "posts" / relative
    if uploaded.is_file():
        return uploaded.read_bytes()
    variant = _VARIANT.match(uploaded.name)
    assert variant, f"{site_path} is neither an upload's path nor one of its variants"
    stems = [
        p for p in uploaded.parent.glob("*") if re.sub(r"[^a-z0-9]+", "-", p.stem.lower()).strip("-") == variant["stem"]
    ]
    assert len(stems) == 1, f"{site_path}: made from {stems}?"
    return stems[0].read_bytes()


def pressline(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pressline.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def import_options(old: OldSite | None) -> tuple[str, ...]:
    """Downloads from the old site's server when the fixture has one, else none."""
    return ("--connect-to", old.connect_to(), "--allow-local") if old else ("--no-download",)


def import_to_folder(source: Path, out: Path, cache: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``pressline import SOURCE --out OUT``, its downloads kept in ``cache``, run beside OUT."""
    return pressline("import", str(source), "--out", str(out), *options, "--cache", str(cache), cwd=out.parent)


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


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_fixture_imports_into_a_live_site(name: str, stack: RunningLocalStack, tmp_path: Path) -> None:
    source = SOURCES[name]
    with contextlib.ExitStack() as servers:
        old = servers.enter_context(OldSite(root=OLD_SITES[name])) if name in OLD_SITES else None
        check_import(source, old, stack, tmp_path)


def check_import(source: Path, old: OldSite | None, stack: RunningLocalStack, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    options = import_options(old)
    reviewed = import_to_folder(source, out, cache, *options)
    assert reviewed.returncode in (0, 1), reviewed.stderr
    asked_by_review = list(old.requests) if old else []
    upload = ("import", str(source), "--local", "--outputs", str(stack.outputs_path), *options, "--cache", str(cache))
    uploaded = pressline(*upload, cwd=tmp_path)
    assert uploaded.returncode in (0, 1), uploaded.stdout + uploaded.stderr
    assert "0 skipped (conflicts)" in uploaded.stdout

    site = stack.site_url
    now = datetime.now(UTC)
    live: dict[str, str] = {}  # address -> the file written for it
    waiting: set[str] = set()  # drafts and scheduled posts: a link to one answers 404 until it is out
    aliases: dict[str, str] = {}
    covers: dict[str, Path] = {}  # address -> the file its front matter's image names
    for path, fields in written(out):
        slug = Path(path).stem
        address = f"/posts/{slug}/" if path.startswith("posts/") else f"/{slug}/"
        date = datetime.fromisoformat(fields["date"]) if "date" in fields else None
        if fields.get("draft") or (date is not None and date.astimezone(UTC) > now):
            waiting.add(address)
            continue
        assert fields["notify"] is False
        live[address] = path
        aliases.update({alias: address for alias in fields.get("aliases", [])})
        if fields.get("image"):
            cover = str(fields["image"])
            assert not urlsplit(cover).scheme and not cover.startswith("//"), f"{path}: image: {cover} is elsewhere"
            covers[address] = ((out / path).parent / cover).resolve()
    assert live, "the fixture has nothing to publish"

    checked: dict[str, int] = {}
    shown: dict[str, bytes] = {}  # each image path on the new site -> the uploaded bytes it was made from

    def served_image(where: str, src: str) -> None:
        """The image at ``src`` is the new site's, and answers 200 with an image."""
        parts = urlsplit(src)
        assert "old.example" not in src, f"{where} shows an image from the old site: {src}"
        assert parts.netloc in ("", urlsplit(site).netloc) and parts.path.startswith("/"), f"{where}: image {src}"
        if parts.path not in shown:
            # The Image stage publishes an image apart from its post: it may come a moment later.
            status, headers, body = wait_for(urljoin(site, parts.path), 60)
            assert status == 200, f"{where}: image {src} answers {status}"
            assert headers.get("Content-Type", "").startswith("image/"), f"{where}: {src} is {headers}"
            assert b"Exif\x00\x00" not in body, f"{where}: {src} is served with its EXIF block"
            shown[parts.path] = made_from(out, parts.path)
            checked[parts.path] = status

    on_pages: dict[str, set[str]] = {}  # address -> the image paths it shows or links to
    for address in live:
        status, _, body = wait_for(site + address)
        assert status == 200, f"{address} is not live"
        page = _Page()
        page.feed(body.decode("utf-8"))
        assert not any("old.example" in srcset for srcset in page.srcsets), f"{address}: {page.srcsets}"
        for src in page.images:
            assert src.startswith("/") and not src.startswith("//"), f"{address} shows an image from elsewhere: {src}"
            served_image(address, src)
        for cover in page.covers:
            served_image(f"{address} (its cover)", cover)
        if address in covers:
            assert page.covers, f"{address}: its front matter's image is not on the page"
            assert all(shown[urlsplit(c).path] == covers[address].read_bytes() for c in page.covers), address
        on_pages[address] = {urlsplit(src).path for src in [*page.images, *page.covers]}
        for href in page.links:
            parts = urlsplit(href)
            if "old.example" in (parts.hostname or ""):
                # Only what the pipeline cannot publish (a video, a PDF) stays there, and the author is told.
                assert not parts.path.lower().endswith(_IMAGE_SUFFIXES), f"{address} links to an old image: {href}"
                assert f"links to {href} on the old site" in reviewed.stdout, f"{address} links to the old site: {href}"
                continue
            if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/api/"):
                continue
            if parts.path in waiting:
                continue
            if parts.path.lower().endswith(_IMAGE_SUFFIXES):
                served_image(address, href)  # a link to the full-size picture: the new site's too
                on_pages[address].add(parts.path)
                continue
            if parts.path not in checked:
                checked[parts.path] = wait_for(site + parts.path, 30, (200, 301))[0]
            assert checked[parts.path] in (200, 301), f"{address} links to {href}, which answers {checked[parts.path]}"

    if old is not None:
        check_old_sites_images(source, old, asked_by_review, out, live, on_pages, shown, covers)

    for alias, address in aliases.items():
        status, headers, _ = fetch(site + alias)
        assert status == 301, f"old URL {alias} answers {status}"
        assert headers["Location"] == address, f"old URL {alias} goes to {headers['Location']}, not {address}"

    # Importing again changes nothing.
    again = pressline(*upload, cwd=tmp_path)
    assert " 0 created, 0 updated," in again.stdout, again.stdout


def check_old_sites_images(
    source: Path,
    old: OldSite,
    asked_by_review: list[tuple[str, str]],
    out: Path,
    live: dict[str, str],
    on_pages: dict[str, set[str]],
    shown: dict[str, bytes],
    covers: dict[str, Path],
) -> None:
    """Every image the export names on its old site came over: asked for once (the upload
    read the review's cache), written beside its item, and on the live site, on the page of
    every live item that shows it, with the very bytes the old site served."""
    named = old_site_images(source)
    assert named, f"{source.name} names no image on its old site: nothing would be tested"
    assert set(old.served) == named, "the old site's server did not serve every image the export names"
    assert sorted(path for path, _ in asked_by_review) == sorted(named), "each image asked for once, and no other"
    assert {host for _, host in asked_by_review} == {"old.example"}, "asked for by the old site's name"
    assert old.requests == asked_by_review, "the upload downloaded again instead of reading the cache"

    beside: dict[str, set[str]] = {}  # the folder of an item's images -> the old paths in it
    for file in out.glob("posts/*/*"):
        which = old.which(file.read_bytes())
        assert which is not None, f"{file.relative_to(out)} is not an image the old site served"
        beside.setdefault(file.parent.name, set()).add(which)
    assert set().union(*beside.values()) == named, "an image downloaded was not written beside its item"

    for address, path in live.items():
        expected = beside.get(Path(path).stem, set())
        arrived = {old.which(shown[image]) for image in on_pages[address]}
        assert arrived == expected, f"{address} shows {sorted(map(str, arrived))}, not its images {sorted(expected)}"
    assert covers, f"{source.name}: no live item has a featured image: the cover check would be empty"
    for address, cover in covers.items():
        assert old.which(cover.read_bytes()) in beside.get(Path(live[address]).stem, set()), address


# --------------------------------------------------------------------------- without a stack
# What the author reviews under --out is what is uploaded (the same conversion): these need
# the old site's server, not a stack.
LOST = {  # fixture -> (an image the old site no longer has, the file that shows it, its alt text)
    "ghost": ("/content/images/2017/01/strasse.jpg", "posts/hello-ghost-1.md", "Straße"),
    "wordpress": ("/wp-content/uploads/2020/01/diagram.png", "posts/cafe.md", "A diagram"),
}


@pytest.mark.parametrize("name", sorted(LOST))
def test_an_image_the_old_site_has_lost_is_said_and_leaves_its_alt_text(name: str, tmp_path: Path) -> None:
    lost, file, alt = LOST[name]
    out, cache = tmp_path / "out", tmp_path / "cache"
    with OldSite(root=OLD_SITES[name], missing=frozenset({lost})) as old:
        done = import_to_folder(SOURCES[name], out, cache, *import_options(old))
    assert done.returncode == 1, done.stdout + done.stderr  # an error in one item, the rest imported
    said = [line for line in done.stdout.splitlines() if lost in line]
    assert len(said) == 1 and said[0].startswith(f"{file}: "), done.stdout
    assert f"image http://old.example{lost} answered 404 Not Found; it is replaced by its alt text" in said[0]
    text = (out / file).read_text(encoding="utf-8")
    body = text.split("---\n", 2)[2]
    assert alt in body and "old.example" not in text and "![" + alt not in body
    assert Path(lost).name not in text
    assert {old.which(path.read_bytes()) for path in out.glob("posts/*/*")} == old_site_images(SOURCES[name]) - {lost}

    # Once the old site has it again (or the author puts it back), importing again brings it over.
    with OldSite(root=OLD_SITES[name]) as restored:
        again = import_to_folder(SOURCES[name], out, cache, *import_options(restored))
    assert [path for path, _ in restored.requests] == [lost]  # the others come from the cache
    assert f"![{alt}](" in (out / file).read_text(encoding="utf-8"), again.stdout
    assert " 1 created, 1 updated," in again.stdout, again.stdout  # the image, and the post that shows it


def test_the_old_sites_server_is_refused_without_allow_local(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with OldSite() as old:
        done = import_to_folder(SOURCES["ghost"], out, tmp_path / "cache", "--connect-to", old.connect_to())
    assert old.requests == []
    refused = [line for line in done.stdout.splitlines() if "image http://old.example/" in line]
    assert len(refused) == len(old_site_images(SOURCES["ghost"])), done.stdout
    assert all("resolves to a loopback address (127.0.0.1); pass --allow-local" in line for line in refused)
    assert not list(out.glob("posts/*/*")), "an image came from somewhere"
    assert not [path for path in out.glob("*/*.md") if "old.example" in path.read_text(encoding="utf-8")]
