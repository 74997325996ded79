"""Sending inter-stage messages (pydantic models as JSON bodies) to SQS.

Every Pressline queue is a standard queue (the Index queue too since issue 18: Index orders
changes itself), so messages carry no group or deduplication id: receivers are idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from pressline.adapters.aws import client
from pressline.errors import RetryableError

# SQS's limits: 10 entries per SendMessageBatch, and 256 KiB per message and per request
# (bodies in UTF-8; Pressline sends no message attributes).
BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024

# SQS refuses a body with a character outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
# #x10000-#x10FFFF. JSON escapes the control characters already; U+FFFE and U+FFFF are
# valid in text (an author may type them) and would make the whole message fail for good,
# so they are sent as JSON escapes, which mean the same string. (JSON's structure is
# ASCII: they can only occur inside strings.)
_REFUSED_BY_SQS = re.compile("[\ufffe\uffff]")


def message_body(message: BaseModel) -> str:
    """A message's SQS body: its JSON, with what SQS refuses escaped."""
    return _REFUSED_BY_SQS.sub(lambda found: f"\\u{ord(found.group()):04x}", message.model_dump_json())


class SendBatchError(RetryableError):
    """Some messages of a batch were not sent: ``failed`` maps their positions in the batch
    to the reason. The others were sent. A caller that fails just the records whose messages
    these were catches it; one that does not retries the whole batch (it is a
    RetryableError), which is safe too: every receiver is idempotent."""

    def __init__(self, failed: dict[int, str]) -> None:
        self.failed = dict(failed)
        reasons = sorted(set(self.failed.values()))
        super().__init__(f"{len(self.failed)} messages not sent: {'; '.join(reasons)[:300]}")


class Queue(Protocol):
    def send(self, message: BaseModel) -> None:
        """Send one message; RetryableError if SQS did not take it."""
        ...

    def send_batch(self, messages: Sequence[BaseModel]) -> None:
        """Send every message, in as few calls as SQS allows (10 messages and 256 KiB per
        call); SendBatchError names the ones that were not sent."""
        ...


def batch_chunks(bodies: Sequence[str]) -> list[list[int]]:
    """The positions of ``bodies`` grouped into SendMessageBatch requests, in order: at most
    BATCH_ENTRIES each, and at most MAX_BATCH_BYTES in total. A body too large on its own
    gets a request of its own (SQS refuses it, and only it)."""
    chunks: list[list[int]] = []
    size = 0
    for position, body in enumerate(bodies):
        length = len(body.encode("utf-8"))
        if not chunks or len(chunks[-1]) == BATCH_ENTRIES or size + length > MAX_BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(position)
        size += length
    return chunks


class SqsQueue:
    def __init__(self, url: str, sqs: Any | None = None) -> None:
        self.url = url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = client("sqs")
        return self._sqs

    @property
    def _name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def send(self, message: BaseModel) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=message_body(message))
        except (ClientError, BotoCoreError) as error:
            raise RetryableError(f"SQS send to {self._name}: {error}") from error

    def send_batch(self, messages: Sequence[BaseModel]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        bodies = [message_body(message) for message in messages]
        failed: dict[int, str] = {}
        for chunk in batch_chunks(bodies):
            if len(bodies[chunk[0]].encode("utf-8")) > MAX_BATCH_BYTES:
                failed[chunk[0]] = "the message is over SQS's 256 KiB"  # SQS would refuse the whole request
                continue
            entries = [{"Id": str(position), "MessageBody": bodies[position]} for position in chunk]
            try:
                response = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as error:
                # The request as a whole failed (throttled, lost): none of its messages is known sent.
                code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
                failed.update(dict.fromkeys(chunk, f"SQS send to {self._name}: {code}"))
                continue
            for entry in response.get("Failed", []):
                failed[int(entry["Id"])] = f"SQS send to {self._name}: {entry.get('Code', 'failed')}"
        if failed:
            raise SendBatchError(failed)


class MemoryQueue:
    """An in-memory Queue for unit tests: keeps what was sent, in order, and refuses what SQS
    would (a message over 256 KiB), plus any message ``refuse`` says (a fault to inject)."""

    def __init__(self, refuse: Callable[[BaseModel], bool] | None = None) -> None:
        self.sent: list[BaseModel] = []
        self.calls = 0  # the calls SqsQueue would make
        self.refuse = refuse

    def _refused(self, message: BaseModel, body: str) -> str | None:
        if len(body.encode("utf-8")) > MAX_BATCH_BYTES:
            return "the message is over SQS's 256 KiB"
        if self.refuse is not None and self.refuse(message):
            return "refused (injected)"
        return None

    def send(self, message: BaseModel) -> None:
        self.calls += 1
        reason = self._refused(message, message_body(message))
        if reason:
            raise RetryableError(f"SQS send: {reason}")
        self.sent.append(message)

    def send_batch(self, messages: Sequence[BaseModel]) -> None:
        bodies = [message_body(message) for message in messages]
        failed: dict[int, str] = {}
        for chunk in batch_chunks(bodies):
            self.calls += len(bodies[chunk[0]].encode("utf-8")) <= MAX_BATCH_BYTES  # as SqsQueue
            for position in chunk:
                reason = self._refused(messages[position], bodies[position])
                if reason:
                    failed[position] = reason
                else:
                    self.sent.append(messages[position])
        if failed:
            raise SendBatchError(failed)
