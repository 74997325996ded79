"""The listing pages (home, archives, tags, search, 404) as pure functions to HTML.

Every page extends the post page's ``base.html``; entries are catalog ``Entry`` objects
and templates format dates with ``site.format_date`` and link with ``site.post_path`` /
``site.tag_path``, like the post page, so a site's template override sees one vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pressline.indexing.catalog import HOME_SIZE, Entry, Summary
from pressline.indexing.layout import month_path, tag_front_path, tag_year_path
from pressline.site.pages import Site


def _render(template: str, **context: Any) -> str:
    from pressline.site.templating import render

    return render(template, **context)


def covers(entries: Sequence[Entry], *, eager_first: bool = False) -> dict[str, Any]:
    """Each entry's cover as the listing shows it (a thumbnail beside the entry), by slug: lazy
    but for the first on the home page (above the fold on a phone). ``alt=""``: the title beside
    it says what it is, and a screen reader need not hear it twice."""
    from markupsafe import Markup

    from pressline.site.responsive import LISTING_SIZES, cover

    shown: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        if entry.cover is not None and (
            html := cover(entry.cover, "", eager=eager_first and index == 0, sizes=LISTING_SIZES)
        ):
            shown[entry.slug] = Markup(html)  # noqa: S704 - every value escaped by site.responsive  # nosec B704
    return shown


def month_label(month: str) -> str:
    """``2024-05`` -> ``May 2024``."""
    year, number = month.split("-")
    return datetime(int(year), int(number), 1).strftime("%B %Y")


def home_page(newest: Sequence[Entry], site: Site) -> str:
    """The newest posts with summaries; the month of the next older post links onwards."""
    shown = list(newest[:HOME_SIZE])
    older = newest[HOME_SIZE] if len(newest) > HOME_SIZE else None
    older_path = month_path(older.date.astimezone(site.zone).strftime("%Y-%m")) if older else None
    return _render("home.html", site=site, entries=shown, older_path=older_path, covers=covers(shown, eager_first=True))


def month_page(month: str, entries: Sequence[Entry], site: Site) -> str:
    shown = list(entries)
    return _render(
        "archive.html", site=site, month=month, label=month_label(month), entries=shown, years=[], covers=covers(shown)
    )


def archive_index_page(summary: Summary, site: Site) -> str:
    """Every month with posts, grouped by year, newest first."""
    years: dict[str, list[dict[str, Any]]] = {}
    for month, count in sorted(summary.months.items(), reverse=True):
        years.setdefault(month[:4], []).append({"path": month_path(month), "label": month_label(month), "count": count})
    return _render("archive.html", site=site, month=None, label="Archives", entries=[], years=list(years.items()))


def tag_page(tag: str, summary: Summary, entries: Sequence[Entry], site: Site, year: str | None = None) -> str:
    """A tag's front page (``year`` None: its newest posts) or one year of it."""
    info = summary.tags.get(tag)
    name = info.name if info else tag
    years = [
        {"year": y, "count": count, "path": tag_year_path(tag, y)}
        for y, count in sorted((info.years if info else {}).items(), reverse=True)
    ]
    return _render(
        "tag.html",
        site=site,
        tag=tag,
        name=name,
        year=year,
        entries=list(entries),
        covers=covers(entries),
        years=years,
        total=info.count if info else 0,
        front_path=tag_front_path(tag),
    )


def tags_page(summary: Summary, site: Site) -> str:
    tags = [
        {"name": info.name, "path": tag_front_path(tag), "count": info.count}
        for tag, info in sorted(summary.tags.items(), key=lambda item: item[1].name.lower())
    ]
    return _render("tags.html", site=site, tags=tags)


def search_page(site: Site) -> str:
    return _render("search.html", site=site)


def not_found_page(site: Site) -> str:
    return _render("404.html", site=site)
