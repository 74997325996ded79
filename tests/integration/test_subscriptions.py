"""The subscriptions API on moto (template.yaml provisioned by ``aws_stack``), driven by
the API Gateway HTTP API events in events/."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from pressline.local.harness import StackHandle
from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.memory import FakeClock
from pressline.subscribers.tokens import Purpose, issue

EVENTS = Path(__file__).resolve().parents[2] / "events"
READER = "reader@example.com"


def event(name: str, token: str | None = None, **body: Any) -> dict[str, Any]:
    text = (EVENTS / f"{name}.json").read_text()
    if token is not None:
        text = text.replace("REPLACE_WITH_TOKEN", token)
    loaded: dict[str, Any] = json.loads(text)
    if body:
        loaded["body"] = json.dumps(body)
    return loaded


def call(stack: StackHandle, name: str, token: str | None = None, **body: Any) -> dict[str, Any]:
    response: dict[str, Any] = stack.invoke("Subscriptions", event(name, token, **body))
    return response


def emails(stack: StackHandle) -> list[EmailMessage]:
    return [
        message_from_string(sent["raw"], policy=policy.default)  # type: ignore[misc]
        for sent in stack.sent_emails()
        if sent["raw"]
    ]


def link_token(message: EmailMessage, action: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(rf"/subscriptions/{action}\?token=([^\s>]+)", text)
    assert found, f"no {action} link"
    return unquote(found.group(1))


def keys(stack: StackHandle) -> Any:
    from pressline.subscribers import runtime

    return runtime.keys()


def profile(stack: StackHandle, address: str) -> dict[str, Any] | None:
    sid = subscriber_id(keys(stack).id_key, address)
    items: list[dict[str, Any]] = stack.dynamodb.query(
        TableName=stack.outputs["SubscribersTableName"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"SUB#{sid}"}},
    )["Items"]
    return {item["sk"]["S"]: item for item in items} or None


def subscribe_and_confirm(stack: StackHandle) -> str:
    assert call(stack, "subscriptions-subscribe-json")["statusCode"] == 202
    token = link_token(emails(stack)[-1], "confirm")
    response = call(stack, "subscriptions-confirm-post", token)
    assert response["statusCode"] == 200, response["body"]
    return token


# ----------------------------------------------------------------------------- subscribe
def test_json_subscribe_answers_202_and_sends_one_confirmation(aws_stack: StackHandle) -> None:
    response = call(aws_stack, "subscriptions-subscribe-json")
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["status"] == "accepted"
    sent = emails(aws_stack)
    assert len(sent) == 1
    assert sent[0]["To"] == READER and sent[0]["From"] == "Pressline <news@example.com>"
    assert sent[0]["Subject"] == "Confirm your subscription to Pressline"
    assert sent[0].get_body(preferencelist=("html",)) is not None
    assert sorted(profile(aws_stack, READER) or {}) == ["REQUEST"]  # pending: a request, no profile yet


def test_form_subscribe_answers_a_small_html_page(aws_stack: StackHandle) -> None:
    response = call(aws_stack, "subscriptions-subscribe-form")
    assert response["statusCode"] == 202
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "Check your inbox" in response["body"]
    assert response["headers"]["X-Frame-Options"] == "DENY"
    # The site's relative links (home, tags, feeds) lead to the site, not to the API's host.
    assert '<base href="http://127.0.0.1:8080/">' in response["body"]
    assert "base-uri http://127.0.0.1:8080" in response["headers"]["Content-Security-Policy"]
    sent = emails(aws_stack)
    assert len(sent) == 1 and "posts tagged aws, python" in sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_the_answer_is_identical_for_new_known_confirmed_and_rate_limited_addresses(aws_stack: StackHandle) -> None:
    first = call(aws_stack, "subscriptions-subscribe-json")
    again = call(aws_stack, "subscriptions-subscribe-json")  # known and rate-limited
    subscribe_and_confirm_token = link_token(emails(aws_stack)[0], "confirm")
    call(aws_stack, "subscriptions-confirm-post", subscribe_and_confirm_token)
    confirmed = call(aws_stack, "subscriptions-subscribe-json")  # confirmed subscriber
    stranger = call(aws_stack, "subscriptions-subscribe-json", email="stranger@example.com")
    bodies = {
        (r["statusCode"], r["body"], tuple(sorted(r["headers"].items()))) for r in (first, again, confirmed, stranger)
    }
    assert len(bodies) == 1
    form = [call(aws_stack, "subscriptions-subscribe-form") for _ in range(2)]
    assert form[0]["body"] == form[1]["body"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"email": "reader@example.com\r\nBcc: everyone@example.org"}, "email", "line breaks"),
        ({"email": "reader@example.com\nSubject: win"}, "email", "line breaks"),
        ({"email": "Reader <reader@example.com>"}, "email", "without a name or brackets"),
        ({"email": "reader@example.com, other@example.com"}, "email", "without a name or brackets"),
        ({"email": "not an address"}, "email", "not valid"),
        ({"email": ""}, "email", "required"),
        ({"tags": ["aws"]}, "email", "Field required"),
        ({"email": 42}, "email", "valid string"),
        ({"email": "reader@example.com", "tags": ["a\r\nb"]}, "tags", "line breaks"),
        ({"email": "reader@example.com", "tags": "aws"}, "tags", "valid list"),
    ],
)
def test_invalid_requests_get_400_with_a_clear_message_and_send_nothing(
    aws_stack: StackHandle, body: dict[str, Any], field: str, reason: str
) -> None:
    response = call(aws_stack, "subscriptions-subscribe-json", **body)
    assert response["statusCode"] == 400
    answer = json.loads(response["body"])
    assert answer["field"] == field and reason in answer["message"]
    assert "everyone@example.org" not in answer["message"]
    assert emails(aws_stack) == []


def test_the_injection_event_is_refused(aws_stack: StackHandle) -> None:
    response = aws_stack.invoke("Subscriptions", event("subscriptions-subscribe-injection"))
    assert response["statusCode"] == 400
    assert "line breaks" in json.loads(response["body"])["message"]
    assert emails(aws_stack) == []


def test_an_invalid_form_post_gets_an_html_400(aws_stack: StackHandle) -> None:
    request = event("subscriptions-subscribe-form")
    request["isBase64Encoded"] = False
    request["body"] = "email=reader%40example.com%0D%0ABcc%3A+x%40example.org"
    response = aws_stack.invoke("Subscriptions", request)
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "line breaks" in response["body"]


def test_other_content_types_and_bad_json_are_refused(aws_stack: StackHandle) -> None:
    request = event("subscriptions-subscribe-json")
    request["body"] = "{not json"
    assert aws_stack.invoke("Subscriptions", request)["statusCode"] == 400
    request["body"] = "[1, 2]"
    assert aws_stack.invoke("Subscriptions", request)["statusCode"] == 400
    request["headers"]["content-type"] = "text/plain"
    assert aws_stack.invoke("Subscriptions", request)["statusCode"] == 415


def test_at_most_one_confirmation_per_address_per_ten_minutes(aws_stack: StackHandle) -> None:
    from pressline.stages import subscriptions as stage

    clock = FakeClock(datetime.now(UTC))
    real = stage.subscriptions()
    stage.override(type(real)(real.repository, real.mailer, real.keys, real.site, clock))
    try:
        statuses = [call(aws_stack, "subscriptions-subscribe-json")["statusCode"]]
        for step in (timedelta(minutes=3), timedelta(minutes=6, seconds=59)):
            clock.advance(step)
            statuses.append(call(aws_stack, "subscriptions-subscribe-json")["statusCode"])
        assert len(emails(aws_stack)) == 1
        clock.advance(timedelta(seconds=1))
        statuses.append(call(aws_stack, "subscriptions-subscribe-json")["statusCode"])
        assert len(emails(aws_stack)) == 2
        assert statuses == [202, 202, 202, 202]
    finally:
        stage.override(None)


# ----------------------------------------------------------------------------- confirm
def test_get_on_the_confirmation_link_shows_a_button_and_confirms_nothing(aws_stack: StackHandle) -> None:
    call(aws_stack, "subscriptions-subscribe-json")
    token = link_token(emails(aws_stack)[0], "confirm")
    for _ in range(3):  # a link scanner may fetch it several times
        page = call(aws_stack, "subscriptions-confirm-get", token)
        assert page["statusCode"] == 200
    assert '<form method="post"' in page["body"] and "Confirm my subscription</button>" in page["body"]
    assert f'value="{token}"' in page["body"]
    assert page["headers"]["Referrer-Policy"] == "no-referrer"
    assert sorted(profile(aws_stack, READER) or {}) == ["REQUEST"]  # pending: a request, no profile yet


def test_post_confirms_with_the_tags_chosen_at_sign_up(aws_stack: StackHandle) -> None:
    subscribe_and_confirm(aws_stack)
    items = profile(aws_stack, READER) or {}
    assert items["PROFILE"]["status"]["S"] == "confirmed"
    assert "expires_at" not in items["PROFILE"]
    assert sorted(items) == ["AUD#TAG#aws", "AUD#TAG#python", "PROFILE", "REQUEST"]
    assert "request" not in items["REQUEST"]  # consumed: the link is spent
    assert "expires_at" in items["REQUEST"]  # the record of the sign-up goes by TTL
    assert len(emails(aws_stack)) == 1  # nothing but the confirmation, even after confirming


@pytest.mark.parametrize("kind", ["tampered", "expired", "wrong-purpose", "missing", "garbage"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_confirmation_tokens_get_4xx_and_change_nothing(aws_stack: StackHandle, kind: str, method: str) -> None:
    call(aws_stack, "subscriptions-subscribe-json")
    good = link_token(emails(aws_stack)[0], "confirm")
    sid = subscriber_id(keys(aws_stack).id_key, READER)
    token = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "expired": issue(
            keys(aws_stack), Purpose.CONFIRM, sid, now=datetime.now(UTC) - timedelta(hours=49), ttl=timedelta(hours=48)
        ),
        "wrong-purpose": issue(keys(aws_stack), Purpose.UNSUBSCRIBE, sid),
        "missing": "",
        "garbage": "<script>alert(1)</script>",
    }[kind]
    before = profile(aws_stack, READER)
    response = call(aws_stack, f"subscriptions-confirm-{method}", token)
    assert response["statusCode"] == (410 if kind == "expired" else 400)
    assert "<script>alert" not in response["body"]
    assert profile(aws_stack, READER) == before


# ----------------------------------------------------------------------------- unsubscribe
def _unsubscribe_token(stack: StackHandle, address: str = READER) -> str:
    return issue(keys(stack), Purpose.UNSUBSCRIBE, subscriber_id(keys(stack).id_key, address))


def test_get_on_the_unsubscribe_link_shows_a_button_and_changes_nothing(aws_stack: StackHandle) -> None:
    subscribe_and_confirm(aws_stack)
    token = _unsubscribe_token(aws_stack)
    page = call(aws_stack, "subscriptions-unsubscribe-get", token)
    assert page["statusCode"] == 200
    assert '<form method="post"' in page["body"] and 'name="List-Unsubscribe" value="One-Click"' in page["body"]
    assert (profile(aws_stack, READER) or {})["PROFILE"]["status"]["S"] == "confirmed"


def test_one_click_post_unsubscribes_at_once_and_deletes_everything(aws_stack: StackHandle) -> None:
    subscribe_and_confirm(aws_stack)
    response = call(aws_stack, "subscriptions-unsubscribe-one-click", _unsubscribe_token(aws_stack))
    assert response["statusCode"] == 200
    assert profile(aws_stack, READER) is None
    # Again (a mail client retrying): same answer, nothing to delete.
    assert call(aws_stack, "subscriptions-unsubscribe-one-click", _unsubscribe_token(aws_stack))["statusCode"] == 200


@pytest.mark.parametrize("kind", ["tampered", "wrong-purpose", "missing"])
@pytest.mark.parametrize("name", ["subscriptions-unsubscribe-get", "subscriptions-unsubscribe-one-click"])
def test_bad_unsubscribe_tokens_get_4xx_and_change_nothing(aws_stack: StackHandle, kind: str, name: str) -> None:
    confirm_token = subscribe_and_confirm(aws_stack)
    good = _unsubscribe_token(aws_stack)
    token = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "wrong-purpose": confirm_token,
        "missing": "",
    }[kind]
    before = profile(aws_stack, READER)
    assert call(aws_stack, name, token)["statusCode"] == 400
    assert profile(aws_stack, READER) == before


def test_unknown_methods_and_paths(aws_stack: StackHandle) -> None:
    request = event("subscriptions-confirm-get", "x")
    request["requestContext"]["http"]["method"] = "DELETE"
    assert aws_stack.invoke("Subscriptions", request)["statusCode"] == 405
    request = event("subscriptions-confirm-get", "x")
    request["rawPath"] = request["requestContext"]["http"]["path"] = "/elsewhere"
    assert aws_stack.invoke("Subscriptions", request)["statusCode"] == 404


def test_the_local_api_prefix_is_accepted(aws_stack: StackHandle) -> None:
    request = event("subscriptions-subscribe-json")
    request["rawPath"] = request["requestContext"]["http"]["path"] = "/api/subscriptions"
    assert aws_stack.invoke("Subscriptions", request)["statusCode"] == 202


def test_signing_up_again_with_other_tags_changes_them_only_on_confirmation(aws_stack: StackHandle) -> None:
    from pressline.stages import subscriptions as stage

    clock = FakeClock(datetime.now(UTC))
    real = stage.subscriptions()
    stage.override(type(real)(real.repository, real.mailer, real.keys, real.site, clock))
    try:
        subscribe_and_confirm(aws_stack)  # aws, python
        clock.advance(timedelta(minutes=11))
        assert call(aws_stack, "subscriptions-subscribe-json", email=READER, tags=["Rust"])["statusCode"] == 202
        assert sorted(profile(aws_stack, READER) or {}) == ["AUD#TAG#aws", "AUD#TAG#python", "PROFILE", "REQUEST"]
        token = link_token(emails(aws_stack)[-1], "confirm")
        assert call(aws_stack, "subscriptions-confirm-post", token)["statusCode"] == 200
    finally:
        stage.override(None)
    items = profile(aws_stack, READER) or {}
    assert sorted(items) == ["AUD#TAG#rust", "PROFILE", "REQUEST"]
    assert items["PROFILE"]["tags"] == {"L": [{"S": "rust"}]}
    assert items["AUD#TAG#rust"]["gsi1pk"] == {"S": "AUD#TAG#rust"}
