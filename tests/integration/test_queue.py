"""The Queue port: SqsQueue on moto and MemoryQueue, checked by the same tests.

Batched sends cost one SendMessageBatch per 10 messages and per 256 KiB, and name the
messages SQS did not take. moto enforces neither SQS's 256 KiB per request nor its
character set, so what goes over the wire is checked here as SQS would check it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pressline.adapters.queue import (
    BATCH_ENTRIES,
    MAX_BATCH_BYTES,
    MemoryQueue,
    Queue,
    SendBatchError,
    SqsQueue,
    batch_chunks,
    message_body,
)

KIB = 1024
# What SQS accepts in a body (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
SQS_ALLOWED = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


class Note(BaseModel):
    text: str


@dataclass
class Tried:
    """A queue under test, what it delivered, and the SendMessageBatch requests it made."""

    queue: Queue
    delivered: Callable[[], list[str]]  # the texts of the notes delivered
    requests: list[list[str]] = field(default_factory=list)  # each request's bodies


@pytest.fixture(params=["memory", "sqs"])
def tried(request: pytest.FixtureRequest) -> Iterator[Tried]:
    if request.param == "memory":
        memory = MemoryQueue()
        yield Tried(memory, lambda: [note.text for note in memory.sent if isinstance(note, Note)])
        return
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="queue-test")["QueueUrl"]
        requests: list[list[str]] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            requests.append([entry["MessageBody"] for entry in params["Entries"]])

        sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", record)

        def delivered() -> list[str]:
            texts: list[str] = []
            while found := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                texts += [Note.model_validate_json(m["Body"]).text for m in found]
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(found)],
                )
            return texts

        yield Tried(SqsQueue(url, sqs), delivered, requests)


def calls(tried: Tried) -> int:
    queue = tried.queue
    return queue.calls if isinstance(queue, MemoryQueue) else len(tried.requests)


def test_a_batch_goes_ten_messages_a_call(tried: Tried) -> None:
    notes = [Note(text=f"note {n}") for n in range(25)]
    tried.queue.send_batch(notes)
    assert sorted(tried.delivered()) == sorted(note.text for note in notes)
    assert calls(tried) == 3


def test_a_batch_is_split_at_256_kib_a_call(tried: Tried) -> None:
    notes = [Note(text=f"{n}" + "x" * (60 * KIB)) for n in range(10)]  # four fit in 256 KiB, five do not
    tried.queue.send_batch(notes)
    assert sorted(tried.delivered()) == sorted(note.text for note in notes)
    assert calls(tried) == 3
    for bodies in tried.requests:
        assert len(bodies) <= BATCH_ENTRIES and sum(len(body.encode()) for body in bodies) <= MAX_BATCH_BYTES


def test_a_message_sqs_refuses_fails_alone(tried: Tried) -> None:
    notes = [Note(text="first"), Note(text="x" * (257 * KIB)), Note(text="third")]
    with pytest.raises(SendBatchError) as raised:
        tried.queue.send_batch(notes)
    assert list(raised.value.failed) == [1] and "256 KiB" in raised.value.failed[1]
    assert sorted(tried.delivered()) == ["first", "third"]


def test_an_empty_batch_makes_no_call(tried: Tried) -> None:
    tried.queue.send_batch([])
    assert calls(tried) == 0 and tried.delivered() == []


def test_a_single_send_arrives(tried: Tried) -> None:
    tried.queue.send(Note(text="alone"))
    assert tried.delivered() == ["alone"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(st.characters(exclude_categories=["Cs"])), min_size=1, max_size=12))
def test_any_text_arrives_as_it_was_sent(tried: Tried, texts: list[str]) -> None:
    """Every character an author can type, U+FFFE and U+FFFF too: SQS refuses those raw, so
    a post or title with one would fail its message for good."""
    tried.queue.send_batch([Note(text=text) for text in texts])
    assert sorted(tried.delivered()) == sorted(texts)
    for bodies in tried.requests:
        assert all(SQS_ALLOWED.fullmatch(body) for body in bodies)
    tried.requests.clear()
    if isinstance(tried.queue, MemoryQueue):
        tried.queue.sent.clear()


@given(text=st.text(st.characters(exclude_categories=["Cs"])))
def test_a_body_is_json_of_the_same_text_in_sqs_characters(text: str) -> None:
    body = message_body(Note(text=text))
    assert SQS_ALLOWED.fullmatch(body) and json.loads(body) == {"text": text}


@given(sizes=st.lists(st.integers(min_value=0, max_value=300 * KIB), max_size=40))
def test_chunks_keep_the_order_and_the_limits(sizes: list[int]) -> None:
    bodies = ["x" * size for size in sizes]
    chunks = batch_chunks(bodies)
    assert [position for chunk in chunks for position in chunk] == list(range(len(bodies)))
    for chunk in chunks:
        total = sum(sizes[position] for position in chunk)
        assert 1 <= len(chunk) <= BATCH_ENTRIES
        assert total <= MAX_BATCH_BYTES or len(chunk) == 1  # a body too large goes alone, and fails alone


def test_a_request_that_fails_as_a_whole_fails_its_messages_only() -> None:
    """Throttled or lost: SqsQueue names every message of that request, and sends the rest;
    an entry SQS refuses within a request is named alone."""
    from botocore.exceptions import ClientError

    class Throttled:
        def __init__(self) -> None:
            self.requests = 0

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
            self.requests += 1
            if self.requests == 2:
                raise ClientError({"Error": {"Code": "RequestThrottled", "Message": "slow down"}}, "SendMessageBatch")
            refused = [{"Id": entry["Id"], "Code": "InternalError", "SenderFault": False} for entry in Entries[-1:]]
            taken = [{"Id": entry["Id"]} for entry in Entries[:-1]]
            return {"Successful": taken, "Failed": refused if self.requests == 3 else []}

    client = Throttled()
    with pytest.raises(SendBatchError) as raised:
        SqsQueue("https://sqs.example/123/q", client).send_batch([Note(text=str(n)) for n in range(25)])
    assert sorted(raised.value.failed) == [*range(10, 20), 24] and client.requests == 3
    assert "RequestThrottled" in raised.value.failed[10] and "InternalError" in raised.value.failed[24]
