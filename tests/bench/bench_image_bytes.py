"""Images (issue 14): the bytes a 375-px phone really downloads, in Chromium, on the local stack.

Starts ``pressline local`` with the example posts (``tests/e2e/pressline_e2e``, as the browser
tests do), waits until the image stage has published the variants and Index has written the
pages with them, then opens each example post page that shows an image from examples/posts/,
and the home page, in Debian's Chromium at 375 px wide, DPR 1 and 2, each in a new browser
context (a first visit: nothing cached), scrolled to the bottom so every lazy image loads. The
image responses' bodies are summed (each URL once) against the originals' bytes: the files in
examples/posts/ the page shows (its cover and body images), which is what a post page downloaded
before issue 14, when it linked the uploaded files. The home page showed no image then; its row
compares its thumbnails with the originals of the covers it lists.

Then a post with a 4,000 x 3,000 phone photo (``bench_images.phone_photo``: a generated JPEG of
about 1.8 MB with GPS EXIF) as its cover and in its body is uploaded as an author would, and its
page measured the same way: the example image is only 320 pixels wide, so its figure is about
formats; the photo's is about widths too.

Target (issue 14): at least 50% less over the example post pages, at DPR 1 and at DPR 2. Exit 1
if missed, or if an image shown is not a variant. Needs Playwright and Chromium (``make
e2e-install``); without them it says so and skips.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_image_bytes.py``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))

DPRS = (1, 2)
PHOTO_KEY = "posts/bench-phone-photo.jpg"
PHOTO_POST_KEY = "posts/bench-phone-photo.md"
PHOTO_POST = """---
title: A phone photo, as the phone sent it
date: 2026-03-22 08:00
tags: [photography]
image: bench-phone-photo.jpg
notify: false
---
Straight from the phone: 4,000 pixels wide, with the place it was taken in its EXIF.

![A generated photo: a sky, many shapes and sensor noise](bench-phone-photo.jpg)
"""


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def measure(browser: Any, site: Any, path: str, dpr: int) -> tuple[dict[str, int], set[str]]:
    """The image bytes a first visit to ``path`` downloads at 375 px and ``dpr`` (URL -> bytes),
    scrolled to the bottom, and the published posts the page links to."""
    from pressline_e2e.images import phone_visit
    from pressline_e2e.pages import post_links

    with phone_visit(browser, site.url(path), dpr=dpr, timeout_ms=30_000) as (page, received):
        return received.by_url, post_links(page, site)


def describe(by_url: dict[str, int]) -> str:
    from pressline_e2e.images import is_variant

    shown = (
        f"{Path(urlsplit(url).path).name}{'' if is_variant(url) else ' (NOT a variant)'} {size:,}"
        for url, size in sorted(by_url.items())
    )
    return ", ".join(shown) or "no image"


def row(path: str, downloaded: int, original: int, what: str) -> str:
    saving = f"{1 - downloaded / original:.0%}" if original else "-"
    return f"   {path:<48} {downloaded:>10,} {original:>10,} {saving:>7}  {what}"


def upload_phone_photo(site: Any) -> tuple[str, int]:
    """The phone photo and its post, uploaded as an author would: the post's path, the photo's bytes."""
    from bench_images import phone_photo
    from pressline_e2e.stack import publish

    photo = phone_photo()
    site.s3().put_object(Bucket=site.source_bucket, Key=PHOTO_KEY, Body=photo, ContentType="image/jpeg")
    report = publish(site, PHOTO_POST_KEY, PHOTO_POST)
    if report.get("status") != "published":
        raise SystemExit(f"the phone photo's post was not published: {report}")
    return urlsplit(report["url"]).path, len(photo)


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
        from pressline_e2e.browser import CHROMIUM
    except ImportError as error:
        print(f"skipped: Playwright is not installed ({error}); `make e2e-install` installs it")
        return 0
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} is missing; `make e2e-install` installs Debian's chromium")
        return 0
    from pressline_e2e.browser import launch
    from pressline_e2e.images import PHONE_WIDTH, TARGET_SAVING, is_variant, original_images, wait_for_images
    from pressline_e2e.stack import PublishedPost, local_site

    started = time.perf_counter()
    print(f"before: {load_average()}")
    missed: list[str] = []
    with local_site() as site:
        photos = [post for post in site.published if original_images(post)]
        if not photos:
            print("no example post shows an image from examples/posts/: nothing to measure")
            return 1
        for post in photos:
            wait_for_images(site, post.path)
        by_path: dict[str, PublishedPost] = {post.path: post for post in site.published}
        print(f"local stack up and the example posts' images published in {time.perf_counter() - started:.1f} s")
        header = f"   {'page':<48} {'downloaded':>10} {'originals':>10} {'saving':>7}  what"

        def check(where: str, by_url: dict[str, int]) -> None:
            if not by_url:
                missed.append(f"{where}: no image downloaded at all")
            missed.extend(f"{where}: {url} is not a variant" for url in by_url if not is_variant(url))

        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                for dpr in DPRS:
                    print(f"1. the example posts at {PHONE_WIDTH} px wide, DPR {dpr} (a first visit to each page):")
                    print(header)
                    downloaded_total = original_total = 0
                    for path in ["/", *(post.path for post in photos)]:
                        by_url, links = measure(browser, site, path, dpr)
                        downloaded = sum(by_url.values())
                        if path == "/":  # against the originals of the covers of the posts it lists
                            listed = [by_path[p] for p in sorted(links)]
                            originals = {k: v for post in listed for k, v in original_images(post, True).items()}
                        else:
                            originals = original_images(by_path[path])
                            downloaded_total += downloaded
                            original_total += sum(originals.values())
                        print(row(path, downloaded, sum(originals.values()), describe(by_url)))
                        check(f"DPR {dpr}: {path}", by_url)
                    saving = 1 - downloaded_total / original_total
                    print(
                        f"   example post pages: {downloaded_total:,} bytes against the originals' {original_total:,}:"
                        f" {saving:.0%} less (target: at least {TARGET_SAVING:.0%} less)"
                    )
                    if saving < TARGET_SAVING:
                        missed.append(f"DPR {dpr}: {saving:.0%} less, under {TARGET_SAVING:.0%}")
                uploaded = time.perf_counter()
                path, photo_bytes = upload_phone_photo(site)
                wait_for_images(site, path)
                print(
                    f"2. a post with a 4,000 x 3,000 phone photo ({photo_bytes:,} bytes), live with its variants"
                    f" {time.perf_counter() - uploaded:.1f} s after the upload:"
                )
                print(header)
                for dpr in DPRS:
                    by_url, _ = measure(browser, site, path, dpr)
                    print(row(f"{path} (DPR {dpr})", sum(by_url.values()), photo_bytes, describe(by_url)))
                    check(f"the phone photo, DPR {dpr}", by_url)
            finally:
                browser.close()
    print(f"after: {load_average()}; {time.perf_counter() - started:.1f} s in all")
    for line in missed:
        print(f"missed: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
