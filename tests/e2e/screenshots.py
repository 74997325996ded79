"""Screenshots for the README (``make screenshots``): the home page and a post page at 375 and
1280 px wide, from ``pressline local`` with the example posts, in Debian's Chromium.

Usage: python tests/e2e/screenshots.py [OUTPUT_DIR]   (default docs/screenshots)
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from pressline_e2e.browser import WIDTHS, launch, new_context
from pressline_e2e.stack import REPO, LocalSite, local_site

# The post that shows what a post can contain (headings, a table, code, a quotation, footnotes)
# and sits between two others, so both neighbour links show.
SHOWCASE = "posts/markdown-in-pressline.md"


def showcase_post(site: LocalSite) -> str:
    """The showcase post; else the shortest published post with tags."""
    for post in site.published:
        if post.key == SHOWCASE:
            return post.path
    return min(site.published, key=lambda p: (not p.tags, len(p.body_markdown))).path


def take(site: LocalSite, out: Path) -> list[Path]:
    shots = {"home": "/", "post": showcase_post(site)}
    written = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for scheme in ("light", "dark"):
                for name, path in shots.items():
                    for width in WIDTHS:
                        if scheme == "dark" and (name, width) != ("post", 375):
                            continue  # one dark example is enough to show it
                        context = new_context(browser, width=width, color_scheme=scheme)
                        page = context.new_page()
                        page.goto(site.url(path), wait_until="load")
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
