"""Validate: the first stage. For each S3 event on ``posts/`` it reconciles the key with
what S3 holds *now* (events duplicate and arrive out of order; the bucket does not lie):

- a post that exists is checked with the post rules; rejected -> its report, and nothing
  else changes; valid -> a RenderRequest for the current version, carrying the post's
  text when small (Validate has read it already: Render need not read it again);
- a post that no longer exists -> an IndexUpdate(delete) to the Index queue;
- an image (png, jpg, gif, webp) is typed by its first bytes (one small ranged GET) and
  handed to the Image stage as an ImageRequest, which publishes its variants and a copy
  without metadata under ``media/``; SVG, a file too large or one that is no image is
  refused here with a report. A removed image is handed over too (the Image stage
  reconciles). Validate writes nothing to the site bucket: an original, with its EXIF and
  GPS position, is never published.

A batch at a time: each record is read and checked alone (one ranged GET), then the slugs
of every post in the batch are looked up in one read, and the messages go out together
when the batch ends (``pressline.stages.batching.Batch``). A valid post gets no report
here: Index writes it (published, scheduled, draft, or failed with the reason); a report
from Validate would cost a call per post only to be overwritten a moment later.

An invalid post is an outcome with a report, never a failure. Failures are only
transient AWS errors (that message is retried by SQS) and malformed messages (poison:
after maxReceiveCount they land in the DLQ).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from pressline.adapters.queue import Queue
from pressline.adapters.store import ObjectStore, ObjectVersion, StoredObject
from pressline.config import Settings
from pressline.errors import PoisonMessageError
from pressline.models import ImageRequest, Problem, S3EventRecord, S3Notification, SourceRef
from pressline.posts import messages
from pressline.posts.images import MAX_IMAGE_BYTES, check_image
from pressline.posts.pagerules import check_page, name_problems
from pressline.posts.paths import POSTS_PREFIX, classify, is_page_key
from pressline.posts.report import build_report, write_report
from pressline.posts.rules import MAX_POST_BYTES, CheckResult, check_post, slug_taken
from pressline.posts.slugs import SlugRegistry
from pressline.stages.batching import Batch, Handled

logger = Logger(child=True)

Outcome = Literal["valid", "rejected", "deleted", "image-requested", "image-removed", "ignored"]
# What typing an image needs: its signature (``sniff`` reads at most 12 bytes); the object's
# whole size comes from the same ranged GET, so a 10 MiB image costs Validate 64 bytes.
IMAGE_SNIFF_BYTES = 64
# How long an image at its original path (media/<path>) is cached: what Validate published
# there before issue 14, and what `pressline preview` still does (the Image stage's copy is
# cached as long: pressline.images.stage).
IMAGE_CACHE_CONTROL = "public, max-age=86400"
Send = Callable[[Queue, BaseModel], None]  # sends a message when the batch ends


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    source: ObjectStore
    render_queue: Queue
    index_queue: Queue
    image_queue: Queue
    slugs: SlugRegistry
    bucket: str
    timezone: tzinfo = UTC
    clock: Callable[[], datetime] = field(default=_utc_now)

    @classmethod
    def from_settings(cls, config: Settings) -> Dependencies:
        from pressline.adapters.queue import SqsQueue
        from pressline.adapters.slugs import DynamoSlugRegistry
        from pressline.adapters.store import S3Store

        return cls(
            source=S3Store(config.source_bucket),
            render_queue=SqsQueue(config.render_queue_url),
            index_queue=SqsQueue(config.index_queue_url),
            image_queue=SqsQueue(config.image_queue_url),
            slugs=DynamoSlugRegistry(config.posts_table),
            bucket=config.source_bucket,
            timezone=ZoneInfo(config.site_timezone),
        )


def parse_message(body: str) -> S3Notification:
    try:
        return S3Notification.model_validate_json(body)
    except ValidationError as error:
        raise PoisonMessageError(f"not an S3 notification ({error.error_count()} problems)") from error


@dataclass(frozen=True)
class Checked:
    """A post read and checked by every rule but one: whether its slug is someone else's,
    which the batch asks the catalog once for all its posts."""

    source: SourceRef
    stored: StoredObject
    result: CheckResult

    @property
    def slug(self) -> str:
        assert self.result.post is not None  # only posts that parsed wait for their slug
        return self.result.post.meta.slug


Step = Outcome | Checked  # what one S3 record comes to before the batch's slug lookup


def handle_batch(batch: Batch, deps: Dependencies) -> Handled[Outcome]:
    """The messages of one invocation: read and check each record, look up every slug at
    once, decide, and send what the batch sends in one call per 10 messages per queue."""
    steps: dict[str, list[Step]] = {}
    for message in batch.messages:
        found = batch.run(message, partial(handle_message, message.body, deps, partial(batch.send, message)))
        if found is not None:
            steps[message.message_id] = found
    waiting = [m for m in batch.messages if any(isinstance(step, Checked) for step in steps.get(m.message_id, []))]
    slugs = {step.slug for m in waiting for step in steps[m.message_id] if isinstance(step, Checked)}
    owners = batch.run_for(waiting, partial(deps.slugs.owners_of, slugs)) if slugs else {}
    outcomes: dict[str, list[Outcome]] = {}
    for message in batch.messages:
        if message.message_id not in steps:
            continue
        decide = partial(_decide_all, steps[message.message_id], owners or {}, deps, partial(batch.send, message))
        decided = batch.run(message, decide)
        if decided is not None:
            outcomes[message.message_id] = decided
    return batch.handled(outcomes)


def handle_message(body: str, deps: Dependencies, send: Send) -> list[Step]:
    """One SQS message body from the intake queue (one or more S3 records)."""
    notification = parse_message(body)
    if not notification.Records:  # s3:TestEvent when a notification is configured
        logger.info("Skipping a message without records", extra={"event": notification.Event})
        return []
    return [handle_record(record, deps, send) for record in notification.Records]


def _decide_all(steps: list[Step], owners: dict[str, str], deps: Dependencies, send: Send) -> list[Outcome]:
    return [_decide(step, owners, deps, send) if isinstance(step, Checked) else step for step in steps]


def handle_record(record: S3EventRecord, deps: Dependencies, send: Send) -> Step:
    key = record.s3.object.key
    kind = classify(key)
    if not (key.startswith(POSTS_PREFIX) or is_page_key(key)) or key.endswith("/"):
        logger.info("Ignoring %s: not under posts/ or pages/", key)
        return "ignored"
    # One GET of the current version names it and brings its bytes, up to one byte past
    # what is accepted: no HEAD first, and a file over the limit is refused unread. An image
    # only its signature: the Image stage reads it whole.
    limit = {"post": MAX_POST_BYTES, "page": MAX_POST_BYTES, "image": IMAGE_SNIFF_BYTES}.get(kind, 0)
    stored = deps.source.get(key, limit=limit)
    if stored is None:
        return _removed(record, kind, deps, send)
    # The event's sequencer only describes the current version if it is about it.
    event = record.s3.object
    source = _source(stored, deps, sequencer=event.sequencer if event.versionId == stored.version_id else None)
    if kind == "post":
        return _post(source, stored, deps, send)
    if kind == "page":
        return _page(source, stored, deps, send)
    if is_page_key(key):  # not Markdown: pages/ holds pages only
        return _reject(source, name_problems(key), [], deps)
    if kind == "other":
        message = "is neither a post (.md) nor an image (.png, .jpg, .jpeg, .gif, .webp); it is not published"
        return _reject(source, [Problem(field="file", message=message)], [], deps)
    return _image(source, stored, deps, send)


def _source(stored: StoredObject, deps: Dependencies, sequencer: str | None = None) -> SourceRef:
    return SourceRef(
        bucket=deps.bucket,
        key=stored.key,
        version_id=stored.version_id,
        etag=stored.etag,
        last_modified=stored.last_modified,
        sequencer=sequencer,
    )


def _reject(source: SourceRef, errors: list[Problem], warnings: list[Problem], deps: Dependencies) -> Outcome:
    report = build_report(source, "rejected", processed_at=deps.clock(), errors=errors, warnings=warnings)
    write_report(deps.source, report)
    # Field names only: messages quote what the author wrote, which stays in the report.
    logger.info("Rejected %s", source.key, extra={"fields": sorted({e.field for e in errors})})
    return "rejected"


def _post(source: SourceRef, stored: StoredObject, deps: Dependencies, send: Send) -> Step:
    size = stored.full_size
    if size > MAX_POST_BYTES:  # only its first bytes were read
        message = f"is {size:,} bytes; the limit is 1 MiB ({MAX_POST_BYTES:,})"
        return _reject(source, [Problem(field="file", message=message)], [], deps)
    result = _check_rules(stored, deps)
    if result.post is None:
        return _rejected_upload(source, result.errors, result.warnings, deps, send)
    return Checked(source, stored, result)


def _page(source: SourceRef, stored: StoredObject, deps: Dependencies, send: Send) -> Outcome:
    """A static page: checked as a post is, but it claims no slug (its name is its address,
    ``/<name>/``, apart from posts' ``/posts/<slug>/``), so it needs no lookup to decide."""
    checked = _post(source, stored, deps, send)
    if not isinstance(checked, Checked):
        return checked
    return _decide(checked, {}, deps, send)


def _decide(checked: Checked, owners: dict[str, str], deps: Dependencies, send: Send) -> Outcome:
    """A checked post, now that its slug's owner is known: rejected, or on to Render."""
    errors, warnings = _problems(checked, owners)
    if errors:
        return _rejected_upload(checked.source, errors, warnings, deps, send)
    send(deps.render_queue, messages.render_request(checked.source, checked.stored))
    logger.info("Valid: %s version %s", checked.source.key, checked.source.version_id)
    return "valid"


def _rejected_upload(
    source: SourceRef, errors: list[Problem], warnings: list[Problem], deps: Dependencies, send: Send
) -> Outcome:
    outcome = _reject(source, errors, warnings, deps)
    _send_previous_valid(source, deps, send)
    return outcome


def _check_rules(stored: StoredObject, deps: Dependencies) -> CheckResult:
    uploaded_at = stored.last_modified or deps.clock()
    if is_page_key(stored.key):
        return check_page(stored.body, stored.key, uploaded_at=uploaded_at, timezone=deps.timezone)
    return check_post(stored.body, stored.key, uploaded_at=uploaded_at, timezone=deps.timezone)


def _problems(checked: Checked, owners: dict[str, str]) -> tuple[list[Problem], list[Problem]]:
    """Every error and warning of a checked post, its slug's owner known."""
    result = checked.result
    errors = list(result.errors)
    if result.post is not None and not is_page_key(checked.source.key):  # pages claim no slug
        taken = slug_taken(checked.slug, owners.get(checked.slug), checked.source.key, result.post.slug_line)
        if taken:
            errors.append(taken)
    return errors, list(result.warnings)


PREVIOUS_VERSIONS_CHECKED = 3


def _send_previous_valid(rejected: SourceRef, deps: Dependencies, send: Send) -> None:
    """A rejected upload changes nothing: the post stays at its last *valid* version. When
    that version was uploaded just before the rejected one, Validate may never have judged
    it (each event is reconciled with the current version, and S3 already held the
    rejected one), and the edit would be lost. So the versions before a rejected one are
    checked, newest first, back to the first valid one (or a delete), which goes to Render
    like any other: Index applies it only if it is newer than the version the site shows,
    and a version already applied changes nothing. Costs calls only on a rejection."""
    history = deps.source.history(rejected.key, limit=PREVIOUS_VERSIONS_CHECKED + 1)
    older = [version for version in history.versions if version.version_id != rejected.version_id]
    for version in older[:PREVIOUS_VERSIONS_CHECKED]:
        if version.version_id is None or _deleted_since(version, history.delete_markers):
            return  # deleted before the rejected upload: there is nothing to keep
        stored = deps.source.get(rejected.key, version.version_id, limit=MAX_POST_BYTES)
        if stored is None or stored.full_size > MAX_POST_BYTES:
            continue
        source = _source(stored, deps)
        result = _check_rules(stored, deps)
        if result.post is None:
            continue
        checked = Checked(source, stored, result)
        errors, _ = _problems(checked, deps.slugs.owners_of({checked.slug}))
        if not errors:
            send(deps.render_queue, messages.render_request(source, stored))
            logger.info("The version before the rejected one is valid: %s version %s", source.key, source.version_id)
            return


def _deleted_since(version: ObjectVersion, markers: list[ObjectVersion]) -> bool:
    """A delete marker at or after the version (a tie counts: the order is unknown)."""
    if version.last_modified is None:
        return bool(markers)
    return any(marker.last_modified is None or marker.last_modified >= version.last_modified for marker in markers)


def _image(source: SourceRef, stored: StoredObject, deps: Dependencies, send: Send) -> Outcome:
    """Refused early by what the first bytes and the size say, else on to the Image stage,
    which reads the whole file, makes its variants and writes its report."""
    size = stored.full_size
    if size > MAX_IMAGE_BYTES:
        message = f"is {size:,} bytes; the limit for images is 10 MiB"
        return _reject(source, [Problem(field="file", message=message)], [], deps)
    if classify(source.key) == "refused-image":
        return _reject(source, check_image(b"", source.key).errors, [], deps)
    checked = check_image(stored.body, source.key)
    if checked.content_type is None:
        return _reject(source, checked.errors, checked.warnings, deps)
    send(deps.image_queue, ImageRequest(source=source))
    logger.info("Image handed to the Image stage: %s version %s", source.key, source.version_id)
    return "image-requested"


def _removed(record: S3EventRecord, kind: str, deps: Dependencies, send: Send) -> Outcome:
    key = record.s3.object.key
    source = SourceRef(bucket=deps.bucket, key=key, version_id=record.s3.object.versionId,
                       sequencer=record.s3.object.sequencer)  # fmt: skip
    if kind in ("post", "page"):
        send(deps.index_queue, messages.delete(source))
        logger.info("Deleted: %s", key)
        return "deleted"
    if kind == "image":  # the Image stage deletes its copy and tells Index
        send(deps.image_queue, ImageRequest(source=source))
        logger.info("Removed image handed to the Image stage: %s", key)
        return "image-removed"
    return "ignored"
