"""The subscriptions API on moto (template.yaml provisioned by ``aws_stack``), driven by
the API Gateway HTTP API events in events/."""

from __future__ import annotations

import json
import os
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
    assert page["headers"]["Referrer-Policy"] == "same-origin"
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


# ----------------------------------------------------------------------------- hardening (issue 12)
@pytest.fixture(autouse=True)
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The answer floor's pauses, recorded instead of slept (tests never wait on wall time)."""
    from pressline.stages import subscriptions as stage

    recorded: list[float] = []
    monkeypatch.setattr(stage, "pause", recorded.append)
    return recorded


def test_the_template_throttles_the_api_and_sets_the_answer_floor() -> None:
    from pressline.local.template import transform

    resources = transform(Path(__file__).resolve().parents[2] / "template.yaml", "us-east-1").cfn["Resources"]
    [stage] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    sign_up = stage["RouteSettings"]["POST /subscriptions"]
    assert 0 < sign_up["ThrottlingRateLimit"] <= stage["DefaultRouteSettings"]["ThrottlingRateLimit"]
    function = next(r for k, r in resources.items() if k == "SubscriptionsFunction")
    assert int(function["Properties"]["Environment"]["Variables"]["SUBSCRIBE_ANSWER_MS"]) >= 100


def test_a_sign_up_through_the_deployed_wiring_waits_for_the_floor(
    aws_stack: StackHandle, pauses: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pressline.stages import subscriptions as stage

    monkeypatch.setattr(stage, "monotonic", lambda: 100.0)  # no time passes but the pause
    assert call(aws_stack, "subscriptions-subscribe-json")["statusCode"] == 202
    call(aws_stack, "subscriptions-subscribe-json")  # rate limited: waits just as long
    assert pauses == [0.2, 0.2]  # SUBSCRIBE_ANSWER_MS from template.yaml


def test_plus_address_bombing_sends_three_mails_and_answers_like_any_sign_up(aws_stack: StackHandle) -> None:
    """The reported attack (1,000 POSTs for bomb+{i}@victim.example gave 1,000 mails)."""
    answers = set()
    for i in range(15):
        response = call(aws_stack, "subscriptions-subscribe-json", email=f"bomb+{i}@victim.example", tags=[])
        answers.add((response["statusCode"], response["body"]))
    assert answers == {(202, json.dumps({"status": "accepted", "message": stage_message()}))}
    assert len([m for m in emails(aws_stack) if "victim.example" in str(m["To"])]) == 3


def stage_message() -> str:
    from pressline.stages.subscriptions import ACCEPTED_MESSAGE

    return ACCEPTED_MESSAGE


def test_the_client_limit_uses_api_gateways_source_ip(aws_stack: StackHandle) -> None:
    def sign_up(address: str, source_ip: str) -> int:
        request = event("subscriptions-subscribe-json", email=address, tags=[])
        request["requestContext"]["http"]["sourceIp"] = source_ip
        request["headers"]["x-forwarded-for"] = "198.51.100.99"  # a client-supplied header is not trusted
        status: int = aws_stack.invoke("Subscriptions", request)["statusCode"]
        return status

    assert {sign_up(f"reader@d{i}.example", "192.0.2.10") for i in range(12)} == {202}
    assert sign_up("reader@other.example", "192.0.2.11") == 202
    sent = [str(m["To"]) for m in emails(aws_stack)]
    assert len(sent) == 11 and "reader@other.example" in sent  # 10 from one client, then the other's


def test_an_old_confirmation_link_does_not_work_after_unsubscribing_and_signing_up_again(
    aws_stack: StackHandle,
) -> None:
    """The reported case: subscribe, confirm T1, unsubscribe, subscribe again, POST T1."""
    first = subscribe_and_confirm(aws_stack)  # tags aws, python
    assert call(aws_stack, "subscriptions-unsubscribe-one-click", _unsubscribe_token(aws_stack))["statusCode"] == 200
    assert call(aws_stack, "subscriptions-subscribe-json", email=READER, tags=["rust"])["statusCode"] == 202
    replayed = call(aws_stack, "subscriptions-confirm-post", first)
    assert replayed["statusCode"] == 410
    assert "PROFILE" not in (profile(aws_stack, READER) or {})
    second = link_token(emails(aws_stack)[-1], "confirm")
    assert second != first
    assert call(aws_stack, "subscriptions-confirm-post", second)["statusCode"] == 200
    items = profile(aws_stack, READER) or {}
    assert items["PROFILE"]["tags"] == {"L": [{"S": "rust"}]}
    assert call(aws_stack, "subscriptions-confirm-post", second)["statusCode"] == 200  # a second click
    assert call(aws_stack, "subscriptions-confirm-post", first)["statusCode"] == 410


def test_every_sign_up_path_makes_the_same_dynamodb_calls(aws_stack: StackHandle) -> None:
    from pressline.stages import subscriptions as stage
    from pressline.subscribers.service import suppress_address

    made: list[str] = []
    subscriptions = stage.subscriptions()
    repository: Any = subscriptions.repository
    repository.db.meta.events.register("before-call.dynamodb", lambda model, **_: made.append(model.name))
    suppress_address(repository, subscriptions.keys, "gone@example.com", "bounce:General", datetime.now(UTC))
    calls = {}
    for label, address in [("new", READER), ("pending", READER), ("suppressed", "gone@example.com"),
                           ("new-2", "other@example.com"), ("mailbox-full", "reader+1@example.com"),
                           ("mailbox-full-2", "reader+2@example.com"), ("over", "reader+3@example.com")]:  # fmt: skip
        made.clear()
        assert call(aws_stack, "subscriptions-subscribe-json", email=address, tags=[])["statusCode"] == 202
        calls[label] = list(made)
    assert len({tuple(names) for names in calls.values()}) == 1, calls
    assert calls["new"] == ["TransactWriteItems"]


def test_a_lost_answer_to_the_sign_up_transaction_still_sends_the_confirmation(aws_stack: StackHandle) -> None:
    """The SDK retries the transaction whose answer was lost; the retry, carrying the same
    request, passes its own condition instead of reading as rate limited."""
    import random

    from pressline.local.faults import AwsFaults

    lost: list[str] = []

    def decide(name: str) -> str | None:
        if name == "TransactWriteItems" and not lost:
            lost.append(name)
            return "lost-response"
        return None

    faults = AwsFaults(random.Random(0), decide=decide)
    with faults.installed(), faults.active():
        response = call(aws_stack, "subscriptions-subscribe-json")
    assert lost and response["statusCode"] == 202
    [confirmation] = emails(aws_stack)
    assert call(aws_stack, "subscriptions-confirm-post", link_token(confirmation, "confirm"))["statusCode"] == 200


def test_a_cross_origin_form_post_is_refused_and_sends_nothing(aws_stack: StackHandle) -> None:
    response = aws_stack.invoke("Subscriptions", event("subscriptions-subscribe-cross-origin"))
    assert response["statusCode"] == 403
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "another site" in response["body"]
    assert emails(aws_stack) == []
    same_site = event("subscriptions-subscribe-cross-origin")
    same_site["headers"]["origin"] = "http://127.0.0.1:8080"  # the site's own origin (SITE_URL)
    assert aws_stack.invoke("Subscriptions", same_site)["statusCode"] == 202


def test_the_local_web_server_passes_the_source_ip_and_origin_as_api_gateway_does() -> None:
    from pressline.local.web import Route, _compile, http_api_event

    route = Route("POST", "/subscriptions", None, _compile("/subscriptions"))  # type: ignore[arg-type]
    built = http_api_event(
        route=route,
        method="POST",
        raw_path="/subscriptions",
        raw_query="",
        headers=[("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site"), ("Host", "127.0.0.1:8080")],
        body=b"email=a%40example.com",
        source_ip="192.0.2.44",
        path_parameters={},
        account_id="123456789012",
    )
    assert built["requestContext"]["http"]["sourceIp"] == "192.0.2.44"
    assert built["headers"]["origin"] == "https://evil.example"
    assert built["headers"]["sec-fetch-site"] == "cross-site"


def test_a_rotated_token_secret_keeps_old_links_working(aws_stack: StackHandle) -> None:
    from aws_lambda_powertools.utilities import parameters

    from pressline.subscribers import runtime

    call(aws_stack, "subscriptions-subscribe-json")
    before = link_token(emails(aws_stack)[-1], "confirm")
    arn = os.environ["TOKEN_SECRET_ARN"]
    secrets = aws_stack.client("secretsmanager")
    original = secrets.get_secret_value(SecretId=arn)["SecretString"]
    old_unsubscribe = _unsubscribe_token(aws_stack)
    secrets.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"signing_keys": ["a-new-signing-key-0123456789abcdef", original]})
    )
    parameters.clear_caches()  # type: ignore[no-untyped-call]  # what KEYS_MAX_AGE does by itself in minutes
    rotated = runtime.keys()
    assert rotated.token_key != issue_keys_of(original).token_key and rotated.id_key == issue_keys_of(original).id_key
    assert call(aws_stack, "subscriptions-confirm-post", before)["statusCode"] == 200  # sent before the rotation
    fresh = issue(rotated, Purpose.UNSUBSCRIBE, subscriber_id(rotated.id_key, READER))
    assert fresh != old_unsubscribe
    assert call(aws_stack, "subscriptions-unsubscribe-get", old_unsubscribe)["statusCode"] == 200
    assert call(aws_stack, "subscriptions-unsubscribe-one-click", fresh)["statusCode"] == 200


def issue_keys_of(secret: str) -> Any:
    from pressline.subscribers.tokens import Keys

    return Keys.from_secret(secret)


EXPECTED_EVENT_STATUS = {
    "subscriptions-subscribe-json": 202,
    "subscriptions-subscribe-form": 202,
    "subscriptions-subscribe-injection": 400,
    "subscriptions-subscribe-cross-origin": 403,
    "subscriptions-confirm-get": 200,
    "subscriptions-confirm-post": 200,
    "subscriptions-preferences-get": 200,
    "subscriptions-preferences-post": 200,  # the first save of the profile as confirmed
    "subscriptions-unsubscribe-get": 200,
    "subscriptions-unsubscribe-one-click": 200,
}


def test_every_subscriptions_event_file_gets_its_answer_from_the_handler(aws_stack: StackHandle) -> None:
    """events/ is what ``make invoke`` and ``sam local invoke`` send: each file must still be
    a request the handler answers as intended (a new file must be added here)."""
    assert sorted(path.stem for path in EVENTS.glob("subscriptions-*.json")) == sorted(EXPECTED_EVENT_STATUS)
    call(aws_stack, "subscriptions-subscribe-json", email="events@example.com", tags=[])
    confirm = link_token(emails(aws_stack)[-1], "confirm")
    unsubscribe = _unsubscribe_token(aws_stack, "events@example.com")
    sid = subscriber_id(keys(aws_stack).id_key, "events@example.com")
    for name, status in EXPECTED_EVENT_STATUS.items():
        token = unsubscribe if "unsubscribe" in name else confirm
        if name == "subscriptions-preferences-get":
            token = issue(keys(aws_stack), Purpose.PREFERENCES, sid)
        elif name == "subscriptions-preferences-post":  # the page's form, for the profile as confirmed
            token = issue(
                keys(aws_stack),
                Purpose.PREFERENCES_SAVE,
                sid,
                now=datetime.now(UTC),
                ttl=timedelta(hours=1),
                request="1",
            )
        assert call(aws_stack, name, token)["statusCode"] == status, name


def test_signup_limits_can_be_set_in_the_environment(aws_stack: StackHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    from pressline.stages import subscriptions as stage

    monkeypatch.setenv("SIGNUP_LIMITS", '{"client": [2, 3600]}')
    stage.override(None)  # the wiring is built again, with the setting
    try:
        statuses = {
            call(aws_stack, "subscriptions-subscribe-json", email=f"r@d{i}.example")["statusCode"] for i in range(3)
        }
    finally:
        monkeypatch.delenv("SIGNUP_LIMITS")
        stage.override(None)
    assert statuses == {202} and len(emails(aws_stack)) == 2
