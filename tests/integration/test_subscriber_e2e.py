"""End to end on the local stack (``pressline local`` in a subprocess: moto server, the
runner polling every queue, the HTTP API and the site), as a subscriber lives it:

subscribe -> confirm (GET shows a button, POST confirms) -> a new post -> one email ->
an edit of that post -> no email -> RFC 8058 one-click unsubscribe -> the next post -> no email.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest

from pressline.local.harness import RunningLocalStack

pytestmark = pytest.mark.slow


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=data, method="POST" if data is not None else "GET", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def _emails_to(stack: RunningLocalStack, address: str) -> list[EmailMessage]:
    messages = []
    for sent in stack.sent_emails():
        if sent["raw"] and address in sent["destinations"]:
            messages.append(message_from_string(sent["raw"], policy=policy.default))
    return messages  # type: ignore[return-value]


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "every email has a plain-text part"
    return str(part.get_content())


def _wait_for(stack: RunningLocalStack, what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n--- local stack log (tail) ---\n{stack.log()[-5000:]}")
        time.sleep(0.25)
    return result


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "method": values.get("method", "get"), "fields": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")


def _subscribe_and_confirm(stack: RunningLocalStack, address: str, tags: list[str]) -> None:
    body = urllib.parse.urlencode([("email", address), *(("tags", tag) for tag in tags)]).encode()
    status, page = _request(
        f"{stack.api_url}/subscriptions", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 202 and "Check your inbox" in page
    [confirmation] = _wait_for(stack, f"the confirmation to {address}", lambda: _emails_to(stack, address))
    link = re.search(r"\S+/subscriptions/confirm\?token=\S+", _text(confirmation))
    assert link
    # A link scanner's GET confirms nothing: it gets a page with a button.
    status, page = _request(link.group(0))
    assert status == 200
    forms = _Forms()
    forms.feed(page)
    [form] = [form for form in forms.forms if form["method"].lower() == "post"]
    status, page = _request(
        form["action"],
        urllib.parse.urlencode(form["fields"]).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and "You are subscribed" in page


def _publish(
    stack: RunningLocalStack, slug: str, title: str, tags: list[str], body: str = "Hello.", more: str = ""
) -> None:
    # Dated a minute ago: a new post (an older one than the announce window would email no one).
    date = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="minutes")
    text = f"---\ntitle: {title}\ndate: {date}\ntags: [{', '.join(tags)}]\n{more}---\n\n{body}\n"
    stack.client("s3").put_object(
        Bucket=stack.outputs["SourceBucketName"], Key=f"posts/{slug}.md", Body=text.encode("utf-8")
    )


def _post_emails(stack: RunningLocalStack, address: str) -> list[EmailMessage]:
    return [message for message in _emails_to(stack, address) if message["List-Unsubscribe"]]


def test_subscribe_confirm_post_email_unsubscribe_next_post_no_email(local_stack: RunningLocalStack) -> None:
    run = uuid.uuid4().hex[:8]
    reader = f"reader-{run}@example.org"  # every post
    canary = f"canary-{run}@example.org"  # every post: shows when a post's emails have gone out
    rustacean = f"rust-{run}@example.org"  # only posts tagged rust
    _subscribe_and_confirm(local_stack, reader, [])
    _subscribe_and_confirm(local_stack, canary, [])
    _subscribe_and_confirm(local_stack, rustacean, ["rust"])

    # A new post: one email each to the matching subscribers, with one-click unsubscribe.
    first, first_title = f"e2e-first-{run}", f"First post {run}"
    _publish(local_stack, first, first_title, ["testing"], "The first post of the end-to-end test.")
    [email] = _wait_for(local_stack, "the first post's email", lambda: _post_emails(local_stack, reader))
    assert email["Subject"] == first_title
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(email["List-Id"]).endswith(f"<posts.{urllib.parse.urlsplit(local_stack.site_url).hostname}>")
    html = email.get_body(preferencelist=("html",))
    assert html is not None
    assert f"/posts/{first}/" in _text(email) and "Unsubscribe:" in _text(email)
    # The whole post (EmailContent's default, full), read by Deliver from its rendering on the stack.
    assert "The first post of the end-to-end test." in _text(email)
    assert "<p>The first post of the end-to-end test.</p>" in str(html.get_content())
    _wait_for(local_stack, "the canary's email", lambda: _post_emails(local_stack, canary))

    # An edit of a published post sends nothing.
    _publish(local_stack, first, first_title, ["testing"], "The first post, edited.")

    # RFC 8058 one-click: a POST to the List-Unsubscribe URL, no cookie, no login.
    unsubscribe_url = str(email["List-Unsubscribe"]).strip("<> ")
    status, page = _request(
        unsubscribe_url, b"List-Unsubscribe=One-Click", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and "You are unsubscribed" in page

    # The next post reaches the canary and nobody who left.
    # A post that asks for a summary email gets one, whatever the site's setting.
    second, second_title = f"e2e-second-{run}", f"Second post {run}"
    _publish(local_stack, second, second_title, ["testing"], "Only the summary goes out.", "email: summary\n")
    _wait_for(local_stack, "the second post's email", lambda: len(_post_emails(local_stack, canary)) == 2)
    summary_email = _text(_post_emails(local_stack, canary)[1])
    assert f"Read the post: {local_stack.site_url}" in summary_email and "Read on " not in summary_email
    time.sleep(2)  # anything else would have arrived within the pipeline's latency
    assert [str(m["Subject"]) for m in _post_emails(local_stack, reader)] == [first_title]
    assert [str(m["Subject"]) for m in _post_emails(local_stack, canary)] == [first_title, second_title]
    assert _post_emails(local_stack, rustacean) == []
    # And the reader is gone from the table (deleted, not flagged): a new confirmation is needed.
    table = local_stack.client("dynamodb").scan(TableName=local_stack.outputs["SubscribersTableName"])["Items"]
    assert all(item.get("address", {}).get("S") != reader for item in table)


def test_the_local_api_refuses_a_cross_origin_form_post_and_takes_the_sites_own(local_stack: RunningLocalStack) -> None:
    """Through the local web server, as a browser sends them: Origin reaches the function."""
    run = uuid.uuid4().hex[:8]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    evil = f"evil-{run}@example.org"
    status, page = _request(
        f"{local_stack.api_url}/subscriptions",
        urllib.parse.urlencode({"email": evil}).encode(),
        {**form, "Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert status == 403 and "another site" in page
    site_origin = "/".join(local_stack.api_url.split("/")[:3])  # the site and the API share a host locally
    own = f"own-{run}@example.org"
    status, page = _request(
        f"{local_stack.api_url}/subscriptions",
        urllib.parse.urlencode({"email": own}).encode(),
        {**form, "Origin": site_origin, "Sec-Fetch-Site": "same-origin"},
    )
    assert status == 202 and "Check your inbox" in page
    _wait_for(local_stack, f"the confirmation to {own}", lambda: _emails_to(local_stack, own))
    assert _emails_to(local_stack, evil) == []
