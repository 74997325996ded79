"""The sending pause: post emails stop by themselves when the complaint rate says so (issue 15).

``EmailComplaintRatePauseAlarm`` (SES's ``Reputation.ComplaintRate`` at 0.3%, template.yaml)
notifies ``SendingPauseTopic``; EmailFeedbackFunction turns that notification into a pause
(``pause_from_alarm``) and records it in the ledger table, item ``sending#pause``. Deliver reads
it once per invocation, cached for ``PAUSE_CACHE`` (``CachedPause``), and while it is there holds
its batches on the delivery queue instead of sending. Only an operator lifts it
(``pressline subscribers resume-sending``): a rate that falls back under the threshold is no
proof that the cause is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

PAUSE_ID = "sending#pause"
# How long Deliver trusts what it read: one GetItem per container per half minute at most, so
# a pause (or a resume) takes effect within this long.
PAUSE_CACHE = timedelta(seconds=30)
REASON_LIMIT = 500
# Deliver holds a batch with SQS's longest delay (stages/deliver.py HOLD_DELAY_S), plus the
# cache: how long after a resume the held emails may still wait.
HOLD_RETURN = "15 minutes"


@dataclass(frozen=True)
class SendingPause:
    """Sending is paused since ``since`` because of ``reason`` (an alarm's name and why)."""

    since: datetime
    reason: str


class PauseStore(Protocol):
    """Where the pause is kept (the ledger table on AWS; a test's fake)."""

    def read(self) -> SendingPause | None: ...

    def pause(self, pause: SendingPause) -> SendingPause:
        """Record ``pause`` unless sending is paused already; the pause in force either way."""
        ...

    def resume(self) -> SendingPause | None:
        """Lift the pause; the one that was lifted, or None when sending was not paused."""
        ...


def pause_from_alarm(message: dict[str, Any]) -> SendingPause | None:
    """The pause a CloudWatch alarm notification (SNS message body) asks for: one for a change
    to ALARM, None for anything else (OK, INSUFFICIENT_DATA, not an alarm notification)."""
    if message.get("NewStateValue") != "ALARM" or not message.get("AlarmName"):
        return None
    reason = f"{message['AlarmName']}: {message.get('NewStateReason') or 'in alarm'}"
    return SendingPause(since=_alarm_time(message.get("StateChangeTime")), reason=reason[:REASON_LIMIT])


def is_alarm_notification(message: dict[str, Any]) -> bool:
    return "AlarmName" in message and "NewStateValue" in message


def _alarm_time(value: Any) -> datetime:
    # CloudWatch writes "2026-12-04T04:00:00.000+0000"; fromisoformat reads it from Python 3.11.
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class CachedPause:
    """What ``store`` says, read again once ``ttl`` has passed (Deliver's per-container cache)."""

    store: PauseStore
    clock: Callable[[], datetime]
    ttl: timedelta = PAUSE_CACHE
    _value: SendingPause | None = None
    _read_at: datetime | None = None

    def current(self) -> SendingPause | None:
        now = self.clock()
        if self._read_at is None or now - self._read_at >= self.ttl:
            self._value = self.store.read()
            self._read_at = now
        return self._value


class DynamoPauseStore:
    """The pause as the ledger table's item ``sending#pause`` (no ``expiration``: it stays)."""

    def __init__(self, table: str, db: Any = None) -> None:
        self.table = table
        self._db = db

    @property
    def db(self) -> Any:
        if self._db is None:
            from pressline.adapters.aws import client

            self._db = client("dynamodb")
        return self._db

    def read(self) -> SendingPause | None:
        item = self.db.get_item(TableName=self.table, Key={"id": {"S": PAUSE_ID}}, ConsistentRead=True).get("Item")
        return _pause(item) if item else None

    def pause(self, pause: SendingPause) -> SendingPause:
        from botocore.exceptions import ClientError

        try:
            self.db.put_item(
                TableName=self.table,
                Item={"id": {"S": PAUSE_ID}, "since": {"S": pause.since.isoformat()}, "reason": {"S": pause.reason}},
                # The first alarm's time and reason stay: a repeated notification changes nothing.
                ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            return _pause(old) if old else self.read() or pause
        return pause

    def resume(self) -> SendingPause | None:
        old = self.db.delete_item(TableName=self.table, Key={"id": {"S": PAUSE_ID}}, ReturnValues="ALL_OLD")
        item = old.get("Attributes")
        return _pause(item) if item else None


def _pause(item: dict[str, Any]) -> SendingPause:
    since = datetime.fromisoformat(item["since"]["S"])
    return SendingPause(since=since if since.tzinfo else since.replace(tzinfo=UTC), reason=item["reason"]["S"])


def describe(pause: SendingPause) -> str:
    """One line for logs and ``pressline status``: since when, and why."""
    return f"since {pause.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({pause.reason})"
