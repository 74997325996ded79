"""Validate: S3 events from the intake queue -> reports, render requests, deletions.

Thin shell: the SQS batch goes to ``pressline.stages.validate`` as a whole (its posts' slugs
are looked up together and its messages sent together). An invalid post is a report, not a
failure; a failing message is retried by SQS (transient AWS errors) or ends in the DLQ
after maxReceiveCount (malformed message).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import settings
from pressline.stages import validate
from pressline.stages.batching import Batch, Response, messages_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

METRIC_NAMES = {
    "valid": "PostsValidated",
    "rejected": "PostsRejected",
    "deleted": "PostsDeleted",
    "image-requested": "ImagesRequested",
    "image-removed": "ImagesRemoved",
    "ignored": "UploadsIgnored",
}


@cache
def dependencies() -> validate.Dependencies:
    """Created once per container: clients and settings are reused across invocations."""
    return validate.Dependencies.from_settings(settings())


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Response:
    handled = validate.handle_batch(Batch(messages_of(event), correlate=logger.set_correlation_id), dependencies())
    if handled.poison:
        metrics.add_metric(name="PoisonMessages", unit=MetricUnit.Count, value=handled.poison)
    for outcomes in handled.outcomes.values():
        if not outcomes:  # s3:TestEvent
            metrics.add_metric(name="MessagesSkipped", unit=MetricUnit.Count, value=1)
        for outcome in outcomes:
            metrics.add_metric(name=METRIC_NAMES[outcome], unit=MetricUnit.Count, value=1)
    return handled.response
