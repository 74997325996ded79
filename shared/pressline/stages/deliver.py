"""Deliver: one SQS message = one DeliveryBatch (<= 50 recipients) -> one email each, once."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import Settings, settings
from pressline.errors import RetryableError
from pressline.models import DeliveryBatch
from pressline.stages import batching
from pressline.subscribers import runtime
from pressline.subscribers.delivery import Delivery

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


# One per handler, made by its first invocation (see pressline.stages.batching).
processor = cache(batching.sqs_processor)


_override: Delivery | None = None


def override(delivery: Delivery | None) -> None:
    global _override
    _override = delivery
    _aws_delivery.cache_clear()


@cache
def _aws_delivery(config: Settings) -> Delivery:
    from pressline.subscribers.aws import SesMailer
    from pressline.subscribers.dynamodb import DynamoLedger, DynamoSubscriberRepository

    return Delivery(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        ledger=DynamoLedger(config.ledger_table),
        mailer=SesMailer(config.ses_configuration_set),
        keys=runtime.keys(),
        site=runtime.site(),
        clock=runtime.utc_now,
    )


def delivery() -> Delivery:
    return _override or _aws_delivery(settings())


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)  # every log line of this record carries it
    batch = DeliveryBatch.model_validate_json(record.body)
    try:
        result = delivery().deliver(batch)
    except RetryableError as error:
        # Our own message: it names the post and counts, never an address.
        logger.warning("Delivery batch will be retried: %s", error, extra={"slug": batch.post.slug})
        metrics.add_metric(name="DeliveryBatchesRetried", unit=MetricUnit.Count, value=1)
        raise
    except Exception as error:
        logger.error("Delivery batch failed: %s", type(error).__name__, extra={"slug": batch.post.slug})
        metrics.add_metric(name="DeliveryBatchesRetried", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "Delivered",
        extra={
            "slug": batch.post.slug,
            "sent": len(result.sent),
            "already_sent": len(result.already_sent),
            "skipped": len(result.skipped),
            "rejected": len(result.rejected),
        },
    )
    metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=len(result.sent))
    metrics.add_metric(name="EmailsSkipped", unit=MetricUnit.Count, value=len(result.skipped))
    metrics.add_metric(name="EmailsAlreadySent", unit=MetricUnit.Count, value=len(result.already_sent))
    metrics.add_metric(name="EmailsRejected", unit=MetricUnit.Count, value=len(result.rejected))


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )
    return dict(response)
