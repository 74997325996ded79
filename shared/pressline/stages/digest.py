"""Digest: every 15 minutes, start the digests whose time has come (issue 15).

The EventBridge schedule's event carries nothing the run needs: which periods are due is
decided from the clock (subscribers/digest_run.py), so an early, late, repeated or
overlapping run sends nothing twice, and a run that failed is made good by the next one.
A failure is raised (the invocation fails, the schedule's retry and the Errors alarm see
it); progress is in the ledger either way.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from pressline.config import Settings, settings
from pressline.subscribers import runtime
from pressline.subscribers.digest_run import DigestRun

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

# Renewed by every page's checkpoint (a few seconds apart), so a lease this long only
# delays the takeover of a period whose invocation died; shorter than the schedule's 15 min.
LEASE = timedelta(seconds=90)
# Stop and save with this much time left: several pages' worth, far from the timeout.
TIME_MARGIN = timedelta(seconds=20)

_override: DigestRun | None = None


def override(run: DigestRun | None) -> None:
    global _override
    _override = run
    _aws_run.cache_clear()


@cache
def _aws_run(config: Settings) -> DigestRun:
    """Once per container (and per configuration: tests provision a stack per case)."""
    from pressline.subscribers.aws import SqsTaskQueue
    from pressline.subscribers.dynamodb import DynamoLedger, DynamoSubscriberRepository

    ledger = DynamoLedger(config.ledger_table)
    return DigestRun(
        repository=DynamoSubscriberRepository(config.subscribers_table),
        fanouts=ledger,
        log=ledger,
        deliveries=SqsTaskQueue(config.delivery_queue_url),
        schedule=config.digest_schedule,
        clock=runtime.utc_now,
        lease=LEASE,
    )


def digest_run() -> DigestRun:
    return _override or _aws_run(settings())


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One run: each due period started, resumed or left as it is; what happened to each."""

    def time_left() -> timedelta:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return timedelta(milliseconds=remaining()) if remaining else timedelta(minutes=5)

    owner = str(getattr(context, "aws_request_id", "local"))
    results = digest_run().run(owner, time_left, TIME_MARGIN)
    for result in results:
        logger.info(
            "Digest period %s: %s",
            result.period.id,
            result.status,
            extra={"period": result.period.id, "recipients": result.recipients, "batches": result.batches},
        )
        metrics.add_metric(name="DigestRecipientsEnqueued", unit=MetricUnit.Count, value=result.recipients)
        metrics.add_metric(name="DigestBatchesEnqueued", unit=MetricUnit.Count, value=result.batches)
    return {"periods": {result.period.id: result.status for result in results}}
