"""Digests on the local stack (``pressline local`` in a subprocess), with its subscriber clock
moved as a test moves it (``--clock-file``, pressline.local.clock): a subscriber who chose the
daily digest on the preferences page (linked from the confirmation page) gets one digest with
both posts published before the digest hour, and nothing more the next day; an instant
subscriber gets each post alone and no digest.

Its own stack: moving the clock of the module-wide one would move every other test's tokens
and leases too.
"""

from __future__ import annotations

import html
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from test_subscriber_e2e import (
    _emails_to,
    _Forms,
    _post_emails,
    _publish,
    _request,
    _subscribe_and_confirm,
    _text,
    _wait_for,
)

from pressline.local.clock import move_clock
from pressline.local.harness import RunningLocalStack, start_local_stack

pytestmark = pytest.mark.slow

# The digest hour is two hours ahead (UTC, the default SiteTimezone): the stack's first runs
# find only earlier periods due, and the test moves the clock past the next one itself.
DIGEST_HOUR = (datetime.now(UTC).hour + 2) % 24
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("digest-clock") / "clock"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, clock_file: Path) -> Iterator[RunningLocalStack]:
    options = ("--no-examples", "--retry-after", "1", "--schedule-every", "1", "--clock-file", str(clock_file))
    parameters = ("--parameter-overrides", f"DigestHour={DIGEST_HOUR}")
    with start_local_stack(tmp_path_factory.mktemp("digest-stack"), *options, *parameters) as running:
        yield running


def next_cutoff(now: datetime) -> datetime:
    cutoff = now.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return cutoff if cutoff > now else cutoff + timedelta(days=1)


def subscribe_daily(stack: RunningLocalStack, address: str) -> None:
    """Subscribe, confirm, and choose the daily digest on the preferences page the confirmation
    page links to, as a reader does (forms posted as a browser without JavaScript posts them)."""
    body = urllib.parse.urlencode({"email": address}).encode()
    status, _ = _request(f"{stack.api_url}/subscriptions", body, FORM)
    assert status == 202
    [confirmation] = _wait_for(stack, f"the confirmation to {address}", lambda: _emails_to(stack, address))
    link = re.search(r"\S+/subscriptions/confirm\?token=\S+", _text(confirmation))
    assert link
    status, page = _request(link.group(0))
    forms = _Forms()
    forms.feed(page)
    [form] = [form for form in forms.forms if form["method"].lower() == "post"]
    status, page = _request(form["action"], urllib.parse.urlencode(form["fields"]).encode(), FORM)
    assert status == 200 and "You are subscribed" in page
    found = re.search(r'href="([^"]*/subscriptions/preferences\?token=[^"]+)"', page)
    assert found, "the confirmation page links to the preferences page"
    status, page = _request(html.unescape(found.group(1)))
    assert status == 200
    forms = _Forms()
    forms.feed(page)
    [preferences] = [form for form in forms.forms if "preferences" in form["action"]]
    fields = {"form": preferences["fields"]["form"], "frequency": "daily"}
    status, page = _request(html.unescape(preferences["action"]), urllib.parse.urlencode(fields).encode(), FORM)
    assert status == 200, page


def digests(stack: RunningLocalStack, address: str) -> list[EmailMessage]:
    return [message for message in _emails_to(stack, address) if "digest)" in str(message["Subject"])]


def period_done(stack: RunningLocalStack, period: str) -> bool:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.outputs["LedgerTableName"], Key={"id": {"S": f"fanout#digest#{period}"}})
        .get("Item")
    )
    return bool(item and item.get("done", {}).get("BOOL"))


def test_a_daily_digest_arrives_once_with_the_posts_before_its_hour(stack: RunningLocalStack, clock_file: Path) -> None:
    run = uuid.uuid4().hex[:8]
    daily, instant = f"daily-{run}@example.org", f"instant-{run}@example.org"
    subscribe_daily(stack, daily)
    _subscribe_and_confirm(stack, instant, [])

    first, second = f"First post {run}", f"Second post {run}"
    _publish(stack, f"digest-first-{run}", first, ["news"], "The first post.")
    _wait_for(stack, "the first post's email", lambda: len(_post_emails(stack, instant)) == 1)
    _publish(stack, f"digest-second-{run}", second, ["news"], "The second post.")
    _wait_for(stack, "the second post's email", lambda: len(_post_emails(stack, instant)) == 2)
    assert digests(stack, daily) == [] and _post_emails(stack, daily) == []

    cutoff = next_cutoff(datetime.now(UTC))
    move_clock(clock_file, cutoff + timedelta(minutes=1), datetime.now(UTC))
    [digest] = _wait_for(stack, "the daily digest", lambda: digests(stack, daily), timeout=90)
    assert digest["Subject"].endswith(": 2 new posts (daily digest)")
    text = _text(digest)
    assert first in text and second in text and text.index(first) < text.index(second)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # A post after that digest's hour: the next day's digest holds it, and only it.
    third = f"Third post {run}"
    _publish(stack, f"digest-third-{run}", third, ["news"], "The third post.")
    _wait_for(stack, "the third post's email", lambda: len(_post_emails(stack, instant)) == 3)
    move_clock(clock_file, cutoff + timedelta(days=1, minutes=1), datetime.now(UTC))

    def both() -> list[EmailMessage] | None:
        found = digests(stack, daily)
        return found if len(found) == 2 else None

    [_, next_digest] = _wait_for(stack, "the next daily digest", both, timeout=90)
    assert next_digest["Subject"].endswith(": 1 new post (daily digest)")
    text = _text(next_digest)
    assert third in text and first not in text and second not in text

    # Another day: the period runs, with nothing new for anyone.
    move_clock(clock_file, cutoff + timedelta(days=2, minutes=1), datetime.now(UTC))
    day_after = (cutoff + timedelta(days=2)).date().isoformat()
    _wait_for(stack, "the day after's digest run", lambda: period_done(stack, f"daily#{day_after}"), timeout=90)
    time.sleep(3)  # its batches, if any, would be delivered within this
    assert len(digests(stack, daily)) == 2
    assert [str(message["Subject"]) for message in _post_emails(stack, instant)] == [first, second, third]
    assert digests(stack, instant) == []
