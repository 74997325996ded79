"""Render: render requests -> the stored rendering, the post page, an index update.

Thin shell: parse the SQS batch, hand each body to ``pressline.stages.render``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import settings
from pressline.errors import PoisonMessageError, RetryableError
from pressline.stages import batching, render

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

METRIC_NAMES = {"rendered": "PostsRendered", "rejected": "PostsRejected", "stale": "StaleRenderRequests"}


# One per handler, made by its first invocation (see pressline.stages.batching).
processor = cache(batching.sqs_processor)


@cache
def dependencies() -> render.Dependencies:
    """Created once per container: clients and settings are reused across invocations."""
    return render.Dependencies.from_settings(settings())


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)
    try:
        outcome = render.handle_message(record.body, dependencies())
    except PoisonMessageError as error:
        metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=1)
        logger.error("Malformed render request; it will reach the DLQ after its retries", extra={"reason": str(error)})
        raise
    except RetryableError as error:
        logger.warning("Transient failure; SQS will retry", extra={"reason": str(error)})
        raise
    metrics.add_metric(name=METRIC_NAMES[outcome], unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    return process_partial_response(event=event, record_handler=record_handler, processor=processor(), context=context)
