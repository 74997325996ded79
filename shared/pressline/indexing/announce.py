"""Whether a post's publication emails subscribers, and why (or why not), as one pure rule.

Moving a blog in publishes years of posts at once: announcing each would send every
subscriber hundreds of "new post" emails about the past. So a first publication is
announced only when it is news: the author said so (``notify: true``), or the post is
dated no earlier than the site's announce window before the moment it goes live. The
reason is kept in the post's report, so an author can see why no email went out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from pressline.config import DEFAULT_ANNOUNCE_WINDOW_HOURS
from pressline.indexing.catalog import CatalogStatus

DEFAULT_ANNOUNCE_WINDOW = timedelta(hours=DEFAULT_ANNOUNCE_WINDOW_HOURS)


@dataclass(frozen=True)
class Announcement:
    """The rule's verdict: ``announce`` (send PostPublished now) and the reason, for the report."""

    announce: bool
    reason: str


def announcement(
    status: CatalogStatus,
    date: datetime,
    notify: bool | None,
    *,
    first_publication: bool,
    now: datetime,
    window: timedelta,
    zone: tzinfo = UTC,
) -> Announcement:
    """Whether a post in ``status`` (dated ``date``, front matter ``notify``) is announced now.

    A post is announced iff it is published, this is its first publication (neither its key
    nor its slug was ever public: an edit, or a post taken down and put back, never is), its
    front matter does not say ``notify: false``, and either it says ``notify: true`` or its
    date is no older than ``window`` at ``now`` (exactly ``window`` old still is). A
    scheduled post is decided when it comes due (its date then is about ``now``); a draft
    never is. Dates are compared as instants, whatever their offsets; ``zone`` (the site's)
    only shows the date in the reason. A date without an offset is taken as UTC."""
    if status == "draft":
        return Announcement(False, "a draft is never announced")
    if not first_publication:
        return Announcement(False, "already published before: only a post's first publication is announced")
    if status == "scheduled":
        if notify is False:
            return Announcement(False, "notify: false in the front matter: it will not be announced when it goes live")
        return Announcement(False, "scheduled: it is announced when it goes live")
    if notify is False:
        return Announcement(False, "notify: false in the front matter")
    if notify is True:
        return Announcement(True, "announced: notify: true in the front matter")
    moment = date if date.tzinfo is not None else date.replace(tzinfo=UTC)
    shown, limit = _shown(moment, zone), _hours(window)
    if now - moment > window:
        return Announcement(
            False, f"dated {shown}, older than the announce window of {limit} when it was first published"
        )
    return Announcement(True, f"announced: dated {shown}, within the announce window of {limit}")


def _shown(moment: datetime, zone: tzinfo) -> str:
    try:
        return moment.astimezone(zone).isoformat(timespec="minutes")
    except OverflowError:  # at the calendar's very edge in this zone: its own offset
        return moment.isoformat(timespec="minutes")


def _hours(window: timedelta) -> str:
    hours = window / timedelta(hours=1)
    return f"{hours:g} hour" if hours == 1 else f"{hours:g} hours"
