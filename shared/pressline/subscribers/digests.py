"""Digests' pure core: periods, which one is due, a subscriber's window and a digest's posts.

**Periods.** A daily digest belongs to a local date D of the site's time zone; its cutoff is
the first instant whose local wall time is at or after D at the digest hour: on a
spring-forward day whose skipped hour holds it, the first valid local time after the gap;
on a fall-back day, the first of the two occurrences. Its id is ``daily#YYYY-MM-DD``. A
weekly digest belongs to an ISO week of the local calendar (``weekly#YYYY-Www``); its cutoff
is that week's digest weekday at the digest hour, by the same rule. Cutoffs are instants
(UTC), so every comparison below is between instants, whatever the offsets.

**Which period is due** at an instant: the latest one whose cutoff has come. The scheduler
starts it (a fan-out whose ledger state makes a repeated, late or overlapping start a no-op),
so each period runs exactly once however the scheduler's runs fall; a period the scheduler
never saw as the latest (it was down for a whole period) merges into the next one, since a
window runs from the subscriber's previous digest, not from the period's start.

**Which posts.** Notify writes every announced post into the digest log (the ledger's
``digestlog#<utc date>`` items) with the instant it logged it, before it reads any audience:
that instant is a post's ``published_at`` for digests. A digest with cutoff T for a
subscriber S holds the posts logged in [S.digest_from, min(T, until)) that are published in
the catalog as it is when the digest is made (shown as they are then; deleted, unpublished
or rescheduled ones are left out), match S's tags then, and have no delivery record for S:
the (post, S) record, claimed by whoever comes first (an instant email or a digest), is what
makes each post reach S exactly once. A post this digest claimed already (a retry after a
crash between the claims and the send) is in it again, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pressline.subscribers.model import Frequency, Subscriber, wants

DigestFrequency = Literal["daily", "weekly"]
DIGEST_FREQUENCIES: tuple[DigestFrequency, ...] = ("daily", "weekly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_DIGEST_HOUR = 7
DEFAULT_DIGEST_WEEKDAY = "Monday"

# How long an instant email can still be on its way after its post was logged: Notify's
# message lives at most 5 receives x 900 s and Deliver's 5 x 360 s before its DLQ (105 min;
# template.yaml, pinned by test_preferences), with room for a fan-out resuming across
# invocations. A switch to a digest reaches back this far and no further: far enough for
# every email Deliver will now leave to the digest, not so far that a digest fills with
# older posts the subscriber's tags of then never asked for (SQS's 14 days would).
IN_FLIGHT = timedelta(hours=6)
# No window reaches further back than this before its cutoff: every delivery record it
# relies on (kept 30 days, subscribers.dynamodb.DELIVERY_RETENTION) is still there. A window
# that would start earlier (the scheduler down for weeks) starts here.
MAX_WINDOW = timedelta(days=28)
# How long the digest log keeps a day's entries (TTL): longer than any window reads back.
LOG_RETENTION = timedelta(days=35)


# --------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class DigestSchedule:
    """The site's digest times: ``hour`` (0-23) every day, and ``weekday`` (0 = Monday) for
    the weekly one, in ``timezone`` (IANA)."""

    timezone: str = "UTC"
    hour: int = DEFAULT_DIGEST_HOUR
    weekday: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.hour <= 23:
            raise ValueError(f"DIGEST_HOUR: {self.hour!r} is not an hour from 0 to 23")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"DIGEST_WEEKDAY: {self.weekday!r} is not a weekday from 0 (Monday) to 6")
        zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"SITE_TIMEZONE: {name[:60]!r} is not an IANA time zone") from None


def schedule_from(timezone: str, hour: str, weekday: str) -> DigestSchedule:
    """The schedule from its settings (SITE_TIMEZONE, DIGEST_HOUR ``7``, DIGEST_WEEKDAY
    ``Monday``); a ValueError naming the variable and the reason for anything else."""
    text = hour.strip()
    if not text.isdigit() or not 0 <= int(text) <= 23:
        raise ValueError(f"DIGEST_HOUR: {hour[:20]!r} is not an hour from 0 to 23")
    names = {name.lower(): index for index, name in enumerate(WEEKDAYS)}
    day = names.get(weekday.strip().lower())
    if day is None:
        raise ValueError(f"DIGEST_WEEKDAY: {weekday[:20]!r} is not one of {', '.join(WEEKDAYS)}")
    return DigestSchedule(timezone=timezone, hour=int(text), weekday=day)


def local_cutoff(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) whose wall time in ``tz`` is at or after ``day`` ``hour``:00.
    A wall time in a gap (spring forward) gives the end of the gap; one that occurs twice
    (fall back) its first occurrence."""
    wall = datetime.combine(day, time(hour))
    found = [
        moment
        for moment in (wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
        if moment.astimezone(tz).replace(tzinfo=None) == wall
    ]
    if found:
        return min(found)
    # In a gap: fold=1 reads the wall time with the offset after the jump (an instant before
    # it), fold=0 with the offset before (after it). Between them the wall time jumps once,
    # forward: the first instant whose wall time is at or past ``wall`` is the jump itself
    # (transitions fall on whole seconds).
    ends = [int(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC).timestamp()) for fold in (0, 1)]
    low, high = min(ends), max(ends)  # wall(low) < wall <= wall(high)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


# --------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    """One digest run: ``id`` (``daily#2026-12-04``, ``weekly#2026-W49``) and its cutoff (UTC)."""

    frequency: DigestFrequency
    id: str
    cutoff: datetime


def daily_period(day: date, schedule: DigestSchedule) -> Period:
    return Period("daily", f"daily#{day.isoformat()}", local_cutoff(day, schedule.hour, schedule.zone))


def weekly_period(year: int, week: int, schedule: DigestSchedule) -> Period:
    day = date.fromisocalendar(year, week, schedule.weekday + 1)
    return Period("weekly", f"weekly#{year:04d}-W{week:02d}", local_cutoff(day, schedule.hour, schedule.zone))


def period_of(frequency: DigestFrequency, day: date, schedule: DigestSchedule) -> Period:
    """The period a local date belongs to."""
    if frequency == "daily":
        return daily_period(day, schedule)
    year, week, _ = day.isocalendar()
    return weekly_period(year, week, schedule)


def due_period(frequency: DigestFrequency, now: datetime, schedule: DigestSchedule) -> Period:
    """The latest period of ``frequency`` whose cutoff is at or before ``now``."""
    step = timedelta(days=1 if frequency == "daily" else 7)
    day = now.astimezone(schedule.zone).date() + step  # a cutoff can fall on the next date (a skipped day)
    while True:
        period = period_of(frequency, day, schedule)
        if period.cutoff <= now:
            return period
        day -= step


def next_period(frequency: DigestFrequency, now: datetime, schedule: DigestSchedule) -> Period:
    """The first period of ``frequency`` whose cutoff is after ``now`` (shown on the
    preferences page: "your next digest")."""
    step = timedelta(days=1 if frequency == "daily" else 7)
    day = now.astimezone(schedule.zone).date() - step
    while True:
        period = period_of(frequency, day, schedule)
        if period.cutoff > now:
            return period
        day += step


def due_periods(now: datetime, schedule: DigestSchedule) -> list[Period]:
    return [due_period(frequency, now, schedule) for frequency in DIGEST_FREQUENCIES]


def digest_key(period: Period) -> str:
    """The ledger's post key of a period's own records (``digest#daily#2026-12-04``): a post's
    slug never holds ``#``, so it cannot collide with one."""
    return f"digest#{period.id}"


def parse_period_id(period_id: str) -> DigestFrequency:
    frequency = period_id.split("#", 1)[0]
    if frequency not in DIGEST_FREQUENCIES:
        raise ValueError(f"period: {period_id[:40]!r} is not daily#... or weekly#...")
    return frequency


# --------------------------------------------------------------------------- the log
@dataclass(frozen=True)
class LogEntry:
    """One announced post in the digest log: when Notify logged it, and where the catalog
    keeps it (its slug and tags as announced; the catalog's are used when the digest is made)."""

    slug: str
    source_key: str
    logged_at: datetime


def log_day(moment: datetime) -> str:
    """The log item a moment's entries go to: its UTC date."""
    return moment.astimezone(UTC).date().isoformat()


def log_days(start: datetime, end: datetime) -> list[str]:
    """The log items that hold entries logged in [start, end)."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def seal_days(cutoff: datetime) -> list[str]:
    """The log items a period start seals at its cutoff, so that no entry logged before the
    cutoff can land after the digest read the log: the cutoff's UTC date and the day before
    (a log write lands seconds after its timestamp, never a day)."""
    return log_days(cutoff - timedelta(days=1), cutoff)


# --------------------------------------------------------------------------- windows
@dataclass(frozen=True)
class Window:
    """The posts logged in [start, end) are a subscriber's digest's candidates."""

    start: datetime
    end: datetime

    @property
    def empty(self) -> bool:
        return self.start >= self.end

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def window_of(subscriber: Subscriber, cutoff: datetime, until: datetime | None) -> Window:
    """``subscriber``'s window for a digest with ``cutoff``: from their ``digest_from`` (or, if
    none is recorded, their confirmation) to the cutoff, or to ``until`` (the switch back to
    instant emails) if earlier; never more than MAX_WINDOW back."""
    start = subscriber.digest_from or subscriber.confirmed_at or subscriber.created_at
    start = max(start, cutoff - MAX_WINDOW)
    end = min(cutoff, until) if until is not None else cutoff
    return Window(start, end)


def switched_digest_from(subscriber: Subscriber, now: datetime) -> datetime:
    """``digest_from`` for a subscriber switching from instant emails to a digest at ``now``
    (the design's rule, which the repository applies): every instant email still in flight
    falls in the window; those already sent have delivery records and stay out."""
    if subscriber.digest_from is not None:
        return subscriber.digest_from  # an owed final digest: its window carries over
    return max(subscriber.confirmed_at or subscriber.created_at, now - IN_FLIGHT)


def recipient_until(
    subscriber: Subscriber | None, frequency: Frequency, until: datetime | None
) -> tuple[bool, datetime | None]:
    """Whether a digest of ``frequency`` goes to ``subscriber`` (as read now) at all, and the
    end of their window if it is not the cutoff. ``until``: what their digest row said when the
    fan-out read it. A subscriber of this frequency gets the regular digest (an ``until`` read
    before they came back to it no longer holds); one who left it for instant emails gets the
    final digest their row still owes (``until``), or nothing (they left after the read: the
    next period's run reads the row's ``until``)."""
    if subscriber is None or not subscriber.can_receive_posts:
        return False, None
    if subscriber.frequency == frequency:
        return True, None
    return until is not None, until


# --------------------------------------------------------------------------- selection
RecordStatus = Literal["sending", "sent", "rejected", "digest"]


@dataclass(frozen=True)
class Record:
    """A delivery record of (post, subscriber) as the ledger holds it: an instant email's
    (``sending`` since, then ``sent`` / ``rejected``) or a digest's claim (``digest``, naming it)."""

    status: RecordStatus
    since: datetime
    digest: str | None = None


@dataclass(frozen=True)
class CurrentPost:
    """A post as the catalog holds it when the digest is made."""

    slug: str
    title: str
    summary: str
    tags: tuple[str, ...]
    date: datetime
    published: bool


@dataclass(frozen=True)
class DigestItem:
    """One post of a digest, as shown: its current slug (its URL), title, summary, tags and
    date, and when it was published (logged), which orders the digest. ``key``: the slug it
    was announced under, which names its delivery records."""

    key: str
    slug: str
    title: str
    summary: str
    tags: tuple[str, ...]
    date: datetime
    published_at: datetime


@dataclass(frozen=True)
class Selection:
    """One subscriber's digest: every post in it (``items``, in publication order), the keys
    of those to claim now (the rest this digest claimed before), and ``busy``: posts an instant
    email is being sent for right now (wait: it may yet be released)."""

    items: tuple[DigestItem, ...] = ()
    claim: tuple[str, ...] = ()
    takeover: tuple[str, ...] = ()  # of ``claim``: instant claims whose sender died
    busy: tuple[str, ...] = ()


def select(
    entries: Iterable[LogEntry],
    current: Mapping[str, CurrentPost | None],
    records: Mapping[str, Record],
    *,
    digest: str,
    window: Window | None,
    subscriber_tags: Sequence[str],
    now: datetime,
    lease: timedelta,
) -> Selection:
    """A digest's posts for one subscriber (see the module's docstring).

    ``entries``: the log's entries (any order, repeats allowed); ``current``: each entry's
    post in the catalog now, by source key (None or absent: deleted); ``records``: the
    subscriber's delivery records by slug; ``digest``: this digest's key; ``window``: the
    subscriber's, or None when they are no longer due one (only what this digest claimed
    before is sent). A claim older than ``lease`` whose sender died is taken over, as Deliver
    takes over its own: only a crash inside that send can repeat a post."""
    first: dict[str, LogEntry] = {}
    for entry in entries:
        known = first.get(entry.slug)
        if known is None or entry.logged_at < known.logged_at:
            first[entry.slug] = entry
    chosen: list[tuple[DigestItem, bool, bool]] = []  # item, to claim, taken over
    busy: list[str] = []
    for entry in sorted(first.values(), key=lambda e: (e.logged_at, e.slug)):
        post = current.get(entry.source_key)
        if post is None or not post.published:
            continue  # deleted, unpublished or rescheduled since: left out
        record = records.get(entry.slug)
        ours = record is not None and record.status == "digest" and record.digest == digest
        if not ours:
            if window is None or entry.logged_at not in window or not wants(subscriber_tags, post.tags):
                continue
            if record is not None:
                if record.status != "sending":
                    continue  # sent, rejected, or in another digest
                if now - record.since < lease:
                    busy.append(entry.slug)
                    continue
        item = DigestItem(
            key=entry.slug,
            slug=post.slug,
            title=post.title,
            summary=post.summary,
            tags=post.tags,
            date=post.date,
            published_at=entry.logged_at,
        )
        chosen.append((item, not ours, record is not None and not ours))
    return Selection(
        items=tuple(item for item, _, _ in chosen),
        claim=tuple(item.key for item, claim, _ in chosen if claim),
        takeover=tuple(item.key for item, _, takeover in chosen if takeover),
        busy=tuple(busy),
    )
