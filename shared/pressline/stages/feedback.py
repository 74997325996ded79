"""EmailFeedback: SES bounce and complaint notifications (via SNS) suppress addresses; the
complaint-rate alarm's notification (SendingPauseTopic) pauses sending (subscribers/sending.py)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pressline.config import Settings, settings
from pressline.subscribers import runtime
from pressline.subscribers.feedback import suppressions
from pressline.subscribers.ports import SubscriberRepository
from pressline.subscribers.sending import (
    DynamoPauseStore,
    PauseStore,
    describe,
    is_alarm_notification,
    pause_from_alarm,
)
from pressline.subscribers.service import suppress_address
from pressline.subscribers.tokens import Keys

logger = Logger()
metrics = Metrics()

_override: tuple[SubscriberRepository, Keys] | None = None
_pause_override: PauseStore | None = None


def override(
    repository: SubscriberRepository | None, keys: Keys | None = None, pauses: PauseStore | None = None
) -> None:
    global _override, _pause_override
    _override = (repository, keys) if repository is not None and keys is not None else None
    _pause_override = pauses
    _aws.cache_clear()


def _pauses() -> PauseStore:
    return _pause_override or DynamoPauseStore(settings().ledger_table)


def _apply_alarm(message: dict[str, Any]) -> int:
    """Pause sending for an alarm's change to ALARM (1), ignore any other state (0)."""
    pause = pause_from_alarm(message)
    if pause is None:
        logger.info(
            "Alarm notification ignored",
            extra={"alarm": message.get("AlarmName"), "state": message.get("NewStateValue")},
        )
        return 0
    in_force = _pauses().pause(pause)
    # The one line an operator looks for: what stopped the emails and how to restart them.
    logger.warning(
        "Sending PAUSED %s: post emails wait on the delivery queue until an operator runs"
        " `pressline subscribers resume-sending`",
        describe(in_force),
    )
    metrics.add_metric(name="SendingPaused", unit=MetricUnit.Count, value=1)
    return 1


@cache
def _aws(config: Settings) -> tuple[SubscriberRepository, Keys]:
    from pressline.subscribers.dynamodb import DynamoSubscriberRepository

    return DynamoSubscriberRepository(config.subscribers_table), runtime.keys()


@logger.inject_lambda_context
@metrics.log_metrics
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Suppress every address a record reports; an error fails the invocation so that
    Lambda's asynchronous retries run it again (suppressing twice changes nothing)."""
    suppressed = paused = alarms = 0
    for record in event.get("Records", []):
        logger.set_correlation_id(record["Sns"].get("MessageId"))
        message = json.loads(record["Sns"]["Message"])
        if is_alarm_notification(message):
            alarms += 1
            paused += _apply_alarm(message)
            continue
        repository, keys = _override or _aws(settings())
        for address, reason in suppressions(message):
            sid = suppress_address(repository, keys, address, reason, runtime.utc_now())
            if sid is not None:
                suppressed += 1
                logger.info("Suppressed", extra={"subscriber": sid, "reason": reason})
    metrics.add_metric(name="AddressesSuppressed", unit=MetricUnit.Count, value=suppressed)
    # SES feedback answers as it always has; an alarm notification says whether it paused.
    return {"suppressed": suppressed, "paused": paused} if alarms else {"suppressed": suppressed}
