"""The preferences page on moto, driven by the API Gateway events in events/: reached from the
confirmation page and every post email, it changes tags and frequency from the next email, and
refuses tampered, expired, replayed, wrong-purpose and cross-origin requests with a 4xx that
changes nothing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import pytest
from test_notify import load, post_emails
from test_subscriptions import READER, call, emails, event, keys, link_token, profile

from pressline.indexing.catalog import Summary, TagSummary
from pressline.local.harness import StackHandle
from pressline.models import PostPublished
from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.tokens import Purpose, issue


def seed_tags(stack: StackHandle, *names: str) -> None:
    """The catalog's summary as Index leaves it once posts with these tags are published."""
    from pressline.indexing.dynamo import summary_key

    summary = Summary(
        months={"2026-12": 1}, tags={name.lower(): TagSummary(name=name, years={"2026": 1}) for name in names}
    )
    stack.dynamodb.put_item(
        TableName=stack.outputs["PostsTableName"], Item={**summary_key(), "data": {"S": summary.model_dump_json()}}
    )


def subscribe(stack: StackHandle) -> str:
    """Sign READER up (tags aws, python, as the event file says), confirm; the confirmed page."""
    assert call(stack, "subscriptions-subscribe-json")["statusCode"] == 202
    confirmed = call(stack, "subscriptions-confirm-post", link_token(emails(stack)[-1], "confirm"))
    assert confirmed["statusCode"] == 200
    return str(confirmed["body"])


def preferences_token(page: str) -> str:
    found = re.search(r'href="[^"]*/subscriptions/preferences\?token=([^"]+)"', page)
    assert found, "no preferences link"
    return unquote(html.unescape(found.group(1)))


def form_token(page: str) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page)
    assert found, "no form"
    return html.unescape(found.group(1))


def save(stack: StackHandle, form: str, frequency: str, *tags: str, **headers: str) -> dict[str, Any]:
    request = event("subscriptions-preferences-post")
    fields = [("form", form), ("frequency", frequency), *(("tags", tag) for tag in tags)]
    request["body"] = "&".join(f"{name}={quote(value, safe='')}" for name, value in fields)
    request["headers"].update(headers)
    response: dict[str, Any] = stack.invoke("Subscriptions", request)
    return response


def open_page(stack: StackHandle, token: str) -> dict[str, Any]:
    return call(stack, "subscriptions-preferences-get", token)


def test_the_confirmation_page_and_every_post_email_lead_to_the_preferences_page(aws_stack: StackHandle) -> None:
    seed_tags(aws_stack, "AWS", "Python", "Rust")
    confirmed = subscribe(aws_stack)
    page = open_page(aws_stack, preferences_token(confirmed))
    assert page["statusCode"] == 200 and page["headers"]["Cache-Control"] == "no-store"
    body = page["body"]
    assert re.search(r'value="instant" checked', body) and not re.search(r'value="daily" checked', body)
    assert re.search(r'value="aws" checked', body) and re.search(r'value="python" checked', body)
    assert re.search(r'value="rust">', body)  # known, not chosen
    assert "at 07:00 (UTC)" in body and "on Mondays at 07:00" in body
    assert "Unsubscribe from everything" in body
    # Opening the page (a link scanner, twice) changes nothing.
    before = profile(aws_stack, READER)
    open_page(aws_stack, preferences_token(confirmed))
    assert profile(aws_stack, READER) == before

    aws_stack.invoke("Notify", load("notify-post-published"))
    aws_stack.drain()
    [email] = [message for message in emails(aws_stack) if message["List-Id"]]
    assert open_page(aws_stack, link_token(email, "preferences"))["statusCode"] == 200


def test_changing_tags_and_frequency_applies_from_the_next_post(aws_stack: StackHandle) -> None:
    seed_tags(aws_stack, "AWS", "Python", "Rust")
    page = open_page(aws_stack, preferences_token(subscribe(aws_stack)))["body"]
    saved = save(aws_stack, form_token(page), "instant", "rust")
    assert saved["statusCode"] == 200, saved["body"]
    assert "Saved. The change applies from the next email." in saved["body"]
    assert re.search(r'value="rust" checked', saved["body"]) and not re.search(r'value="aws" checked', saved["body"])
    items = profile(aws_stack, READER) or {}
    assert sorted(sk for sk in items if sk.startswith("AUD#")) == ["AUD#TAG#rust"]

    def publish(slug: str, tags: tuple[str, ...]) -> None:
        post = PostPublished.model_validate_json(load("notify-post-published")["Records"][0]["body"])
        record = load("notify-post-published")
        record["Records"][0]["body"] = post.model_copy(
            update={"slug": slug, "url": f"https://blog.example/{slug}/", "tags": tags}
        ).model_dump_json()
        record["Records"][0]["messageId"] = f"m-{slug}"
        aws_stack.invoke("Notify", record)
        aws_stack.drain()

    publish("about-aws", ("aws",))
    assert post_emails(aws_stack)[READER] == 0  # no longer chosen
    publish("about-rust", ("rust",))
    assert post_emails(aws_stack)[READER] == 1

    # To a daily digest: no more instant emails; the digest row holds the window.
    # The saved page carries a fresh form: change again from it.
    assert save(aws_stack, form_token(saved["body"]), "daily", "rust")["statusCode"] == 200
    items = profile(aws_stack, READER) or {}
    assert sorted(sk for sk in items if sk.startswith("AUD#")) == ["AUD#DIGEST#daily"]
    assert items["PROFILE"]["frequency"]["S"] == "daily" and "digest_from" in items["AUD#DIGEST#daily"]
    publish("more-rust", ("rust",))
    assert post_emails(aws_stack)[READER] == 1


def test_a_saved_form_sent_again_changes_nothing_and_shows_the_preferences_as_they_are(
    aws_stack: StackHandle,
) -> None:
    seed_tags(aws_stack, "AWS", "Python")
    page = open_page(aws_stack, preferences_token(subscribe(aws_stack)))["body"]
    form = form_token(page)
    assert save(aws_stack, form, "weekly")["statusCode"] == 200
    after = profile(aws_stack, READER)
    replayed = save(aws_stack, form, "instant", "aws")
    assert replayed["statusCode"] == 409
    assert "Nothing was changed" in replayed["body"] and re.search(r'value="weekly" checked', replayed["body"])
    assert profile(aws_stack, READER) == after
    # The page it answers with carries a fresh form, which works.
    assert save(aws_stack, form_token(replayed["body"]), "daily")["statusCode"] == 200


@pytest.mark.parametrize("kind", ["tampered", "expired", "wrong-purpose", "link-token", "missing", "garbage"])
def test_bad_form_tokens_get_4xx_and_change_nothing(aws_stack: StackHandle, kind: str) -> None:
    seed_tags(aws_stack, "AWS", "Python")
    confirmed = subscribe(aws_stack)
    good = form_token(open_page(aws_stack, preferences_token(confirmed))["body"])
    sid = subscriber_id(keys(aws_stack).id_key, READER)
    token = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "expired": issue(
            keys(aws_stack),
            Purpose.PREFERENCES_SAVE,
            sid,
            now=datetime.now(UTC) - timedelta(hours=2),
            ttl=timedelta(hours=1),
            request="1",
        ),
        "wrong-purpose": issue(keys(aws_stack), Purpose.UNSUBSCRIBE, sid),
        "link-token": preferences_token(confirmed),  # the email's link is not a form
        "missing": "",
        "garbage": "<script>alert(1)</script>",
    }[kind]
    before = profile(aws_stack, READER)
    response = save(aws_stack, token, "daily")
    assert response["statusCode"] == (410 if kind == "expired" else 400)
    assert "<script>alert" not in response["body"]
    assert profile(aws_stack, READER) == before


@pytest.mark.parametrize("kind", ["tampered", "wrong-purpose", "missing"])
def test_bad_preferences_links_get_4xx(aws_stack: StackHandle, kind: str) -> None:
    confirmed = subscribe(aws_stack)
    good = preferences_token(confirmed)
    sid = subscriber_id(keys(aws_stack).id_key, READER)
    token = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "wrong-purpose": issue(keys(aws_stack), Purpose.UNSUBSCRIBE, sid),
        "missing": "",
    }[kind]
    assert open_page(aws_stack, token)["statusCode"] == 400


def test_unknown_tags_and_frequencies_are_refused_naming_the_field_and_the_known_tags(aws_stack: StackHandle) -> None:
    seed_tags(aws_stack, "AWS", "Python", "Machine Learning")
    form = form_token(open_page(aws_stack, preferences_token(subscribe(aws_stack)))["body"])
    before = profile(aws_stack, READER)
    unknown = save(aws_stack, form, "instant", "cobol")
    assert unknown["statusCode"] == 400
    assert "tags: cobol is not among the site&#39;s tags (AWS, Machine Learning, Python)" in unknown["body"]
    hostile = save(aws_stack, form, "instant", "<img src=x onerror=alert(1)>")
    assert hostile["statusCode"] == 400 and "<img src=x" not in hostile["body"]
    assert save(aws_stack, form, "hourly")["statusCode"] == 400
    assert "frequency: frequency must be instant" in save(aws_stack, form, "hourly")["body"]
    assert save(aws_stack, form, "instant", "x\r\nBcc: a@b")["statusCode"] == 400
    assert profile(aws_stack, READER) == before
    # "Machine  learning" is the known "Machine Learning": tags match as subscriptions do.
    assert save(aws_stack, form, "instant", "Machine  learning")["statusCode"] == 200


def test_a_cross_origin_post_is_refused(aws_stack: StackHandle) -> None:
    seed_tags(aws_stack, "AWS", "Python")
    form = form_token(open_page(aws_stack, preferences_token(subscribe(aws_stack)))["body"])
    before = profile(aws_stack, READER)
    response = save(aws_stack, form, "daily", origin="https://evil.example", **{"sec-fetch-site": "cross-site"})
    assert response["statusCode"] == 403 and "another site" in response["body"]
    assert profile(aws_stack, READER) == before


def test_after_unsubscribing_the_page_and_its_form_answer_410_and_write_nothing(aws_stack: StackHandle) -> None:
    seed_tags(aws_stack, "AWS", "Python")
    confirmed = subscribe(aws_stack)
    link = preferences_token(confirmed)
    form = form_token(open_page(aws_stack, link)["body"])
    sid = subscriber_id(keys(aws_stack).id_key, READER)
    assert (
        call(aws_stack, "subscriptions-unsubscribe-one-click", issue(keys(aws_stack), Purpose.UNSUBSCRIBE, sid))[
            "statusCode"
        ]
        == 200
    )
    assert open_page(aws_stack, link)["statusCode"] == 410
    assert save(aws_stack, form, "daily")["statusCode"] == 410
    assert profile(aws_stack, READER) is None


def test_a_save_reads_the_sites_tags_once(aws_stack: StackHandle) -> None:
    from pressline.adapters.aws import client

    seed_tags(aws_stack, "AWS", "Python")
    form = form_token(open_page(aws_stack, preferences_token(subscribe(aws_stack)))["body"])
    posts_table = aws_stack.outputs["PostsTableName"]
    reads: list[str] = []

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name == "GetItem" and params.get("TableName") == posts_table:
            reads.append(model.name)

    client("dynamodb").meta.events.register("before-parameter-build.dynamodb", count)
    assert save(aws_stack, form, "daily", "aws")["statusCode"] == 200
    assert len(reads) == 1  # the check of the tags chosen and the page answered share it
