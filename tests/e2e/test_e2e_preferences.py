"""A reader changes what they get from the link in a post's email, in Chromium with JavaScript
turned off: tags first (the next post without them sends nothing, the next with them arrives),
then a daily digest (the next post sends no email of its own). Each page is also checked for
accessibility and width with JavaScript on (opening it changes nothing)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pressline_e2e.browser import new_context
from pressline_e2e.mail import SentEmail, emails_to, wait_for_email
from pressline_e2e.stack import LocalSite, pipeline_idle, publish, wait_for
from test_e2e_subscribe import Seen, look

pytestmark = pytest.mark.e2e

MANAGE = re.compile(r"manage your subscription", re.I)
SAVED = re.compile(r"saved", re.I)


@dataclass
class Reader:
    site: LocalSite
    page: Any  # JavaScript off
    checker: Any  # JavaScript on: axe and layout
    address: str
    marker: str


def post(title: str, tag: str) -> str:
    date = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    return f"---\ntitle: {title}\ndate: {date}\ntags: [{tag}]\n---\nA post for the preferences tests.\n"


def published(reader: Reader, name: str, tag: str) -> str:
    title = f"{name} {reader.marker}"
    report = publish(reader.site, f"posts/prefs-{name.lower()}-{reader.marker}.md", post(title, tag))
    assert report["status"] == "published", report
    return title


def settle(site: LocalSite) -> None:
    """Wait until every stage is idle twice in a row (Deliver has had its chance)."""
    wait_for(lambda: pipeline_idle(site) or None, 120, "the pipeline to go idle")
    time.sleep(1.0)
    wait_for(lambda: pipeline_idle(site) or None, 120, "the pipeline to go idle")


def emails_about(reader: Reader, title: str) -> list[SentEmail]:
    return [m for m in emails_to(reader.site.endpoint, reader.address) if title in m.subject]


def save(reader: Reader, email: SentEmail, frequency: re.Pattern[str], tags: set[str]) -> tuple[Seen, Seen]:
    """Follow the email's manage link, tick exactly ``tags`` and the ``frequency``, save; the
    page as opened (checked with JavaScript on) and the answer."""
    url = email.link(MANAGE)
    reader.checker.goto(url, wait_until="load")
    opened = look(reader.checker)
    page = reader.page
    page.goto(url, wait_until="load")
    for box in page.locator("input[type=checkbox][name=tags]").all():
        box.set_checked(box.get_attribute("value") in tags)
    page.get_by_label(frequency).check()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=re.compile("save", re.I)).click()
    answer = page.locator("body").inner_text()
    return opened, Seen(page.url, None, answer, "", {})


@pytest.fixture(scope="module")
def reader(browser: Any, site: LocalSite) -> Any:
    plain, checked = new_context(browser, javascript=False), new_context(browser)
    page, checker = plain.new_page(), checked.new_page()
    page.set_default_timeout(30_000)
    checker.set_default_timeout(30_000)
    marker = uuid.uuid4().hex[:8]
    yield Reader(site, page, checker, f"prefs-{marker}@example.com", marker)
    plain.close()
    checked.close()


@pytest.fixture(scope="module")
def first_email(reader: Reader) -> SentEmail:
    """Subscribed to everything (the box, the confirmation link, without JavaScript), and the
    first post's email."""
    page = reader.page
    page.goto(reader.site.url(reader.site.published[-1].path), wait_until="load")
    form = page.locator("form:has(input[type=email])").first
    form.locator("input[type=email]").fill(reader.address)
    with page.expect_navigation(wait_until="load"):
        form.get_by_role("button").first.click()
    (confirmation,) = wait_for_email(reader.site, reader.address, re.compile(r"confirm", re.I))
    page.goto(confirmation.link(re.compile(r"confirm", re.I)), wait_until="load")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=re.compile(r"confirm", re.I)).click()
    assert page.get_by_role("link", name=re.compile(r"choose your tags", re.I)).count() == 1
    title = published(reader, "First", f"prefs{reader.marker}")
    (email,) = wait_for_email(reader.site, reader.address, re.compile(re.escape(title)))
    return email


@pytest.fixture(scope="module")
def tags_changed(reader: Reader, first_email: SentEmail) -> tuple[Seen, Seen, str, str]:
    opened, answer = save(reader, first_email, re.compile(r"each new post", re.I), {f"prefs{reader.marker}"})
    other = published(reader, "Elsewhere", f"other{reader.marker}")
    wanted = published(reader, "Wanted", f"prefs{reader.marker}")
    wait_for_email(reader.site, reader.address, re.compile(re.escape(wanted)))
    settle(reader.site)
    return opened, answer, other, wanted


@pytest.fixture(scope="module")
def digest_chosen(reader: Reader, tags_changed: tuple[Seen, Seen, str, str]) -> tuple[Seen, str]:
    (email,) = emails_about(reader, tags_changed[3])
    _, answer = save(reader, email, re.compile(r"daily digest", re.I), {f"prefs{reader.marker}"})
    later = published(reader, "Later", f"prefs{reader.marker}")
    settle(reader.site)
    return answer, later


def test_the_preferences_page_opens_from_the_email_and_passes_the_checks(
    tags_changed: tuple[Seen, Seen, str, str],
) -> None:
    opened = tags_changed[0]
    assert re.search(r"how often", opened.text, re.I) and re.search(r"which posts", opened.text, re.I)
    assert not opened.serious_violations, opened.serious_violations
    assert not opened.overflow[375] and not opened.overflow[1280], opened.overflow


def test_after_choosing_a_tag_only_posts_with_it_arrive(
    reader: Reader, tags_changed: tuple[Seen, Seen, str, str]
) -> None:
    _, answer, other, wanted = tags_changed
    assert SAVED.search(answer.text), answer.text
    assert emails_about(reader, other) == []
    assert len(emails_about(reader, wanted)) == 1


def test_after_choosing_a_daily_digest_a_new_post_sends_no_email_of_its_own(
    reader: Reader, digest_chosen: tuple[Seen, str]
) -> None:
    answer, later = digest_chosen
    assert SAVED.search(answer.text) and re.search(r"daily digest", answer.text, re.I), answer.text
    assert emails_about(reader, later) == []
