"""Fixtures of the integration tests: the subscriber stores, in memory and on moto alike.

A test that takes ``repository`` or ``ledger`` (or both: they share the one ``store``
parameter) runs against the memory fakes and against the DynamoDB adapters on moto, which
is how the fakes are checked against the real adapters by the same tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repository(store: str, request: pytest.FixtureRequest) -> Any:
    if store == "memory":
        from pressline.subscribers.memory import MemoryRepository

        return MemoryRepository()
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    stack = request.getfixturevalue("aws_stack")
    return DynamoSubscriberRepository(stack.outputs["SubscribersTableName"], stack.dynamodb)


@pytest.fixture
def ledger(store: str, request: pytest.FixtureRequest) -> Any:
    if store == "memory":
        from pressline.subscribers.memory import MemoryLedger

        return MemoryLedger()
    from pressline.subscribers.dynamodb import DynamoLedger

    stack = request.getfixturevalue("aws_stack")
    return DynamoLedger(stack.outputs["LedgerTableName"], stack.dynamodb)
