"""``pressline status`` as text for a terminal: plain aligned columns, nothing but the stdlib."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pressline.ops.status.model import QueueCounts, SendingReading, StackStatus, SubscriberCounts

DASH = "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int] = frozenset()) -> list[str]:
    """Columns as wide as their widest cell; the ``numeric`` ones aligned right. The last
    column is not padded (no trailing spaces)."""
    widths = [max(len(str(row[column])) for row in [header, *rows]) for column in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = []
        for column, cell in enumerate(row):
            last = column == len(row) - 1
            if column in numeric:
                cells.append(cell.rjust(widths[column]))
            else:
                cells.append(cell if last else cell.ljust(widths[column]))
        lines.append("  ".join(cells).rstrip())
    return lines


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else DASH


def _count(counts: QueueCounts | None, field: str) -> str:
    return str(getattr(counts, field)) if counts is not None else DASH


def _queues(status: StackStatus) -> list[str]:
    rows = []
    for row in status.queues:
        held = row.dead_letter_queue.total if row.dead_letter_queue else 0
        hint = f"<- {row.redrive}" if held and row.redrive else ("<- see README, Operations" if held else "")
        dead = str(held) if row.dead_letter_queue is not None else DASH
        rows.append(
            [
                row.stage,
                _count(row.queue, "visible"),
                _count(row.queue, "in_flight"),
                _count(row.queue, "delayed"),
                dead,
                hint,
            ]
        )
    return ["Queues", *table(["stage", "waiting", "in flight", "delayed", "DLQ", ""], rows, frozenset({1, 2, 3, 4}))]


def _reports(status: StackStatus) -> list[str]:
    reports = status.reports
    title = f"Newest reports ({len(reports.newest)} of {reports.listed}{'+' if not reports.complete else ''})"
    if not reports.newest:
        return [title, "  none"]
    rows = [
        [when(line.processed_at or line.last_modified), line.status, line.key, line.url or ""]
        for line in reports.newest
    ]
    header, *lines = table(["processed (UTC)", "status", "key", "url"], rows)
    indent = " " * header.index("key")  # under the key they are about
    shown = [header]
    for line, report in zip(lines, reports.newest, strict=True):
        shown += [line, *(f"{indent}{error}" for error in report.errors)]  # under the row, not widening its column
    return [title, *shown]


def _scheduled(status: StackStatus) -> list[str]:
    if not status.scheduled:
        return ["Scheduled next", "  none"]
    rows = [[when(post.date), post.slug, post.title, post.key] for post in status.scheduled]
    return ["Scheduled next", *table(["date (UTC)", "slug", "title", "key"], rows)]


def _subscribers(counts: SubscriberCounts | None) -> list[str]:
    if counts is None or counts.error:
        return ["Subscribers: unknown"]
    at_least = "" if counts.complete else "at least "
    states = (
        f"{at_least}{counts.confirmed} confirmed, {counts.pending} pending, {counts.expired} expired sign-up(s),"
        f" {counts.bounced} bounced, {counts.complained} complained, {counts.suppressed_other} suppressed otherwise"
    )
    return [f"Subscribers: {states} (an unsubscribe deletes the subscriber, so none is counted)"]


def _switch(value: bool | None) -> str:
    return "unknown" if value is None else ("enabled" if value else "PAUSED")


def _sending(sending: SendingReading) -> list[str]:
    parts = [f"account {_switch(sending.account_enabled)}"]
    if sending.paused_since is not None:
        # Pressline's own pause first: it is the one `pressline subscribers resume-sending` lifts.
        parts.insert(0, f"PAUSED since {when(sending.paused_since)} UTC ({sending.paused_reason})")
    if sending.configuration_set:
        parts.append(f"configuration set {sending.configuration_set} {_switch(sending.configuration_set_enabled)}")
    if sending.quota is not None:
        quota = sending.quota
        parts.append(
            f"{quota.sent_last_24_hours:g} of {quota.max_24_hour_send:g} sent in 24 h,"
            f" at most {quota.max_send_rate:g}/s"
        )
    return [f"Sending: {'; '.join(parts)}"]


def format_text(status: StackStatus) -> str:
    where = ", ".join(part for part in (status.endpoint_url, status.region) if part)
    name = status.stack_name or "(unnamed)"
    verdict = "healthy" if status.healthy else f"{len(status.problems)} problem(s)"
    lines = [f"Stack {name}{f' ({where})' if where else ''} at {when(status.read_at)} UTC: {verdict}", ""]
    for section in (_queues(status), _reports(status), _scheduled(status)):
        lines += [*section, ""]
    lines += _subscribers(status.subscribers)
    lines += _sending(status.sending)
    if status.problems:
        lines += ["", "Problems:", *(f"  - {problem}" for problem in status.problems)]
    if status.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in status.notes)]
    return "\n".join(lines) + "\n"
