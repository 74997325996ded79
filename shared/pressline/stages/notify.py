"""Notify: a post went public for the first time -> delivery batches for its audience.

Each SQS message carries a PostPublished: from Index, or from Notify itself as the
continuation of a fan-out that ran short of time (progress lives in the ledger, so the
message is the same either way). Fan-outs are announced on the posts topic once.

A batch (up to ten messages, however Index sent them) is one call of the core, which
shares the leases, announcements, audience reads and checkpoints of its posts; the
partial batch response is built here from each post's result. Powertools' batch
processor runs one handler per record, which would undo the sharing.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from pressline.config import Settings, settings
from pressline.errors import RetryableError
from pressline.models import PostPublished
from pressline.subscribers import runtime
from pressline.subscribers.fanout import Fanout, FanoutResult
from pressline.subscribers.ports import NotifyQueue

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


# Renewed by every checkpoint (at least every 10 s), so a lease this long only delays the
# takeover of a fan-out whose invocation died.
LEASE = timedelta(seconds=90)
# Stop and hand over with this much time left: several pages' worth, far from the timeout.
TIME_MARGIN = timedelta(seconds=20)


class Services:
    def __init__(self, fanout: Fanout, continuations: NotifyQueue) -> None:
        self.fanout = fanout
        self.continuations = continuations


_override: Services | None = None


def override(services: Services | None) -> None:
    global _override
    _override = services
    _aws_services.cache_clear()


@cache
def _aws_services(config: Settings) -> Services:
    from pressline.subscribers.aws import SnsAnnouncer, SqsNotifyQueue, SqsTaskQueue
    from pressline.subscribers.dynamodb import DynamoLedger, DynamoSubscriberRepository

    ledger = DynamoLedger(config.ledger_table)
    fanout = Fanout(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        ledger=ledger,
        deliveries=SqsTaskQueue(config.delivery_queue_url),
        announcer=SnsAnnouncer(config.posts_topic_arn),
        clock=runtime.utc_now,
        lease=LEASE,
        digest_log=ledger,
    )
    return Services(fanout, SqsNotifyQueue(config.notify_queue_url))


def services() -> Services:
    return _override or _aws_services(settings())


_context: LambdaContext | None = None


def _time_left() -> timedelta:
    if _context is None:
        return timedelta(minutes=15)
    return timedelta(milliseconds=_context.get_remaining_time_in_millis())


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A batch of announcements -> one fan-out per post (shared calls, see Fanout.run_batch);
    the partial batch response names the records to retry: malformed ones (SQS takes them
    to the DLQ after maxReceiveCount) and those whose fan-out failed, each on its own."""
    global _context
    _context = context
    request_id = getattr(context, "aws_request_id", "local")
    records: list[dict[str, Any]] = event.get("Records") or []
    failed: list[str] = []
    by_slug: dict[str, list[str]] = {}  # slug -> its records' message ids (duplicates share one fan-out)
    posts: list[tuple[PostPublished, str]] = []
    for record in records:
        message_id = str(record.get("messageId", ""))
        logger.set_correlation_id(message_id)
        try:
            post = PostPublished.model_validate_json(record.get("body") or "")
        except ValidationError as error:
            logger.error("Malformed announcement", extra={"reason": _reasons(error)})
            failed.append(message_id)
            continue
        if post.slug not in by_slug:
            posts.append((post, f"{request_id}:{message_id}"))
        by_slug.setdefault(post.slug, []).append(message_id)
    if not posts:
        return _response(failed)

    current = services()
    outcome = current.fanout.run_batch(posts, _time_left, TIME_MARGIN)
    for setback in outcome.setbacks:
        logger.warning("A shared call failed; its posts went on alone", extra={"reason": setback})
    metrics.add_metric(name="NotifyBatchPosts", unit=MetricUnit.Count, value=len(posts))
    for post, _ in posts:
        message_ids = by_slug[post.slug]
        logger.set_correlation_id(message_ids[0])
        if not _settle(post, outcome.results[post.slug], current.continuations):
            failed.extend(message_ids)
    return _response(failed)


def _settle(post: PostPublished, result: FanoutResult | Exception, continuations: NotifyQueue) -> bool:
    """Log and act on one post's result; False if its records must be retried."""
    if isinstance(result, Exception):
        # The message is retried; the next run resumes from the last checkpoint.
        logger.warning("Fan-out interrupted: %s: %s", type(result).__name__, result, extra={"slug": post.slug})
        return False
    logger.info(
        "Fan-out %s",
        result.status,
        extra={"slug": post.slug, "recipients": result.recipients, "batches": result.batches, "pages": result.pages},
    )
    metrics.add_metric(name="RecipientsEnqueued", unit=MetricUnit.Count, value=result.recipients)
    metrics.add_metric(name="DeliveryBatchesEnqueued", unit=MetricUnit.Count, value=result.batches)
    try:
        if result.status == "continue":
            continuations.send_post(post)
            metrics.add_metric(name="FanoutContinuations", unit=MetricUnit.Count, value=1)
        elif result.status == "busy":
            # Another invocation is on it; come back when its lease would have run out, in
            # case it died (this message is its only heir if the holder's own message is gone).
            continuations.send_post(post, delay_seconds=int(result.retry_after.total_seconds()) + 5)
    except RetryableError as error:
        # Not handed on: this message stays the fan-out's heir (progress is saved).
        logger.warning("Continuation not sent: %s", error, extra={"slug": post.slug})
        return False
    if result.status == "duplicate":
        metrics.add_metric(name="DuplicateNotifications", unit=MetricUnit.Count, value=1)
    return True


def _reasons(error: ValidationError) -> str:
    """Which fields are wrong and why, never the values (a body may hold anything)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())[:500]


def _response(failed: list[str]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
