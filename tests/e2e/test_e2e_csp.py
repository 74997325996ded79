"""Every kind of page the site serves works under its Content-Security-Policy, in light and dark
mode: the browser reports no violation, and the page really came with the policy
(``pressline.site.headers``, the one definition CloudFront's policy is compared with).

What counts as a violation: a ``securitypolicyviolation`` event on the page's document (listened
for from before the page's first script) or a console message about the Content Security Policy.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from pressline_e2e.browser import new_context
from pressline_e2e.mail import wait_for_email
from pressline_e2e.pages import archive_path, month_paths, tag_page_path
from pressline_e2e.site_map import NOT_FOUND_PATH, path_of
from pressline_e2e.stack import (
    EXAMPLE_PAGES,
    PUBLISH_TIMEOUT,
    LocalSite,
    http_status,
    pipeline_idle,
    publish,
    wait_for,
)

from pressline.site import headers

pytestmark = pytest.mark.e2e

SCHEMES = ("light", "dark")
CHECK_EMAIL = re.compile(r"check your (inbox|email|mailbox)", re.I)
CONFIRMED = re.compile(r"subscribed|confirmed|thank you", re.I)
UNSUBSCRIBED = re.compile(r"unsubscribed", re.I)

# Reports each violation to the test as it happens (an exposed function outlives navigations,
# so a form's answer page is watched from its first byte like any other).
LISTEN_JS = """
document.addEventListener('securitypolicyviolation', (event) => {
  const report = {directive: event.effectiveDirective || event.violatedDirective, blocked: event.blockedURI,
                  source: event.sourceFile, line: event.lineNumber, sample: event.sample,
                  page: document.location.href};
  if (typeof window.presslineCspViolation === 'function') window.presslineCspViolation(report);
});
"""

KINDS = (
    "home",
    "post",
    "tag",
    "tag year",
    "tags",
    "archive",
    "month",
    "search results",
    "not found",
    "static page",
    "check your inbox",
    "confirm",
    "confirmed",
    "unsubscribe",
    "unsubscribed",
    "bad link",
)

STATUS = {"check your inbox": 202, "not found": 404, "bad link": 400}  # every other page answers 200


@dataclass
class Visit:
    kind: str
    scheme: str
    url: str  # the document's URL as the server answered it
    status: int
    csp: str | None  # the Content-Security-Policy header it came with
    violations: list[Any]
    console: list[str]


@dataclass
class Watcher:
    """One page, watched: CSP violations and messages as they come, and the last document answer."""

    page: Any
    scheme: str
    violations: list[Any] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    document: tuple[str, int, str | None] | None = None
    visits: list[Visit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.expose_function("presslineCspViolation", self._violation)
        self.page.add_init_script(LISTEN_JS)
        self.page.on("console", self._console)
        self.page.on("response", self._response)
        self.page.emulate_media(color_scheme=self.scheme)

    def _violation(self, report: Any) -> None:
        self.violations.append(report)

    def _console(self, message: Any) -> None:
        if "content security policy" in message.text.lower():
            self.console.append(message.text)

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document" and response.frame == self.page.main_frame:
            self.document = (response.url, response.status, response.headers.get("content-security-policy"))

    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="load")

    def record(self, kind: str) -> Visit:
        """The page as it is once it has settled: every load done (so every report is in)."""
        self.page.wait_for_load_state("networkidle")
        self.page.evaluate("() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))")
        assert self.document is not None, f"{kind}: no document response seen"
        url, status, csp = self.document
        visit = Visit(kind, self.scheme, url, status, csp, list(self.violations), list(self.console))
        self.violations.clear()
        self.console.clear()
        self.visits.append(visit)
        return visit


def expected_policy(site: LocalSite, url: str) -> str:
    """The site's pages have the site's policy; the subscriptions API's pages (under /api on the
    local stack) have theirs, which names the site as their base."""
    if urlsplit(url).path.startswith(urlsplit(site.api_url).path + "/"):
        return headers.api_content_security_policy(site.site_url)
    return headers.site_headers()["Content-Security-Policy"]


def site_pages(watcher: Watcher, site: LocalSite) -> None:
    page = watcher.page
    tagged = next(post for post in site.published if post.tags)
    tag = tag_page_path(page, site, tagged, tagged.tags[0])
    archive = archive_path(page, site)
    visits = {
        "home": ["/"],
        "post": [post.path for post in site.published],
        "tag": [tag],
        "tag year": month_paths(page, site, tag)[:1],
        "tags": ["/tags/"],
        "archive": [archive],
        "month": month_paths(page, site, archive)[:1],
        "not found": [NOT_FOUND_PATH],
        "static page": list(EXAMPLE_PAGES),
    }
    for kind, paths in visits.items():
        assert paths, f"no {kind} page to visit"
        for path in paths:
            watcher.goto(site.url(path))
            watcher.record(kind)
    # Search: typed into the box, the results shown by the script.
    watcher.goto(site.url("/search/"))
    box = page.get_by_role("searchbox").first
    box.fill(tagged.title.split()[-1])
    box.press("Enter")
    page.locator("#search-results a[href*='/posts/']").first.wait_for()
    watcher.record("search results")


def subscribe(watcher: Watcher, site: LocalSite, address: str) -> None:
    page = watcher.page
    watcher.goto(site.url(site.published[-1].path))
    form = page.locator("form:has(input[type=email])").first
    form.locator("input[type=email]").fill(address)
    form.get_by_role("button").first.click()
    page.get_by_text(CHECK_EMAIL).first.wait_for(state="visible")
    watcher.record("check your inbox")
    (message,) = wait_for_email(site, address, re.compile(r"confirm", re.I))
    follow(watcher, message.link(re.compile(r"confirm", re.I)), "confirm", "confirmed", CONFIRMED)


def follow(watcher: Watcher, url: str, kind: str, done: str, result: re.Pattern[str]) -> None:
    """An email's link: a page with one button (a POST, so that link scanners change nothing), then its answer."""
    page = watcher.page
    watcher.goto(url)
    watcher.record(kind)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button").first.click()
    page.get_by_text(result).first.wait_for(state="visible")
    watcher.record(done)


def unpublish(site: LocalSite, key: str, url: str | None) -> None:
    """Delete the post as its author would, and wait until it is gone: the tests after this one
    see the example site (its months, its newest post) as the stack started it."""
    site.s3().delete_object(Bucket=site.source_bucket, Key=key)
    if url:
        wait_for(lambda: http_status(url) == 404, PUBLISH_TIMEOUT, f"{url} to be taken down")
    wait_for(lambda: pipeline_idle(site), PUBLISH_TIMEOUT, "every queue to drain")


@pytest.fixture(scope="module")
def visits(browser: Any, site: LocalSite) -> dict[str, list[Visit]]:
    contexts = [new_context(browser) for _ in SCHEMES]
    try:
        watchers = [Watcher(context.new_page(), scheme) for context, scheme in zip(contexts, SCHEMES, strict=True)]
        readers = {}
        for watcher in watchers:
            watcher.page.set_default_timeout(30_000)
            site_pages(watcher, site)
            readers[watcher.scheme] = f"csp-{watcher.scheme}-{uuid.uuid4().hex[:8]}@example.com"
            subscribe(watcher, site, readers[watcher.scheme])
        # The unsubscribe link comes with a post's email: publish one that both readers get.
        marker = uuid.uuid4().hex[:8]
        title = f"Under the policy {marker}"
        date = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
        text = f"---\ntitle: {title}\ndate: {date}\ntags: [e2e]\n---\nA post for the CSP test, marker{marker}.\n"
        key = f"posts/e2e-csp-{marker}.md"
        report = publish(site, key, text)
        try:
            assert report["status"] == "published", report
            for watcher in watchers:
                (message,) = wait_for_email(site, readers[watcher.scheme], re.compile(re.escape(title)))
                unsubscribe = message.link(re.compile(r"unsubscribe", re.I))
                follow(watcher, unsubscribe, "unsubscribe", "unsubscribed", UNSUBSCRIBED)
                # A link whose token is not one: the API's error page.
                parts = urlsplit(unsubscribe)
                watcher.goto(f"{parts.scheme}://{parts.netloc}{parts.path}?token=not-a-token")
                watcher.record("bad link")
        finally:
            unpublish(site, key, report.get("url"))
        found: dict[str, list[Visit]] = {}
        for watcher in watchers:
            for visit in watcher.visits:
                found.setdefault(visit.kind, []).append(visit)
        return found
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize("kind", KINDS)
def test_every_page_comes_with_its_policy(site: LocalSite, visits: dict[str, list[Visit]], kind: str) -> None:
    seen = visits.get(kind, [])
    assert {visit.scheme for visit in seen} == set(SCHEMES), f"{kind}: not visited in both schemes"
    for visit in seen:
        assert visit.status == STATUS.get(kind, 200), f"{visit.url} ({visit.scheme}): HTTP {visit.status}"
        assert visit.csp == expected_policy(site, visit.url), f"{visit.url} ({visit.scheme}): CSP {visit.csp!r}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_page_breaks_its_policy_in_light_or_dark_mode(visits: dict[str, list[Visit]], kind: str) -> None:
    broken = [
        f"{path_of(visit.url)} ({visit.scheme}): {visit.violations} {visit.console}"
        for visit in visits.get(kind, [])
        if visit.violations or visit.console
    ]
    assert visits.get(kind) and not broken, f"{kind}: Content-Security-Policy violations:\n" + "\n".join(broken)


def test_a_violation_would_be_seen(browser: Any, site: LocalSite) -> None:
    """The watcher is not blind: an inline script added to a page is refused by ``script-src
    'self'``, and both the event and the console message reach the test."""
    context = new_context(browser)
    try:
        watcher = Watcher(context.new_page(), "light")
        watcher.goto(site.url("/"))
        watcher.page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.ran = true';"
            " document.body.appendChild(s); }"
        )
        visit = watcher.record("home")
        assert not watcher.page.evaluate("() => window.ran === true"), "an inline script ran under the policy"
    finally:
        context.close()
    assert [v["directive"] for v in visit.violations] == ["script-src-elem"], visit.violations
    assert visit.console, "Chromium's console message about the refused script was not seen"
