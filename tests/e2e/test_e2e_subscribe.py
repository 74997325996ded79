"""A reader subscribes in the subscribe box, confirms from the email, gets the next post's
email, and unsubscribes from it: every step in Chromium, every email read from the local SES.

The steps build on each other, so each is a module fixture that records what the reader saw
(the page's text, its accessibility and layout); the tests assert on those records.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pressline_e2e import axe
from pressline_e2e.browser import horizontal_overflow, new_context
from pressline_e2e.mail import SentEmail, emails_to, wait_for_email
from pressline_e2e.stack import LocalSite, pipeline_idle, publish, wait_for

pytestmark = pytest.mark.e2e

MAIL_TIMEOUT = 120.0
CHECK_EMAIL = re.compile(r"check your (inbox|email|mailbox)|we (have )?sent|sent (you )?(an? )?(email|link)", re.I)
CONFIRMED = re.compile(r"(you are|you're|you\u2019re) (now )?subscribed|subscription (is )?confirmed", re.I)
UNSUBSCRIBED = re.compile(r"(you are|you're|you\u2019re|have been) (now )?unsubscribed|unsubscribed", re.I)


@dataclass(frozen=True)
class Seen:
    """One page the reader landed on."""

    url: str
    status: int | None
    text: str
    serious_violations: str
    overflow: dict[int, Any]
    # The page with the button, when the link led to one (checked like the final page).
    before: Seen | None = None


def look(page: Any) -> Seen:
    """Record the page as it is, with its accessibility (light and dark) and its width at 1280
    and 375 px."""
    page.wait_for_load_state("load")
    found = axe.serious(axe.violations(page))
    page.emulate_media(color_scheme="dark")
    found += [{**v, "id": f"{v['id']} (dark)"} for v in axe.serious(axe.violations(page))]
    page.emulate_media(color_scheme="light")
    overflow = {}
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        overflow[width] = horizontal_overflow(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    return Seen(page.url, None, page.locator("body").inner_text(), axe.describe(found), overflow)


def follow(page: Any, url: str, button: re.Pattern[str]) -> Seen:
    """Open a link from an email; if the page asks for a click (a POST, so that link scanners
    change nothing), give it."""
    response = page.goto(url, wait_until="load")
    status = response.status if response is not None else None
    before = None
    action = page.get_by_role("button", name=button)
    if action.count():
        before = look(page)
        with page.expect_navigation(wait_until="load") as navigation:
            page.get_by_role("button", name=button).first.click()
        status = navigation.value.status if navigation.value is not None else status
    seen = look(page)
    return Seen(seen.url, status, seen.text, seen.serious_violations, seen.overflow, before)


@dataclass
class Reader:
    site: LocalSite
    page: Any
    address: str


def subscribe(site: LocalSite, page: Any, address: str) -> Seen:
    page.goto(site.url(site.published[-1].path), wait_until="load")
    form = page.locator("form:has(input[type=email])").first
    form.locator("input[type=email]").fill(address)
    form.get_by_role("button").first.click()
    page.get_by_text(CHECK_EMAIL).first.wait_for(state="visible")
    return look(page)


def confirm(site: LocalSite, page: Any, address: str) -> tuple[SentEmail, Seen]:
    (message,) = wait_for_email(site, address, re.compile(r"confirm", re.I))
    return message, follow(page, message.link(re.compile(r"confirm", re.I)), re.compile(r"confirm", re.I))


@pytest.fixture(scope="module")
def reader(browser: Any, site: LocalSite) -> Any:
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield Reader(site, page, f"reader-{uuid.uuid4().hex[:10]}@example.com")
    context.close()


@pytest.fixture(scope="module")
def subscribed(reader: Reader) -> Seen:
    return subscribe(reader.site, reader.page, reader.address)


@pytest.fixture(scope="module")
def confirmed(reader: Reader, subscribed: Seen) -> tuple[SentEmail, Seen]:
    return confirm(reader.site, reader.page, reader.address)


def new_post(title: str, word: str) -> str:
    date = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    return (
        f"---\ntitle: {title}\ndate: {date}\ntags: [e2e]\n---\n"
        f"A post published by the browser tests. Its marker word is {word}.\n"
    )


@pytest.fixture(scope="module")
def next_post(reader: Reader, confirmed: tuple[SentEmail, Seen]) -> tuple[str, dict[str, Any], list[SentEmail]]:
    marker = uuid.uuid4().hex[:8]
    title = f"Fresh from the press {marker}"
    report = publish(reader.site, f"posts/e2e-{marker}.md", new_post(title, f"marker{marker}"))
    assert report["status"] == "published", f"the new post was not published: {report}"
    return title, report, wait_for_email(reader.site, reader.address, re.compile(re.escape(title)))


@pytest.fixture(scope="module")
def unsubscribed(reader: Reader, next_post: tuple[str, dict[str, Any], list[SentEmail]]) -> Seen:
    message = next_post[2][0]
    return follow(reader.page, message.link(re.compile(r"unsubscribe", re.I)), re.compile(r"unsubscribe", re.I))


def test_subscribe_box_leads_to_the_check_your_email_page(reader: Reader, subscribed: Seen) -> None:
    assert CHECK_EMAIL.search(subscribed.text), subscribed.text


def test_only_a_confirmation_email_is_sent_before_confirming(reader: Reader, subscribed: Seen) -> None:
    message = wait_for_email(reader.site, reader.address, re.compile(r"confirm", re.I))
    assert len(emails_to(reader.site.endpoint, reader.address)) == len(message) == 1


def test_confirmation_link_followed_in_the_browser_confirms(confirmed: tuple[SentEmail, Seen]) -> None:
    _, seen = confirmed
    assert seen.status is not None and seen.status < 400, f"{seen.url}: HTTP {seen.status}"
    assert CONFIRMED.search(seen.text), seen.text


def test_next_post_email_arrives_once_and_links_to_the_post(
    reader: Reader, next_post: tuple[str, dict[str, Any], list[SentEmail]]
) -> None:
    title, report, messages = next_post
    assert len(messages) == 1, f"{len(messages)} emails for one post"
    (message,) = messages
    assert title in message.subject
    # RFC 8058 one-click unsubscribe, beside the visible link.
    assert message.headers.get("List-Unsubscribe", "").startswith("<http"), message.headers
    assert message.headers.get("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click", message.headers
    reader.page.goto(message.link(re.compile(r"read", re.I)), wait_until="load")
    assert reader.page.locator("h1").first.inner_text().strip() == title
    assert reader.page.url.rstrip("/") == report["url"].rstrip("/")


def test_unsubscribe_link_followed_in_the_browser_unsubscribes(reader: Reader, unsubscribed: Seen) -> None:
    assert unsubscribed.status is not None and unsubscribed.status < 400, f"{unsubscribed.url}: {unsubscribed.status}"
    assert UNSUBSCRIBED.search(unsubscribed.text), unsubscribed.text


def test_no_email_after_unsubscribing(browser: Any, reader: Reader, unsubscribed: Seen) -> None:
    """Another confirmed subscriber gets the following post; the reader who left does not."""
    site = reader.site
    context = new_context(browser)
    try:
        page = context.new_page()
        witness = f"witness-{uuid.uuid4().hex[:10]}@example.com"
        subscribe(site, page, witness)
        confirm(site, page, witness)
    finally:
        context.close()
    before = len(emails_to(site.endpoint, reader.address))
    marker = uuid.uuid4().hex[:8]
    title = f"After the reader left {marker}"
    assert publish(site, f"posts/e2e-{marker}.md", new_post(title, f"marker{marker}"))["status"] == "published"
    wait_for_email(site, witness, re.compile(re.escape(title)))
    wait_for(lambda: pipeline_idle(site), MAIL_TIMEOUT, "every queue to drain")
    after = emails_to(site.endpoint, reader.address)
    assert len(after) == before, f"the unsubscribed reader still got: {[m.subject for m in after[before:]]}"


STEPS = {
    "check-your-email": lambda request: request.getfixturevalue("subscribed"),
    "confirm": lambda request: request.getfixturevalue("confirmed")[1].before,
    "confirmed": lambda request: request.getfixturevalue("confirmed")[1],
    "unsubscribe": lambda request: request.getfixturevalue("unsubscribed").before,
    "unsubscribed": lambda request: request.getfixturevalue("unsubscribed"),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_subscription_pages_pass_axe_and_fit_both_widths(request: pytest.FixtureRequest, step: str) -> None:
    seen = STEPS[step](request)
    if seen is None:
        pytest.skip(f"no {step} page: the email's link leads straight to the result")
    assert not seen.serious_violations, f"{seen.url}: axe-core found serious violations:\n{seen.serious_violations}"
    wide = {width: found for width, found in seen.overflow.items() if found}
    assert not wide, f"{seen.url}: horizontal scrolling {wide}"


@pytest.mark.parametrize("which", ["confirmation", "new-post"])
def test_emails_read_well_in_a_browser_at_both_widths(request: pytest.FixtureRequest, browser: Any, which: str) -> None:
    """The HTML part as a webmail would show it: no serious axe violation, no sideways scrolling."""
    message = (
        request.getfixturevalue("confirmed")[0]
        if which == "confirmation"
        else request.getfixturevalue("next_post")[2][0]
    )
    assert message.html, f"the {which} email has no HTML part"
    assert message.text, f"the {which} email has no plain-text part"
    context = new_context(browser)
    try:
        page = context.new_page()
        page.set_content(message.html, wait_until="load")
        seen = look(page)
    finally:
        context.close()
    assert not seen.serious_violations, f"{which} email: axe-core found serious violations:\n{seen.serious_violations}"
    wide = {width: found for width, found in seen.overflow.items() if found}
    assert not wide, f"{which} email: horizontal scrolling {wide}"
