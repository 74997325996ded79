"""boto3 clients, created once per container and shared by every invocation.

boto3 is imported here only, and lazily, so that modules which never touch AWS
(the pure cores, ``pressline check``) do not pay for it. Endpoints follow the
standard ``AWS_ENDPOINT_URL`` variables, which the local stack sets to moto.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, config=config)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()


class DynamoTable:
    """Base of the DynamoDB adapters: one table, and a client made on first use (the
    container's shared one unless a test passes its own)."""

    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self._dynamodb = dynamodb

    @property
    def db(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Consistent reads of ``keys`` (no duplicates), 100 a request, retrying what DynamoDB
        leaves unprocessed with a short backoff; what is still unread after that retries the record."""
        import time

        from pressline.adapters.errors import call_dynamodb
        from pressline.errors import RetryableError

        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            for attempt in range(8):
                response = call_dynamodb(self.db.batch_get_item, RequestItems=pending)
                items.extend(response.get("Responses", {}).get(self.table, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            if pending:
                raise RetryableError("DynamoDB left keys unprocessed")
        return items
