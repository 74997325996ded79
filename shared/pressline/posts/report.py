"""Upload reports: ``reports/<source key>.json`` in the source bucket, one per upload.

Validate writes the report of a rejected upload (and of images); Index writes the
others (published, scheduled, draft, unpublished) with these same helpers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pressline.models import PostStatus, Problem, Report, SourceRef
from pressline.posts.paths import post_path, post_url, report_key

if TYPE_CHECKING:
    from pressline.adapters.store import ObjectStore

__all__ = ["build_report", "post_path", "post_url", "report_key", "write_report"]

# The statuses whose report carries the post's public URL (scheduled: where it will be).
_WITH_URL = frozenset({"published", "scheduled"})
_ANNOUNCEMENT = {"announced", "announcement"}  # Index's verdict on emailing subscribers (indexing.announce)


def build_report(
    source: SourceRef,
    status: PostStatus,
    *,
    processed_at: datetime,
    slug: str | None = None,
    base_url: str = "",
    url: str | None = None,
    errors: Iterable[Problem] = (),
    warnings: Iterable[Problem] = (),
    announced: bool | None = None,
    announcement: str | None = None,
) -> Report:
    """The report of one processed upload.

    ``url`` defaults to the post's public URL (``base_url`` + ``/posts/<slug>/``) when the
    status is published or scheduled; pass it explicitly for other uploads (images)."""
    if url is None and slug and status in _WITH_URL:
        url = post_url(slug, base_url) if base_url else post_path(slug)
    return Report(
        key=source.key,
        version=source.version_id,
        status=status,
        url=url,
        errors=list(errors),
        warnings=list(warnings),
        processed_at=processed_at,
        announced=announced,
        announcement=announcement,
    )


def write_report(store: ObjectStore, report: Report) -> None:
    """Store a report where the author finds it. No caching: authors poll it after an upload.
    A report with nothing to say about an announcement (rejected, unpublished) leaves the
    announcement fields out rather than showing them empty."""
    quiet = _ANNOUNCEMENT if report.announced is None and report.announcement is None else None
    store.put(
        report_key(report.key),
        report.model_dump_json(indent=2, exclude=quiet).encode("utf-8"),
        "application/json",
        cache_control="no-store",
    )
