"""Screenshots for the README (``make screenshots``): the home page and a post page at 375 and
1280 px wide, and the photo post with its cover at 375 px in light and dark mode, from
``pressline local`` with the example posts, in Debian's Chromium.

Usage: python tests/e2e/screenshots.py [OUTPUT_DIR]   (default docs/screenshots)
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from pressline_e2e.browser import WIDTHS, launch, new_context
from pressline_e2e.images import load_whole_page, wait_for_images
from pressline_e2e.stack import REPO, LocalSite, PublishedPost, local_site

# The post that shows what a post can contain (headings, a table, code, a quotation, footnotes)
# and sits between two others, so both neighbour links show.
SHOWCASE = "posts/markdown-in-pressline.md"
# The post with a cover image (issue 14), shown on a phone in both schemes.
PHOTO = "posts/a-photo-walk-along-the-harbour.md"
# (page, width) -> the schemes it is taken in: one dark example of the showcase is enough.
SHOTS = {
    ("home", 1280): ("light",),
    ("home", 375): ("light",),
    ("post", 1280): ("light",),
    ("post", 375): ("light", "dark"),
    ("photo", 375): ("light", "dark"),
}


def showcase_post(site: LocalSite) -> str:
    """The showcase post; else the shortest published post with tags."""
    for post in site.published:
        if post.key == SHOWCASE:
            return post.path
    return min(site.published, key=lambda p: (not p.tags, len(p.body_markdown))).path


def photo_post(site: LocalSite) -> PublishedPost | None:
    return next((post for post in site.published if post.key == PHOTO), None)


def take(site: LocalSite, out: Path) -> list[Path]:
    paths = {"home": "/", "post": showcase_post(site)}
    photo = photo_post(site)
    if photo is not None:
        wait_for_images(site, photo.path)  # its cover is on the home page too
        paths["photo"] = photo.path
    written = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for (name, width), schemes in SHOTS.items():
                if name not in paths or width not in WIDTHS:
                    continue
                for scheme in schemes:
                    context = new_context(browser, width=width, color_scheme=scheme)
                    page = context.new_page()
                    # Scrolled through first: the lazy images below the fold are loaded.
                    load_whole_page(page, site.url(paths[name]))
                    page.evaluate("scrollTo(0, 0)")
                    page.evaluate("document.fonts.ready")
                    suffix = "" if scheme == "light" else "-dark"
                    target = out / f"{name}-{width}{suffix}.png"
                    # Whole pages: the subscribe box and the neighbours are at the bottom.
                    page.screenshot(path=str(target), full_page=True, animations="disabled")
                    written.append(target)
                    context.close()
        finally:
            browser.close()
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else REPO / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with local_site() as site:
        for path in take(site, out):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
