"""EmailFeedback: SES bounce and complaint notifications (via SNS) suppress addresses."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.config import Settings, settings
from pressline.subscribers import runtime
from pressline.subscribers.feedback import suppressions
from pressline.subscribers.ports import SubscriberRepository
from pressline.subscribers.service import suppress_address
from pressline.subscribers.tokens import Keys

logger = Logger()
metrics = Metrics()

_override: tuple[SubscriberRepository, Keys] | None = None


def override(repository: SubscriberRepository | None, keys: Keys | None = None) -> None:
    global _override
    _override = (repository, keys) if repository is not None and keys is not None else None
    _aws.cache_clear()


@cache
def _aws(config: Settings) -> tuple[SubscriberRepository, Keys]:
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    return DynamoSubscriberRepository(config.subscribers_table), runtime.keys()


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Suppress every address a record reports; an error fails the invocation so that
    Lambda's asynchronous retries run it again (suppressing twice changes nothing)."""
    repository, keys = _override or _aws(settings())
    suppressed = 0
    for record in event.get("Records", []):
        logger.set_correlation_id(record["Sns"].get("MessageId"))
        message = json.loads(record["Sns"]["Message"])
        for address, reason in suppressions(message):
            sid = suppress_address(repository, keys, address, reason, runtime.utc_now())
            if sid is not None:
                suppressed += 1
                logger.info("Suppressed", extra={"subscriber": sid, "reason": reason})
    metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=suppressed)
    return {"suppressed": suppressed}
