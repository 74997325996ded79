"""Finding and opening the site's pages the way a reader does: from links on other pages."""

from __future__ import annotations

import re
from typing import Any

from pressline_e2e.site_map import path_of, same_origin
from pressline_e2e.stack import LocalSite, PublishedPost


def goto(page: Any, site: LocalSite, path: str, status: int = 200) -> Any:
    response = page.goto(site.url(path), wait_until="load")
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"GET {path}: {response.status}, expected {status}"
    return response


def post_links(page: Any, site: LocalSite) -> set[str]:
    """Paths of the published posts this page links to."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    known = {post.path for post in site.published}
    return {path_of(href) for href in hrefs if same_origin(href, site.site_url)} & known


def tag_page_path(page: Any, site: LocalSite, post: PublishedPost, tag: str) -> str:
    goto(page, site, post.path)
    link = page.locator("article").first.get_by_role("link", name=re.compile(rf"^#?\s*{re.escape(tag)}$", re.I))
    return path_of(str(link.first.evaluate("a => a.href")))


def archive_path(page: Any, site: LocalSite) -> str:
    goto(page, site, "/")
    link = page.get_by_role("link", name=re.compile(r"archive|all posts|every post", re.I))
    assert link.count(), "the home page has no link to the archive (archive, all posts, every post)"
    return path_of(str(link.first.evaluate("a => a.href")))


def search_page_path(page: Any, site: LocalSite) -> str:
    goto(page, site, "/")
    link = page.get_by_role("link", name=re.compile(r"search", re.I))
    if link.count():
        return path_of(str(link.first.evaluate("a => a.href")))
    form = page.locator("form[role=search], search form, form:has(input[type=search])")
    assert form.count(), "the home page has neither a search link nor a search form"
    return path_of(str(form.first.evaluate("f => f.action")))


def month_paths(page: Any, site: LocalSite, archive: str) -> list[str]:
    """The links from a listing to the pages under it, in the page's order: the archive's
    months, a tag's years."""
    goto(page, site, archive)
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.href)")
    months = [path_of(href) for href in hrefs if same_origin(href, site.site_url)]
    return [path for path in months if path.startswith(archive) and path != archive]
