"""Image: image requests (from Validate) -> variants without metadata on the site, the image's
report, and an update to Index.

Thin shell: the SQS batch goes to ``pressline.images.stage`` as a whole (its updates are sent
together). A refused image is a report, not a failure; a failing message is retried by SQS
(transient AWS errors) or ends in the DLQ after maxReceiveCount (malformed request).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import settings
from pressline.images import stage
from pressline.stages.batching import Batch, Response, messages_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

METRIC_NAMES = {
    "published": "ImagesPublished",
    "rejected": "ImagesRejected",
    "unpublished": "ImagesRemoved",
    "stale": "StaleImageRequests",
}


@cache
def dependencies() -> stage.Dependencies:
    """Created once per container: clients and settings are reused across invocations."""
    return stage.Dependencies.from_settings(settings())


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Response:
    handled = stage.handle_batch(Batch(messages_of(event), correlate=logger.set_correlation_id), dependencies())
    for name, count in handled.metric_counts(METRIC_NAMES).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return handled.response
