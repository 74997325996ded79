"""The Index function's shell on fakes: a batch is applied whole; an update that can never
apply is set aside at once (the rest of its batch goes on); a transient failure retries the
batch; a full event makes Index receive the backlog itself. The fake backlog is checked
against the real one (SQS on moto) by ``test_the_backlog_fake_and_sqs_agree``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from index_world import START, World

from pressline.adapters.backlog import Received, SqsBacklog
from pressline.errors import RetryableError
from pressline.indexing.catalog import CatalogChanges
from pressline.indexing.memory import MemoryCatalog
from pressline.local.lambda_runtime import LambdaContext
from pressline.models import IndexUpdate
from pressline.stages import index_handler


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"r{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:index",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def context() -> LambdaContext:
    return LambdaContext("index", "arn:aws:lambda:us-east-1:123456789012:function:index", 512, 60)


class FakeBacklog:
    """The Backlog port in memory: what is still queued, what was deleted and set aside."""

    def __init__(self, bodies: Sequence[str] = (), *, dead_letters: bool = True) -> None:
        self.queued = [Received(f"q{n}", f"h{n}", body) for n, body in enumerate(bodies)]
        self.deleted: list[str] = []
        self.dead: list[tuple[str, str]] = []  # (message id, reason)
        self.dead_letters = dead_letters

    def receive(self, limit: int) -> list[Received]:
        taken, self.queued = self.queued[:limit], self.queued[limit:]
        return taken

    def delete(self, messages: list[Received]) -> None:
        self.deleted += [message.message_id for message in messages]

    def dead_letter(self, message_id: str, body: str, reason: str) -> None:
        if not self.dead_letters:
            raise RetryableError("no dead-letter queue configured")
        self.dead.append((message_id, reason))


@pytest.fixture
def backlog() -> FakeBacklog:
    return FakeBacklog()


@pytest.fixture
def handled(world: World, backlog: FakeBacklog) -> Iterator[World]:
    index_handler.override(world.deps, backlog)
    yield world
    index_handler.override(None)


class ThrottledCatalog(MemoryCatalog):
    """Refuses the batch's commit, as a throttled DynamoDB would."""

    def __init__(self, catalog: MemoryCatalog) -> None:
        self.__dict__.update(catalog.__dict__)

    def apply(self, changes: CatalogChanges) -> None:
        raise RetryableError("DynamoDB transact_write_items: ThrottlingException")


def impossible(world: World, key: str) -> IndexUpdate:
    """An update that Index can never apply: its rendering is of a status no post can have
    in the catalog (bad data, however it got there)."""
    update = world.upload(key, "Impossible", START - timedelta(days=3))
    assert update.rendered is not None
    return update.model_copy(update={"rendered": update.rendered.model_copy(update={"status": "rejected"})})


def test_a_transient_failure_retries_the_whole_batch(handled: World) -> None:
    updates = [handled.upload(f"posts/{n}.md", f"Post {n}", START - timedelta(days=n)) for n in range(3)]
    handled.deps.catalog = handled.catalog = ThrottledCatalog(handled.catalog)

    result = index_handler.handle(sqs_event([u.model_dump_json() for u in updates]), context())

    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{n}"} for n in range(3)]}
    assert handled.catalog.posts == {}


def test_an_update_that_can_never_apply_is_set_aside_and_the_rest_goes_on(handled: World, backlog: FakeBacklog) -> None:
    before = handled.upload("posts/a.md", "Alpha", START - timedelta(days=2))
    broken = impossible(handled, "posts/b.md")
    after = handled.upload("posts/c.md", "Gamma", START - timedelta(days=1))

    result = index_handler.handle(sqs_event([u.model_dump_json() for u in (before, broken, after)]), context())

    assert result == {"batchItemFailures": []}  # nothing waits for a retry
    assert set(handled.catalog.posts) == {"posts/a.md", "posts/c.md"}
    assert [message_id for message_id, _ in backlog.dead] == ["m1"]
    report = handled.report("posts/b.md")
    assert report["status"] == "failed" and "cannot be indexed" in report["errors"][0]["message"]
    assert handled.report("posts/c.md")["status"] == "published"
    assert handled.feed_urls() == ["https://blog.example/posts/gamma/", "https://blog.example/posts/alpha/"]


def test_a_bug_that_one_post_triggers_fails_that_post_alone(
    handled: World, backlog: FakeBacklog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever raises while a change is generated (here: the month page of one title) is
    rolled back from the batch: the batch's other changes are written and committed."""
    from pressline.indexing import views

    month_page = views.month_page

    def buggy(month: str, entries: Any, site: Any) -> str:
        if any(entry.title == "Trigger" for entry in entries):
            raise KeyError("a bug")
        return month_page(month, entries, site)

    monkeypatch.setattr(views, "month_page", buggy)
    good = handled.upload("posts/a.md", "Alpha", START - timedelta(days=40))  # another month
    bad = handled.upload("posts/b.md", "Trigger", START - timedelta(days=1))

    result = index_handler.handle(sqs_event([good.model_dump_json(), bad.model_dump_json()]), context())

    assert result == {"batchItemFailures": []}
    assert set(handled.catalog.posts) == {"posts/a.md"}
    assert [message_id for message_id, _ in backlog.dead] == ["m1"]
    assert handled.report("posts/b.md")["status"] == "failed"
    assert handled.site_store.get("posts/trigger/index.html") is None  # its pages were rolled back too
    assert handled.feed_urls() == ["https://blog.example/posts/alpha/"]


def test_a_malformed_update_is_set_aside_at_once(handled: World, backlog: FakeBacklog) -> None:
    good = handled.upload("posts/a.md", "Alpha", START - timedelta(days=1))

    result = index_handler.handle(sqs_event([json.dumps({"action": "explode"}), good.model_dump_json()]), context())

    assert result == {"batchItemFailures": []}
    assert [message_id for message_id, _ in backlog.dead] == ["m0"]
    assert set(handled.catalog.posts) == {"posts/a.md"}


def test_without_a_dead_letter_queue_the_bad_update_is_left_to_the_redrive_policy(world: World) -> None:
    backlog = FakeBacklog(dead_letters=False)
    index_handler.override(world.deps, backlog)
    try:
        good = world.upload("posts/a.md", "Alpha", START - timedelta(days=1))
        event = sqs_event([json.dumps({"action": "explode"}), good.model_dump_json()])
        result = index_handler.handle(event, context())
    finally:
        index_handler.override(None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}  # after maxReceiveCount: the DLQ
    assert set(world.catalog.posts) == {"posts/a.md"}


def test_a_skipped_update_is_a_success(handled: World) -> None:
    update = handled.upload("posts/a.md", "Alpha", START - timedelta(days=1))
    stale = IndexUpdate(action="delete", source=update.source)

    result = index_handler.handle(sqs_event([update.model_dump_json(), stale.model_dump_json()]), context())

    assert result == {"batchItemFailures": []}
    assert set(handled.catalog.posts) == {"posts/a.md"}


def test_a_missing_rendered_version_is_set_aside_not_retried(handled: World, backlog: FakeBacklog) -> None:
    update = handled.upload("posts/a.md", "Alpha", START - timedelta(days=1), carry=False)  # too large to carry
    handled.source.delete(f"rendered/posts/a.md/{update.source.version_id}.json")

    result = index_handler.handle(sqs_event([update.model_dump_json()]), context())

    assert result == {"batchItemFailures": []}
    assert len(backlog.dead) == 1 and "rendered version" in backlog.dead[0][1]
    assert handled.report("posts/a.md")["status"] == "failed"


def test_a_full_event_takes_the_backlog_into_the_same_batch(world: World) -> None:
    updates = [world.upload(f"posts/{n}.md", f"Post {n}", START - timedelta(hours=n)) for n in range(40)]
    backlog = FakeBacklog([u.model_dump_json() for u in updates[10:]])
    index_handler.override(world.deps, backlog)
    try:
        result = index_handler.handle(sqs_event([u.model_dump_json() for u in updates[:10]]), context())
    finally:
        index_handler.override(None)

    assert result == {"batchItemFailures": []}
    assert len(world.catalog.posts) == 40 and world.catalog.commits == 1  # one commit for the batch
    assert sorted(backlog.deleted) == sorted(f"q{n}" for n in range(30)) and backlog.queued == []
    assert len(world.site_store.log["index.html"]) == 1  # the home page once, whatever the batch's size


def test_an_event_that_is_not_full_costs_no_receive(world: World) -> None:
    update = world.upload("posts/a.md", "Alpha", START - timedelta(days=1))
    backlog = FakeBacklog([world.upload("posts/b.md", "Beta", START).model_dump_json()])
    index_handler.override(world.deps, backlog)
    try:
        index_handler.handle(sqs_event([update.model_dump_json()]), context())
    finally:
        index_handler.override(None)
    assert len(backlog.queued) == 1  # left for the event source


def test_the_backlog_fake_and_sqs_agree() -> None:
    """The same script against FakeBacklog and SqsBacklog on moto: what is received, deleted
    and set aside."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="index")["QueueUrl"]
        dead = sqs.create_queue(QueueName="index-dlq")["QueueUrl"]
        bodies = [json.dumps({"n": n}) for n in range(25)]
        for body in bodies:
            sqs.send_message(QueueUrl=queue, MessageBody=body)
        real = SqsBacklog(queue, dead, sqs=sqs)
        fake = FakeBacklog(bodies)
        for backlog in (real, fake):
            first = backlog.receive(12)
            assert len(first) == 12
            backlog.delete(first[:11])
            backlog.dead_letter(first[11].message_id, first[11].body, "why")
            rest = backlog.receive(100)
            assert sorted(json.loads(m.body)["n"] for m in first + rest) == list(range(25))
            assert backlog.receive(5) == []
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "14"  # received, not deleted
        set_aside = sqs.receive_message(QueueUrl=dead, MessageAttributeNames=["All"])["Messages"]
        assert set_aside[0]["MessageAttributes"]["reason"]["StringValue"] == "why"
        assert fake.dead == [(first[11].message_id, "why")]
