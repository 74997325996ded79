"""Details a reader compares from page to page, in Chromium: search results dated as the posts
are, the Search button styled like the site's other buttons (light and dark), each post's
reading time, and the tags page's post counts."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import pytest
from pressline_e2e.browser import new_context
from pressline_e2e.pages import goto
from pressline_e2e.stack import LocalSite

from pressline.posts.paths import tag_path
from pressline.site.pages import WORDS_PER_MINUTE, reading_minutes

pytestmark = pytest.mark.e2e

BUTTON_LOOK = ("backgroundColor", "color", "borderRadius", "borderStyle", "fontWeight", "fontSize", "padding")
STYLE_JS = f"el => Object.fromEntries({list(BUTTON_LOOK)!r}.map(name => [name, getComputedStyle(el)[name]]))"


def search(page: Any, site: LocalSite, query: str) -> None:
    goto(page, site, "/search/")
    box = page.get_by_role("searchbox").first
    box.fill(query)
    box.press("Enter")
    page.locator("#search-results li").first.wait_for()


def test_search_results_show_dates_as_the_posts_do(page: Any, site: LocalSite) -> None:
    for post in site.published:
        goto(page, site, post.path)
        on_the_post = page.locator("article .post-meta time.dt-published").first.inner_text().strip()
        search(page, site, post.title)
        result = page.locator("#search-results li", has=page.locator(f"a[href='{post.path}']")).first
        in_the_results = result.locator("time").first.inner_text().strip()
        assert in_the_results == on_the_post, f"{post.path}: search says {in_the_results!r}, the post {on_the_post!r}"
        assert not re.fullmatch(r"[\d/.\-]+", in_the_results), f"a numeric date: {in_the_results!r}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_search_button_looks_like_the_subscribe_button(browser: Any, site: LocalSite, scheme: str) -> None:
    context = new_context(browser, color_scheme=scheme)
    try:
        page = context.new_page()
        goto(page, site, site.published[-1].path)
        subscribe = page.locator(".subscribe button").first.evaluate(STYLE_JS)
        goto(page, site, "/search/")
        search_button = page.get_by_role("button", name="Search").evaluate(STYLE_JS)
        text_box = page.get_by_role("searchbox").evaluate("el => getComputedStyle(el).borderRadius")
    finally:
        context.close()
    assert search_button == subscribe, f"{scheme}: Search {search_button} against Subscribe {subscribe}"
    assert text_box == "6px", f"{scheme}: the search box has the browser's own corners ({text_box})"


def test_the_buttons_follow_dark_mode(browser: Any, site: LocalSite) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        context = new_context(browser, color_scheme=scheme)
        try:
            page = context.new_page()
            goto(page, site, "/search/")
            colours[scheme] = page.get_by_role("button", name="Search").evaluate(STYLE_JS)["backgroundColor"]
        finally:
            context.close()
    assert colours["light"] != colours["dark"], colours


def test_every_post_shows_its_reading_time(page: Any, site: LocalSite) -> None:
    shown = {}
    for post in site.published:
        goto(page, site, post.path)
        text = page.locator("article .post-meta .reading-time").inner_text().strip()
        match = re.fullmatch(r"(\d+) min read", text)
        assert match, f"{post.path}: {text!r}"
        minutes = int(match[1])
        body = page.locator("article .post-body")
        # What the page says is what its own text takes (Python's count of the body shown)...
        assert minutes == reading_minutes(body.inner_html()), post.path
        # ...and about what a plain count of the words a reader sees says.
        plain = math.ceil(len(body.inner_text().split()) / WORDS_PER_MINUTE)
        assert abs(minutes - max(plain, 1)) <= 1, f"{post.path}: {minutes} min for about {plain}"
        shown[post.path] = minutes
    assert len(set(shown.values())) > 1, f"every example post reads in the same time: {shown}"


def test_the_tags_page_shows_how_many_posts_each_tag_has(page: Any, site: LocalSite) -> None:
    goto(page, site, "/tags/")
    counts = {}
    for item in page.locator("main .tag-cloud > li").all():
        href = item.locator("a").first.get_attribute("href") or ""
        # As a screen reader says it: "city (2 posts)"; the eye sees "city (2)".
        said = " ".join((item.text_content() or "").split())
        match = re.search(r"\((\d+) posts?\)", said)
        assert match, f"no count beside {href}: {said!r}"
        counts[href] = int(match[1])
    # The example posts' tags (the tests' own posts are tagged e2e, and counted too).
    expected = Counter(tag_path(tag) for post in site.published for tag in dict.fromkeys(post.tags))
    assert {href: counts.get(href) for href in expected} == dict(expected)
    for href, count in counts.items():
        goto(page, site, href)
        total = page.locator("main .post-meta").first.inner_text()
        assert total.startswith(f"{count} post"), f"{href}: the tags page says {count}, the tag's page {total!r}"
