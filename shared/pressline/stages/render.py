"""Render: a validated version of a post -> sanitized HTML, stored, and sent to Index.

For each RenderRequest it takes the requested version's bytes (carried in the request when
small: Validate read them in the GET that named the version; else one GET of that exact
version), validates them again with the same rules (a deploy may have changed them),
renders the body, and stores the result at ``rendered/<source key>/<version>.json`` with a
conditional write (immutable per version: the claim check Index and rebuilds read). Then
it sends IndexUpdate(upsert) to the Index queue, carrying the rendered post when small.

Render writes no page: Index writes every post page it applies, with its previous/next
links, and is the one that settles which post a slug's page shows. So Render need not know
whether its version is still the current one: Index decides (a rejected upload after it
leaves it standing; a newer version makes it stale).

A batch at a time: the updates of the batch go out together when it ends
(``pressline.stages.batching.Batch``). A duplicate request changes nothing: the stored
rendering stays, and Index recognises the update.

Reports: Index writes the report of every version it receives. Render writes one only when
the version cannot go on: refused by a rule changed since Validate ("rejected"), or a
rendering that fails, which fails on every retry ("failed": the author is told at once, and
the message goes on to the DLQ for a redrive once fixed); and only while the version is
still the key's current one. A transient failure is retried by SQS; if it lasts, the DLQ
alarm tells the operators, and the redrive brings the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from pressline.adapters.queue import Queue
from pressline.adapters.store import ObjectHead, ObjectStore, StoredObject
from pressline.config import Settings
from pressline.errors import PoisonMessageError
from pressline.models import IndexUpdate, Problem, RenderedPost, RenderRequest, Report, SourceRef
from pressline.posts import messages
from pressline.posts.pagerules import check_page, page_status
from pressline.posts.paths import is_page_key, rendered_key
from pressline.posts.report import build_report, write_report
from pressline.posts.rules import check_post, status_of
from pressline.site.pages import Site
from pressline.stages.batching import Batch, Handled

logger = Logger(child=True)

Outcome = Literal["rendered", "rejected", "stale"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    source: ObjectStore
    index_queue: Queue
    site_info: Site
    clock: Callable[[], datetime] = field(default=_utc_now)

    @classmethod
    def from_settings(cls, config: Settings) -> Dependencies:
        from pressline.adapters.queue import SqsQueue
        from pressline.adapters.store import S3Store

        return cls(
            source=S3Store(config.source_bucket),
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

    page = is_page_key(source.key)
    check = check_page if page else check_post
    result = check(raw, source.key, uploaded_at=uploaded_at, timezone=site.zone)
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
        status=page_status(meta.draft) if page else status_of(meta, now),
        rendered_at=now,
        warnings=warnings,
    )
    return Rendering(rendered, [], warnings, body.images)


def handle_batch(batch: Batch, deps: Dependencies) -> Handled[Outcome]:
    """The messages of one invocation: each rendered alone; the updates sent together."""
    outcomes: dict[str, list[Outcome]] = {}
    for message in batch.messages:
        made = batch.run(message, partial(handle_message, message.body, deps))
        if made is None:
            continue
        outcome, update = made
        if update is not None:
            batch.send(message, deps.index_queue, update)
        outcomes[message.message_id] = [outcome]
    return batch.handled(outcomes)


def handle_message(body: str, deps: Dependencies) -> tuple[Outcome, IndexUpdate | None]:
    """One SQS message body from the render queue: its outcome, and the update for Index."""
    request = parse_message(body)
    source = request.source
    now = deps.clock()
    found = _source_bytes(request, deps)
    if found is None:
        logger.info("Stale: %s version %s is gone", source.key, source.version_id)  # Validate's delete reaches Index
        return "stale", None
    raw, last_modified = found
    uploaded_at = last_modified or now
    try:
        made = render(raw, source, uploaded_at=uploaded_at, site=deps.site_info, now=now)
    except Exception as error:
        _report_failure(source, error, deps, now)
        raise
    if made.post is None:
        # Validate accepted this version, so only a rule changed by a deploy in between
        # can refuse it here: report it exactly as Validate would have.
        report = build_report(source, "rejected", processed_at=now, errors=made.errors, warnings=made.warnings)
        _write_if_current(report, source, deps)
        return "rejected", None
    rendered = made.post
    missing = _missing_images(made.images, deps)
    if missing:
        rendered = rendered.model_copy(update={"warnings": [*rendered.warnings, *missing]})
    # Written once per version (a conditional write, no read first): a redelivery finds it
    # there, and its update names the stored one rather than carrying this new rendering.
    first = deps.source.put(
        rendered_key(source), rendered.model_dump_json().encode("utf-8"), "application/json", if_absent=True
    )
    logger.info("Rendered %s version %s (%s)", source.key, source.version_id, rendered.status)
    # Small posts travel inside the update, saving Index a read.
    return "rendered", messages.upsert(source, rendered.meta.slug, rendered if first else None)


def _report_failure(source: SourceRef, error: Exception, deps: Dependencies, now: datetime) -> None:
    """``render`` is pure: if it fails on these bytes it fails on every retry (a bug). The
    author learns it now, from the report, rather than never (the message goes on to the DLQ
    after its retries, for an operator to redrive once the bug is fixed). Costs a call only then."""
    message = f"this version could not be rendered ({type(error).__name__}); it is retried once the cause is fixed"
    report = build_report(source, "failed", processed_at=now, errors=[Problem(field="file", message=message)])
    _write_if_current(report, source, deps)


def _write_if_current(report: Report, source: SourceRef, deps: Dependencies) -> None:
    """The key's report is about its current version: an older version's outcome must not
    replace a newer one's (Render does not otherwise know which is current: Index decides).
    One HEAD, on these rare paths only."""
    head = deps.source.head(source.key)
    if head is not None and _is_version(head, source):
        write_report(deps.source, report)
    else:
        logger.info("Not reported: %s version %s is no longer current", source.key, source.version_id)


def _source_bytes(request: RenderRequest, deps: Dependencies) -> tuple[bytes, datetime | None] | None:
    """The requested version's bytes and upload time: carried in the request (read by
    Validate in the GET that named this very version), or read by that version id (None if
    it is gone). Text without a version id names no version: it is read instead."""
    source = request.source
    if request.text is not None and source.version_id is not None:
        return request.text.encode("utf-8"), source.last_modified
    stored = deps.source.get(source.key, source.version_id)
    if stored is None or not _is_version(stored, source):
        return None
    return stored.body, stored.last_modified or source.last_modified


MAX_IMAGES_CHECKED = 20


def _missing_images(images: list[str], deps: Dependencies) -> list[Problem]:
    """Warnings for images the body shows that are not in the source bucket (yet)."""
    return [
        Problem(field="body", message=f"image {key} is not uploaded (yet); upload it beside the post")
        for key in images[:MAX_IMAGES_CHECKED]
        if deps.source.head(key) is None
    ]


def _is_version(stored: StoredObject | ObjectHead, source: SourceRef) -> bool:
    if source.version_id:
        return stored.version_id == source.version_id
    return stored.etag == source.etag
