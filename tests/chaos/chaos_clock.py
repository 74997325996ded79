"""The chaos runs' clocks: the calendar moves only when a test says so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2030, 1, 10, 9, 0, tzinfo=UTC)


@dataclass
class Clocks:
    """The calendar (publication decisions: Render, Index, the scheduler) moves only when
    the run says so; the subscriber clock (Notify's and Deliver's leases, tokens) also moves
    by a visibility timeout whenever a batch fails, as it would between SQS retries."""

    calendar: datetime = START
    lease_offset: timedelta = timedelta(0)

    def lease_now(self) -> datetime:
        return self.calendar + self.lease_offset


def frozen(source: Callable[[], datetime]) -> type[datetime]:
    """A ``datetime`` whose ``now()`` is ``source()``: patched into a module in place of the real one."""

    class FrozenDateTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            moment = source()
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    return FrozenDateTime
