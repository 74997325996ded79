"""Every kind of page passes axe-core (no serious or critical violation, light and dark) and lays
out without horizontal scrolling at 375 px and 1280 px."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from pressline_e2e import axe
from pressline_e2e.browser import WIDTHS, horizontal_overflow, new_context
from pressline_e2e.pages import archive_path, month_paths, search_page_path, tag_page_path
from pressline_e2e.site_map import NOT_FOUND_PATH
from pressline_e2e.stack import EXAMPLE_PAGES, LocalSite

pytestmark = pytest.mark.e2e

KINDS = ("home", "post", "tag", "archive", "search", "not-found", "page")


@pytest.fixture(scope="module")
def paths(browser: Any, site: LocalSite) -> dict[str, list[str]]:
    """Each kind of page -> the paths to check (every published post; one of each other kind)."""
    context = new_context(browser)
    page = context.new_page()
    try:
        tagged = next(post for post in site.published if post.tags)
        tag = tag_page_path(page, site, tagged, tagged.tags[0])
        archive = archive_path(page, site)
        search = search_page_path(page, site)
        word = tagged.title.split()[-1]
        return {
            "home": ["/"],
            "post": [post.path for post in site.published],
            # The tag's page, its first year page (listed under it like the archive's months) and all tags.
            "tag": [tag, *month_paths(page, site, tag)[:1], "/tags/"],
            "archive": [archive, *month_paths(page, site, archive)[:1]],
            "search": [search, f"{search}?q={quote(word)}"],
            "not-found": [NOT_FOUND_PATH],
            "page": list(EXAMPLE_PAGES),  # the static pages (pages/<name>.md)
        }
    finally:
        context.close()


def open_page(
    browser: Any, site: LocalSite, path: str, width: int = 1280, scheme: str = "light", errors: list[str] | None = None
) -> Any:
    context = new_context(browser, width=width, color_scheme=scheme)
    page = context.new_page()
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    page.goto(site.url(path), wait_until="load")
    if "?q=" in path:  # search results are rendered by script: check them once they are there
        page.locator("main a[href*='/posts/']").first.wait_for()
    page.evaluate("document.fonts.ready")
    return page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", KINDS)
def test_no_serious_accessibility_violations(
    browser: Any, site: LocalSite, paths: dict[str, list[str]], kind: str, scheme: str, width: int
) -> None:
    """Both widths: a narrow screen makes code blocks and tables scroll, and colours differ in
    dark mode."""
    failures = []
    for path in paths[kind]:
        page = open_page(browser, site, path, width=width, scheme=scheme)
        try:
            found = axe.serious(axe.violations(page))
        finally:
            page.context.close()
        if found:
            failures.append(f"{path} ({scheme}, {width} px):\n{axe.describe(found)}")
    assert not failures, "axe-core found serious violations:\n" + "\n".join(failures)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", KINDS)
def test_no_horizontal_scrolling(
    browser: Any, site: LocalSite, paths: dict[str, list[str]], kind: str, width: int
) -> None:
    failures = []
    for path in paths[kind]:
        page = open_page(browser, site, path, width=width)
        try:
            overflow = horizontal_overflow(page)
        finally:
            page.context.close()
        if overflow:
            failures.append(f"{path}: {overflow}")
    assert not failures, f"horizontal scrolling at {width} px:\n" + "\n".join(failures)


def test_dark_mode_follows_the_reader_preference(browser: Any, site: LocalSite) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, site, "/", scheme=scheme)
        try:
            colours[scheme] = page.evaluate(
                "() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color]"
            )
        finally:
            page.context.close()
    assert colours["light"] != colours["dark"], f"prefers-color-scheme: dark changes nothing: {colours}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_script_errors(browser: Any, site: LocalSite, paths: dict[str, list[str]], kind: str) -> None:
    failures = []
    for path in paths[kind]:
        errors: list[str] = []
        page = open_page(browser, site, path, errors=errors)
        try:
            page.wait_for_load_state("networkidle")
        finally:
            page.context.close()
        # The 404 page's own status is reported as a failed resource load; nothing else may be.
        expected = [e for e in errors if kind == "not-found" and "404" in e and "Failed to load resource" in e]
        if unexpected := [e for e in errors if e not in expected]:
            failures.append(f"{path}: {unexpected}")
    assert not failures, "script errors:\n" + "\n".join(failures)


def test_post_text_is_readable(browser: Any, site: LocalSite) -> None:
    """Body text at least 16 px, lines spaced at least 1.4, at most about 80 characters a line."""
    page = open_page(browser, site, site.published[-1].path)
    try:
        metrics = page.evaluate(
            """() => {
              const p = document.querySelector('article p, main p');
              const style = getComputedStyle(p);
              const size = parseFloat(style.fontSize);
              const probe = document.createElement('span');
              probe.textContent = 'abcdefghijklmnopqrstuvwxyz'.repeat(4);
              p.appendChild(probe);
              const perChar = probe.getBoundingClientRect().width / 104;
              probe.remove();
              return {size, lineHeight: parseFloat(style.lineHeight) / size,
                      charsPerLine: p.getBoundingClientRect().width / perChar};
            }"""
        )
    finally:
        page.context.close()
    assert metrics["size"] >= 16, metrics
    assert metrics["lineHeight"] >= 1.4, metrics
    assert 45 <= metrics["charsPerLine"] <= 90, metrics


def test_keyboard_users_can_skip_to_the_content(browser: Any, site: LocalSite) -> None:
    page = open_page(browser, site, site.published[-1].path)
    try:
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const el = document.activeElement; const box = el.getBoundingClientRect();
                       return {text: el.textContent.trim(), href: el.getAttribute('href'),
                               visible: box.width > 0 && box.left >= 0 && box.top >= 0 &&
                                        box.right <= innerWidth && box.bottom <= innerHeight}; }"""
        )
        assert focused["href"] == "#content" and focused["visible"], f"first Tab stop: {focused}"
        page.keyboard.press("Enter")
        assert page.evaluate("() => location.hash") == "#content"
    finally:
        page.context.close()
