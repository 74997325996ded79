"""Sending inter-stage messages (pydantic models as JSON bodies) to SQS."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from pressline.adapters.aws import client
from pressline.errors import RetryableError


class Queue(Protocol):
    def send(self, message: BaseModel, *, group_id: str | None = None, dedup_id: str | None = None) -> None: ...


class SqsQueue:
    def __init__(self, url: str, sqs: Any | None = None) -> None:
        self.url = url
        self._sqs = sqs

    def send(self, message: BaseModel, *, group_id: str | None = None, dedup_id: str | None = None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": message.model_dump_json()}
        if group_id:  # FIFO queues only
            kwargs["MessageGroupId"] = group_id
            kwargs["MessageDeduplicationId"] = dedup_id or ""
        sqs = self._sqs or client("sqs")
        try:
            sqs.send_message(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise RetryableError(f"SQS send to {self.url.rsplit('/', 1)[-1]}: {error}") from error


class MemoryQueue:
    """An in-memory Queue for unit tests: keeps what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[BaseModel, str | None, str | None]] = []

    def send(self, message: BaseModel, *, group_id: str | None = None, dedup_id: str | None = None) -> None:
        self.sent.append((message, group_id, dedup_id))
