"""The Index function's shell: the event's messages (and, while a backlog lasts, more from
the queue) become one batch for ``pressline.stages.index.index_batch``.

The Index queue is a standard queue: Index decides order itself (S3's current version and
the catalog's), so no message waits behind another. Lambda gives at most 10 messages
without a batching window, and a window would delay every single publish, so a full event
(a backlog) makes Index receive more itself, up to BACKLOG_LIMIT: bulk uploads are applied
hundreds at a time, while a lone publish costs no call more.

Failures: a malformed message, or an update that can never apply (the batch fails it alone
and its report says why), goes to the dead-letter queue at once and is acknowledged, so it
never holds anything back. A transient failure (throttling, a timeout, a commit that kept
conflicting) fails the whole batch: every message of it comes back after the queue's
visibility timeout and applies then, a duplicate where it already had.

This is a batch-level handler rather than Powertools' per-record BatchProcessor: the unit
of work is the batch (one write of every page, one commit), not the record.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from pressline.config import Settings, settings
from pressline.errors import RetryableError
from pressline.models import IndexUpdate
from pressline.stages.batching import Message, messages_of
from pressline.stages.index import IndexDeps, Outcome, dependencies_from_settings, index_batch, parse_update

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from pressline.adapters.backlog import Backlog, Received

logger = Logger()
metrics = Metrics()

EVENT_BATCH_SIZE = 10  # the event source's BatchSize (template.yaml): a full event means a backlog
BACKLOG_LIMIT = 490  # messages received on top of a full event: batches of up to 500
BACKLOG_TIME_MS = 30_000  # receive more only with this much of the invocation left


_override: tuple[IndexDeps, Backlog] | None = None


def override(deps: IndexDeps | None, backlog: Backlog | None = None) -> None:
    """Tests: run the handler against fakes."""
    global _override
    if deps is None:
        _override = None
        return
    from pressline.adapters.backlog import SqsBacklog

    _override = (deps, backlog or SqsBacklog("", os.environ.get("INDEX_DEAD_LETTER_QUEUE_URL", "")))


@cache
def _aws_dependencies(config: Settings) -> tuple[IndexDeps, Backlog]:
    """Once per container (and per configuration: tests provision a new stack per case)."""
    from pressline.adapters.backlog import SqsBacklog

    backlog = SqsBacklog(config.index_queue_url, os.environ.get("INDEX_DEAD_LETTER_QUEUE_URL", ""))
    return dependencies_from_settings(config), backlog


def dependencies() -> tuple[IndexDeps, Backlog]:
    return _override or _aws_dependencies(settings())


@metrics.log_metrics
@logger.inject_lambda_context
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    deps, backlog = dependencies()
    messages = messages_of(event)
    received: dict[str, Received] = {}  # received by Index itself (the rest are the event's)
    if len(messages) >= EVENT_BATCH_SIZE and context.get_remaining_time_in_millis() > BACKLOG_TIME_MS:
        received = {m.message_id: m for m in backlog.receive(BACKLOG_LIMIT)}
        messages += [Message(m.message_id, m.body) for m in received.values()]
    metrics.add_metric(name="IndexBatchSize", unit=MetricUnit.Count, value=len(messages))
    updates: list[tuple[Message, IndexUpdate]] = []
    unsettled: list[Message] = []  # not acknowledged: they come back and are tried again
    for message in messages:
        try:
            updates.append((message, parse_update(message.body)))
        except (ValueError, ValidationError) as error:
            logger.error("Malformed index update", extra={"message_id": message.message_id, "reason": str(error)[:500]})
            if not _set_aside(backlog, message, f"malformed index update: {error}"):
                unsettled.append(message)
    try:
        outcomes = index_batch([update for _, update in updates], deps)
    except RetryableError as error:
        logger.warning("Transient failure; the batch is retried", extra={"reason": str(error), "size": len(updates)})
        return _failures([message for message, _ in updates] + unsettled, received)
    for (message, _), outcome in zip(updates, outcomes, strict=True):
        _record(outcome)
        if outcome.failed and not _set_aside(backlog, message, outcome.reason):
            unsettled.append(message)
    left = {m.message_id for m in unsettled}
    backlog.delete([m for message_id, m in received.items() if message_id not in left])
    return _failures(unsettled, received)


def _set_aside(backlog: Backlog, message: Message, reason: str) -> bool:
    """To the dead-letter queue at once (True), or left for SQS's redrive policy (False)."""
    try:
        backlog.dead_letter(message.message_id, message.body, reason)
    except RetryableError as error:
        logger.warning("Could not set the message aside; SQS will redrive it", extra={"reason": str(error)})
        return False
    metrics.add_metric(name="IndexUpdatesDeadLettered", unit=MetricUnit.Count, value=1)
    return True


def _failures(messages: list[Message], received: dict[str, Received]) -> dict[str, list[dict[str, str]]]:
    """Partial batch response for the event's own messages; the received ones are simply
    not deleted (they come back after their visibility timeout)."""
    return {"batchItemFailures": [{"itemIdentifier": m.message_id} for m in messages if m.message_id not in received]}


def _record(outcome: Outcome) -> None:
    if outcome.failed:
        logger.error("Index update can never apply; set aside", extra={"key": outcome.key, "reason": outcome.reason})
        return
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
            "announcement": outcome.announcement,
        },
    )
    metrics.add_metric(name="IndexUpdatesApplied", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="SiteObjectsWritten", unit=MetricUnit.Count, value=len(outcome.written) + len(outcome.deleted)
    )
    if outcome.announced:
        metrics.add_metric(name="PostsFirstPublished", unit=MetricUnit.Count, value=1)
