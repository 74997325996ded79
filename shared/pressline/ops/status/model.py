"""What ``pressline status`` read, and what it makes of it (pure: no AWS here).

``read.py`` fills a :class:`Reading`; :func:`decide` turns it into one :class:`StackStatus`,
whose problems decide the exit code: a dead-letter queue holding messages, or sending paused
(the account's or the configuration set's). Everything else worth knowing but not broken
(a section that could not be read, scheduled posts overdue, the day's SES quota used up) is
a note. The JSON form is ``StackStatus.model_dump_json()``: its keys are the fields below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from pressline.ops.redrive import STAGES, stage_of

JSON_FORMAT = "pressline-status"
JSON_VERSION = 1
QUEUE_SUFFIX = "QueueUrl"
DEAD_LETTER_SUFFIX = "DeadLetterQueueUrl"
# The scheduler runs every minute: a post still scheduled this long after its date means it is not running.
OVERDUE_AFTER = timedelta(minutes=5)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# --------------------------------------------------------------------------- what was read
class QueueCounts(Frozen):
    """SQS's approximate counts of one queue (ApproximateNumberOfMessages, ...NotVisible, ...Delayed)."""

    url: str
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


class QueueReading(Frozen):
    """One ``...QueueUrl`` stack output and its counts (None, with ``error``: not readable)."""

    output: str
    counts: QueueCounts | None = None
    error: str | None = None


class ReportLine(Frozen):
    """One upload report (``reports/<key>.json``): the outcome an author sees."""

    key: str
    status: str
    processed_at: datetime | None = None
    last_modified: datetime
    url: str | None = None
    errors: tuple[str, ...] = ()  # "field: message", the first few
    announced: bool | None = None


def newest_first(lines: list[ReportLine], count: int) -> tuple[ReportLine, ...]:
    """The ``count`` newest reports: by the time the stage wrote in them, else S3's (to the second)."""
    ordered = sorted(lines, key=lambda line: (line.processed_at or line.last_modified, line.key), reverse=True)
    return tuple(ordered[:count])


class ReportsReading(Frozen):
    newest: tuple[ReportLine, ...] = ()
    listed: int = 0  # reports listed to find the newest
    complete: bool = True  # False: more reports than the listing bound, newest among the first listed
    error: str | None = None


class ScheduledPost(Frozen):
    key: str
    slug: str
    title: str
    date: datetime


class ScheduledReading(Frozen):
    posts: tuple[ScheduledPost, ...] = ()
    error: str | None = None


class SubscriberCounts(Frozen):
    """Subscribers by state. An unsubscribe deletes the subscriber at once (nothing is kept but
    a suppression record without address, for bounces and complaints), so there is no
    "unsubscribed" count; ``expired``: sign-ups never confirmed, waiting for DynamoDB's TTL."""

    confirmed: int = 0
    pending: int = 0
    expired: int = 0
    bounced: int = 0
    complained: int = 0
    suppressed_other: int = 0  # suppressed for another reason (an import's bounced rows)
    scanned_items: int = 0
    complete: bool = True  # False: the scan stopped at its bound; the counts are "at least"
    error: str | None = None


class SendQuota(Frozen):
    max_24_hour_send: float
    sent_last_24_hours: float
    max_send_rate: float


class SendingReading(Frozen):
    """SES's answers; None where it gave none (``notes`` say why: moto implements neither
    GetAccountSendingEnabled nor the configuration set's reputation options)."""

    account_enabled: bool | None = None
    configuration_set: str | None = None
    configuration_set_enabled: bool | None = None
    quota: SendQuota | None = None
    notes: tuple[str, ...] = ()
    # Pressline's own pause (subscribers/sending.py: the complaint rate reached 0.3%).
    paused_since: datetime | None = None
    paused_reason: str | None = None


class Reading(Frozen):
    """Everything ``read.read_stack`` gathered about one stack."""

    stack_name: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    queues: tuple[QueueReading, ...] = ()
    reports: ReportsReading = ReportsReading()
    scheduled: ScheduledReading = ScheduledReading()
    subscribers: SubscriberCounts | None = None
    sending: SendingReading = SendingReading()
    read_at: datetime


# --------------------------------------------------------------------------- what it means
class StageQueues(Frozen):
    """A stage's queue and dead-letter queue (either may be absent: the email feedback
    function's DLQ has no source queue). ``redrive``: the command that empties the DLQ."""

    stage: str
    queue: QueueCounts | None = None
    dead_letter_queue: QueueCounts | None = None
    redrive: str | None = None
    errors: tuple[str, ...] = ()


class StackStatus(Frozen):
    """The stack's state, as ``--json`` prints it (``format``/``version`` name this layout)."""

    format: str = JSON_FORMAT
    version: int = JSON_VERSION
    stack_name: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    read_at: datetime
    healthy: bool
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    queues: tuple[StageQueues, ...] = ()
    reports: ReportsReading = ReportsReading()
    scheduled: tuple[ScheduledPost, ...] = ()
    subscribers: SubscriberCounts | None = None
    sending: SendingReading = SendingReading()

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 1


def stage_prefix(output: str) -> str | None:
    """``IndexDeadLetterQueueUrl`` and ``IndexQueueUrl`` -> ``Index``; None for any other output."""
    if output.endswith(DEAD_LETTER_SUFFIX):
        return output.removesuffix(DEAD_LETTER_SUFFIX) or None
    if output.endswith(QUEUE_SUFFIX):
        return output.removesuffix(QUEUE_SUFFIX) or None
    return None


def stage_name(prefix: str) -> str:
    """The runbook's name of a stage (``EmailFeedback`` -> ``feedback``), else its prefix in lower case."""
    return stage_of(prefix + DEAD_LETTER_SUFFIX) or prefix.lower()


def _pipeline_order(prefix: str) -> tuple[int, str]:
    known = list(STAGES.values())
    return (known.index(prefix) if prefix in known else len(known), prefix)


def redrive_command(stage: str, dead_letter_url: str, target_options: str) -> str:
    """``pressline redrive`` takes a runbook stage by name; any other DLQ (a stage added since) by URL."""
    name = stage if stage in STAGES else dead_letter_url
    return f"pressline redrive {name}{' ' + target_options if target_options else ''}".rstrip()


def group_queues(queues: tuple[QueueReading, ...], target_options: str = "") -> tuple[StageQueues, ...]:
    """One row per stage, in pipeline order (stages the runbook does not know come last, by name)."""
    by_prefix: dict[str, dict[str, QueueReading]] = {}
    for reading in queues:
        prefix = stage_prefix(reading.output)
        if prefix is None:
            continue
        kind = "dead_letter" if reading.output.endswith(DEAD_LETTER_SUFFIX) else "queue"
        by_prefix.setdefault(prefix, {})[kind] = reading
    rows = []
    for prefix in sorted(by_prefix, key=_pipeline_order):
        found = by_prefix[prefix]
        queue, dead_letter = found.get("queue"), found.get("dead_letter")
        stage = stage_name(prefix)
        redrive = None
        if dead_letter is not None and dead_letter.counts is not None and queue is not None:
            redrive = redrive_command(stage, dead_letter.counts.url, target_options)
        errors = tuple(f"{item.output}: {item.error}" for item in (queue, dead_letter) if item and item.error)
        rows.append(
            StageQueues(
                stage=stage,
                queue=queue.counts if queue else None,
                dead_letter_queue=dead_letter.counts if dead_letter else None,
                redrive=redrive,
                errors=errors,
            )
        )
    return tuple(rows)


def _queue_problems(rows: tuple[StageQueues, ...]) -> list[str]:
    problems = []
    for row in rows:
        held = row.dead_letter_queue.total if row.dead_letter_queue else 0
        if not held:
            continue
        what = f"{row.stage}: {held} message(s) in the dead-letter queue"
        if row.redrive:
            problems.append(f"{what}; once the cause is fixed, `{row.redrive}` sends them back")
        else:
            problems.append(f"{what}; it has no source queue to send them back to: see README, Operations")
    return problems


def _sending_problems(sending: SendingReading, target_options: str = "") -> list[str]:
    problems = []
    if sending.paused_since is not None:
        command = " ".join(part for part in ("pressline subscribers resume-sending", target_options) if part)
        problems.append(
            f"sending paused since {sending.paused_since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            f" ({sending.paused_reason}): post emails are held"
            f" on the delivery queue; once the cause is dealt with, `{command}` sends them, each once"
        )
    if sending.account_enabled is False:
        problems.append(
            "sending is paused for the whole SES account (no email goes out): resume it with"
            " `aws ses update-account-sending-enabled --enabled` once the cause (bounces, complaints) is dealt with"
        )
    if sending.configuration_set_enabled is False:
        problems.append(
            f"sending is paused for the configuration set {sending.configuration_set} (no post email goes out):"
            f" resume it with `aws ses update-configuration-set-sending-enabled --configuration-set-name"
            f" {sending.configuration_set} --enabled`"
        )
    return problems


def _notes(reading: Reading, rows: tuple[StageQueues, ...]) -> list[str]:
    notes = [error for row in rows for error in row.errors]
    if not rows:
        notes.append("the stack's outputs name no queue (no ...QueueUrl output)")
    if reading.reports.error:
        notes.append(f"reports: {reading.reports.error}")
    elif not reading.reports.complete:
        notes.append(f"reports: the newest among the first {reading.reports.listed} listed (there are more)")
    if reading.scheduled.error:
        notes.append(f"scheduled posts: {reading.scheduled.error}")
    overdue = [post for post in reading.scheduled.posts if post.date + OVERDUE_AFTER < reading.read_at]
    if overdue:
        notes.append(
            f"{len(overdue)} scheduled post(s) more than {int(OVERDUE_AFTER.total_seconds() // 60)} minutes past"
            " their date and not published: is the PublishScheduled schedule enabled?"
        )
    counts = reading.subscribers
    if counts is None:
        notes.append("subscribers: the stack's outputs name no subscribers table")
    elif counts.error:
        notes.append(f"subscribers: {counts.error}")
    elif not counts.complete:
        notes.append(f"subscribers: counted in the first {counts.scanned_items} items only (the counts are at least)")
    notes.extend(f"sending: {note}" for note in reading.sending.notes)
    quota = reading.sending.quota
    if quota is not None and quota.max_24_hour_send > 0 and quota.sent_last_24_hours >= quota.max_24_hour_send:
        notes.append("sending: the SES quota of the last 24 hours is used up; emails wait until it frees up")
    return notes


def decide(reading: Reading, target_options: str = "") -> StackStatus:
    """The stack's status from what was read. ``target_options`` (``--local``, ``--stack-name X``)
    go into the redrive commands it suggests, so that they run against the same stack."""
    rows = group_queues(reading.queues, target_options)
    problems = _queue_problems(rows) + _sending_problems(reading.sending, target_options)
    return StackStatus(
        stack_name=reading.stack_name,
        endpoint_url=reading.endpoint_url,
        region=reading.region,
        read_at=reading.read_at,
        healthy=not problems,
        problems=tuple(problems),
        notes=tuple(_notes(reading, rows)),
        queues=rows,
        reports=reading.reports,
        scheduled=reading.scheduled.posts,
        subscribers=reading.subscribers,
        sending=reading.sending,
    )
