"""Dates at the edges of the calendar, through every stage, in UTC and at both ends of the
world's time zones (Pacific/Kiritimati is UTC+14, Etc/GMT+12 is UTC-12, Pacific/Pago_Pago
UTC-11).

The rule (``posts.rules``): a post's ``date`` and ``updated`` must be in the years
EARLIEST_YEAR to LATEST_YEAR as written, in UTC and in the site's time zone. Then every value
made from them (the catalog's order key, the archive month and its path, the page's date, the
feeds' RFC 3339 and RFC 822 dates, the sitemap's W3C datetime, the search document) can be made,
with four-digit years, and +-14 h in any zone stays representable. A date outside is refused by
Validate (and ``pressline check``, the same rules) with a message naming the field: Index is
never the first to find out.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pressline.indexing import feeds, search, sitemaps, views
from pressline.indexing.catalog import RecentPost, month_of, order_key, utc_iso
from pressline.indexing.layout import month_path
from pressline.indexing.plan import listing_ids, target_post
from pressline.models import SourceRef
from pressline.posts.rules import EARLIEST_YEAR, LATEST_YEAR, check_post
from pressline.site.pages import Site, render_post_page
from pressline.stages.render import render

ZONES = ("UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Pago_Pago")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SOURCE = SourceRef(bucket="src", key="posts/edge.md", version_id="v1")
FOUR_DIGIT_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FOUR_DIGIT_MONTH = re.compile(r"^\d{4}-\d\d$")
ARCHIVE_PATH = re.compile(r"^/archive/\d{4}/\d\d/$")
MARGIN = timedelta(hours=14)


def site_in(zone: str) -> Site:
    return Site(title="Edges", url="https://blog.example", api_url="https://api.example/v1", timezone=zone)


def post(front_matter: str) -> bytes:
    return f"---\ntitle: Edge\n{front_matter}\n---\nA body.\n".encode()


def rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def through_every_stage(raw: bytes, site: Site) -> None:
    """Validate's rules, Render, and everything Index makes from the dates; each value checked
    for what its format requires, not only for not raising."""
    checked = check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=site.zone)
    assert checked.ok, checked.errors
    made = render(raw, SOURCE, uploaded_at=NOW, site=site, now=NOW)
    assert made.post is not None, made.errors
    rendered = made.post
    meta = rendered.meta
    page = render_post_page(rendered, site)
    assert site.format_date(meta.date) in page

    catalog = target_post(rendered, SOURCE, NOW).model_copy(update={"status": "published"})
    moments = [meta.date] + ([meta.updated] if meta.updated else [])
    for moment in moments:
        stamp = utc_iso(moment)
        assert FOUR_DIGIT_UTC.match(stamp), stamp
        # By instant: == between zones is False wherever fold could matter (PEP 495), e.g. at LMT offsets.
        assert rfc3339(stamp).timestamp() == moment.replace(microsecond=0).timestamp()
        month = month_of(moment, site.timezone)
        assert FOUR_DIGIT_MONTH.match(month), month
        assert ARCHIVE_PATH.match(month_path(month)), month_path(month)
        assert views.month_label(month)
        site.format_date(moment)
        # The margin: the same instant anywhere from UTC-14 to UTC+14, and 14 h either side.
        for hours in (-14, 14):
            moment.astimezone(timezone(timedelta(hours=hours)))
            (moment.astimezone(UTC) + timedelta(hours=hours)).astimezone(site.zone)
    assert order_key(meta.date, meta.slug).startswith(utc_iso(meta.date))
    assert listing_ids(catalog, site.timezone)

    entry = catalog.entry()
    month = month_of(meta.date, site.timezone)
    views.month_page(month, [entry], site)
    views.home_page([entry], site)
    recent = [RecentPost(post=catalog, rendered=rendered)]
    atom = ET.fromstring(feeds.atom(recent, site, NOW))
    for element in atom.iter():
        if element.tag.endswith(("}updated", "}published")):
            assert FOUR_DIGIT_UTC.match(element.text or ""), element.text
    rss = ET.fromstring(feeds.rss(recent, site, NOW))
    pub_date = rss.findtext("channel/item/pubDate") or ""
    assert parsedate_to_datetime(pub_date).timestamp() == meta.date.replace(microsecond=0).timestamp(), pub_date
    item = json.loads(feeds.json_feed(recent, site))["items"][0]
    assert rfc3339(item["date_published"]).timestamp() == meta.date.replace(microsecond=0).timestamp()
    sitemap = ET.fromstring(sitemaps.month_sitemap([entry], site))
    lastmod = next(element.text for element in sitemap.iter() if element.tag.endswith("lastmod"))
    assert FOUR_DIGIT_UTC.match(lastmod or ""), lastmod
    assert FOUR_DIGIT_UTC.match(search.document(catalog, rendered.body_html, site)["d"])


def within_years(moment: datetime, zone: tzinfo) -> bool:
    """The rule, worked out here on its own: the year as written, in UTC and in the zone."""
    try:
        readings = [moment, moment.astimezone(UTC), moment.astimezone(zone)]
    except OverflowError:
        return False
    return all(EARLIEST_YEAR <= reading.year <= LATEST_YEAR for reading in readings)


# ------------------------------------------------------------------ the cases that broke
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("front_matter", "field"),
    [
        ("date: 9999-12-31T23:30:00-12:00", "date"),  # passed Validate and Render; Index overflowed
        ("date: 0001-01-01T00:10:00+14:00", "date"),  # Render's Site.local overflowed
        ("date: 2020-01-01\nupdated: 9999-12-31T23:59:59-14:00", "updated"),
        ("date: 0001-01-01", "date"),  # archive/1/01/, and an overflow east of UTC
        ("date: 9999-12-31", "date"),  # an overflow west of UTC
        ("date: 1899-12-31T23:59:59Z", "date"),
        ("date: 9999-01-01T00:00:00Z", "date"),
        ("date: 1900-01-01T00:00:00+14:00", "date"),  # 1899 in UTC
        ("date: 9998-12-31T23:00:00-12:00", "date"),  # 9999 in UTC
    ],
)
def test_a_date_outside_the_years_is_refused_naming_the_field(front_matter: str, field: str, zone: str) -> None:
    checked = check_post(post(front_matter), SOURCE.key, uploaded_at=NOW, timezone=ZoneInfo(zone))

    assert not checked.ok
    [error] = checked.errors
    assert error.field == field
    assert f"the years {EARLIEST_YEAR} to {LATEST_YEAR}" in error.message
    assert error.line == (4 if field == "updated" else 3)


@pytest.mark.parametrize("zone", ZONES)
def test_a_date_naming_the_year_outside_the_site_zone_only_is_refused(zone: str) -> None:
    """1900-01-01 00:30 UTC is still 1899 at UTC-12: refused on a far-west site only."""
    checked = check_post(post("date: 1900-01-01T00:30:00Z"), SOURCE.key, uploaded_at=NOW, timezone=ZoneInfo(zone))

    west = ZoneInfo(zone).utcoffset(datetime(1900, 1, 1)) < timedelta(minutes=-30)  # type: ignore[operator]
    assert checked.ok is not west, checked.errors
    if west:
        assert "in the site's time zone" in checked.errors[0].message


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    "front_matter",
    [
        f"date: {EARLIEST_YEAR + 1}-01-01",
        f"date: {LATEST_YEAR}-12-30",
        f"date: {LATEST_YEAR}-12-31T09:59:59+14:00",
        f"date: {EARLIEST_YEAR}-01-01T14:00:00+14:00",
        "date: 2024-02-29T23:59:59-12:00\nupdated: 2024-02-29T00:00:00+14:00",
        "date: 2000-02-29",
    ],
)
def test_dates_at_the_edges_go_through_every_stage(front_matter: str, zone: str) -> None:
    raw = post(front_matter)
    if check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=ZoneInfo(zone)).ok:
        through_every_stage(raw, site_in(zone))
    else:  # only the last hours of the range, in a zone that has already left it
        assert front_matter.startswith((f"date: {EARLIEST_YEAR}-01-01T", f"date: {LATEST_YEAR}-12-3"))


def test_archive_paths_have_four_digit_years() -> None:
    assert month_path("2024-05") == "/archive/2024/05/"
    assert month_path("1-1") == "/archive/0001/01/"  # strftime("%Y") of year 1 on Linux


def test_a_page_of_a_date_no_zone_can_hold_still_renders() -> None:
    """A post stored before the date rules: the page shows its own offset instead of failing."""
    edge = datetime(1, 1, 1, 0, 10, tzinfo=timezone(timedelta(hours=14)))

    assert site_in("Etc/GMT+12").local(edge) == edge
    assert site_in("Etc/GMT+12").format_date(edge) == "January 1 1, 00:10"


# ------------------------------------------------------------------ the whole class
OFFSETS = st.sampled_from([-14 * 60, -12 * 60, -23 * 60 - 59, -1, 0, 1, 5 * 60 + 45, 14 * 60, 23 * 60 + 59]).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
EDGE_YEARS = st.sampled_from([1, 2, 999, 1000, 1899, 1900, 1901, 1904, 2000, 9996, 9997, 9998, 9999])


@st.composite
def edge_datetimes(draw: st.DrawFn) -> datetime:
    """Datetimes near the ends of the years, of the range and of datetime itself, leap days
    included, with and without an offset."""
    year = draw(EDGE_YEARS)
    month, day = draw(st.sampled_from([(1, 1), (1, 2), (2, 28), (2, 29), (3, 1), (12, 30), (12, 31)]))
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    moment = datetime(year, month, day, draw(st.sampled_from([0, 9, 10, 13, 14, 23])), draw(st.sampled_from([0, 59])))
    offset = draw(st.none() | OFFSETS)
    return moment if offset is None else moment.replace(tzinfo=offset)


ANY_DATETIME = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)) | st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=OFFSETS
)
MOMENTS = edge_datetimes() | ANY_DATETIME


def written(moment: datetime, form: str) -> str:
    """How an author writes it: ISO 8601 (YAML reads it as a timestamp), quoted text, a date
    alone, or ``YYYY-MM-DD HH:MM``."""
    text = moment.isoformat()
    if form == "quoted":
        return f'"{text}"'
    if form == "day":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if form == "minutes":
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}"
    return text


def as_read(moment: datetime, form: str, zone: tzinfo) -> datetime:
    """What the author meant: the written moment, in the site's zone when it has no offset."""
    if form == "day":
        moment = datetime.combine(date(moment.year, moment.month, moment.day), datetime.min.time())
    elif form == "minutes":
        moment = moment.replace(second=0, microsecond=0, tzinfo=None)
    else:
        moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


FORMS = st.sampled_from(["iso", "quoted", "day", "minutes"])


@settings(max_examples=150, deadline=None)
@given(moment=MOMENTS, form=FORMS, field=st.sampled_from(["date", "updated"]), zone=st.sampled_from(ZONES))
@example(moment=datetime(1900, 12, 31, 23, 59), form="iso", field="date", zone="Pacific/Kiritimati")  # LMT -10:29:20
@example(
    moment=datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-12))), form="iso", field="date", zone="UTC"
)
@example(moment=datetime(1, 1, 1, 0, 10, tzinfo=timezone(timedelta(hours=14))), form="iso", field="date", zone="UTC")
@example(
    moment=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    form="iso",
    field="updated",
    zone="UTC",
)
@example(moment=datetime(1, 1, 1), form="day", field="date", zone="Pacific/Kiritimati")
@example(moment=datetime(9998, 12, 31, 23, 59), form="minutes", field="date", zone="Etc/GMT+12")
def test_every_date_the_rules_accept_goes_through_every_stage_and_every_other_is_refused(
    moment: datetime, form: str, field: str, zone: str
) -> None:
    site = site_in(zone)
    front_matter = f"{field}: {written(moment, form)}"
    if field == "updated":
        front_matter = f"date: 2020-06-01\n{front_matter}"
    raw = post(front_matter)

    checked = check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=site.zone)

    if within_years(as_read(moment, form, site.zone), site.zone):
        assert checked.ok, checked.errors
        through_every_stage(raw, site)
    else:
        assert not checked.ok
        assert [error.field for error in checked.errors] == [field]
        assert f"the years {EARLIEST_YEAR} to {LATEST_YEAR}" in checked.errors[0].message


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_pressline_check_says_what_validate_says(tmp_path: Path, capsys: pytest.CaptureFixture[str], zone: str) -> None:
    """``pressline check`` passed these; Index (or Render) was the first to fail."""
    from pressline.cli import main

    far_west = tmp_path / "posts" / "far-west.md"
    far_west.parent.mkdir()
    far_west.write_bytes(post("date: 9999-12-31T23:30:00-12:00"))
    plain = tmp_path / "posts" / "plain.md"
    plain.write_bytes(post(f"date: {LATEST_YEAR}-12-31 23:00"))  # in the site's zone: 9999 in UTC west of it

    assert main(["check", "--timezone", zone, str(far_west), str(plain)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{far_west}:3: date: '9999-12-31T23:30:00-12:00' is after the year 9999 in UTC")
    refused_west = [line for line in out if line.startswith(f"{plain}:3: date: '{LATEST_YEAR}-12-31 23:00' is after")]
    assert len(refused_west) == (1 if zone == "Etc/GMT+12" else 0), out
