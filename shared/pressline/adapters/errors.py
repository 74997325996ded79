"""Classifying AWS errors once, for every adapter: retryable (throttling, server faults,
timeouts, lost connections) or final. Stages then decide by type (RetryableError),
never by matching strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pressline.errors import RetryableError

DYNAMODB_TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
S3_TRANSIENT = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"})
S3_MISSING = frozenset({"NoSuchKey", "404", "NoSuchVersion", "NotFound"})


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response: dict[str, Any] = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_condition_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def call_aws(method: Callable[..., Any], what: str, transient: frozenset[str], **kwargs: Any) -> Any:
    """Call ``method``; codes in ``transient`` and every connection or timeout error become
    RetryableError (named by ``what``, never by the request's values), the rest propagate."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return method(**kwargs)
    except ClientError as error:
        if error_code(error) in transient:
            raise RetryableError(f"{what}: {error_code(error)}") from error
        raise
    except BotoCoreError as error:
        raise RetryableError(f"{what}: {type(error).__name__}") from error


def call_dynamodb(method: Callable[..., Any], **kwargs: Any) -> Any:
    return call_aws(method, f"DynamoDB {getattr(method, '__name__', 'call')}", DYNAMODB_TRANSIENT, **kwargs)
