"""The Index function's batch handling on fakes: FIFO order is kept after a failure, and
a malformed update never holds the site's single message group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from index_world import START, World

from pressline.errors import RetryableError
from pressline.indexing.catalog import Commit
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
                "attributes": {"MessageGroupId": "site", "SequenceNumber": str(n), "ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:index.fifo",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def context() -> LambdaContext:
    return LambdaContext("index", "arn:aws:lambda:us-east-1:123456789012:function:index", 512, 60)


@pytest.fixture
def handled(world: World) -> Iterator[World]:
    index_handler.override(world.deps)
    yield world
    index_handler.override(None)


class FlakyCatalog(MemoryCatalog):
    """Fails the commit of one key, as a throttled DynamoDB would."""

    def __init__(self, catalog: MemoryCatalog, failing_key: str) -> None:
        self.__dict__.update(catalog.__dict__)
        self.failing_key = failing_key

    def commit(self, commit: Commit) -> None:
        if commit.source_key == self.failing_key:
            raise RetryableError("DynamoDB transact_write_items: ThrottlingException")
        super().commit(commit)


def test_after_a_failure_the_rest_of_the_batch_is_retried_in_order(handled: World) -> None:
    first = handled.upload("posts/a.md", "Alpha", START - timedelta(days=2))
    broken = handled.upload("posts/b.md", "Beta", START - timedelta(days=1))
    last = handled.upload("posts/c.md", "Gamma", START)
    handled.deps.catalog = FlakyCatalog(handled.catalog, "posts/b.md")
    handled.catalog = handled.deps.catalog

    result = index_handler.handle(sqs_event([u.model_dump_json() for u in (first, broken, last)]), context())

    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert set(handled.catalog.posts) == {"posts/a.md"}  # Gamma waits for Beta: order is kept


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_without_a_dead_letter_queue_a_malformed_update_fails_the_batch(
    handled: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INDEX_DEAD_LETTER_QUEUE_URL", raising=False)
    good = handled.upload("posts/a.md", "Alpha", START - timedelta(days=1))

    event = sqs_event([json.dumps({"action": "explode"}), good.model_dump_json()])

    # Without a DLQ to move it to, the record fails (SQS's redrive policy takes it after its
    # receives) and the FIFO processor holds the rest back: here the whole batch fails.
    with pytest.raises(BatchProcessingError):
        index_handler.handle(event, context())
    assert handled.catalog.posts == {}


def test_a_skipped_update_is_a_success(handled: World) -> None:
    update = handled.upload("posts/a.md", "Alpha", START - timedelta(days=1))
    stale = IndexUpdate(action="delete", source=update.source)

    result = index_handler.handle(sqs_event([update.model_dump_json(), stale.model_dump_json()]), context())

    assert result == {"batchItemFailures": []}
    assert set(handled.catalog.posts) == {"posts/a.md"}


def test_a_missing_rendered_version_is_set_aside_not_retried(handled: World, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr(index_handler, "dead_letter", lambda record, reason: sent.append(reason))
    update = handled.upload("posts/a.md", "Alpha", START - timedelta(days=1), carry=False)  # too large to carry
    handled.source.delete(f"rendered/posts/a.md/{update.source.version_id}.json")

    result = index_handler.handle(sqs_event([update.model_dump_json()]), context())

    assert result == {"batchItemFailures": []}
    assert len(sent) == 1 and "rendered version" in sent[0]
