"""Applying an imported subscriber list to a stack: the thin shell around ``imports.decide``.

Every row is applied at most once, ever: a confirmed import, a suppression, a "left" and
an invitation each write the address's ``IMPORT`` marker, and a marker means skip. An
invitation writes its marker *before* its email is sent, so an import killed between the
two leaves someone without an invitation rather than with two (at most once, on purpose:
an unwanted second email is the harm this avoids); the report of a run counts every row.

Invitations go out through ``Subscriptions.invite`` (the sign-up's own confirmation and
limits), paced to SES's sending rate and within its 24-hour quota. When a limit is reached,
the rest are deferred (their markers removed) and the same command, run again later,
sends them: importing is resumable.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pressline.errors import RetryableError
from pressline.subscribers.addresses import subscriber_id
from pressline.subscribers.imports import (
    Consent,
    Decision,
    ExportedSubscriber,
    ImportRow,
    ImportState,
    ParsedFile,
    RowProblem,
    decide,
)
from pressline.subscribers.service import Subscriptions

logger = logging.getLogger("pressline.subscribers.import")

CHUNK = 100  # rows whose state is read in one batch


class ImportRepository(Protocol):
    """What an import needs of the subscribers table (DynamoSubscriberRepository, MemoryRepository)."""

    def import_states(self, subscriber_ids: Sequence[str], now: datetime) -> dict[str, ImportState]: ...

    def import_confirmed(
        self, subscriber_id: str, address: str, tags: tuple[str, ...], consent: Consent, now: datetime
    ) -> bool: ...

    def mark_imported(self, subscriber_id: str, outcome: str, source: str, now: datetime) -> bool: ...

    def unmark_imported(self, subscriber_id: str, outcome: str) -> None: ...

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> None: ...

    def all_subscribers(self, now: datetime) -> Iterator[ExportedSubscriber]: ...


@dataclass
class Pace:
    """How fast invitations may go: ``interval`` seconds apart (1 / SES's maximum send
    rate), at most ``budget`` of them in this run (SES's 24-hour quota left; None: no cap)."""

    interval: float = 0.0
    budget: int | None = None
    sleep: Callable[[float], None] = time.sleep


@dataclass
class RowOutcome:
    row: int
    outcome: str  # confirmed, invited, suppressed, left, skipped, deferred (or "would ..." in a dry run)
    reason: str


@dataclass
class ImportReport:
    file: str
    format: str
    dry_run: bool
    outcomes: list[RowOutcome] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    stopped: str | None = None  # why invitations stopped before the end (a limit), for the summary

    @property
    def counts(self) -> Counter[str]:
        return Counter(outcome.outcome for outcome in self.outcomes)

    def summary(self) -> str:
        counts = self.counts
        order = ("confirmed", "invited", "suppressed", "left", "skipped", "deferred")
        prefix = "would be " if self.dry_run else ""
        parts = [f"{counts.get(name, 0)} {prefix}{name}" for name in order if counts.get(name, 0)]
        text = f"{self.file} ({self.format}): " + (", ".join(parts) or "nothing to import")
        if self.problems:
            text += f"; {len(self.problems)} row(s) not imported (see above)"
        if self.stopped:
            text += f". {self.stopped}"
        return text


_PAST = {"confirm": "confirmed", "invite": "invited", "suppress": "suppressed", "mark_left": "left", "skip": "skipped"}


def apply_import(
    parsed: ParsedFile,
    repository: ImportRepository,
    subscriptions: Subscriptions,
    *,
    dry_run: bool = False,
    pace: Pace | None = None,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> ImportReport:
    """Apply every row of ``parsed`` (or, with ``dry_run``, only say what would happen);
    ``on_row`` hears of each row as it is done (a progress bar)."""
    pace = pace or Pace()
    report = ImportReport(
        file=parsed.file, format=parsed.format or "?", dry_run=dry_run, problems=list(parsed.problems)
    )
    invited = 0
    for start in range(0, len(parsed.rows), CHUNK):
        rows = parsed.rows[start : start + CHUNK]
        ids = [subscriber_id(subscriptions.keys.id_key, row.address) for row in rows]
        states = repository.import_states(ids, subscriptions.clock())
        for row, sid in zip(rows, ids, strict=True):
            decision = decide(row, states[sid])
            if dry_run:
                outcome = RowOutcome(row.row, _PAST[decision.action], decision.reason)
            elif decision.action != "invite":
                outcome = _apply(row, sid, decision, repository, subscriptions.clock(), parsed.file)
            elif report.stopped or (pace.budget is not None and invited >= pace.budget):
                report.stopped = report.stopped or _quota_reached(pace)
                outcome = RowOutcome(row.row, "deferred", "sending limit reached: run again later")
            else:
                if invited and pace.interval:
                    pace.sleep(pace.interval)
                outcome = _invite(row, sid, repository, subscriptions, report)
                invited += outcome.outcome == "invited"
            report.outcomes.append(outcome)
            if on_row is not None:
                on_row(outcome)
    logger.info("Subscriber import of %s: %s", parsed.file, dict(report.counts))  # counts only: no addresses
    return report


def _quota_reached(pace: Pace) -> str:
    return (
        f"Invitations stopped at SES's 24-hour quota ({pace.budget} this run): run the same command again"
        " tomorrow to send the rest (nobody is invited twice)."
    )


def _apply(
    row: ImportRow, sid: str, decision: Decision, repository: ImportRepository, now: datetime, file: str
) -> RowOutcome:
    if decision.action == "confirm":
        assert row.consent is not None
        if repository.import_confirmed(sid, row.address, row.tags, row.consent, now):
            return RowOutcome(row.row, "confirmed", decision.reason)
        return RowOutcome(row.row, "skipped", "changed while importing (suppressed, imported or subscribed)")
    if decision.action == "suppress":
        repository.suppress(sid, "import: bounced or complained on the old platform", now)
        repository.mark_imported(sid, "suppressed", file, now)
        return RowOutcome(row.row, "suppressed", decision.reason)
    if decision.action == "mark_left":
        if repository.mark_imported(sid, "unsubscribed", file, now):
            return RowOutcome(row.row, "left", decision.reason)
        return RowOutcome(row.row, "skipped", "imported meanwhile")
    return RowOutcome(row.row, "skipped", decision.reason)


def _invite(
    row: ImportRow, sid: str, repository: ImportRepository, subscriptions: Subscriptions, report: ImportReport
) -> RowOutcome:
    now = subscriptions.clock()
    if not repository.mark_imported(sid, "invited", report.file, now):
        return RowOutcome(row.row, "skipped", "imported meanwhile")
    try:
        _, outcome, limit = subscriptions.invite(row.address, row.tags)
    except RetryableError as error:
        repository.unmark_imported(sid, "invited")
        report.stopped = f"SES refused to send ({error}): run the same command again later to send the rest."
        return RowOutcome(row.row, "deferred", "SES refused the send for now")
    if outcome == "sent":
        return RowOutcome(row.row, "invited", "no record of consent: one confirmation email sent")
    if outcome == "rate_limited":
        # A confirmation went to this address minutes ago (a sign-up of their own): that link asks them.
        return RowOutcome(row.row, "invited", "a confirmation email was sent minutes ago: not sent again")
    if outcome == "suppressed":
        return RowOutcome(row.row, "skipped", "suppressed meanwhile")
    repository.unmark_imported(sid, "invited")
    if limit == "overall":
        report.stopped = (
            "Invitations stopped at the site's sign-up limit (SIGNUP_LIMITS overall): run the same command"
            " again in an hour to send the rest (nobody is invited twice)."
        )
    return RowOutcome(row.row, "deferred", f"the {limit or 'sign-up'} limit is reached: run again later")
