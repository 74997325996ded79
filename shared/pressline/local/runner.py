"""Event sources, locally: poll each function's queue and call its handler as Lambda would.

SQS: the exact event Lambda sends, BatchSize from the template, records that succeeded
are deleted, ``batchItemFailures`` honoured (when the function declares
ReportBatchItemFailures), an exception fails the whole batch. Failed messages reappear
after the queue's visibility timeout and moto moves them to the DLQ after maxReceiveCount.
SNS: the topic delivers to a queue (see ``stack._sns_queue``); the runner turns each
envelope into Lambda's SNS event. Schedule/ScheduleV2: called every ``schedule_every`` s.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pressline.local.lambda_runtime import invoke, load_handler
from pressline.local.stack import Clients, LocalFunction, ProvisionedStack

logger = logging.getLogger("pressline.local")

Call = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Invocation:
    """What one handler call did, for logs and tests."""

    function: str
    source: str
    records: int
    failed_ids: tuple[str, ...] = ()
    error: str | None = None
    duration_ms: float = 0.0
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed_ids


# --------------------------------------------------------------------------- SQS
def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda sends for an SQS message."""
    attributes = message.get("Attributes", {})
    record_attributes = {
        name: attributes[name]
        for name in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "MessageDeduplicationId",
            "AWSTraceHeader",
            "DeadLetterQueueSourceArn",
        )
        if name in attributes
    }
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": record_attributes,
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return converted


def failed_message_ids(result: Any, message_ids: list[str]) -> list[str]:
    """The records Lambda treats as failed for a ReportBatchItemFailures response.

    No response, no ``batchItemFailures`` or an empty list: all succeeded. A malformed
    response or an identifier not in the batch: the whole batch failed (Lambda's rule).
    """
    if result is None or (isinstance(result, dict) and not result.get("batchItemFailures")):
        return []
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not isinstance(failures, list):
        return list(message_ids)
    ids: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return list(message_ids)
        ids.append(identifier)
    return ids


class SqsTrigger:
    """Polls one queue for one function. One poller, so one invocation at a time per queue:
    Lambda may run up to the event source's MaximumConcurrency (Index: 2), which only the
    unit tests of the catalog's revision guard exercise."""

    def __init__(
        self,
        *,
        name: str,
        call: Call,
        sqs: Any,
        queue_url: str,
        batch_size: int = 10,
        batching_window_s: float = 0.0,
        report_batch_item_failures: bool = True,
        region: str = "us-east-1",
        retry_after: int | None = None,
        record_builder: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        source: str | None = None,
    ) -> None:
        self.name = name
        self.source = source or queue_url.rsplit("/", 1)[-1]  # for logs: the queue's logical id if known
        self.call = call
        self.sqs = sqs
        self.queue_url = queue_url
        self.batch_size = max(1, batch_size)
        self.batching_window_s = max(0.0, batching_window_s)
        self.report_batch_item_failures = report_batch_item_failures
        self.region = region
        self.retry_after = retry_after
        self.queue_arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.record_builder = record_builder or (lambda m: sqs_record(m, self.queue_arn, self.region))
        self.on_invocation = on_invocation

    def receive(self, wait_s: int, *, window: bool = True) -> list[dict[str, Any]]:
        """One batch as Lambda's poller gathers it: up to BatchSize, and with a batching window
        (MaximumBatchingWindowInSeconds), waiting up to the window after the first message for
        the batch to fill, as Lambda does (without a window, or ``window=False``: what is there
        now)."""
        messages: list[dict[str, Any]] = []
        window_ends: float | None = None if window else time.monotonic()
        while len(messages) < self.batch_size:
            wanted = min(10, self.batch_size - len(messages))
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=0 if messages else wait_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(batch)
            if messages and window_ends is None:
                window_ends = time.monotonic() + self.batching_window_s
            if len(batch) < wanted:
                if not messages or window_ends is None or time.monotonic() >= window_ends:
                    break
                time.sleep(min(0.05, max(0.0, window_ends - time.monotonic())))
        return messages

    def poll(self, wait_s: int = 0, *, window: bool = True) -> Invocation | None:
        """Receive one batch, call the handler, settle the messages. None if the queue was empty."""
        messages = self.receive(wait_s, window=window)
        if not messages:
            return None
        event = {"Records": [self.record_builder(m) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        started = time.perf_counter()
        error: str | None = None
        result: Any = None
        try:
            result = self.call(event)
            failed = failed_message_ids(result, ids) if self.report_batch_item_failures else []
        except Exception as exc:  # a handler error fails the whole batch, as in Lambda
            logger.exception("%s raised; the whole batch of %d will be retried", self.name, len(ids))
            error = f"{type(exc).__name__}: {exc}"
            failed = ids
        duration_ms = (time.perf_counter() - started) * 1000
        self._settle(messages, set(failed))
        invocation = Invocation(
            function=self.name,
            source=self.source,
            records=len(ids),
            failed_ids=tuple(failed),
            error=error,
            duration_ms=duration_ms,
            result=result,
        )
        if self.on_invocation:
            self.on_invocation(invocation)
        return invocation

    def _settle(self, messages: list[dict[str, Any]], failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if self.retry_after is not None:
            for message in messages:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self.retry_after,
                    )


# --------------------------------------------------------------------------- SNS
def sns_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """Lambda's SNS event for one SNS envelope (as delivered to an SQS subscriber)."""
    attributes = {
        name: {"Type": value.get("Type"), "Value": value.get("Value")}
        for name, value in (envelope.get("MessageAttributes") or {}).items()
    }
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope.get("MessageId"),
            "TopicArn": envelope.get("TopicArn"),
            "Subject": envelope.get("Subject"),
            "Message": envelope.get("Message"),
            "Timestamp": envelope.get("Timestamp"),
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", ""),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": attributes,
        },
    }


# SNS invokes Lambda asynchronously: an error is retried twice, then the event is dropped.
SNS_ATTEMPTS = 3


class SnsTrigger(SqsTrigger):
    def __init__(self, *, subscription_arn: str, **kwargs: Any) -> None:
        super().__init__(batch_size=1, report_batch_item_failures=False, **kwargs)
        self.subscription_arn = subscription_arn
        inner = self.call

        def call(event: dict[str, Any]) -> Any:
            record = event["Records"][0]
            envelope = json.loads(record["body"])
            try:
                return inner({"Records": [sns_event(envelope, self.subscription_arn)]})
            except Exception:
                if int(record["attributes"].get("ApproximateReceiveCount", "1")) >= SNS_ATTEMPTS:
                    logger.exception("%s failed %d times; SNS drops the event", self.name, SNS_ATTEMPTS)
                    return None
                raise

        self.call = call


# --------------------------------------------------------------------------- schedules
def schedule_event(function: LocalFunction, event_type: str, properties: dict[str, Any], region: str) -> dict[str, Any]:
    """The event a Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler) sends."""
    if properties.get("Input"):
        payload: dict[str, Any] = json.loads(properties["Input"])
        return payload
    if event_type == "ScheduleV2":
        return {}  # Scheduler sends its target's Input, here none
    account = function.arn.split(":")[4]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{function.logical_id}"],
        "detail": {},
    }


# --------------------------------------------------------------------------- the runner
@dataclass
class Runner:
    """Every event source of a provisioned stack, run in this process."""

    stack: ProvisionedStack
    clients: Clients
    retry_after: int | None = None
    schedule_every: float = 10.0
    history: deque[Invocation] = field(default_factory=lambda: deque(maxlen=1000))

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.triggers: list[SqsTrigger] = []
        sqs = self.clients("sqs")
        # Queue name -> logical id, for readable logs (moto's URLs differ by endpoint, names do not).
        logical_ids = {physical.rsplit("/", 1)[-1]: logical for logical, physical in self.stack.resources.items()}
        for function in self.stack.functions.values():
            call = self._caller(function)
            for event in function.events_of("SQS"):
                arn = str(event.properties["Queue"])
                url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
                self.triggers.append(
                    SqsTrigger(
                        name=function.logical_id,
                        call=call,
                        sqs=sqs,
                        queue_url=url,
                        batch_size=event.batch_size,
                        batching_window_s=float(event.properties.get("MaximumBatchingWindowInSeconds") or 0),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (event.properties.get("FunctionResponseTypes") or []),
                        region=self.stack.region,
                        retry_after=self.retry_after,
                        on_invocation=self._record,
                        source=logical_ids.get(url.rsplit("/", 1)[-1]),
                    )
                )
            for event in function.events_of("SNS"):
                url, subscription_arn = self.stack.sns_queues[(function.logical_id, event.name)]
                self.triggers.append(
                    SnsTrigger(
                        name=function.logical_id,
                        call=call,
                        sqs=sqs,
                        queue_url=url,
                        subscription_arn=subscription_arn,
                        region=self.stack.region,
                        retry_after=self.retry_after,
                        on_invocation=self._record,
                        source=f"SNS {str(event.properties['Topic']).rsplit(':', 1)[-1]}",
                    )
                )
        self.schedules = [
            (function, event)
            for function in self.stack.functions.values()
            for event in function.events_of("Schedule", "ScheduleV2")
            if event.properties.get("Enabled", True) not in (False, "false")
            and event.properties.get("State", "ENABLED") != "DISABLED"
        ]

    def _caller(self, function: LocalFunction) -> Call:
        def call(event: dict[str, Any]) -> Any:
            return invoke(function, event)

        return call

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.history.append(invocation)
        if invocation.error:
            logger.error(
                "%s: %d record(s) from %s failed: %s (%.0f ms)",
                invocation.function,
                invocation.records,
                invocation.source,
                invocation.error,
                invocation.duration_ms,
            )
        elif invocation.failed_ids:
            logger.warning(
                "%s: %d record(s) from %s, %d failed and will be retried (%.0f ms)",
                invocation.function,
                invocation.records,
                invocation.source,
                len(invocation.failed_ids),
                invocation.duration_ms,
            )
        else:
            logger.info(
                "%s: %d record(s) from %s processed (%.0f ms)",
                invocation.function,
                invocation.records,
                invocation.source,
                invocation.duration_ms,
            )

    def load_handlers(self) -> dict[str, str]:
        """Import every handler now, so that a broken one shows at start. As on Lambda, a handler
        that cannot be imported fails each invocation (its messages are retried, then go to
        the DLQ) and is imported again on the next one. Returns logical id -> error."""
        errors: dict[str, str] = {}
        for function in self.stack.functions.values():
            try:
                load_handler(function)
            except Exception as exc:
                errors[function.logical_id] = f"{type(exc).__name__}: {exc}"
                logger.error("%s cannot be imported; its invocations will fail: %s", function.logical_id, exc)
        return errors

    def run_schedules(self) -> list[Invocation]:
        done = []
        for function, event in self.schedules:
            started = time.perf_counter()
            error = None
            result = None
            try:
                result = invoke(function, schedule_event(function, event.type, event.properties, self.stack.region))
            except Exception as exc:
                logger.exception("%s (schedule %s) raised", function.logical_id, event.name)
                error = f"{type(exc).__name__}: {exc}"
            invocation = Invocation(
                function.logical_id,
                f"schedule {event.name}",
                0,
                error=error,
                duration_ms=(time.perf_counter() - started) * 1000,
                result=result,
            )
            with self._lock:
                self.history.append(invocation)
            if error is None:
                logger.debug("%s: scheduled run done (%.0f ms)", function.logical_id, invocation.duration_ms)
            done.append(invocation)
        return done

    def drain(self, max_rounds: int = 200) -> list[Invocation]:
        """Poll every queue until a whole round finds no visible message (in-flight failures
        wait for their visibility timeout and are left alone). Returns what ran. A drain is a
        test's "now": it waits for no batching window (a window only bounds how long Lambda may
        wait; the batches are what is there), where the running pollers wait as Lambda does."""
        done: list[Invocation] = []
        for _ in range(max_rounds):
            ran = [inv for trigger in self.triggers if (inv := trigger.poll(0, window=False)) is not None]
            if not ran:
                return done
            done.extend(ran)
        raise RuntimeError(f"queues still busy after {max_rounds} rounds: is a function re-queueing forever?")

    # ------------------------------------------------------------------ threads
    def start(self, wait_s: int = 1) -> None:
        for trigger in self.triggers:
            thread = threading.Thread(
                target=self._poll_forever, args=(trigger, wait_s), name=f"poll-{trigger.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.schedules:
            thread = threading.Thread(target=self._schedule_forever, name="schedules", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _poll_forever(self, trigger: SqsTrigger, wait_s: int) -> None:
        while not self._stop.is_set():
            try:
                trigger.poll(wait_s)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("polling %s failed; retrying", trigger.queue_url.rsplit("/", 1)[-1])
                self._stop.wait(1.0)

    def _schedule_forever(self) -> None:
        while not self._stop.wait(self.schedule_every):
            self.run_schedules()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
