"""Render: a validated version of a post -> sanitized HTML, stored, and its page.

For each RenderRequest it reads the post's current version (usually the requested one;
else that exact version), validates it again with the same rules (a deploy may have
changed them), renders the body, and stores the result at
``rendered/<source key>/<version>.json`` with a conditional write (immutable per version:
the claim check Index and rebuilds read). On that first write, if the post is published
and the version current, it writes ``posts/<slug>/index.html`` to the site. Then it sends
IndexUpdate(upsert) to the index FIFO queue, carrying the rendered post when it is small.
A duplicate request changes nothing: the stored rendering stays, the page is not
rewritten, and Index recognises the update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from pressline.adapters.queue import Queue
from pressline.adapters.store import ObjectStore, StoredObject
from pressline.config import Settings
from pressline.errors import PoisonMessageError
from pressline.models import Problem, RenderedPost, RenderRequest, SourceRef
from pressline.posts import messages
from pressline.posts.paths import post_page_key, rendered_key
from pressline.posts.report import build_report, write_report
from pressline.posts.rules import check_post, status_of
from pressline.site.pages import Site

logger = Logger(child=True)

Outcome = Literal["rendered", "rejected", "stale"]
PAGE_CONTENT_TYPE = "text/html; charset=utf-8"
# Short: Index re-renders a page when its neighbours change.
PAGE_CACHE_CONTROL = "public, max-age=60"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    source: ObjectStore
    site: ObjectStore
    index_queue: Queue
    site_info: Site
    clock: Callable[[], datetime] = field(default=_utc_now)

    @classmethod
    def from_settings(cls, config: Settings) -> Dependencies:
        from pressline.adapters.queue import SqsQueue
        from pressline.adapters.store import S3Store

        return cls(
            source=S3Store(config.source_bucket),
            site=S3Store(config.site_bucket),
            index_queue=SqsQueue(config.index_queue_url),
            site_info=Site.from_settings(config),
        )


def parse_message(body: str) -> RenderRequest:
    try:
        return RenderRequest.model_validate_json(body)
    except ValidationError as error:
        raise PoisonMessageError(f"not a RenderRequest ({error.error_count()} problems)") from error


@dataclass(frozen=True)
class Rendering:
    """What ``render`` made of one version: the post, or the problems that stop it."""

    post: RenderedPost | None
    errors: list[Problem]
    warnings: list[Problem]
    images: list[str] = field(default_factory=list)  # source keys of the images it shows


def render(raw: bytes, source: SourceRef, *, uploaded_at: datetime, site: Site, now: datetime) -> Rendering:
    """The pure part: one post version -> RenderedPost, with the same rules as Validate."""
    from pressline.posts.markdown import render_body
    from pressline.posts.sanitize import resolve_image

    result = check_post(raw, source.key, uploaded_at=uploaded_at, timezone=site.zone)
    if result.post is None or result.errors:
        return Rendering(None, result.errors, result.warnings)
    post = result.post
    body = render_body(post.body, source.key, post.meta.summary, post.unsafe_html)
    image = resolve_image(post.meta.image, source.key) if post.meta.image else None
    warnings = list(result.warnings) + body.warnings
    if post.meta.image and image is None:
        message = f"'{post.meta.image}' is not an image beside the post; ignored"
        warnings.append(Problem(field="image", message=message))
    meta = post.meta.model_copy(update={"summary": body.summary, "image": image})
    rendered = RenderedPost(
        source=source,
        meta=meta,
        body_html=body.html,
        status=status_of(meta, now),
        rendered_at=now,
        warnings=warnings,
    )
    return Rendering(rendered, [], warnings, body.images)


def handle_message(body: str, deps: Dependencies) -> Outcome:
    """Process one SQS message body from the render queue."""
    request = parse_message(body)
    source = request.source
    now = deps.clock()
    # The current version, in one GET: usually the requested one, so the same read says
    # whether it is current (only then may its page be written) and brings its bytes.
    version = deps.source.get(source.key)
    if version is None:
        logger.info("Stale: %s is gone", source.key)  # Validate's delete reaches Index
        return "stale"
    current = _is_version(version, source)
    if not current:
        version = deps.source.get(source.key, source.version_id)
        if version is None:
            logger.info("Stale: %s version %s is gone", source.key, source.version_id)
            return "stale"
    uploaded_at = version.last_modified or source.last_modified or now
    made = render(version.body, source, uploaded_at=uploaded_at, site=deps.site_info, now=now)
    if made.post is None:
        # Validate accepted this version, so only a rule changed by a deploy in between
        # can refuse it here: report it exactly as Validate would have.
        report = build_report(source, "rejected", processed_at=now, errors=made.errors, warnings=made.warnings)
        write_report(deps.source, report)
        return "rejected"
    rendered = made.post
    missing = _missing_images(made.images, deps)
    if missing:
        rendered = rendered.model_copy(update={"warnings": [*rendered.warnings, *missing]})
    # Written once per version (a conditional write, no read first): a redelivery finds it
    # there and leaves the page alone, which Index may already have rewritten with its
    # previous/next links. The slug is Validate's check and Index's decision: a slug
    # claimed by two uploads at once is settled there, and the owner's page rewritten.
    first = deps.source.put(
        rendered_key(source), rendered.model_dump_json().encode("utf-8"), "application/json", if_absent=True
    )
    slug = rendered.meta.slug
    if rendered.status == "published" and current and first:
        from pressline.site.pages import render_post_page

        page = render_post_page(rendered, deps.site_info)
        deps.site.put(post_page_key(slug), page.encode("utf-8"), PAGE_CONTENT_TYPE, cache_control=PAGE_CACHE_CONTROL)
    # Sent for a version that is no longer current too: Index decides (a rejected upload
    # after it leaves it standing). Small posts travel inside the update, saving Index a read.
    update, dedup_id = messages.upsert(source, slug, rendered if first else None)
    deps.index_queue.send(update, group_id=messages.INDEX_GROUP, dedup_id=dedup_id)
    if not current:
        logger.info("Rendered %s version %s, no longer current: Index decides", source.key, source.version_id)
        return "stale"
    logger.info("Rendered %s as /posts/%s/ (%s)", source.key, slug, rendered.status)
    return "rendered"


MAX_IMAGES_CHECKED = 20


def _missing_images(images: list[str], deps: Dependencies) -> list[Problem]:
    """Warnings for images the body shows that are not in the source bucket (yet)."""
    return [
        Problem(field="body", message=f"image {key} is not uploaded (yet); upload it beside the post")
        for key in images[:MAX_IMAGES_CHECKED]
        if deps.source.head(key) is None
    ]


def _is_version(stored: StoredObject, source: SourceRef) -> bool:
    if source.version_id:
        return stored.version_id == source.version_id
    return stored.etag == source.etag
