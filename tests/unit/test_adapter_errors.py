"""AWS errors are classified once: transient ones retry, the rest reach the caller as they are."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from pressline.adapters.errors import (
    DYNAMODB_TRANSIENT,
    call_aws,
    call_dynamodb,
    error_code,
    is_condition_failure,
)
from pressline.errors import RetryableError


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "reader@example.com was refused"}}, "PutItem")


def _raising(error: Exception) -> Any:
    def put_item(**_: Any) -> Any:
        raise error

    return put_item


@pytest.mark.parametrize("code", sorted(DYNAMODB_TRANSIENT))
def test_throttling_and_server_faults_retry(code: str) -> None:
    with pytest.raises(RetryableError, match=f"DynamoDB put_item: {code}") as raised:
        call_dynamodb(_raising(_client_error(code)), TableName="t")
    assert "example.com" not in str(raised.value)  # the request's values never reach the message


def test_timeouts_and_lost_connections_retry() -> None:
    with pytest.raises(RetryableError, match="ReadTimeoutError"):
        call_aws(_raising(ReadTimeoutError(endpoint_url="http://x")), "S3 get_object", frozenset())


def test_other_errors_reach_the_caller_unchanged() -> None:
    with pytest.raises(ClientError) as raised:
        call_dynamodb(_raising(_client_error("ConditionalCheckFailedException")))
    assert is_condition_failure(raised.value)
    assert error_code(raised.value) == "ConditionalCheckFailedException"


def test_a_successful_call_returns_its_answer_and_passes_arguments() -> None:
    assert call_aws(lambda **kwargs: kwargs, "x", frozenset(), Key="k") == {"Key": "k"}
    assert error_code(ValueError("not from AWS")) == ""
