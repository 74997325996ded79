"""Powertools' batch processors for the queue handlers, made on a handler's first invocation.

Powertools' batch module imports asyncio and all its event data classes (~35 ms): made by
the first invocation (and cached by each handler, once per container), it is paid then
instead of at import (tests/bench/bench_coldstart.py prints both). Each handler keeps its
own processor: a processor holds the state of the batch in progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, SqsFifoPartialProcessor


def sqs_processor() -> BatchProcessor:
    """A failed record is reported in batchItemFailures and retried by SQS, even when every
    record failed: the invocation itself does not fail, and poison reaches the DLQ by
    maxReceiveCount."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def sqs_fifo_processor() -> SqsFifoPartialProcessor:
    """After a failure the rest of the batch is reported failed too, so that the FIFO group
    is retried in its original order."""
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor

    return SqsFifoPartialProcessor()
