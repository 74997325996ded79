"""The announce rule (``pressline.indexing.announce``): which first publications email
subscribers, and the reason each report gives; and its setting, ANNOUNCE_WINDOW_HOURS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pressline.config import announce_window
from pressline.indexing.announce import DEFAULT_ANNOUNCE_WINDOW, Announcement, announcement
from pressline.local.template import ParameterError, check_parameters, load_sam

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)


def published(date: datetime, notify: bool | None = None, **kwargs: Any) -> Announcement:
    settings: dict[str, Any] = {"first_publication": True, "now": NOW, "window": WINDOW, **kwargs}
    return announcement("published", date, notify, **settings)


# --------------------------------------------------------------------------- the window's edges
def test_a_post_exactly_at_the_window_is_announced_and_a_microsecond_older_is_not() -> None:
    assert published(NOW - WINDOW).announce
    late = published(NOW - WINDOW - timedelta(microseconds=1))
    assert not late.announce
    assert late.reason == (
        "dated 2026-05-07T11:59+00:00, older than the announce window of 72 hours when it was first published"
    )


def test_a_post_dated_now_or_in_the_future_is_announced() -> None:
    # A message delayed past the date publishes (plan.target_post); a clock a little behind too.
    for date in (NOW, NOW + timedelta(seconds=30), NOW + timedelta(days=400)):
        verdict = published(date)
        assert verdict.announce and "within the announce window of 72 hours" in verdict.reason


def test_the_default_window_is_a_few_days() -> None:
    assert timedelta(hours=72) == DEFAULT_ANNOUNCE_WINDOW
    assert published(NOW - timedelta(days=2), window=DEFAULT_ANNOUNCE_WINDOW).announce
    assert not published(NOW - timedelta(days=4), window=DEFAULT_ANNOUNCE_WINDOW).announce


def test_the_reason_names_the_window_as_set() -> None:
    assert "the announce window of 1 hour " in published(NOW - timedelta(hours=2), window=timedelta(hours=1)).reason
    assert "of 1.5 hours " in published(NOW - timedelta(hours=2), window=timedelta(minutes=90)).reason


# --------------------------------------------------------------------------- the author's word
def test_notify_true_announces_an_old_post() -> None:
    verdict = published(datetime(2019, 5, 1, tzinfo=UTC), notify=True)
    assert verdict == Announcement(True, "announced: notify: true in the front matter")


def test_notify_false_keeps_even_a_new_post_quiet() -> None:
    assert published(NOW, notify=False) == Announcement(False, "notify: false in the front matter")


def test_a_draft_is_never_announced_whatever_its_front_matter_says() -> None:
    for notify in (None, True, False):
        verdict = announcement("draft", NOW, notify, first_publication=True, now=NOW, window=WINDOW)
        assert verdict == Announcement(False, "a draft is never announced")


def test_only_a_first_publication_is_announced() -> None:
    for notify in (None, True):
        verdict = published(NOW, notify=notify, first_publication=False)
        assert not verdict.announce and "already published before" in verdict.reason


def test_a_scheduled_post_is_decided_when_it_comes_due() -> None:
    future = NOW + timedelta(days=3)
    waiting = announcement("scheduled", future, None, first_publication=True, now=NOW, window=WINDOW)
    assert waiting == Announcement(False, "scheduled: it is announced when it goes live")
    quiet = announcement("scheduled", future, False, first_publication=True, now=NOW, window=WINDOW)
    assert not quiet.announce and "notify: false" in quiet.reason and "will not be announced" in quiet.reason
    # Due: the scheduler asks for it within a minute of its date.
    due = future + timedelta(minutes=1)
    assert announcement("published", future, None, first_publication=True, now=due, window=WINDOW).announce


# --------------------------------------------------------------------------- time zones
def test_dates_are_compared_as_instants_whatever_their_offsets() -> None:
    # 72 hours before NOW, written in the zones furthest from UTC: the same instant, the same verdict.
    edge = NOW - WINDOW
    for offset in (14, -12, 5.75):
        zone = timezone(timedelta(hours=offset))
        assert published(edge.astimezone(zone)).announce
        assert not published((edge - timedelta(seconds=1)).astimezone(zone)).announce


def test_the_reason_shows_the_date_in_the_site_zone() -> None:
    verdict = published(datetime(2019, 5, 1, 22, 30, tzinfo=UTC), zone=ZoneInfo("Asia/Tokyo"))
    assert verdict.reason.startswith("dated 2019-05-02T07:30+09:00, older than")


def test_a_date_without_an_offset_is_taken_as_utc() -> None:
    assert published((NOW - WINDOW).replace(tzinfo=None)).announce
    assert not published((NOW - WINDOW - timedelta(seconds=1)).replace(tzinfo=None)).announce


def test_a_date_at_the_calendar_edge_still_gets_a_reason() -> None:
    verdict = published(datetime(1, 1, 1, tzinfo=UTC), zone=ZoneInfo("America/New_York"))
    assert not verdict.announce and verdict.reason.startswith("dated 0001-01-01T00:00+00:00")


# --------------------------------------------------------------------------- properties
ZONES = [UTC, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago"), ZoneInfo("Europe/Paris")]
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.sampled_from(ZONES))
windows = st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=3650))


@given(date=moments, now=moments, window=windows, notify=st.sampled_from([None, True, False]))
def test_announced_exactly_when_notify_allows_and_the_post_is_news(
    date: datetime, now: datetime, window: timedelta, notify: bool | None
) -> None:
    verdict = published(date, notify, now=now, window=window)
    news = date.astimezone(UTC) >= now.astimezone(UTC) - window
    assert verdict.announce == (notify is True or (notify is None and news))
    assert verdict.reason  # every verdict says why


@given(
    date=moments,
    now=moments,
    window=windows,
    younger=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
)
def test_a_younger_post_is_never_less_announced(
    date: datetime, now: datetime, window: timedelta, younger: timedelta
) -> None:
    if published(date, now=now, window=window).announce:
        assert published(date + younger, now=now, window=window).announce


# --------------------------------------------------------------------------- the setting
@pytest.mark.parametrize(("text", "hours"), [("72", 72), ("1", 1), (" 1.5 ", 1.5), ("87600", 87600), ("72.0", 72)])
def test_the_setting_reads_hours(text: str, hours: float) -> None:
    assert announce_window(text) == timedelta(hours=hours)


@pytest.mark.parametrize("text", ["", "abc", "0", "0.5", "-72", "nan", "inf", "87601", "72h", "1e400"])
def test_a_bad_setting_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ValueError, match=r"^ANNOUNCE_WINDOW_HOURS: .*(not a number of hours|not between 1 and 87600)"):
        announce_window(text)


def test_the_settings_default_is_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from pressline.config import settings

    monkeypatch.delenv("ANNOUNCE_WINDOW_HOURS", raising=False)
    settings.cache_clear()
    try:
        assert settings().announce_window == DEFAULT_ANNOUNCE_WINDOW
        monkeypatch.setenv("ANNOUNCE_WINDOW_HOURS", "24")
        settings.cache_clear()
        assert settings().announce_window == timedelta(hours=24)
    finally:
        settings.cache_clear()


TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_the_template_declares_the_window_with_the_rules_default_and_limits() -> None:
    declared = load_sam(TEMPLATE)["Parameters"]
    spec = declared["AnnounceWindowHours"]
    assert spec["Type"] == "Number" and float(spec["Default"]) == DEFAULT_ANNOUNCE_WINDOW / timedelta(hours=1)
    assert announce_window(str(spec["MinValue"])) and announce_window(str(spec["MaxValue"]))
    assert check_parameters(declared, {"AnnounceWindowHours": "24"}) == {"AnnounceWindowHours": "24"}
    for bad, reason in (("0", "is less than 1"), ("abc", "is not a number"), ("90000", "is more than 87600")):
        with pytest.raises(ParameterError, match=f"AnnounceWindowHours: .*{reason}"):
            check_parameters(declared, {"AnnounceWindowHours": bad})


def test_index_reads_the_window_from_the_template() -> None:
    index = load_sam(TEMPLATE)["Resources"]["IndexFunction"]["Properties"]["Environment"]["Variables"]
    assert index["ANNOUNCE_WINDOW_HOURS"] == {"Ref": "AnnounceWindowHours"}
