"""The Index function's batch handling: FIFO semantics, poison to the DLQ, metrics.

One message group ("site") carries every update in order. After a failure the rest of
the batch is reported failed too (``SqsFifoPartialProcessor``) so that it is retried in
its original order. A message that can never apply (malformed) is moved to the
dead-letter queue at once and acknowledged, instead of holding the whole site's group
for five receives.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from pressline.config import Settings, settings
from pressline.errors import PoisonMessageError, RetryableError
from pressline.stages import batching
from pressline.stages.index import IndexDeps, apply_update, dependencies_from_settings, parse_update

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


# One per handler, made by its first invocation (see pressline.stages.batching).
processor = cache(batching.sqs_fifo_processor)


_override: IndexDeps | None = None


def override(deps: IndexDeps | None) -> None:
    """Tests: run the handler against fakes."""
    global _override
    _override = deps


@cache
def _aws_dependencies(config: Settings) -> IndexDeps:
    """Once per container (and per configuration: tests provision a new stack per case)."""
    return dependencies_from_settings(config)


def dependencies() -> IndexDeps:
    return _override or _aws_dependencies(settings())


def dead_letter(record: SQSRecord, reason: str) -> None:
    from pressline.adapters.aws import client

    url = os.environ.get("INDEX_DEAD_LETTER_QUEUE_URL", "")
    if not url:
        raise PoisonMessageError(reason)  # no DLQ configured: let SQS's redrive policy move it
    client("sqs").send_message(
        QueueUrl=url,
        MessageBody=record.body,
        MessageGroupId="poison",
        MessageDeduplicationId=hashlib.sha256(record.message_id.encode()).hexdigest(),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
    )


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)
    try:
        update = parse_update(record.body)
    except (ValueError, ValidationError) as error:
        logger.error("Malformed index update moved to the DLQ", extra={"reason": str(error)[:500]})
        dead_letter(record, f"malformed index update: {error}")
        metrics.add_metric(name="IndexUpdatesDeadLettered", unit=MetricUnit.Count, value=1)
        return
    logger.append_keys(source_key=update.source.key, action=update.action)
    try:
        outcome = apply_update(update, dependencies())
    except PoisonMessageError as error:
        logger.error("Index update can never apply; moved to the DLQ", extra={"reason": str(error)})
        dead_letter(record, str(error))
        metrics.add_metric(name="IndexUpdatesDeadLettered", unit=MetricUnit.Count, value=1)
        return
    except RetryableError as error:
        logger.warning("Transient failure; the batch is retried in order", extra={"reason": str(error)})
        raise
    finally:
        logger.remove_keys(["source_key", "action"])
    if not outcome.applied:
        logger.info("Index update skipped", extra={"key": outcome.key, "reason": outcome.reason})
        metrics.add_metric(name="IndexUpdatesSkipped", unit=MetricUnit.Count, value=1)
        return
    logger.info(
        "Index update applied",
        extra={
            "key": outcome.key,
            "status": outcome.status,
            "written": len(outcome.written),
            "deleted": len(outcome.deleted),
        },
    )
    metrics.add_metric(name="IndexUpdatesApplied", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="SiteObjectsWritten", unit=MetricUnit.Count, value=len(outcome.written) + len(outcome.deleted)
    )
    if outcome.announced:
        metrics.add_metric(name="PostsFirstPublished", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def handle(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    return process_partial_response(event=event, record_handler=record_handler, processor=processor(), context=context)
