"""Deliver: one SQS message = one DeliveryBatch (<= 50 recipients) -> one email each, once;
or one DigestBatch (<= 50 subscribers of a digest period, from the digest function) -> one
digest each, once (subscribers/digest_delivery.py).

While sending is paused (subscribers/sending.py: the complaint rate reached 0.3%), each batch
is sent again to the delivery queue with SQS's longest delay and its message reported done:
it comes back every 15 minutes, never counts towards maxReceiveCount (no DLQ however long the
pause lasts), and once sending resumes the ledger sends each email once.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import Settings, settings
from pressline.errors import RetryableError
from pressline.models import DeliveryBatch, DigestBatch
from pressline.stages import batching
from pressline.subscribers import runtime
from pressline.subscribers.delivery import Delivery
from pressline.subscribers.sending import CachedPause, DynamoPauseStore, SendingPause, describe

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    # Imported when the first digest batch arrives: a post's batches never load it (cold start).
    from pressline.subscribers.digest_delivery import DigestDelivery

logger = Logger()
metrics = Metrics()


# One per handler, made by its first invocation (see pressline.stages.batching).
processor = cache(batching.sqs_processor)


_override: Delivery | None = None


def override(delivery: Delivery | None) -> None:
    global _override
    _override = delivery
    _aws_delivery.cache_clear()
    _pause.cache_clear()


@cache
def _aws_delivery(config: Settings) -> Delivery:
    from pressline.adapters.store import S3Store
    from pressline.subscribers.aws import SesMailer
    from pressline.subscribers.bodies import RenderedBodies
    from pressline.subscribers.dynamodb import DynamoLedger, DynamoSubscriberRepository

    return Delivery(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        ledger=DynamoLedger(config.ledger_table),
        mailer=SesMailer(config.ses_configuration_set),
        keys=runtime.keys(),
        site=runtime.site(),
        clock=runtime.utc_now,
        # A full email's body: the post's rendering in the source bucket (EMAIL_CONTENT, issue 15).
        bodies=RenderedBodies(S3Store(config.source_bucket)) if config.source_bucket else None,
        email_content=config.email_content,
    )


def delivery() -> Delivery:
    return _override or _aws_delivery(settings())


_digest_override: DigestDelivery | None = None


def override_digests(digests: DigestDelivery | None) -> None:
    global _digest_override
    _digest_override = digests
    _aws_digests.cache_clear()


@cache
def _aws_digests(config: Settings) -> DigestDelivery:
    from pressline.indexing.dynamo import DynamoCatalog
    from pressline.subscribers.aws import SesMailer
    from pressline.subscribers.digest_delivery import DigestDelivery
    from pressline.subscribers.dynamodb import DynamoLedger, DynamoSubscriberRepository

    return DigestDelivery(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        ledger=DynamoLedger(config.ledger_table),
        catalog=DynamoCatalog(config.posts_table),
        mailer=SesMailer(config.ses_configuration_set),
        keys=runtime.keys(),
        site=runtime.site(),
        timezone=config.digest_schedule.timezone,
        clock=runtime.utc_now,
    )


def digests() -> DigestDelivery:
    return _digest_override or _aws_digests(settings())


def is_digest(body: str) -> bool:
    """Whether a delivery message is a DigestBatch (its ``type``) rather than a post's batch."""
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return False  # malformed: DeliveryBatch's parse says why
    return isinstance(data, dict) and data.get("type") == "digest.batch"


# SQS's longest DelaySeconds: a held batch is looked at again four times an hour.
HOLD_DELAY_S = 900


@cache
def _pause(config: Settings) -> CachedPause:
    # runtime.utc_now looked up at each call: tests move the clock past the cache.
    return CachedPause(DynamoPauseStore(config.ledger_table), clock=lambda: runtime.utc_now())


def sending_pause() -> SendingPause | None:
    """The pause in force, as read at most PAUSE_CACHE ago by this container (None: send)."""
    config = settings()
    return _pause(config).current() if config.ledger_table else None


def hold(event: dict[str, Any], pause: SendingPause) -> dict[str, Any]:
    """Put every record of ``event`` back on the delivery queue, delayed; a record SQS did not
    take is reported failed (retried as usual), and an error fails the invocation (all retried)."""
    from pressline.adapters.aws import client

    records = batching.messages_of(event)
    entries = [
        {"Id": str(index), "MessageBody": record.body, "DelaySeconds": HOLD_DELAY_S}
        for index, record in enumerate(records)
    ]
    failed: list[str] = []
    for start in range(0, len(entries), 10):  # SendMessageBatch takes ten at most
        answer = client("sqs").send_message_batch(
            QueueUrl=settings().delivery_queue_url, Entries=entries[start : start + 10]
        )
        failed += [records[int(entry["Id"])].message_id for entry in answer.get("Failed", [])]
    logger.warning(
        "Sending is paused %s: %d delivery batch(es) held on the queue for %d s; nothing is sent until an operator"
        " runs `pressline subscribers resume-sending`",
        describe(pause),
        len(records) - len(failed),
        HOLD_DELAY_S,
    )
    metrics.add_metric(name="DeliveryBatchesHeld", unit=MetricUnit.Count, value=len(records) - len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def record_handler(record: SQSRecord) -> None:
    logger.set_correlation_id(record.message_id)  # every log line of this record carries it
    if is_digest(record.body):
        digest_record_handler(DigestBatch.model_validate_json(record.body))
        return
    batch = DeliveryBatch.model_validate_json(record.body)
    try:
        result = delivery().deliver(batch)
    except RetryableError as error:
        # Our own message: it names the post and counts, never an address.
        logger.warning("Delivery batch will be retried: %s", error, extra={"slug": batch.post.slug})
        metrics.add_metric(name="DeliveryBatchesRetried", unit=MetricUnit.Count, value=1)
        raise
    except Exception as error:
        logger.error("Delivery batch failed: %s", type(error).__name__, extra={"slug": batch.post.slug})
        metrics.add_metric(name="DeliveryBatchesRetried", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "Delivered",
        extra={
            "slug": batch.post.slug,
            "sent": len(result.sent),
            "already_sent": len(result.already_sent),
            "skipped": len(result.skipped),
            "rejected": len(result.rejected),
        },
    )
    metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=len(result.sent))
    metrics.add_metric(name="EmailsSkipped", unit=MetricUnit.Count, value=len(result.skipped))
    metrics.add_metric(name="EmailsAlreadySent", unit=MetricUnit.Count, value=len(result.already_sent))
    metrics.add_metric(name="EmailsRejected", unit=MetricUnit.Count, value=len(result.rejected))


def digest_record_handler(batch: DigestBatch) -> None:
    try:
        result = digests().deliver(batch)
    except RetryableError as error:
        # Our own message: it names the period and counts, never an address.
        logger.warning("Digest batch will be retried: %s", error, extra={"period": batch.period})
        metrics.add_metric(name="DigestBatchesRetried", unit=MetricUnit.Count, value=1)
        raise
    except Exception as error:
        logger.error("Digest batch failed: %s", type(error).__name__, extra={"period": batch.period})
        metrics.add_metric(name="DigestBatchesRetried", unit=MetricUnit.Count, value=1)
        raise
    logger.info(
        "Digests delivered",
        extra={
            "period": batch.period,
            "sent": len(result.sent),
            "empty": len(result.empty),
            "already_sent": len(result.already_sent),
            "skipped": len(result.skipped),
            "rejected": len(result.rejected),
        },
    )
    metrics.add_metric(name="DigestsSent", unit=MetricUnit.Count, value=len(result.sent))
    metrics.add_metric(name="DigestsEmpty", unit=MetricUnit.Count, value=len(result.empty))
    metrics.add_metric(name="DigestsAlreadySent", unit=MetricUnit.Count, value=len(result.already_sent))
    metrics.add_metric(name="DigestsRejected", unit=MetricUnit.Count, value=len(result.rejected))


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    pause = sending_pause()  # once per invocation (cached): a batch is up to 50 recipients
    if pause is not None:
        return hold(event, pause)
    from aws_lambda_powertools.utilities.batch import process_partial_response

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )
    return dict(response)
