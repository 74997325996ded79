"""A function's own SQS queue, read by the function itself while a backlog lasts.

Lambda's SQS event source hands Index at most 10 messages at once without a batching
window, and a window would delay every single publish by its length. So Index takes what
the event source gives and, when that is a full batch (a backlog), receives more itself,
up to a bound: a bulk upload is applied in batches of hundreds, a single publish costs
nothing more. Messages received here are deleted here (DeleteMessageBatch) once applied;
one that is not reappears after the queue's visibility timeout, as with the event source.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from pressline.adapters.aws import client
from pressline.adapters.errors import call_aws
from pressline.errors import RetryableError

SQS_TRANSIENT = frozenset({"ThrottlingException", "RequestThrottled", "ServiceUnavailable", "InternalError"})


@dataclass(frozen=True)
class Received:
    message_id: str
    receipt_handle: str
    body: str


class Backlog(Protocol):
    def receive(self, limit: int) -> list[Received]:
        """Up to ``limit`` more messages, without waiting for any (an empty queue ends it)."""
        ...

    def delete(self, messages: list[Received]) -> None: ...

    def dead_letter(self, message_id: str, body: str, reason: str) -> None:
        """Set a message aside in the dead-letter queue, with the reason."""
        ...


class SqsBacklog:
    def __init__(self, queue_url: str, dead_letter_url: str, sqs: Any | None = None) -> None:
        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = client("sqs")
        return self._sqs

    def receive(self, limit: int) -> list[Received]:
        received: list[Received] = []
        while len(received) < limit:
            response = call_aws(
                self.sqs.receive_message,
                "SQS receive",
                SQS_TRANSIENT,
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, limit - len(received)),
                WaitTimeSeconds=0,
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            received += [Received(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in messages]
        return received

    def delete(self, messages: list[Received]) -> None:
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": message.receipt_handle}
                for n, message in enumerate(messages[start : start + 10])
            ]
            response = call_aws(
                self.sqs.delete_message_batch, "SQS delete", SQS_TRANSIENT, QueueUrl=self.queue_url, Entries=entries
            )
            if response.get("Failed"):
                # Not deleted: it comes back after the visibility timeout, and Index sees a duplicate.
                raise RetryableError(f"SQS left {len(response['Failed'])} received messages undeleted")

    def dead_letter(self, message_id: str, body: str, reason: str) -> None:
        if not self.dead_letter_url:
            raise RetryableError(f"no dead-letter queue configured for {message_id}: {reason}")
        call_aws(
            self.sqs.send_message,
            "SQS dead letter",
            SQS_TRANSIENT,
            QueueUrl=self.dead_letter_url,
            MessageBody=body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"},
                "message_id": {"DataType": "String", "StringValue": message_id},
                "body_sha256": {"DataType": "String", "StringValue": hashlib.sha256(body.encode()).hexdigest()},
            },
        )
