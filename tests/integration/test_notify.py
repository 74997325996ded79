"""Notify -> Deliver -> EmailFeedback on moto: per-tag fan-out, exactly one email per
(post, subscriber) under duplicates and crashes, suppression, and no address in any log."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from pressline.local.harness import StackHandle
from pressline.models import DeliveryBatch, PostPublished
from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.dynamodb import DynamoSubscriberRepository
from pressline.subscribers.memory import FakeClock
from pressline.subscribers.model import audiences_of
from pressline.subscribers.ports import FanoutState, LeaseHeld

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def post_from_event() -> PostPublished:
    return PostPublished.model_validate_json(load("notify-post-published")["Records"][0]["body"])


def emails(stack: StackHandle) -> list[EmailMessage]:
    return [
        message_from_string(sent["raw"], policy=policy.default)  # type: ignore[misc]
        for sent in stack.sent_emails()
        if sent["raw"]
    ]


def post_emails(stack: StackHandle) -> Counter[str]:
    """Recipient -> number of post emails (confirmation emails excluded)."""
    return Counter(str(m["To"]) for m in emails(stack) if not str(m["Subject"]).startswith("Confirm"))


def keys() -> Any:
    from pressline.subscribers import runtime

    return runtime.keys()


def seed_confirmed(stack: StackHandle, address: str, tags: tuple[str, ...] = ()) -> str:
    """A confirmed subscriber, as the API would leave it (without sending a confirmation)."""
    repository = DynamoSubscriberRepository(stack.outputs["SubscribersTableName"], stack.dynamodb)
    sid = subscriber_id(keys().id_key, address)
    now = datetime.now(UTC)
    assert repository.request_confirmation(sid, address, now, timedelta(minutes=10), timedelta(days=3))
    assert repository.confirm(sid, tags, now) == "confirmed"
    return sid


def sqs_event(body: str) -> dict[str, Any]:
    event = load("deliver-batch")
    event["Records"][0]["body"] = body
    return event


def test_the_notify_event_fans_out_by_tag_and_each_match_gets_one_email(aws_stack: StackHandle) -> None:
    seed_confirmed(aws_stack, "all@example.com")
    seed_confirmed(aws_stack, "aws@example.com", ("aws",))
    seed_confirmed(aws_stack, "both@example.com", ("AWS", "python"))
    seed_confirmed(aws_stack, "rust@example.com", ("rust",))
    result = aws_stack.invoke("Notify", load("notify-post-published"))
    assert result == {"batchItemFailures": []}
    assert aws_stack.queue_depth("DeliveryQueueUrl") == 1
    aws_stack.drain()
    assert post_emails(aws_stack) == Counter({"all@example.com": 1, "aws@example.com": 1, "both@example.com": 1})
    message = next(m for m in emails(aws_stack) if m["To"] == "both@example.com")
    post = post_from_event()
    assert message["Subject"] == post.title
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/api/subscriptions/unsubscribe?token=")
    for kind in ("plain", "html"):
        body = message.get_body(preferencelist=(kind,)).get_content()  # type: ignore[union-attr]
        assert post.title.split(",")[0] in body and post.summary in body and post.url in body
        assert "/subscriptions/unsubscribe?token=" in body


def test_post_published_goes_to_the_topic_once_with_the_tags_as_an_attribute(aws_stack: StackHandle) -> None:
    sqs, sns = aws_stack.sqs, aws_stack.sns
    url = sqs.create_queue(QueueName="posts-topic-listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=aws_stack.outputs["PostsTopicArn"], Protocol="sqs", Endpoint=arn)
    aws_stack.invoke("Notify", load("notify-post-published"))
    aws_stack.invoke("Notify", load("notify-post-published"))  # a duplicate
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert PostPublished.model_validate_json(envelope["Message"]) == post_from_event()
    assert envelope["MessageAttributes"]["tags"] == {"Type": "String.Array", "Value": '["aws", "python"]'}
    assert envelope["MessageAttributes"]["type"]["Value"] == "post.published"


def test_duplicated_notify_and_delivery_events_send_each_email_once(aws_stack: StackHandle) -> None:
    ids = [seed_confirmed(aws_stack, f"reader{n}@example.com") for n in range(60)]
    for _ in range(3):
        aws_stack.invoke("Notify", load("notify-post-published"))
    assert aws_stack.queue_depth("DeliveryQueueUrl") == 2  # 60 recipients: 50 + 10, enqueued once
    # And the same delivery batch arriving again, directly.
    duplicate = DeliveryBatch(post=post_from_event(), subscriber_ids=ids[:50]).model_dump_json()
    aws_stack.drain()
    aws_stack.invoke("Deliver", sqs_event(duplicate))
    assert post_emails(aws_stack) == Counter({f"reader{n}@example.com": 1 for n in range(60)})


def test_the_deliver_event_file_sends_to_a_confirmed_subscriber(aws_stack: StackHandle) -> None:
    sid = seed_confirmed(aws_stack, "reader@example.com", ("python",))
    event = json.loads(json.dumps(load("deliver-batch")).replace("REPLACE_WITH_SUBSCRIBER_ID", sid))
    assert aws_stack.invoke("Deliver", event) == {"batchItemFailures": []}
    assert post_emails(aws_stack) == Counter({"reader@example.com": 1})


def test_a_crash_mid_batch_and_the_retries_send_each_recipient_exactly_one(
    aws_stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pressline.stages import deliver
    from pressline.subscribers.aws import SesMailer

    ids = [seed_confirmed(aws_stack, f"reader{n}@example.com") for n in range(12)]
    event = sqs_event(DeliveryBatch(post=post_from_event(), subscriber_ids=ids).model_dump_json())
    real_send = SesMailer.send
    calls = {"n": 0}

    def dies_inside_the_seventh_send(self: SesMailer, email: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 7:
            raise ConnectionResetError("the process died inside the send call")
        return real_send(self, email)

    monkeypatch.setattr(SesMailer, "send", dies_inside_the_seventh_send)
    first = aws_stack.invoke("Deliver", event)
    assert len(first["batchItemFailures"]) == 1
    assert sum(post_emails(aws_stack).values()) == 6
    # The retry comes while the dead invocation's claims are fresh: it claimed the batch in one
    # call, so the seventh and the five after it wait for its lease, and nothing is sent.
    assert len(aws_stack.invoke("Deliver", event)["batchItemFailures"]) == 1
    assert sum(post_emails(aws_stack).values()) == 6
    # After the visibility timeout the claims are stale and are taken over.
    clock = FakeClock(datetime.now(UTC) + timedelta(minutes=6))
    real = deliver.delivery()
    deliver.override(type(real)(real.repository, real.ledger, real.mailer, real.keys, real.site, clock))
    try:
        assert aws_stack.invoke("Deliver", event) == {"batchItemFailures": []}
        assert aws_stack.invoke("Deliver", event) == {"batchItemFailures": []}
    finally:
        deliver.override(None)
    assert post_emails(aws_stack) == Counter({f"reader{n}@example.com": 1 for n in range(12)})


def test_a_batch_of_fifty_costs_one_claim_call_then_a_send_and_a_mark_each(aws_stack: StackHandle) -> None:
    from pressline.adapters.aws import client
    from pressline.stages import deliver

    ids = [seed_confirmed(aws_stack, f"reader{n}@example.com") for n in range(50)]
    event = sqs_event(DeliveryBatch(post=post_from_event(), subscriber_ids=ids).model_dump_json())
    deliver.sending_pause()  # the pause's read (one a container every 30 s) out of the count
    calls: Counter[str] = Counter()
    for service in ("dynamodb", "sesv2", "s3"):
        client(service).meta.events.register(f"before-call.{service}", lambda model, **_: calls.update([model.name]))
    assert aws_stack.invoke("Deliver", event) == {"batchItemFailures": []}
    # The subscribers and the post's rendering read once, the batch claimed in one transaction
    # (was 50 PutItem), then each email sent and marked right after its own send.
    assert calls == Counter(
        {"BatchGetItem": 1, "GetObject": 1, "TransactWriteItems": 1, "SendEmail": 50, "UpdateItem": 50}
    )
    assert post_emails(aws_stack) == Counter({f"reader{n}@example.com": 1 for n in range(50)})


def test_fanout_resumes_across_invocations_when_time_runs_short(
    aws_stack: StackHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pressline.stages import notify
    from pressline.subscribers import fanout

    table = aws_stack.outputs["SubscribersTableName"]
    with _batch(aws_stack, table) as put:
        for n in range(230):
            sid = f"{n:032x}"
            for audience in audiences_of(()):
                put(sid, audience)
    monkeypatch.setattr(fanout, "PAGE_SIZE", 50)
    budget = iter([timedelta(minutes=5)] * 2)
    monkeypatch.setattr(notify, "_time_left", lambda: next(budget, timedelta(seconds=1)))
    real = notify.services().fanout
    small_pages = type(real)(real.repository, real.ledger, real.deliveries, real.announcer, real.clock, real.lease, 50)
    notify.override(notify.Services(small_pages, notify.services().continuations))
    try:
        aws_stack.invoke("Notify", load("notify-post-published"))
        assert aws_stack.queue_depth("NotifyQueueUrl") == 1  # the continuation
        assert aws_stack.queue_depth("DeliveryQueueUrl") == 2  # two pages of 50
        budget = iter([timedelta(minutes=5)] * 100)
        invocations = [i for i in aws_stack.drain() if i.function == "NotifyFunction"]
    finally:
        notify.override(None)
    assert invocations and all(i.ok for i in invocations)
    state = aws_stack.dynamodb.get_item(
        TableName=aws_stack.outputs["LedgerTableName"], Key={"id": {"S": "fanout#hello-serverless"}}
    )["Item"]
    assert state["done"]["BOOL"] is True and state["recipients"]["N"] == "230"


class _batch:
    """Seeds audience memberships directly (fast), as confirmed subscribers would have them."""

    def __init__(self, stack: StackHandle, table: str) -> None:
        self.db = stack.dynamodb
        self.table = table
        self.items: list[dict[str, Any]] = []

    def __enter__(self) -> Any:
        def put(sid: str, audience: str) -> None:
            self.items.append(
                {
                    "pk": {"S": f"SUB#{sid}"},
                    "sk": {"S": f"AUD#{audience}"},
                    "gsi1pk": {"S": f"AUD#{audience}"},
                    "gsi1sk": {"S": sid},
                    "tags": {"L": []},
                }
            )

        return put

    def __exit__(self, *_: object) -> None:
        for start in range(0, len(self.items), 25):
            chunk = self.items[start : start + 25]
            self.db.batch_write_item(RequestItems={self.table: [{"PutRequest": {"Item": item}} for item in chunk]})


def _subscribe_via_api(stack: StackHandle, address: str, tags: list[str] | None = None) -> dict[str, Any]:
    event = load("subscriptions-subscribe-json")
    event["body"] = json.dumps({"email": address, "tags": tags or []})
    response: dict[str, Any] = stack.invoke("Subscriptions", event)
    return response


@pytest.mark.parametrize("kind", ["bounce", "complaint"])
def test_bounces_and_complaints_suppress_the_address_for_good(aws_stack: StackHandle, kind: str) -> None:
    address = f"{kind}@simulator.amazonses.com"
    sid = seed_confirmed(aws_stack, address)
    assert aws_stack.invoke("EmailFeedback", load(f"feedback-{kind}")) == {"suppressed": 1}
    table = aws_stack.outputs["SubscribersTableName"]
    items = aws_stack.dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"SUB#{sid}"}}
    )["Items"]
    assert [item["sk"]["S"] for item in items] == ["SUPPRESSION"]
    assert "address" not in items[0]
    # Nothing more: no post email, and signing up again sends no confirmation (same answer).
    aws_stack.invoke("Notify", load("notify-post-published"))
    aws_stack.drain()
    assert post_emails(aws_stack) == Counter()
    assert _subscribe_via_api(aws_stack, address)["statusCode"] == 202
    assert emails(aws_stack) == []


def test_transient_bounces_suppress_nothing(aws_stack: StackHandle) -> None:
    seed_confirmed(aws_stack, "bounce@simulator.amazonses.com")
    event = load("feedback-bounce")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["bounce"]["bounceType"] = "Transient"
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    assert aws_stack.invoke("EmailFeedback", event) == {"suppressed": 0}


@pytest.fixture
def all_output(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged while the test runs: stdout/stderr, stdlib logging, and the
    Powertools loggers' own handlers (redirected here, whatever stream they were given)."""
    buffer = io.StringIO()
    caplog.set_level(logging.INFO)  # as deployed (POWERTOOLS_LOG_LEVEL=INFO; botocore stays quiet)
    redirected: list[tuple[logging.StreamHandler[Any], Any]] = []

    def redirect() -> None:
        for name in ("subscriptions", "notify", "deliver", "feedback", "pressline-tests"):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is not buffer:
                    # Swap without setStream: it flushes the old stream, which may be a closed capture.
                    redirected.append((handler, handler.stream))
                    handler.stream = buffer

    buffer.redirect = redirect  # type: ignore[attr-defined]
    yield buffer
    for handler, stream in redirected:
        handler.stream = stream


def test_no_address_appears_in_any_log(
    aws_stack: StackHandle,
    all_output: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    addresses = ["Secret.Reader@Example.com", "hidden.person@example.org", "bounce@simulator.amazonses.com"]
    # Import every stage once so their loggers exist, then capture their output.
    for name in ("subscriptions-confirm-get", "subscriptions-unsubscribe-get"):
        aws_stack.invoke("Subscriptions", load(name))
    aws_stack.invoke("EmailFeedback", {"Records": []})
    aws_stack.invoke(
        "Deliver", sqs_event(DeliveryBatch(post=post_from_event(), subscriber_ids=["x"]).model_dump_json())
    )
    all_output.redirect()  # type: ignore[attr-defined]

    for address in addresses:
        _subscribe_via_api(aws_stack, address, ["aws"])
        _subscribe_via_api(aws_stack, address)  # rate-limited
    _subscribe_via_api(aws_stack, "hidden.person@example.org\r\nBcc: x@example.org")
    for message in emails(aws_stack):
        token = message.get_body(("plain",)).get_content().split("token=")[1].split()[0]  # type: ignore[union-attr]
        confirm = load("subscriptions-confirm-post")
        confirm["rawQueryString"] = f"token={token}"
        confirm["queryStringParameters"] = {"token": token}
        assert aws_stack.invoke("Subscriptions", confirm)["statusCode"] == 200
    aws_stack.invoke("Notify", load("notify-post-published"))
    aws_stack.drain()
    assert sum(post_emails(aws_stack).values()) == 3
    unsubscribe_link = next(
        m for m in emails(aws_stack) if m["To"] == "hidden.person@example.org" and m["List-Unsubscribe"]
    )
    token = unsubscribe_link["List-Unsubscribe"].split("token=")[1].rstrip(">")
    one_click = load("subscriptions-unsubscribe-one-click")
    one_click["rawQueryString"] = f"token={token}"
    one_click["queryStringParameters"] = {"token": token}
    assert aws_stack.invoke("Subscriptions", one_click)["statusCode"] == 200
    aws_stack.invoke("EmailFeedback", load("feedback-bounce"))

    captured = capsys.readouterr()
    logged = all_output.getvalue() + captured.out + captured.err + caplog.text
    logged += logged.lower()
    assert '"subscriber"' in logged  # the logs are there, keyed by subscriber id...
    for address in addresses:
        assert address not in logged and address.lower() not in logged  # ...never by address
    for local_part in ("secret.reader", "hidden.person"):  # not even masked-but-recognisable
        assert local_part not in logged


def test_a_fanout_held_by_another_invocation_is_retried_after_its_lease(aws_stack: StackHandle) -> None:
    from pressline.subscribers.dynamodb import DynamoLedger

    seed_confirmed(aws_stack, "reader@example.com")
    ledger = DynamoLedger(aws_stack.outputs["LedgerTableName"], aws_stack.dynamodb)
    held = ledger.acquire("hello-serverless", "another-invocation", datetime.now(UTC), timedelta(seconds=90))
    assert isinstance(held, FanoutState)
    assert aws_stack.invoke("Notify", load("notify-post-published")) == {"batchItemFailures": []}
    attributes = aws_stack.sqs.get_queue_attributes(
        QueueUrl=aws_stack.outputs["NotifyQueueUrl"], AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # comes back when the lease has run out
    assert aws_stack.queue_depth("DeliveryQueueUrl") == 0


def test_a_confirmation_click_after_a_bounce_does_not_subscribe(aws_stack: StackHandle) -> None:
    address = "bounce@simulator.amazonses.com"
    assert _subscribe_via_api(aws_stack, address)["statusCode"] == 202
    [confirmation] = emails(aws_stack)
    token = confirmation.get_body(("plain",)).get_content().split("token=")[1].split()[0]  # type: ignore[union-attr]
    aws_stack.invoke("EmailFeedback", load("feedback-bounce"))
    confirm = load("subscriptions-confirm-post")
    confirm["rawQueryString"] = f"token={token}"
    confirm["queryStringParameters"] = {"token": token}
    response = aws_stack.invoke("Subscriptions", confirm)
    assert response["statusCode"] == 409
    sid = subscriber_id(keys().id_key, address)
    items = aws_stack.dynamodb.query(
        TableName=aws_stack.outputs["SubscribersTableName"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"SUB#{sid}"}},
    )["Items"]
    assert [item["sk"]["S"] for item in items] == ["SUPPRESSION"]


def test_an_invocation_whose_lease_was_taken_over_cannot_checkpoint(aws_stack: StackHandle) -> None:
    from pressline.subscribers.dynamodb import DynamoLedger
    from pressline.subscribers.ports import LeaseLost

    ledger = DynamoLedger(aws_stack.outputs["LedgerTableName"], aws_stack.dynamodb)
    now = datetime.now(UTC)
    first = ledger.acquire("a-post", "first", now, timedelta(seconds=90))
    assert isinstance(first, FanoutState)
    held = ledger.acquire("a-post", "second", now + timedelta(seconds=30), timedelta(seconds=90))
    assert isinstance(held, LeaseHeld) and abs(held.until - (now + timedelta(seconds=90))) < timedelta(seconds=1)
    second = ledger.acquire("a-post", "second", now + timedelta(seconds=91), timedelta(seconds=90))
    assert isinstance(second, FanoutState) and second.owner == "second"
    with pytest.raises(LeaseLost):
        ledger.save(first, now + timedelta(seconds=92), timedelta(seconds=90))
    ledger.save(second, now + timedelta(seconds=92), timedelta(seconds=90), release=True)
    # Released: anyone may take it at once.
    assert isinstance(
        ledger.acquire("a-post", "third", now + timedelta(seconds=93), timedelta(seconds=90)), FanoutState
    )


def test_the_lease_is_one_conditional_write_that_keeps_the_saved_progress(aws_stack: StackHandle) -> None:
    from pressline.subscribers.dynamodb import DynamoLedger

    calls: Counter[str] = Counter()
    db = aws_stack.dynamodb
    db.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    ledger = DynamoLedger(aws_stack.outputs["LedgerTableName"], db)
    now = datetime.now(UTC)
    lease = timedelta(seconds=90)
    created = ledger.acquire("a-post", "first", now, lease)
    assert created == FanoutState(post="a-post", owner="first")
    progress = FanoutState(
        "a-post",
        "first",
        audience=2,
        cursor={"gsi1pk": {"S": "AUD#ALL"}},
        announced=True,
        recipients=70,
        batches=2,
        pages=3,
    )
    ledger.save(progress, now, lease)
    assert ledger.acquire("a-post", "first", now + timedelta(seconds=1), lease) == progress  # its own: renewed
    held = ledger.acquire("a-post", "second", now + timedelta(seconds=2), lease)
    assert isinstance(held, LeaseHeld) and abs(held.until - (now + timedelta(seconds=1) + lease)) < timedelta(
        milliseconds=1
    )
    taken = ledger.acquire("a-post", "second", now + timedelta(seconds=92), lease)
    assert taken == FanoutState(**{**progress.__dict__, "owner": "second"})  # resumes where "first" stopped
    ledger.save(FanoutState(**{**progress.__dict__, "owner": "second", "done": True}), now, lease, release=True)
    done = ledger.acquire("a-post", "third", now + timedelta(seconds=200), lease)
    assert isinstance(done, FanoutState) and done.done and done.owner == "second"
    # One call per acquire, whatever its outcome: no read before the write.
    assert calls == Counter({"UpdateItem": 5, "PutItem": 2})


def test_log_lines_carry_the_message_id_as_correlation_id(
    aws_stack: StackHandle, all_output: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_confirmed(aws_stack, "reader@example.com")
    aws_stack.invoke("Deliver", sqs_event("{}"))  # first import: the stage's logger exists from here on
    all_output.redirect()  # type: ignore[attr-defined]
    event = load("notify-post-published")
    aws_stack.invoke("Notify", event)
    lines = [json.loads(line) for line in (all_output.getvalue() + capsys.readouterr().out).splitlines()]
    notify_lines = [line for line in lines if line.get("service") == "notify" and "message" in line]
    assert notify_lines, lines
    assert {line.get("correlation_id") for line in notify_lines} == {event["Records"][0]["messageId"]}


# --------------------------------------------------------------------------- batches of announcements
def _posts_of(event: dict[str, Any]) -> dict[str, PostPublished]:
    posts: dict[str, PostPublished] = {}
    for record in event["Records"]:
        try:
            post = PostPublished.model_validate_json(record["body"])
        except ValueError:
            continue
        posts.setdefault(post.slug, post)
    return posts


def _topic_listener(stack: StackHandle) -> str:
    url: str = stack.sqs.create_queue(QueueName="posts-topic-listener")["QueueUrl"]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.sns.subscribe(TopicArn=stack.outputs["PostsTopicArn"], Protocol="sqs", Endpoint=arn)
    return url


def _announced(stack: StackHandle, url: str) -> Counter[str]:
    slugs: Counter[str] = Counter()
    while messages := stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            envelope = json.loads(message["Body"])
            assert envelope["Subject"] == "post.published"
            assert envelope["MessageAttributes"]["slug"]["Value"] == json.loads(envelope["Message"])["slug"]
            slugs[json.loads(envelope["Message"])["slug"]] += 1
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return slugs


def _post_emails_by_post(stack: StackHandle, posts: dict[str, PostPublished]) -> Counter[tuple[str, str]]:
    """(recipient, slug) -> emails, the post told apart by its URL in the text part."""
    found: Counter[tuple[str, str]] = Counter()
    for message in emails(stack):
        if str(message["Subject"]).startswith("Confirm"):
            continue
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        [slug] = [slug for slug, post in posts.items() if post.url in text]
        found[(str(message["To"]), slug)] += 1
    return found


def _expected_emails(readers: dict[str, tuple[str, ...]], posts: dict[str, PostPublished]) -> Counter[tuple[str, str]]:
    from pressline.subscribers.model import wants

    return Counter(
        {
            (address, slug): 1
            for address, tags in readers.items()
            for slug, post in posts.items()
            if wants(tags, post.tags)
        }
    )


READERS = {
    "all@example.com": (),
    "aws@example.com": ("aws",),
    "python@example.com": ("python",),
    "rust@example.com": ("rust",),
}


def test_a_batch_with_duplicates_mixed_audiences_and_a_malformed_record(aws_stack: StackHandle) -> None:
    from pressline.adapters.aws import client

    for address, tags in READERS.items():
        seed_confirmed(aws_stack, address, tags)
    listener = _topic_listener(aws_stack)
    event = load("notify-batch")
    posts = _posts_of(event)
    calls: Counter[str] = Counter()
    for service in ("dynamodb", "sqs", "sns"):
        client(service).meta.events.register(f"before-call.{service}", lambda model, **_: calls.update([model.name]))
    result = aws_stack.invoke("Notify", event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "notify-batch-0006"}]}  # only the malformed one
    # Four posts (one sent twice): one lease write, one digest log write (UpdateItem), one
    # announcement call, one query per distinct audience (ALL, TAG#aws, TAG#python), one send
    # for their four delivery batches, one save.
    assert calls == Counter(
        {"TransactWriteItems": 2, "UpdateItem": 1, "PublishBatch": 1, "Query": 3, "SendMessageBatch": 1}
    )
    assert aws_stack.queue_depth("DeliveryQueueUrl") == 4
    aws_stack.drain()
    assert _post_emails_by_post(aws_stack, posts) == _expected_emails(READERS, posts)
    assert _announced(aws_stack, listener) == Counter(dict.fromkeys(posts, 1))
    # Delivered again (SQS at least once), whole and reordered: nothing more.
    event["Records"].reverse()
    assert aws_stack.invoke("Notify", event) == {"batchItemFailures": [{"itemIdentifier": "notify-batch-0006"}]}
    aws_stack.drain()
    assert _post_emails_by_post(aws_stack, posts) == _expected_emails(READERS, posts)
    assert _announced(aws_stack, listener) == Counter()


def _batch_event(posts: list[PostPublished], prefix: str) -> dict[str, Any]:
    template = load("notify-batch")["Records"][0]
    return {
        "Records": [
            {**template, "messageId": f"{prefix}-{n}", "body": post.model_dump_json()} for n, post in enumerate(posts)
        ]
    }


def _later_fanout(seconds: int) -> Any:
    """Notify's services with its clock moved on (the dead invocation's lease has run out)."""
    from pressline.stages import notify

    real = notify.services()
    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=seconds))
    later = type(real.fanout)(
        real.fanout.repository,
        real.fanout.ledger,
        real.fanout.deliveries,
        real.fanout.announcer,
        clock,
        real.fanout.lease,
    )
    return notify.Services(later, real.continuations)


def test_a_batch_killed_at_any_of_its_calls_then_retried_emails_each_reader_once_a_post(
    aws_stack: StackHandle,
) -> None:
    import random

    from pressline.local.faults import AwsFaults, HandlerKilled
    from pressline.stages import notify

    for address, tags in READERS.items():
        seed_confirmed(aws_stack, address, tags)
    listener = _topic_listener(aws_stack)
    faults = AwsFaults(random.Random(0), rate=0.0)
    everything: dict[str, PostPublished] = {}
    kills = 0
    with faults.installed():
        for kill_after in range(1, 10):  # 8 calls for this batch: every one, and after the last
            batch = [
                PostPublished.model_validate_json(load("notify-post-published")["Records"][0]["body"]).model_copy(
                    update={
                        "slug": f"k{kill_after}-{name}",
                        "url": f"https://blog.example/k{kill_after}-{name}/",
                        "tags": tags,
                    }
                )
                for name, tags in (("both", ("aws", "python")), ("aws", ("aws",)), ("none", ()))
            ]
            everything.update({post.slug: post for post in batch})
            event = _batch_event(batch, f"kill-{kill_after}")
            try:
                with faults.active(kill_after=kill_after):
                    aws_stack.invoke("Notify", event)
            except HandlerKilled:
                kills += 1  # the container died: the whole batch comes back
                notify.override(_later_fanout(seconds=91))
                try:
                    assert aws_stack.invoke("Notify", event) == {"batchItemFailures": []}
                finally:
                    notify.override(None)
            aws_stack.drain()
    assert kills == 8
    assert _post_emails_by_post(aws_stack, everything) == _expected_emails(READERS, everything)
    announced = _announced(aws_stack, listener)
    assert set(announced) == set(everything) and all(1 <= count <= 2 for count in announced.values())


# --------------------------------------------------------------------------- the ledger's batch writes: fake = real
@pytest.fixture(params=["memory", "dynamodb"])
def fanout_ledger(request: pytest.FixtureRequest) -> Any:
    from pressline.subscribers.memory import MemoryLedger

    if request.param == "memory":
        return MemoryLedger()
    from pressline.subscribers.dynamodb import DynamoLedger

    stack: StackHandle = request.getfixturevalue("aws_stack")
    return DynamoLedger(stack.outputs["LedgerTableName"], stack.dynamodb)


def test_start_many_creates_fresh_states_and_reports_every_other_as_acquire_would(fanout_ledger: Any) -> None:
    now, lease = datetime.now(UTC).replace(microsecond=0), timedelta(seconds=90)
    ledger = fanout_ledger
    assert isinstance(ledger.acquire("done", "old", now, lease), FanoutState)
    ledger.save(
        FanoutState("done", "old", audience=1, announced=True, done=True, recipients=3), now, lease, release=True
    )
    assert isinstance(ledger.acquire("held", "other", now, lease), FanoutState)
    assert isinstance(ledger.acquire("expired", "dead", now - timedelta(seconds=200), lease), FanoutState)
    assert isinstance(ledger.acquire("mine", "me:mine", now, lease), FanoutState)
    later = now + timedelta(seconds=10)
    found = ledger.start_many(
        [
            ("new-1", "me:new-1"),
            ("done", "me:done"),
            ("held", "me:held"),
            ("new-2", "me:new-2"),
            ("expired", "me:expired"),
            ("mine", "me:mine"),
        ],
        later,
        lease,
    )
    assert found == {
        "new-1": FanoutState("new-1", "me:new-1"),
        "done": FanoutState("done", "old", audience=1, announced=True, done=True, recipients=3),
        "held": LeaseHeld(now + lease),
        "new-2": FanoutState("new-2", "me:new-2"),
        "expired": None,
        "mine": FanoutState("mine", "me:mine"),
    }
    # The new ones are ours now: another owner is held off, and our checkpoints pass.
    assert ledger.acquire("new-1", "someone", later, lease) == LeaseHeld(later + lease)
    assert (
        ledger.save_many(
            [
                FanoutState("new-1", "me:new-1", announced=True, done=True),
                FanoutState("new-2", "me:new-2", announced=True),
            ],
            later,
            lease,
        )
        == set()
    )
    # Done: released and final; not done: its lease extended from ``later``.
    assert ledger.acquire("new-1", "someone", later, lease) == FanoutState(
        "new-1", "me:new-1", announced=True, done=True
    )
    assert ledger.acquire("new-2", "someone", later + timedelta(seconds=89), lease) == LeaseHeld(later + lease)
    assert ledger.acquire("new-2", "someone", later + lease, lease) == FanoutState("new-2", "someone", announced=True)


def test_save_many_writes_nothing_for_a_post_whose_lease_was_taken(fanout_ledger: Any) -> None:
    now, lease = datetime.now(UTC).replace(microsecond=0), timedelta(seconds=90)
    ledger = fanout_ledger
    ledger.start_many([("a", "me:a"), ("b", "me:b")], now, lease)
    taken = ledger.acquire("b", "thief", now + lease + timedelta(seconds=1), lease)
    assert isinstance(taken, FanoutState) and taken.owner == "thief"
    lost = ledger.save_many(
        [FanoutState("a", "me:a", announced=True, done=True), FanoutState("b", "me:b", announced=True, done=True)],
        now + lease + timedelta(seconds=2),
        lease,
    )
    assert lost == {"b"}
    assert ledger.acquire("a", "x", now + lease + timedelta(seconds=3), lease).done
    held = ledger.acquire("b", "x", now + lease + timedelta(seconds=3), lease)
    assert isinstance(held, LeaseHeld)  # still the thief's, not done


def test_start_many_takes_more_leases_than_a_transaction_holds(fanout_ledger: Any) -> None:
    now, lease = datetime.now(UTC), timedelta(seconds=90)
    posts = [(f"post-{n:03d}", f"me:{n}") for n in range(130)]  # two transactions on DynamoDB (100 + 30)
    fanout_ledger.acquire("post-117", "done-before", now, lease)
    fanout_ledger.save(FanoutState("post-117", "done-before", done=True), now, lease, release=True)
    found = fanout_ledger.start_many(posts, now, lease)
    assert found == {
        post: FanoutState(post, "done-before", done=True) if post == "post-117" else FanoutState(post, owner)
        for post, owner in posts
    }


@pytest.fixture(params=["memory", "sns"])
def announcer(request: pytest.FixtureRequest) -> Any:
    from pressline.subscribers.memory import MemoryAnnouncer

    if request.param == "memory":
        return MemoryAnnouncer()
    from pressline.subscribers.aws import SnsAnnouncer

    stack: StackHandle = request.getfixturevalue("aws_stack")
    request.node.listener = (stack, _topic_listener(stack))
    return SnsAnnouncer(stack.outputs["PostsTopicArn"], stack.sns)


def test_announce_many_publishes_each_post_once_ten_a_call(announcer: Any, request: pytest.FixtureRequest) -> None:
    posts = [post_from_event().model_copy(update={"slug": f"post-{n}"}) for n in range(13)]
    assert announcer.announce_many(posts) == []
    if hasattr(request.node, "listener"):
        stack, url = request.node.listener
        assert _announced(stack, url) == Counter({post.slug: 1 for post in posts})
    else:
        assert announcer.announced == posts and announcer.calls == 2


def test_announce_many_returns_the_entries_sns_kept_refusing() -> None:
    import boto3
    from botocore.stub import ANY, Stubber

    from pressline.subscribers.aws import SnsAnnouncer, _announcement

    sns = boto3.client("sns", region_name="us-east-1")  # its own client: nothing else sees the stub
    posts = [post_from_event().model_copy(update={"slug": f"post-{n}"}) for n in range(3)]
    refused = {"Id": "1", "Code": "InternalError", "SenderFault": False}
    with Stubber(sns) as stub:
        stub.add_response(
            "publish_batch",
            {"Successful": [{"Id": "0", "MessageId": "m0"}, {"Id": "2", "MessageId": "m2"}], "Failed": [refused]},
            {"TopicArn": "arn:aws:sns:us-east-1:123456789012:posts", "PublishBatchRequestEntries": ANY},
        )
        stub.add_response(  # the second try sends only the refused entry
            "publish_batch",
            {"Successful": [], "Failed": [refused]},
            {
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:posts",
                "PublishBatchRequestEntries": [{"Id": "1", **_announcement(posts[1])}],
            },
        )
        assert SnsAnnouncer("arn:aws:sns:us-east-1:123456789012:posts", sns).announce_many(posts) == [posts[1]]
        stub.assert_no_pending_responses()
