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
    # MessagesSkipped: a message without records (s3:TestEvent) has no outcome.
    for name, count in handled.metric_counts(METRIC_NAMES, skipped="MessagesSkipped").items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return handled.response
