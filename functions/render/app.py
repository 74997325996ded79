"""Render: render requests -> the stored rendering and an index update.

Thin shell: the SQS batch goes to ``pressline.stages.render`` as a whole (its updates are
sent together). A failing message is retried by SQS (transient AWS errors) or ends in the
DLQ after maxReceiveCount (malformed request).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import settings
from pressline.stages import render
from pressline.stages.batching import Batch, Response, messages_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

METRIC_NAMES = {"rendered": "PostsRendered", "rejected": "PostsRejected", "stale": "StaleRenderRequests"}


@cache
def dependencies() -> render.Dependencies:
    """Created once per container: clients and settings are reused across invocations."""
    return render.Dependencies.from_settings(settings())


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Response:
    handled = render.handle_batch(Batch(messages_of(event), correlate=logger.set_correlation_id), dependencies())
    for name, count in handled.metric_counts(METRIC_NAMES).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return handled.response
