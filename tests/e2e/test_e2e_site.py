"""The published site, read in Chromium: pages, links between them, search and feeds."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import pytest
from pressline_e2e.pages import archive_path, goto, month_paths, post_links, search_page_path, tag_page_path
from pressline_e2e.site_map import FEED_TYPES, NOT_FOUND_PATH, links, path_of, same_origin
from pressline_e2e.stack import LocalSite, PublishedPost

pytestmark = pytest.mark.e2e

CRAWL_LIMIT = 400


def test_home_page_has_the_site_name_and_links_to_the_newest_posts(page: Any, site: LocalSite) -> None:
    goto(page, site, "/")
    home_link = page.locator("header a[href='/'], header a[href='" + site.site_url + "/']").first
    name = home_link.inner_text().strip()
    assert name, "the header has no link home with the site's name"
    assert name in page.title(), f"the site's name {name!r} is not in the title {page.title()!r}"
    newest = site.published[-1]
    assert newest.path in post_links(page, site), f"home does not link to the newest post {newest.path}"
    page.get_by_role("link", name=newest.title, exact=True).first.click()
    page.wait_for_url(site.url(newest.path))
    assert page.locator("h1").first.inner_text().strip() == newest.title


def test_post_page_shows_title_date_tags_subscribe_box_and_neighbours(page: Any, site: LocalSite) -> None:
    posts = site.published
    for index, post in enumerate(posts):
        goto(page, site, post.path)
        article = page.locator("article").first
        assert article.locator("h1").first.inner_text().strip() == post.title
        assert article.locator("time[datetime]").count() >= 1, f"{post.path}: no <time datetime> for its date"
        for tag in post.tags:
            assert article.get_by_role("link", name=re.compile(rf"^#?\s*{re.escape(tag)}$", re.I)).count(), (
                f"{post.path}: no link for its tag {tag!r}"
            )
        form = page.locator("form:has(input[type=email])")
        assert form.count() == 1, f"{post.path}: expected one subscribe box, found {form.count()}"
        neighbours = post_links(page, site) - {post.path}
        expected = {p.path for p in posts[max(index - 1, 0) : index + 2]} - {post.path}
        assert expected <= neighbours, f"{post.path}: links to {sorted(neighbours)}, expected neighbours {expected}"


def test_next_and_previous_links_lead_to_the_neighbouring_posts(page: Any, site: LocalSite) -> None:
    """ "Next" is the newer post, "Previous" the older one, as a reader follows them."""
    older, middle, newer = site.published[-3:] if len(site.published) >= 3 else (None, *site.published[-2:])
    goto(page, site, middle.path)
    for label, target in (("next", newer), ("previous", middle), ("previous", older)):
        if target is None:
            break
        page.get_by_role("link", name=re.compile(rf"\b{label}\b", re.I)).first.click()
        page.wait_for_url(site.url(target.path))
        assert page.locator("h1").first.inner_text().strip() == target.title


def test_tag_page_lists_every_post_with_the_tag(page: Any, site: LocalSite) -> None:
    counts = Counter(tag for post in site.published for tag in post.tags)
    assert counts, "no published example post has a tag"
    tag, _ = counts.most_common(1)[0]
    tagged = [post for post in site.published if tag in post.tags]
    path = tag_page_path(page, site, tagged[0], tag)
    goto(page, site, path)
    assert tag.lower() in page.locator("h1").first.inner_text().lower(), f"{path}: the heading does not name {tag!r}"
    assert post_links(page, site) >= {post.path for post in tagged}


def test_archive_leads_to_every_published_post_month_by_month(page: Any, site: LocalSite) -> None:
    archive = archive_path(page, site)
    months = month_paths(page, site, archive)
    assert months, f"{archive} links to no month"
    assert months == sorted(months, reverse=True), f"{archive}: months not newest first: {months}"
    listed: list[str] = []
    for month in months:
        goto(page, site, month)
        order = page.eval_on_selector_all("main a[href]", "els => els.map(e => new URL(e.href).pathname)")
        assert any(path.startswith("/posts/") for path in order), f"{month} lists no post"
        # Other browser tests publish posts of their own (dated now) into the same site.
        on_page = [path for path in order if path in {post.path for post in site.published}]
        listed += list(dict.fromkeys(on_page))
    expected = [post.path for post in reversed(site.published)]
    assert listed == expected, f"the archive lists {listed}, expected newest first {expected}"


def test_not_found_page_answers_404_and_links_home(page: Any, site: LocalSite) -> None:
    goto(page, site, NOT_FOUND_PATH, status=404)
    assert page.locator("h1").count() == 1, "the 404 page has no heading"
    assert page.locator("a[href='/'], a[href='" + site.site_url + "/']").count(), "the 404 page does not link home"
    request = page.context.request
    for link in links(page.content(), page.url):
        if link.tag != "form" and same_origin(link.url, site.site_url) and link.url != page.url:  # not #content
            status = request.get(link.url, fail_on_status_code=False).status
            assert status == 200, f"the 404 page links to {path_of(link.url)}, which answers {status}"


def test_every_internal_link_resolves(page: Any, site: LocalSite) -> None:
    """Crawl from the home page: every same-site page, feed, stylesheet, script and image."""
    request = page.context.request
    queue, seen, broken = [site.url("/")], {site.url("/")}, []
    referrer: dict[str, str] = {}
    pages = 0
    while queue and pages < CRAWL_LIMIT:
        url = queue.pop(0)
        response = request.get(url, fail_on_status_code=False, max_redirects=5)
        if response.status >= 400:
            broken.append(f"{path_of(url)} -> {response.status} (linked from {referrer.get(url, '-')})")
            continue
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        pages += 1
        for link in links(response.text(), url):
            if link.tag == "form" or not same_origin(link.url, site.site_url) or link.url in seen:
                continue
            if path_of(link.url).startswith(path_of(site.api_url)):
                continue  # the API answers POSTs; the subscribe tests cover it
            seen.add(link.url)
            referrer[link.url] = path_of(url)
            queue.append(link.url)
    assert not broken, "broken links:\n" + "\n".join(broken)
    assert pages >= len(site.published) + 2, f"crawled only {pages} pages"
    assert {site.url(post.path) for post in site.published} <= seen, "some posts are not reachable by links"


def feed_entry_links(body: bytes, content_type: str) -> list[str]:
    if "json" in content_type:
        feed = json.loads(body)
        assert feed.get("version", "").startswith("https://jsonfeed.org/version/1"), "not a JSON Feed"
        return [item.get("url") or item["id"] for item in feed["items"]]
    root = ET.fromstring(body)
    atom = "{http://www.w3.org/2005/Atom}"
    if root.tag == f"{atom}feed":
        return [
            link.get("href", "")
            for entry in root.iter(f"{atom}entry")
            for link in entry.iter(f"{atom}link")
            if link.get("rel", "alternate") == "alternate"
        ]
    assert root.tag == "rss", f"unknown feed root {root.tag}"
    return [item.findtext("link") or "" for item in root.iter("item")]


def test_feed_links_resolve(page: Any, site: LocalSite) -> None:
    goto(page, site, "/")
    feeds = [
        link
        for link in links(page.content(), page.url)
        if link.tag == "link" and "alternate" in link.rel.split() and link.type in FEED_TYPES
    ]
    assert feeds, "the home page advertises no feed (<link rel=alternate type=application/atom+xml ...>)"
    request = page.context.request
    for feed in feeds:
        assert same_origin(feed.url, site.site_url), f"feed {feed.url} is not on the local site {site.site_url}"
        response = request.get(feed.url, fail_on_status_code=False)
        assert response.status == 200, f"{feed.url}: {response.status}"
        served = response.headers.get("content-type", "").split(";")[0].strip()
        assert served == feed.type or (feed.type, served) == ("application/feed+json", "application/json"), (
            f"{feed.url} is advertised as {feed.type} but served as {served}"
        )
        entries = feed_entry_links(response.body(), response.headers.get("content-type", ""))
        assert {post.url for post in site.published} <= set(entries), f"{feed.url} lacks published posts"
        for entry in entries:
            assert same_origin(entry, site.site_url), f"{feed.url}: entry link {entry} is not on the site"
            status = request.get(entry, fail_on_status_code=False).status
            assert status == 200, f"{feed.url}: entry link {entry} -> {status}"


def distinctive_body_word(site: LocalSite) -> tuple[str, PublishedPost]:
    """A word from deep in one post's body (not in its title, tags, summary or first paragraph)
    that no other published post contains."""

    def words(text: str) -> set[str]:
        text = re.sub(r"```.*?```|`[^`]*`|\]\([^)]*\)|<[^>]+>|https?://\S+", " ", text, flags=re.S)
        return {w.lower() for w in re.findall(r"[A-Za-z]{6,}", text)}

    for post in reversed(site.published):
        others = set().union(*(words(p.body_markdown + " " + p.title) for p in site.published if p is not post))
        own = words(post.body_markdown) - words(post.lead) - words(post.title + " " + " ".join(post.tags))
        candidates = sorted(own - others)
        if candidates:
            return max(candidates, key=len), post
    raise AssertionError("no published post has a word of its own")


def test_search_finds_a_post_by_a_word_from_its_body(page: Any, site: LocalSite) -> None:
    word, post = distinctive_body_word(site)
    goto(page, site, search_page_path(page, site))
    box = page.get_by_role("searchbox").first
    box.fill(word)
    box.press("Enter")
    result = page.locator(f"main a[href$='{post.path}']").first
    result.wait_for(state="visible")
    assert post.title in result.inner_text() or post.title in page.locator("main").inner_text()
    result.click()
    page.wait_for_url(site.url(post.path))


def test_robots_txt_names_a_sitemap_whose_urls_resolve(page: Any, site: LocalSite) -> None:
    request = page.context.request
    robots = request.get(site.url("/robots.txt"), fail_on_status_code=False)
    assert robots.status == 200, f"/robots.txt: {robots.status}"
    sitemaps = re.findall(r"(?im)^sitemap:\s*(\S+)", robots.text())
    assert sitemaps, "robots.txt names no sitemap"
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    urls: set[str] = set()
    while sitemaps:
        url = sitemaps.pop()
        assert same_origin(url, site.site_url), f"sitemap {url} is not on the site"
        response = request.get(url, fail_on_status_code=False)
        assert response.status == 200, f"{url}: {response.status}"
        root = ET.fromstring(response.body())
        locations = [loc.text or "" for loc in root.iter(f"{namespace}loc")]
        if root.tag == f"{namespace}sitemapindex":
            sitemaps += locations
        else:
            urls.update(locations)
    assert {post.url for post in site.published} <= urls, "the sitemap lacks published posts"
    for url in sorted(urls):
        assert same_origin(url, site.site_url), f"sitemap URL {url} is not on the site"
        status = request.get(url, fail_on_status_code=False).status
        assert status == 200, f"sitemap URL {url} -> {status}"
