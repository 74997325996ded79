"""PublishScheduled: hand the posts whose scheduled date has come to Index.

Runs every minute on AWS (every few seconds in the local stack). It only *asks*: one
gsi1 query for scheduled posts dated up to now (no scan), one "due" update per post on
the Index queue, sent ten at a time (SendMessageBatch). Index re-checks S3 and the clock,
so an early, late, repeated or overlapping run publishes nothing twice (a repeated "due"
is a duplicate Index recognises). An update SQS did not take is asked for again by the
next run: the post is still due. Index resolves every "due" for the catalog's version (goes
live, or the catalog's version changed, or it leaves the schedule; a newer upload still
undecided holds it back at most ``indexing.plan.PENDING_GRACE``), so no post is asked
for run after run for ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.adapters.queue import Queue, SendBatchError
from pressline.config import Settings, settings
from pressline.indexing.catalog import Catalog, CatalogPost
from pressline.models import IndexUpdate, SourceRef

logger = Logger()
metrics = Metrics()


@dataclass
class SchedulerDeps:
    catalog: Catalog
    index_queue: Queue
    source_bucket: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def due_update(post: CatalogPost, bucket: str) -> IndexUpdate:
    source = SourceRef(bucket=bucket, key=post.source_key, version_id=post.version_id, etag=post.etag)
    return IndexUpdate(action="due", source=source, slug=post.slug)


def publish_due(deps: SchedulerDeps) -> list[IndexUpdate]:
    """Send a "due" update for every scheduled post whose date has come; the ones sent."""
    updates = [due_update(post, deps.source_bucket) for post in deps.catalog.due(deps.clock())]
    if not updates:
        return []
    try:
        deps.index_queue.send_batch(updates)
    except SendBatchError as error:  # the next run asks for these again
        logger.warning("Some due updates were not sent", extra={"reason": str(error)})
        return [update for position, update in enumerate(updates) if position not in error.failed]
    return updates


_override: SchedulerDeps | None = None


def override(deps: SchedulerDeps | None) -> None:
    global _override
    _override = deps


@cache
def _aws_dependencies(config: Settings) -> SchedulerDeps:
    """Once per container (and per configuration: tests provision a new stack per case)."""
    from pressline.adapters.queue import SqsQueue
    from pressline.indexing.dynamo import DynamoCatalog

    return SchedulerDeps(
        catalog=DynamoCatalog(config.posts_table),
        index_queue=SqsQueue(config.index_queue_url),
        source_bucket=config.source_bucket,
    )


@metrics.log_metrics
@logger.inject_lambda_context
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sent = publish_due(_override or _aws_dependencies(settings()))
    for update in sent:
        logger.info("Scheduled post is due", extra={"key": update.source.key, "slug": update.slug})
    metrics.add_metric(name="ScheduledPostsDue", unit=MetricUnit.Count, value=len(sent))
    return {"due": [update.source.key for update in sent]}
