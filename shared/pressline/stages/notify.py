"""Notify: a post went public for the first time -> delivery batches for its audience.

Each SQS message carries a PostPublished: from Index, or from Notify itself as the
continuation of a fan-out that ran short of time (progress lives in the ledger, so the
message is the same either way). Fan-outs are announced on the posts topic once.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import Settings, settings
from pressline.models import PostPublished
from pressline.stages import batching
from pressline.subscribers import runtime
from pressline.subscribers.fanout import Fanout
from pressline.subscribers.ports import NotifyQueue

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()


# One per handler, made by its first invocation (see pressline.stages.batching).
processor = cache(batching.sqs_processor)


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

    fanout = Fanout(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        ledger=DynamoLedger(config.ledger_table),
        deliveries=SqsTaskQueue(config.delivery_queue_url),
        announcer=SnsAnnouncer(config.posts_topic_arn),
        clock=runtime.utc_now,
        lease=LEASE,
    )
    return Services(fanout, SqsNotifyQueue(config.notify_queue_url))


def services() -> Services:
    return _override or _aws_services(settings())


_context: LambdaContext | None = None


def _time_left() -> timedelta:
    if _context is None:
        return timedelta(minutes=15)
    return timedelta(milliseconds=_context.get_remaining_time_in_millis())


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)  # every log line of this record carries it
    post = PostPublished.model_validate_json(record.body)
    request_id = getattr(_context, "aws_request_id", "local")
    owner = f"{request_id}:{record.message_id}"
    current = services()
    try:
        result = current.fanout.run(post, owner, _time_left, TIME_MARGIN)
    except Exception as error:
        # The message is retried; the next run resumes from the last checkpoint.
        logger.warning("Fan-out interrupted: %s: %s", type(error).__name__, error, extra={"slug": post.slug})
        raise
    logger.info(
        "Fan-out %s",
        result.status,
        extra={"slug": post.slug, "recipients": result.recipients, "batches": result.batches, "pages": result.pages},
    )
    metrics.add_metric(name="RecipientsEnqueued", unit=MetricUnit.Count, value=result.recipients)
    metrics.add_metric(name="DeliveryBatchesEnqueued", unit=MetricUnit.Count, value=result.batches)
    if result.status == "continue":
        current.continuations.send_post(post)
        metrics.add_metric(name="FanoutContinuations", unit=MetricUnit.Count, value=1)
    elif result.status == "busy":
        # Another invocation is on it; come back when its lease would have run out, in
        # case it died (this message is its only heir if the holder's own message is gone).
        current.continuations.send_post(post, delay_seconds=int(result.retry_after.total_seconds()) + 5)
    elif result.status == "duplicate":
        metrics.add_metric(name="DuplicateNotifications", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _context
    _context = context
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )
    return dict(response)
