"""PublishScheduled: hand the posts whose scheduled date has come to Index.

Runs every minute on AWS (every few seconds in the local stack). It only *asks*: one
gsi1 query for scheduled posts dated up to now (no scan), one "due" update per post on
the Index FIFO queue. Index re-checks S3 and the clock, so an early, late or repeated
run publishes nothing twice; the FIFO deduplication id (per version) absorbs runs that
overlap within five minutes. Index resolves every "due" for the catalog's version (goes
live, or the catalog's version changed, or it leaves the schedule; a newer upload still
undecided holds it back at most ``indexing.plan.PENDING_GRACE``), so no post is asked
for run after run for ever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.adapters.queue import Queue
from pressline.config import Settings, settings
from pressline.indexing.catalog import Catalog, CatalogPost
from pressline.models import IndexUpdate, SourceRef

logger = Logger()
metrics = Metrics()

INDEX_GROUP = "site"  # the Index queue's single message group


@dataclass
class SchedulerDeps:
    catalog: Catalog
    index_queue: Queue
    source_bucket: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def due_update(post: CatalogPost, bucket: str) -> IndexUpdate:
    source = SourceRef(bucket=bucket, key=post.source_key, version_id=post.version_id, etag=post.etag)
    return IndexUpdate(action="due", source=source, slug=post.slug)


def dedup_id(update: IndexUpdate) -> str:
    """Per key, version and action: a FIFO deduplication id is at most 128 characters."""
    text = f"{update.action}\n{update.source.key}\n{update.source.version_id or update.source.etag or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def publish_due(deps: SchedulerDeps) -> list[IndexUpdate]:
    """Send a "due" update for every scheduled post whose date has come."""
    sent = []
    for post in deps.catalog.due(deps.clock()):
        update = due_update(post, deps.source_bucket)
        deps.index_queue.send(update, group_id=INDEX_GROUP, dedup_id=dedup_id(update))
        sent.append(update)
    return sent


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
