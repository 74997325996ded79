"""How the queue handlers take their SQS events: record by record, or as one batch.

Record by record: Powertools' BatchProcessor, made on a handler's first invocation (its
module imports asyncio and all its event data classes, ~35 ms: paid by the first
invocation, once per container, instead of at import; tests/bench/bench_coldstart.py
prints both). Each handler keeps its own processor: it holds the batch in progress.

As one batch (``Batch``): for stages whose records share calls. Each record's work runs
alone (a failure fails that record only), and the messages the records send wait in the
batch until it ends, then go out together: one SendMessageBatch per 10 messages instead of
one SendMessage per record. A record whose message could not be sent is failed (SQS brings
it back, and its retry sends it again: every receiver is idempotent); a record that failed
sends nothing. The response is the same partial batch response as Powertools' (poison
reaches the DLQ by maxReceiveCount). Powertools has no shape for work shared by records,
and this one needs none of its imports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel

from pressline.adapters.queue import Queue, SendBatchError
from pressline.errors import PoisonMessageError, RetryableError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor

logger = Logger(child=True)
T = TypeVar("T")
OutcomeT = TypeVar("OutcomeT")
Response = dict[str, list[dict[str, str]]]


def sqs_processor() -> BatchProcessor:
    """A failed record is reported in batchItemFailures and retried by SQS, even when every
    record failed: the invocation itself does not fail, and poison reaches the DLQ by
    maxReceiveCount."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dataclass(frozen=True)
class Message:
    """One SQS record of an event."""

    message_id: str
    body: str


def messages_of(event: dict[str, Any]) -> list[Message]:
    return [Message(record["messageId"], record["body"]) for record in event.get("Records", [])]


@dataclass(frozen=True)
class Handled(Generic[OutcomeT]):
    """What a batch-level stage made of an event: Lambda's response, and the outcomes of the
    messages that succeeded (for the handler's metrics)."""

    response: Response
    outcomes: dict[str, list[OutcomeT]]  # message id -> its outcomes
    poison: int = 0

    def metric_counts(self, names: Mapping[OutcomeT, str], skipped: str | None = None) -> dict[str, int]:
        """The handler's metrics for this event, one count a name: ``PoisonMessages``, each
        outcome under its name in ``names``, and ``skipped`` (when given) for a message that had
        no outcome (S3's test event)."""
        counts: Counter[str] = Counter()
        if self.poison:
            counts["PoisonMessages"] = self.poison
        for outcomes in self.outcomes.values():
            if not outcomes and skipped:
                counts[skipped] += 1
            counts.update(names[outcome] for outcome in outcomes)
        return dict(counts)


@dataclass
class Batch:
    """One invocation's messages: which failed (and why), and what they send at the end."""

    messages: list[Message]
    # The handler's Logger.set_correlation_id: each message's logs carry its id (a child
    # logger, as here, cannot set it).
    correlate: Callable[[str | None], None] | None = None
    failed: dict[str, str] = field(default_factory=dict)  # message id -> reason
    poison: int = 0  # malformed messages among the failed
    _outbox: list[tuple[str, Queue, BaseModel]] = field(default_factory=list)

    def run(self, message: Message, work: Callable[[], T]) -> T | None:
        """``work`` for one message; None if it failed (then the message is failed alone)."""
        return self.run_for([message], work)

    def run_for(self, messages: list[Message], work: Callable[[], T]) -> T | None:
        """``work`` shared by ``messages`` (a lookup for all of them): if it fails, they all do."""
        live = [message for message in messages if message.message_id not in self.failed]
        if not live:
            return None
        if self.correlate is not None:
            self.correlate(live[0].message_id if len(live) == 1 else None)  # shared work: no one id
        try:
            return work()
        except PoisonMessageError as error:
            self.poison += len(live)
            logger.error("Malformed message; it will reach the DLQ after its retries", extra={"reason": str(error)})
            self._fail([m.message_id for m in live], str(error))
        except RetryableError as error:
            logger.warning("Transient failure; SQS will retry", extra={"reason": str(error)})
            self._fail([m.message_id for m in live], str(error))
        except Exception as error:  # a bug: this message fails, the batch goes on
            logger.exception("Unexpected failure; SQS will retry")
            self._fail([m.message_id for m in live], f"{type(error).__name__}: {error}")
        return None

    def send(self, message: Message, queue: Queue, payload: BaseModel) -> None:
        """Send ``payload`` on behalf of ``message`` when the batch ends."""
        self._outbox.append((message.message_id, queue, payload))

    def ok(self, message: Message) -> bool:
        return message.message_id not in self.failed

    def finish(self) -> Response:
        """Send what the messages that did not fail send, then the partial batch response."""
        pending = [(owner, queue, payload) for owner, queue, payload in self._outbox if owner not in self.failed]
        self._outbox.clear()
        for queue in _distinct(queue for _, queue, _ in pending):
            mine = [(owner, payload) for owner, to, payload in pending if to is queue]
            try:
                queue.send_batch([payload for _, payload in mine])
            except SendBatchError as error:
                for position, reason in error.failed.items():
                    self._fail([mine[position][0]], reason)
            except RetryableError as error:
                self._fail([owner for owner, _ in mine], str(error))
        if self.failed:
            logger.warning("Messages failed; SQS will retry them", extra={"failed": len(self.failed)})
        return response(self.failed)

    def handled(self, outcomes: dict[str, list[OutcomeT]]) -> Handled[OutcomeT]:
        """``finish``, with the outcomes of the messages that succeeded."""
        sent = self.finish()
        kept = {message_id: found for message_id, found in outcomes.items() if message_id not in self.failed}
        return Handled(sent, kept, self.poison)

    def _fail(self, message_ids: list[str], reason: str) -> None:
        for message_id in message_ids:
            self.failed.setdefault(message_id, reason)


def response(failed: Iterable[str]) -> Response:
    """Lambda's partial batch response: the messages SQS must deliver again."""
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _distinct(queues: Iterable[Queue]) -> list[Queue]:
    found: list[Queue] = []
    for queue in queues:
        if not any(queue is seen for seen in found):
            found.append(queue)
    return found
