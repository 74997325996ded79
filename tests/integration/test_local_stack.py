"""The local stack: Lambda's SQS semantics in the runner, the HTTP front door, and
``pressline local`` end to end (subscribe, confirm, publish, one email)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.message import Message
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pressline.local.harness import RunningLocalStack, aws_cli
from pressline.local.runner import SqsTrigger, failed_message_ids, sns_event
from pressline.local.stack import LocalFunction
from pressline.local.template import EventSource, FunctionSpec, load_sam
from pressline.local.web import LocalHttpServer, content_type_for, http_api_response, routes_of, site_key
from pressline.posts.paths import report_key

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


# --------------------------------------------------------------------------- runner semantics
@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queue_with_dlq(sqs: Any, name: str, *, max_receive_count: int = 3, fifo: bool = False) -> tuple[str, str]:
    suffix = ".fifo" if fifo else ""
    extra = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=extra)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(
        QueueName=f"{name}{suffix}", Attributes={**extra, "VisibilityTimeout": "30", "RedrivePolicy": redrive}
    )["QueueUrl"]
    return url, dlq


class Recorder:
    """A tiny handler: records every event; fails the records whose body says so."""

    def __init__(self, mode: str = "report") -> None:
        self.events: list[dict[str, Any]] = []
        self.mode = mode

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        bad = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("fail")]
        if self.mode == "raise" and bad:
            raise RuntimeError("this batch has a bad record")
        if self.mode == "unknown-id" and bad:
            return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in bad]}

    def bodies(self, index: int) -> list[dict[str, Any]]:
        return [json.loads(record["body"]) for record in self.events[index]["Records"]]


def _trigger(sqs: Any, url: str, handler: Callable[[dict[str, Any]], Any], **kwargs: Any) -> SqsTrigger:
    return SqsTrigger(name="TestFunction", call=handler, sqs=sqs, queue_url=url, region=REGION, **kwargs)


def _visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_the_event_is_the_one_lambda_sends(sqs: Any) -> None:
    url, _ = _queue_with_dlq(sqs, "shape")
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"n": 1}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    recorder = Recorder()
    invocation = _trigger(sqs, url, recorder).poll()
    assert invocation is not None and invocation.ok
    [record] = recorder.events[0]["Records"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert record["body"] == '{"n": 1}'
    assert record["md5OfBody"] == hashlib.md5(b'{"n": 1}').hexdigest()
    assert record["messageId"] and record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert record["md5OfMessageAttributes"]
    assert _visible(sqs, url) == 0  # a successful record is deleted


def test_fifo_records_carry_group_dedup_and_sequence(sqs: Any) -> None:
    url, _ = _queue_with_dlq(sqs, "ordered", fifo=True)
    for n in range(3):
        sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"n": n}), MessageGroupId="site", MessageDeduplicationId=f"d{n}"
        )
    recorder = Recorder()
    _trigger(sqs, url, recorder).poll()
    records = recorder.events[0]["Records"]
    assert [json.loads(r["body"])["n"] for r in records] == [0, 1, 2]
    assert [r["attributes"]["MessageDeduplicationId"] for r in records] == ["d0", "d1", "d2"]
    assert {r["attributes"]["MessageGroupId"] for r in records} == {"site"}
    assert all(r["attributes"]["SequenceNumber"] for r in records)


def test_batch_size_is_honoured(sqs: Any) -> None:
    url, _ = _queue_with_dlq(sqs, "batches")
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    recorder = Recorder()
    trigger = _trigger(sqs, url, recorder, batch_size=2)
    while trigger.poll() is not None:
        pass
    assert [len(event["Records"]) for event in recorder.events] == [2, 2, 1]


def test_a_batching_window_gathers_what_arrives_within_it(sqs: Any) -> None:
    """As Lambda's poller: with MaximumBatchingWindowInSeconds, a batch that is not full waits
    up to the window for more; a drain (``window=False``) takes what is there now."""
    import threading

    url, _ = _queue_with_dlq(sqs, "windowed")
    recorder = Recorder()
    trigger = _trigger(sqs, url, recorder, batch_size=100, batching_window_s=3.0)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 0}))
    late = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1})))
    late.start()
    trigger.poll()
    late.join()
    assert sorted(m["n"] for m in recorder.bodies(0)) == [0, 1]  # the late one joined the batch
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 2}))
    trigger.poll(window=False)
    assert recorder.bodies(1) == [{"n": 2}]


def test_partial_batch_failure_retries_only_the_failed_record(sqs: Any) -> None:
    url, dlq = _queue_with_dlq(sqs, "partial")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 2, "fail": True}))
    recorder = Recorder()
    trigger = _trigger(sqs, url, recorder, retry_after=0)  # visible again at once, not after 30 s
    first = trigger.poll()
    assert first is not None and first.records == 2 and len(first.failed_ids) == 1
    second = trigger.poll()
    assert second is not None
    assert recorder.bodies(1) == [{"n": 2, "fail": True}]
    assert recorder.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert _visible(sqs, dlq) == 0


def test_a_failing_message_goes_to_the_dlq_after_max_receive_count(sqs: Any) -> None:
    url, dlq = _queue_with_dlq(sqs, "poison", max_receive_count=3)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True, "poison": True}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    recorder = Recorder()
    trigger = _trigger(sqs, url, recorder, retry_after=0)
    while trigger.poll() is not None:
        pass
    poison_attempts = sum(1 for i in range(len(recorder.events)) for body in recorder.bodies(i) if body.get("poison"))
    assert poison_attempts == 3
    assert _visible(sqs, url) == 0
    [dead] = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert json.loads(dead["Body"]) == {"fail": True, "poison": True}


def test_a_handler_exception_fails_the_whole_batch(sqs: Any) -> None:
    url, _ = _queue_with_dlq(sqs, "raises")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 2, "fail": True}))
    trigger = _trigger(sqs, url, Recorder(mode="raise"), retry_after=0)
    invocation = trigger.poll()
    assert invocation is not None and invocation.error and "RuntimeError" in invocation.error
    assert len(invocation.failed_ids) == 2
    assert _visible(sqs, url) == 2


def test_an_unknown_item_identifier_fails_the_whole_batch(sqs: Any) -> None:
    url, _ = _queue_with_dlq(sqs, "unknown")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True}))
    trigger = _trigger(sqs, url, Recorder(mode="unknown-id"), retry_after=0)
    invocation = trigger.poll()
    assert invocation is not None and len(invocation.failed_ids) == 2
    assert _visible(sqs, url) == 2


def test_without_report_batch_item_failures_the_response_is_ignored(sqs: Any) -> None:
    url, _ = _queue_with_dlq(sqs, "ignored")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"fail": True}))
    trigger = _trigger(sqs, url, Recorder(), report_batch_item_failures=False, retry_after=0)
    invocation = trigger.poll()
    assert invocation is not None and invocation.ok
    assert _visible(sqs, url) == 0


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, []),
        ({}, []),
        ({"batchItemFailures": []}, []),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["b"]),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, ["a", "b"]),
        ({"batchItemFailures": [{}]}, ["a", "b"]),
        ({"batchItemFailures": "b"}, ["a", "b"]),
    ],
)
def test_failed_message_ids_follow_lambdas_rules(result: Any, failed: list[str]) -> None:
    assert failed_message_ids(result, ["a", "b"]) == failed


def test_sns_event_shape() -> None:
    envelope = {
        "Type": "Notification",
        "MessageId": "m1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "Message": '{"notificationType": "Bounce"}',
        "Timestamp": "2026-11-27T05:00:00.000Z",
        "MessageAttributes": {"kind": {"Type": "String", "Value": "bounce"}},
    }
    record = sns_event(envelope, "arn:aws:sns:us-east-1:123456789012:t:sub")
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"].endswith(":sub")
    assert record["Sns"]["Message"] == envelope["Message"]
    assert record["Sns"]["TopicArn"] == envelope["TopicArn"]
    assert record["Sns"]["MessageAttributes"] == {"kind": {"Type": "String", "Value": "bounce"}}


# --------------------------------------------------------------------------- HTTP mapping
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/", "index.html"),
        ("/posts/hello/", "posts/hello/index.html"),
        ("/posts/hello", "posts/hello/index.html"),
        ("/feed.xml", "feed.xml"),
        ("/tags/caf%C3%A9/", "tags/café/index.html"),
    ],
)
def test_site_key(path: str, key: str) -> None:
    assert site_key(path) == key


def test_content_type_prefers_the_stored_one_else_the_extension() -> None:
    assert content_type_for("a.xml", "application/atom+xml") == "application/atom+xml"
    assert content_type_for("style.css", "binary/octet-stream") == "text/css; charset=utf-8"
    assert content_type_for("index.html", None) == "text/html; charset=utf-8"
    assert content_type_for("photo.png", None) == "image/png"


def _echo_function(routes: dict[str, str]) -> LocalFunction:
    spec = FunctionSpec(
        logical_id="EchoFunction",
        code_dir=ROOT,
        handler="app.handler",
        timeout_s=3,
        memory_mb=128,
        events=tuple(
            EventSource(name, "HttpApi", {"Method": route.split()[0], "Path": route.split()[1]})
            for name, route in routes.items()
        ),
    )
    return LocalFunction(
        spec=spec,
        name="echo",
        arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
        environment={},
        events=spec.events,
    )


@pytest.fixture
def echo_api() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A LocalHttpServer whose only function records the event and answers with cookies."""
    seen: list[dict[str, Any]] = []

    def invoke(_function: LocalFunction, event: dict[str, Any]) -> Any:
        seen.append(event)
        if event["rawPath"] == "/plain":
            return {"ok": True}
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/octet-stream", "x-route": event["routeKey"]},
            "cookies": ["a=1; Path=/", "b=2; Path=/"],
            "body": base64.b64encode(b"\x00binary").decode(),
            "isBase64Encoded": True,
        }

    function = _echo_function({"Items": "POST /items/{id}", "Any": "ANY /plain"})
    server = LocalHttpServer.bind("127.0.0.1", 0)
    server.configure(s3=None, site_bucket="", routes=routes_of([function]), invoke=invoke, account_id="123456789012")
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", seen
    finally:
        server.stop()


def test_api_requests_become_http_api_v2_events(echo_api: tuple[str, list[dict[str, Any]]]) -> None:
    base, seen = echo_api
    request = urllib.request.Request(
        f"{base}/api/items/42?x=1&x=2&y=",
        data=b"\xff\xfe binary",
        method="POST",
        headers={"Content-Type": "application/octet-stream", "X-Custom": "Yes", "Cookie": "s=1; t=2"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
        assert response.read() == b"\x00binary"
        assert response.headers["x-route"] == "POST /items/{id}"
        assert response.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    [event] = seen
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["pathParameters"] == {"id": "42"}
    assert event["headers"]["x-custom"] == "Yes"
    assert "cookie" not in event["headers"] and event["cookies"] == ["s=1", "t=2"]
    assert event["requestContext"]["http"] == {
        "method": "POST",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": event["headers"]["user-agent"],
    }
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe binary"


def test_api_text_bodies_any_method_and_unknown_routes(echo_api: tuple[str, list[dict[str, Any]]]) -> None:
    base, seen = echo_api
    request = urllib.request.Request(
        f"{base}/api/plain",
        data=b"email=a%40b.c",
        method="PUT",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert json.load(response) == {"ok": True}
    assert seen[0]["body"] == "email=a%40b.c" and seen[0]["isBase64Encoded"] is False
    assert seen[0]["routeKey"] == "ANY /plain"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/api/items")
    assert missing.value.code == 404


def test_http_api_response_mapping() -> None:
    full = http_api_response(
        {"statusCode": 302, "headers": {"Location": "/x"}, "multiValueHeaders": {"Vary": ["a", "b"]}}
    )
    assert full.status == 302
    assert ("Location", "/x") in full.headers and ("Vary", "a") in full.headers and ("Vary", "b") in full.headers
    assert full.body == b""
    bare = http_api_response("hello")
    assert (bare.status, bare.body) == (200, b"hello")


# --------------------------------------------------------------------------- pressline local
def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_outputs_file_has_the_template_outputs_and_local_urls(local_stack: RunningLocalStack) -> None:
    template = load_sam(ROOT / "template.yaml")
    outputs = local_stack.outputs
    assert set(template["Outputs"]) | {"Endpoint", "Region", "SiteUrl", "ApiUrl"} <= set(outputs)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", outputs["SiteUrl"])
    assert outputs["ApiUrl"] == outputs["SiteUrl"] + "/api"
    for described in local_stack.functions().values():
        env = described["environment"]
        assert env["SITE_URL"] == outputs["SiteUrl"]
        if "API_URL" in env:
            assert env["API_URL"] == outputs["ApiUrl"]
        if "SENDER_EMAIL" in env:
            identities = local_stack.client("ses").list_identities(IdentityType="EmailAddress")["Identities"]
            assert env["SENDER_EMAIL"] in identities


def test_site_is_served_from_the_site_bucket(local_stack: RunningLocalStack) -> None:
    s3 = local_stack.client("s3")
    bucket = local_stack.outputs["SiteBucketName"]
    area = f"t-{uuid.uuid4().hex[:8]}"
    s3.put_object(
        Bucket=bucket, Key=f"{area}/index.html", Body=b"<h1>area</h1>", ContentType="text/html; charset=utf-8"
    )
    s3.put_object(Bucket=bucket, Key=f"{area}/style.css", Body=b"body{}")
    s3.put_object(Bucket=bucket, Key=f"{area}/feed.xml", Body=b"<feed/>", ContentType="application/atom+xml")
    for path in (f"/{area}/", f"/{area}"):
        status, headers, body = _get(local_stack.site_url + path)
        assert (status, body) == (200, b"<h1>area</h1>")
        assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert _get(f"{local_stack.site_url}/{area}/style.css")[1]["Content-Type"] == "text/css; charset=utf-8"
    assert _get(f"{local_stack.site_url}/{area}/feed.xml")[1]["Content-Type"] == "application/atom+xml"

    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
    status, _, body = _get(local_stack.site_url + "/")
    current_home = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read()
    assert status == 200 and body == current_home  # the Index function may have rewritten it meanwhile

    status, headers, body = _get(f"{local_stack.site_url}/{area}/missing/")
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    try:
        not_found_page = s3.get_object(Bucket=bucket, Key="404.html")["Body"].read()
    except s3.exceptions.NoSuchKey:
        not_found_page = None
    if not_found_page is None:
        assert b"Not found" in body
    else:
        assert body == not_found_page


# --------------------------------------------------------------------------- end to end
class _Forms(HTMLParser):
    """The forms of a page: action, method and the values of their inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(
                {"action": attributes.get("action", ""), "method": attributes.get("method", "get"), "fields": {}}
            )
        elif tag in ("input", "button") and self.forms and attributes.get("name"):
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value", "")


def _emails_to(local_stack: RunningLocalStack, address: str) -> list[Message]:
    messages = []
    for sent in local_stack.sent_emails():
        if address in set(sent["destinations"]):
            raw = sent["raw"] or f"Subject: {sent['subject']}\n\n{sent['body']}"
            messages.append(message_from_string(raw))
    return messages


def _text_of(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    texts = []
    for part in parts:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(texts)


def _wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_subscribe_confirm_publish_and_exactly_one_email(local_stack: RunningLocalStack) -> None:
    address = f"reader-{uuid.uuid4().hex[:8]}@example.org"
    api = local_stack.api_url

    # 1. Subscribe through the API.
    request = urllib.request.Request(
        f"{api}/subscriptions",
        data=json.dumps({"email": address}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201, 202)

    # 2. The confirmation email has a link; the link's page has a form that POSTs the token.
    [confirmation] = _wait_for("the confirmation email", lambda: _emails_to(local_stack, address))
    link = re.search(r"https?://\S+/subscriptions/confirm\?[^\s\"'<>]+", _text_of(confirmation))
    assert link, "the confirmation email links to the confirm endpoint"
    confirm_url = link.group(0).replace("&amp;", "&")
    status, _, page = _get(confirm_url)
    assert status == 200
    forms = _Forms()
    forms.feed(page.decode("utf-8"))
    posting = [form for form in forms.forms if form["method"].lower() == "post"]
    assert posting, "the confirm page asks for a click (a POST form), so link scanners do not confirm"
    form = posting[0]
    action = urllib.parse.urljoin(confirm_url, form["action"]) if form["action"] else confirm_url
    data = urllib.parse.urlencode(form["fields"]).encode()
    confirm = urllib.request.Request(
        action, data=data, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    with urllib.request.urlopen(confirm, timeout=10) as response:
        assert response.status == 200

    # 3. Publish a post.
    slug = f"local-stack-{uuid.uuid4().hex[:8]}"
    title = f"Local stack end to end {slug[-8:]}"
    # Dated a minute ago: a new post (an older one than the announce window would email no one).
    date = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="minutes")
    post = f"---\ntitle: {title}\ndate: {date}\ntags: [testing]\n---\n\nA post for the end-to-end test.\n"
    local_stack.client("s3").put_object(
        Bucket=local_stack.outputs["SourceBucketName"], Key=f"posts/{slug}.md", Body=post.encode()
    )

    # 4. Its page is served, the home page lists it, and the subscriber gets one email.
    def page_served() -> bytes | None:
        status, _, body = _get(f"{local_stack.site_url}/posts/{slug}/")
        return body if status == 200 else None

    def home_lists_it() -> bool:
        status, _, body = _get(f"{local_stack.site_url}/")
        return status == 200 and f"/posts/{slug}/".encode() in body

    try:
        assert title.encode() in _wait_for("the post page", page_served)
        _wait_for("the home page to list the post", home_lists_it)
        _wait_for("the post email", lambda: len(_emails_to(local_stack, address)) >= 2)
        time.sleep(2)  # a duplicate would arrive within the pipeline's latency
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- pressline local log (tail) ---\n{local_stack.log()[-6000:]}") from error
    emails = _emails_to(local_stack, address)
    assert len(emails) == 2, [email["Subject"] for email in emails]  # the confirmation and the post, once
    post_email = emails[1]
    assert title in str(post_email["Subject"]) or title in _text_of(post_email)


def test_invoke_command_calls_a_handler_against_the_running_stack(local_stack: RunningLocalStack) -> None:
    def pressline_local_invoke(*arguments: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pressline.cli", "local", "invoke", *arguments,
                   "--outputs", str(local_stack.outputs_path)]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    done = pressline_local_invoke("Subscriptions", str(ROOT / "events" / "subscriptions-subscribe-json.json"))
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout[done.stdout.index("{\n") :])  # the function's own logs come first
    assert 200 <= response["statusCode"] < 300
    unknown = pressline_local_invoke("Nope", str(ROOT / "events" / "subscriptions-subscribe-json.json"))
    assert unknown.returncode == 2 and "no function 'Nope'" in unknown.stderr


def _children(pid: int) -> list[str]:
    """The command lines of a process's children (Linux)."""
    commands = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            commands.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return commands


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_moto_runs_in_a_process_of_its_own(local_stack: RunningLocalStack) -> None:
    """pressline local's functions and moto do not share one GIL (see pressline.local.motoserver)."""
    [moto] = [command for command in _children(local_stack.process.pid) if "pressline.local.motoserver" in command]
    port = local_stack.endpoint_url.rsplit(":", 1)[1]
    assert f"--port {port}" in moto or "--port 0" in moto


# --------------------------------------------------------------------------- deletes, as authors delete
LISTINGS = ("/", "/feed.xml", "/rss.xml", "/feed.json", "/archive/2026/01/", "/sitemaps/2026-01.xml")


def _cli(local_stack: RunningLocalStack, *arguments: str) -> str:
    if aws_cli() is None:  # `make test` installs it (make awscli); CI must have it
        message = "no AWS CLI: run `make awscli`"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return local_stack.aws(*arguments).stdout


def _report(local_stack: RunningLocalStack, key: str) -> dict[str, Any] | None:
    bucket = local_stack.outputs["SourceBucketName"]
    try:
        body = local_stack.client("s3").get_object(Bucket=bucket, Key=report_key(key))["Body"].read()
    except local_stack.client("s3").exceptions.NoSuchKey:
        return None
    report: dict[str, Any] = json.loads(body)
    return report


def _listed_in(local_stack: RunningLocalStack, slug: str) -> set[str]:
    """The listings, feeds and sitemaps (of January 2026) that link to the post."""
    return {path for path in LISTINGS if f"/posts/{slug}/".encode() in _get(local_stack.site_url + path)[2]}


def _write_posts(directory: Path, slugs: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for day, slug in enumerate(slugs, start=10):
        text = f"---\ntitle: Deleted by the CLI {slug[-12:]}\ndate: 2026-01-{day} 10:00\n---\n\nSoon gone.\n"
        (directory / f"{slug}.md").write_text(text, encoding="utf-8")


def _status(local_stack: RunningLocalStack, key: str) -> str | None:
    return (_report(local_stack, key) or {}).get("status")


def _page_status(local_stack: RunningLocalStack, slug: str) -> int:
    return _get(f"{local_stack.site_url}/posts/{slug}/")[0]


def _wait_published(local_stack: RunningLocalStack, keys_and_slugs: dict[str, str]) -> None:
    for key, slug in keys_and_slugs.items():
        _wait_for(f"{key} published", partial(lambda k: _status(local_stack, k) == "published", key))
        _wait_for(f"{slug} in every listing", partial(lambda s: _listed_in(local_stack, s) == set(LISTINGS), slug))
        assert _page_status(local_stack, slug) == 200


def _wait_unpublished(local_stack: RunningLocalStack, keys_and_slugs: dict[str, str]) -> None:
    for key, slug in keys_and_slugs.items():
        _wait_for(f"{key} unpublished", partial(lambda k: _status(local_stack, k) == "unpublished", key))
        _wait_for(f"{slug}'s page gone", partial(lambda s: _page_status(local_stack, s) == 404, slug))
        _wait_for(f"{slug} out of every listing", partial(lambda s: not _listed_in(local_stack, s), slug))


def test_aws_s3_rm_unpublishes_the_post_everywhere(local_stack: RunningLocalStack, tmp_path: Path) -> None:
    """Upload with `aws s3 cp`, delete with `aws s3 rm`, as an author does: the source bucket is
    versioned, so S3 makes a delete marker and sends ObjectRemoved:DeleteMarkerCreated."""
    slug = f"cli-delete-{uuid.uuid4().hex[:8]}"
    _write_posts(tmp_path, [slug])
    bucket = local_stack.outputs["SourceBucketName"]
    key = f"posts/{slug}.md"
    try:
        _cli(local_stack, "s3", "cp", str(tmp_path / f"{slug}.md"), f"s3://{bucket}/{key}")
        _wait_published(local_stack, {key: slug})
        _cli(local_stack, "s3", "rm", f"s3://{bucket}/{key}")
        _wait_unpublished(local_stack, {key: slug})
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- pressline local log (tail) ---\n{local_stack.log()[-6000:]}") from error
    versions = local_stack.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    assert [marker["IsLatest"] for marker in versions.get("DeleteMarkers", [])] == [True]  # a real delete marker


@pytest.mark.parametrize("how", ["s3 rm --recursive", "s3api delete-objects"])
def test_deleting_many_posts_at_once_unpublishes_each(local_stack: RunningLocalStack, tmp_path: Path, how: str) -> None:
    folder = f"batch-{uuid.uuid4().hex[:8]}"
    slugs = [f"{folder}-{n}" for n in range(3)]
    _write_posts(tmp_path / folder, slugs)
    bucket = local_stack.outputs["SourceBucketName"]
    keys = {f"posts/{folder}/{slug}.md": slug for slug in slugs}
    try:
        _cli(local_stack, "s3", "cp", "--recursive", str(tmp_path / folder), f"s3://{bucket}/posts/{folder}/")
        _wait_published(local_stack, keys)
        if how == "s3 rm --recursive":
            _cli(local_stack, "s3", "rm", "--recursive", f"s3://{bucket}/posts/{folder}/")
        else:  # one DeleteObjects request for every key
            objects = json.dumps({"Objects": [{"Key": key} for key in keys], "Quiet": False})
            deleted = json.loads(_cli(local_stack, "s3api", "delete-objects", "--bucket", bucket, "--delete", objects))
            assert sorted(entry["Key"] for entry in deleted["Deleted"]) == sorted(keys)
        _wait_unpublished(local_stack, keys)
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- pressline local log (tail) ---\n{local_stack.log()[-6000:]}") from error
