"""The digests' pure core: periods across daylight-saving changes, which one is due, windows
and the selection of a digest's posts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.subscribers import digests
from pressline.subscribers.digests import (
    CurrentPost,
    DigestSchedule,
    LogEntry,
    Record,
    Window,
    daily_period,
    due_period,
    local_cutoff,
    next_period,
    period_of,
    recipient_until,
    schedule_from,
    select,
    window_of,
)
from pressline.subscribers.dynamodb import DELIVERY_RETENTION
from pressline.subscribers.model import Subscriber

# With DST (New York, Paris), a 30-minute DST (Lord Howe), none (Kolkata, UTC), a southern
# hemisphere one (Santiago: its changes fall at midnight, the day's first hour is skipped).
ZONES = ["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/Santiago"]
# Days with a change in some of them (2026): spring forward, fall back.
CHANGES = [
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 9, 6),
]


def wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


near_changes = st.builds(
    lambda day, minutes: datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=minutes),
    st.sampled_from(CHANGES),
    st.integers(-3 * 24 * 60, 3 * 24 * 60),
)
any_instant = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
instants = st.one_of(near_changes, any_instant)
schedules = st.builds(
    DigestSchedule, timezone=st.sampled_from(ZONES), hour=st.integers(0, 23), weekday=st.integers(0, 6)
)
days = st.one_of(
    st.builds(lambda d, n: d + timedelta(days=n), st.sampled_from(CHANGES), st.integers(-2, 2)),
    st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
)


# --------------------------------------------------------------------------- cutoffs
def test_cutoffs_on_the_days_of_a_change() -> None:
    new_york, paris, lord_howe = ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris"), ZoneInfo("Australia/Lord_Howe")
    # 02:00 does not exist on 8 March in New York: the first valid time after it is 03:00 EDT.
    assert local_cutoff(date(2026, 3, 8), 2, new_york) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert wall(local_cutoff(date(2026, 3, 8), 2, new_york), new_york) == datetime(2026, 3, 8, 3, 0)
    # 01:00 happens twice on 1 November: the first (EDT, UTC-4).
    assert local_cutoff(date(2026, 11, 1), 1, new_york) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    # Paris: 02:00 skipped on 29 March; 02:00 twice on 25 October.
    assert wall(local_cutoff(date(2026, 3, 29), 2, paris), paris) == datetime(2026, 3, 29, 3, 0)
    assert local_cutoff(date(2026, 10, 25), 2, paris) == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    # Lord Howe moves by 30 minutes: 02:00 -> 02:30 on 4 October.
    assert wall(local_cutoff(date(2026, 10, 4), 2, lord_howe), lord_howe) == datetime(2026, 10, 4, 2, 30)
    # A whole day skipped (Samoa, 30 December 2011): the next day's midnight.
    apia = ZoneInfo("Pacific/Apia")
    assert wall(local_cutoff(date(2011, 12, 30), 7, apia), apia) == datetime(2011, 12, 31, 0, 0)
    # Ordinary days: the hour itself.
    assert local_cutoff(date(2026, 12, 4), 7, paris) == datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(day=days, hour=st.integers(0, 23), name=st.sampled_from(ZONES))
def test_the_cutoff_is_the_first_instant_at_or_past_the_local_hour(day: date, hour: int, name: str) -> None:
    zone = ZoneInfo(name)
    target = datetime.combine(day, datetime.min.time()).replace(hour=hour)
    cutoff = local_cutoff(day, hour, zone)
    assert cutoff.tzinfo is not None
    assert wall(cutoff, zone) >= target
    assert wall(cutoff - timedelta(seconds=1), zone) < target  # nothing earlier is past the hour
    assert wall(cutoff - timedelta(hours=1), zone) < target
    # The hour itself when it exists; else the end of the gap, less than a gap's length later.
    exists = any(wall(target.replace(tzinfo=zone, fold=fold).astimezone(UTC), zone) == target for fold in (0, 1))
    if exists:
        assert wall(cutoff, zone) == target
    else:
        assert target < wall(cutoff, zone) <= target + timedelta(hours=1)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules, day=days)
def test_daily_cutoffs_follow_each_other_a_day_apart_give_or_take_the_change(
    schedule: DigestSchedule, day: date
) -> None:
    first, second = daily_period(day, schedule), daily_period(day + timedelta(days=1), schedule)
    assert first.id == f"daily#{day.isoformat()}"
    assert timedelta(hours=22) <= second.cutoff - first.cutoff <= timedelta(hours=26)
    assert wall(first.cutoff, schedule.zone).date() == day  # the gap never pushes it to the next day here


@settings(max_examples=300, deadline=None)
@given(schedule=schedules, day=days)
def test_weekly_cutoff_is_the_weekday_at_the_hour(schedule: DigestSchedule, day: date) -> None:
    period = period_of("weekly", day, schedule)
    year, week, _ = day.isocalendar()
    assert period.id == f"weekly#{year:04d}-W{week:02d}"
    local = wall(period.cutoff, schedule.zone)
    assert local.weekday() == schedule.weekday
    assert local.isocalendar()[:2] == (year, week)
    assert local.hour in (schedule.hour, schedule.hour + 1) or (schedule.hour == 23 and local.hour == 0)


# --------------------------------------------------------------------------- due periods
@settings(max_examples=400, deadline=None)
@given(schedule=schedules, now=instants, frequency=st.sampled_from(digests.DIGEST_FREQUENCIES))
def test_the_due_period_is_the_latest_whose_cutoff_has_come(
    schedule: DigestSchedule, now: datetime, frequency: digests.DigestFrequency
) -> None:
    due = due_period(frequency, now, schedule)
    following = next_period(frequency, now, schedule)
    assert due.cutoff <= now < following.cutoff
    # They are consecutive: the instant before the next cutoff still has this one due.
    assert due_period(frequency, following.cutoff - timedelta(seconds=1), schedule) == due
    assert due_period(frequency, following.cutoff, schedule) == following
    span = following.cutoff - due.cutoff
    if frequency == "daily":
        assert timedelta(hours=22) <= span <= timedelta(hours=26)
    else:
        assert timedelta(days=7) - timedelta(hours=2) <= span <= timedelta(days=7) + timedelta(hours=2)


@settings(max_examples=200, deadline=None)
@given(
    schedule=schedules,
    start=instants,
    gaps=st.lists(st.integers(0, 600), min_size=20, max_size=300),  # seconds between runs
    shuffle=st.randoms(use_true_random=False),
    repeats=st.lists(st.integers(0, 299), max_size=30),
)
def test_every_period_runs_exactly_once_however_the_runs_fall(
    schedule: DigestSchedule, start: datetime, gaps: list[int], shuffle: object, repeats: list[int]
) -> None:
    """Runs at most ten minutes apart (the scheduler runs every minute; late ones, repeated ones,
    overlapping ones finishing out of order): the periods they start (each started at most
    once: the ledger's state of a period's fan-out) are every period whose cutoff falls in the
    span, each at a run at or after its cutoff."""
    import random

    assert isinstance(shuffle, random.Random)
    runs = [start]
    for gap in gaps:
        runs.append(runs[-1] + timedelta(seconds=gap * 6))  # 0 to 60 minutes, one hour at most
    runs += [runs[index % len(runs)] for index in repeats]  # repeated runs
    order = runs[:]
    shuffle.shuffle(order)  # overlapping runs finish in any order
    for frequency in digests.DIGEST_FREQUENCIES:
        started: dict[str, datetime] = {}
        for run in order:
            period = due_period(frequency, run, schedule)
            assert period.cutoff <= run
            started.setdefault(period.id, period.cutoff)
        first, last = min(runs), max(runs)
        expected = set()
        period = next_period(frequency, first, schedule)
        while period.cutoff <= last:
            expected.add(period.id)
            period = next_period(frequency, period.cutoff, schedule)
        # Every period whose cutoff came during the runs started; the only other one is the
        # period already due at the first run.
        assert expected <= set(started)
        assert set(started) - expected <= {due_period(frequency, first, schedule).id}


# --------------------------------------------------------------------------- settings
def test_schedule_from_settings() -> None:
    assert schedule_from("Europe/Paris", "7", "Monday") == DigestSchedule("Europe/Paris", 7, 0)
    assert schedule_from("UTC", " 23 ", "sunday") == DigestSchedule("UTC", 23, 6)
    for hour, message in (("24", "DIGEST_HOUR"), ("-1", "DIGEST_HOUR"), ("7am", "DIGEST_HOUR")):
        with pytest.raises(ValueError, match=message):
            schedule_from("UTC", hour, "Monday")
    with pytest.raises(ValueError, match="DIGEST_WEEKDAY: 'Mon' is not one of Monday"):
        schedule_from("UTC", "7", "Mon")
    with pytest.raises(ValueError, match="SITE_TIMEZONE: 'Mars/Olympus' is not an IANA time zone"):
        schedule_from("Mars/Olympus", "7", "Monday")


def test_no_window_outlives_the_delivery_records_it_relies_on() -> None:
    assert digests.MAX_WINDOW + timedelta(days=1) < DELIVERY_RETENTION
    assert digests.IN_FLIGHT + timedelta(days=7) <= digests.MAX_WINDOW
    assert digests.LOG_RETENTION > digests.MAX_WINDOW


def test_log_days_and_seals() -> None:
    start = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert digests.log_days(start, datetime(2026, 12, 3, 6, 0, tzinfo=UTC)) == [
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
    ]
    assert digests.seal_days(datetime(2026, 12, 4, 6, 0, tzinfo=UTC)) == ["2026-12-03", "2026-12-04"]
    assert digests.log_day(datetime(2026, 12, 4, 1, 0, tzinfo=ZoneInfo("Europe/Paris"))) == "2026-12-04"
    assert digests.log_day(datetime(2026, 12, 4, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))) == "2026-12-03"


# --------------------------------------------------------------------------- windows
T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def subscriber(**changes: object) -> Subscriber:
    values: dict[str, object] = {
        "id": "s1",
        "address": "ada@example.com",
        "status": "confirmed",
        "created_at": T0 - timedelta(days=3),
        "confirmed_at": T0 - timedelta(days=2),
        "frequency": "daily",
    }
    values.update(changes)
    return Subscriber.model_validate(values)


def test_window_from_digest_from_to_the_cutoff_or_until() -> None:
    cutoff = T0 + timedelta(days=1)
    assert window_of(subscriber(digest_from=T0), cutoff, None) == Window(T0, cutoff)
    assert window_of(subscriber(digest_from=T0), cutoff, T0 + timedelta(hours=5)) == Window(T0, T0 + timedelta(hours=5))
    assert window_of(subscriber(digest_from=T0), cutoff, cutoff + timedelta(hours=1)).end == cutoff
    # Without digest_from: from the confirmation; never more than MAX_WINDOW back.
    assert window_of(subscriber(), cutoff, None).start == T0 - timedelta(days=2)
    old = subscriber(digest_from=T0 - timedelta(days=90))
    assert window_of(old, cutoff, None).start == cutoff - digests.MAX_WINDOW
    # A final digest whose switch came before digest_from: empty.
    assert window_of(subscriber(digest_from=T0), cutoff, T0 - timedelta(hours=1)).empty


def test_switching_to_a_digest_reaches_back_over_emails_in_flight() -> None:
    now = T0 + timedelta(days=30)
    assert digests.switched_digest_from(subscriber(frequency="instant"), now) == now - digests.IN_FLIGHT
    recent = subscriber(frequency="instant", confirmed_at=now - timedelta(hours=1))
    assert digests.switched_digest_from(recent, now) == now - timedelta(hours=1)
    owed = subscriber(frequency="instant", digest_from=T0)  # a final digest still owed
    assert digests.switched_digest_from(owed, now) == T0


def test_who_gets_a_digest_of_a_frequency() -> None:
    until = T0 + timedelta(hours=3)
    assert recipient_until(subscriber(), "daily", None) == (True, None)
    assert recipient_until(subscriber(), "daily", until) == (True, None)  # came back to daily since
    assert recipient_until(subscriber(frequency="instant"), "daily", until) == (True, until)  # final digest
    assert recipient_until(subscriber(frequency="instant"), "daily", None) == (False, None)
    assert recipient_until(subscriber(frequency="weekly"), "daily", None) == (False, None)
    assert recipient_until(subscriber(suppressed=True), "daily", None) == (False, None)
    assert recipient_until(subscriber(status="pending"), "daily", None) == (False, None)
    assert recipient_until(None, "daily", None) == (False, None)


# --------------------------------------------------------------------------- selection
NOW = T0 + timedelta(days=1, minutes=1)
LEASE = timedelta(minutes=5)
DIGEST = "digest#daily#2026-12-02"
WINDOW = Window(T0, T0 + timedelta(days=1))


def entry(slug: str, hours: float) -> LogEntry:
    return LogEntry(slug=slug, source_key=f"posts/{slug}.md", logged_at=T0 + timedelta(hours=hours))


def post(slug: str, *tags: str, title: str | None = None, published: bool = True) -> CurrentPost:
    return CurrentPost(
        slug=slug,
        title=title or slug.title(),
        summary=f"About {slug}.",
        tags=tags,
        date=T0,
        published=published,
    )


def current(*posts: CurrentPost) -> dict[str, CurrentPost | None]:
    return {f"posts/{p.slug}.md": p for p in posts}


def choose(entries: list[LogEntry], posts: dict[str, CurrentPost | None], records: dict[str, Record], **kw: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {
        "digest": DIGEST,
        "window": WINDOW,
        "subscriber_tags": (),
        "now": NOW,
        "lease": LEASE,
    }
    options.update(kw)
    return select(entries, posts, records, **options)  # type: ignore[arg-type]


def test_selection_in_publication_order_within_the_window() -> None:
    entries = [entry("c", 5), entry("a", 1), entry("late", 24), entry("early", -0.5), entry("b", 3), entry("a", 2)]
    selection = choose(entries, current(*(post(s) for s in ("a", "b", "c", "late", "early"))), {})
    assert [item.slug for item in selection.items] == ["a", "b", "c"]  # [start, end): "late" is at the end
    assert selection.claim == ("a", "b", "c")
    assert selection.items[0].published_at == T0 + timedelta(hours=1)  # its first log entry
    assert not selection.busy and not selection.takeover


def test_posts_as_they_are_now_deleted_and_unpublished_ones_left_out() -> None:
    posts = current(post("edited", title="The new title"), post("drafted", published=False))
    posts["posts/deleted.md"] = None
    entries = [entry("edited", 1), entry("drafted", 2), entry("deleted", 3), entry("gone", 4)]
    selection = choose(entries, posts, {})
    assert [(item.slug, item.title) for item in selection.items] == [("edited", "The new title")]


def test_an_edit_that_changed_the_slug_shows_the_new_url_under_the_old_records() -> None:
    posts: dict[str, CurrentPost | None] = {"posts/old.md": post("renamed")}
    selection = choose([entry("old", 1)], posts, {})
    assert [(item.key, item.slug) for item in selection.items] == [("old", "renamed")]
    assert selection.claim == ("old",)


def test_tags_as_the_subscriber_has_them_now() -> None:
    entries = [entry("py", 1), entry("go", 2), entry("both", 3)]
    posts = current(post("py", "Python"), post("go", "go"), post("both", "go", "python"))
    selection = choose(entries, posts, {}, subscriber_tags=("python",))
    assert [item.slug for item in selection.items] == ["py", "both"]


def test_delivery_records_decide_who_carries_a_post() -> None:
    entries = [entry(slug, n) for n, slug in enumerate(["sent", "rejected", "other", "ours", "fresh", "stale", "new"])]
    posts = current(*(post(e.slug) for e in entries))
    records = {
        "sent": Record("sent", T0),  # its own email went
        "rejected": Record("rejected", T0),
        "other": Record("digest", T0, digest="digest#weekly#2026-W49"),  # in another digest
        "ours": Record("digest", T0, digest=DIGEST),  # claimed by this digest before a crash
        "fresh": Record("sending", NOW - timedelta(minutes=1)),  # its email is being sent
        "stale": Record("sending", NOW - timedelta(minutes=6)),  # its sender died
    }
    selection = choose(entries, posts, records)
    assert [item.slug for item in selection.items] == ["ours", "stale", "new"]
    assert selection.claim == ("stale", "new")
    assert selection.takeover == ("stale",)
    assert selection.busy == ("fresh",)


def test_what_this_digest_claimed_is_sent_even_if_no_longer_due() -> None:
    """A retry after a crash between the claims and the send: the claimed posts go, whatever
    changed since (window, tags), but not if they were deleted."""
    entries = [entry("ours", 1), entry("ours-deleted", 2), entry("unclaimed", 3)]
    posts = current(post("ours", "go"), post("unclaimed"))
    records = {
        "ours": Record("digest", T0, digest=DIGEST),
        "ours-deleted": Record("digest", T0, digest=DIGEST),
    }
    selection = choose(entries, posts, records, window=None, subscriber_tags=("python",))
    assert [item.slug for item in selection.items] == ["ours"]
    assert selection.claim == ()


def test_an_empty_period_selects_nothing() -> None:
    assert choose([], {}, {}).items == ()
    assert choose([entry("a", 1)], current(post("a")), {}, window=Window(NOW, NOW)).items == ()
