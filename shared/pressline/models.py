"""The contracts between stages: what each queue carries and what is stored between them.

Every message is a pydantic model serialised as JSON into an SQS body. Messages
refer to posts by (bucket, key, version) and never carry a post's body: a post of
any size travels by reference (claim check), so nothing is ever truncated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, field_validator

# "failed": it passed Validate and Render but Index could not apply it (its report says why).
PostStatus = Literal["published", "scheduled", "draft", "rejected", "unpublished", "failed"]
# What a post's email carries (issue 15): the whole post, or its summary and a link. The site's
# setting is EmailContent (template.yaml); a post's ``email:`` front matter overrides it.
EmailContent = Literal["full", "summary"]


class Contract(BaseModel):
    """Base for stored and queued models: unknown fields are ignored so that a newer
    producer never poisons an older consumer during a deploy."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --------------------------------------------------------------------------- S3 events
class S3EventBucket(Contract):
    name: str


class S3EventObject(Contract):
    key: str
    size: int | None = None
    eTag: str | None = None
    versionId: str | None = None
    sequencer: str | None = None

    @field_validator("key")
    @classmethod
    def _decode(cls, key: str) -> str:
        # S3 URL-encodes keys in notifications (moto with quote_plus, S3 alike).
        return unquote_plus(key)


class S3EventEntity(Contract):
    bucket: S3EventBucket
    object: S3EventObject


class S3EventRecord(Contract):
    """One S3 notification record. Lenient on purpose: moto omits ``sequencer``,
    ``versionId`` and the identity fields that Powertools' ``S3Model`` requires."""

    eventName: str
    eventTime: datetime
    s3: S3EventEntity

    @property
    def is_removal(self) -> bool:
        return self.eventName.startswith("ObjectRemoved")


class S3Notification(Contract):
    """An SQS body from S3: either ``Records`` or a bare ``s3:TestEvent`` (no records)."""

    Records: list[S3EventRecord] = Field(default_factory=list)
    Event: str | None = None


# --------------------------------------------------------------------------- references
class SourceRef(Contract):
    """One version of one object in the source bucket."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    last_modified: datetime | None = None


# --------------------------------------------------------------------------- posts
class PostMeta(Contract):
    """A valid post's metadata, as the catalog, listings and feeds need it."""

    slug: str
    title: str
    date: datetime
    updated: datetime | None = None
    tags: tuple[str, ...] = ()
    summary: str = ""
    author: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    draft: bool = False
    # Old URL paths of this post (site-relative, "/2019/05/hello/"): each answers 301 here.
    aliases: tuple[str, ...] = ()
    # Whether its first publication emails subscribers: None leaves it to the site's rule
    # (announce unless the post is older than the site's announce window); an import sets False.
    notify: bool | None = None
    # What its email carries: None leaves it to the site's EmailContent setting.
    email: EmailContent | None = None
    # Static pages only (pages/<name>.md): where the page sits in the site's navigation (lowest
    # first; None: after the ordered ones, by title), and whether it is there at all.
    nav_order: int | None = None
    nav: bool = True


class RenderedPost(Contract):
    """Render's output, kept at ``rendered/<source key>/<version>.json`` in the source bucket
    (``pressline.posts.paths.rendered_key``) so that Index can re-render pages (neighbours,
    scheduled posts) and write feeds without parsing Markdown again."""

    source: SourceRef
    meta: PostMeta
    body_html: str
    status: PostStatus
    rendered_at: datetime
    # Non-blocking findings from validation and rendering, for the report Index writes.
    warnings: list[Problem] = Field(default_factory=list)


class Problem(Contract):
    """One finding about an upload: the field, the reason, and the line where known."""

    field: str
    message: str
    line: int | None = None


class Report(Contract):
    """The outcome of one upload, written to ``reports/<source key>.json``."""

    key: str
    version: str | None
    status: PostStatus
    url: str | None = None
    errors: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)
    processed_at: datetime
    # Whether this upload emailed subscribers, and why or why not ("notify: false in the front
    # matter", "dated ..., older than the announce window ..."). None: nothing to announce
    # (rejected, unpublished), or a report from before Index said so.
    announced: bool | None = None
    announcement: str | None = None


# --------------------------------------------------------------------------- messages
class RenderRequest(Contract):
    """Validate -> Render: this version of this post passed validation.

    ``text``: the post itself (UTF-8, decoded) when it is small, read by Validate in the same
    GET that named ``source.version_id``: it is exactly that version's bytes, and Render need
    not read them again. Absent (a large post), Render reads the version."""

    source: SourceRef
    text: str | None = None


class ImageRequest(Contract):
    """Validate -> Image: an image beside a post was uploaded or removed (``source`` names the
    key, and the version the event was about). The Image stage reconciles with what S3 holds
    *now*, as Validate does: events duplicate and reorder, the bucket does not lie."""

    source: SourceRef


class ImageVariant(Contract):
    """One published file of an image: its type, its size and where the site serves it."""

    content_type: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    url: str  # a site path ("/media/2026/harbour-480w-1a2b3c4d.webp") or an https URL


class ImageSet(Contract):
    """The manifest entry of one uploaded image: ``src`` as the rendered HTML has it
    (``quote(media_path(source_key))``), the image's own size (after its EXIF orientation)
    and its variants, narrowest first. Pages show it with ``pressline.site.responsive``."""

    src: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fallback: str  # the content type every client displays: image/jpeg or image/png
    variants: tuple[ImageVariant, ...]

    def of_type(self, content_type: str) -> tuple[ImageVariant, ...]:
        return tuple(sorted((v for v in self.variants if v.content_type == content_type), key=lambda v: v.width))


class IndexUpdate(Contract):
    """-> Index (FIFO, one group): apply a change to the catalog and the listings.

    ``upsert`` comes from Render with the rendered post stored (and, when small, carried
    here too: Index then need not read it); ``delete`` from Validate when the source
    object is removed; ``due`` from the scheduler when a scheduled post's date has come;
    ``image`` from the Image stage: ``source`` (an image beside a post) now has the variants
    of ``image``, published already, or none (``image`` None: the image is gone)."""

    action: Literal["upsert", "delete", "due", "image"]
    source: SourceRef
    slug: str | None = None
    rendered: RenderedPost | None = None
    image: ImageSet | None = None


class PostPublished(Contract):
    """Index -> Notify, and the SNS ``post.published`` event: a post went public for the
    first time."""

    type: Literal["post.published"] = "post.published"
    slug: str
    title: str
    summary: str
    url: str
    tags: tuple[str, ...] = ()
    published_at: datetime
    source_key: str
    # The post's own choice of email (front matter ``email:``; None: the site's EmailContent), and
    # the version whose rendering its email shows (``posts.paths.version_token``: Deliver reads
    # ``rendered_key_of(source_key, version)``). Defaults, so a message queued before them still
    # parses: without a version, Deliver sends the summary.
    email: EmailContent | None = None
    version: str | None = None


class DeliveryBatch(Contract):
    """Notify -> Deliver: at most 50 recipients of one post's email."""

    post: PostPublished
    subscriber_ids: list[str] = Field(max_length=50)


class DigestBatch(Contract):
    """The scheduler -> Deliver: at most 50 recipients of one period's digest (issue 15).
    ``period``: ``daily#2026-12-04`` or ``weekly#2026-W49``; ``cutoff``: its scheduled instant;
    ``until``: for a recipient whose digest row ends earlier (they went back to instant
    emails: their final digest), that instant, as the fan-out read it."""

    type: Literal["digest.batch"] = "digest.batch"
    frequency: Literal["daily", "weekly"]
    period: str = Field(pattern=r"^(daily#\d{4}-\d{2}-\d{2}|weekly#\d{4}-W\d{2})$")
    cutoff: datetime
    subscriber_ids: list[str] = Field(max_length=50)
    until: dict[str, datetime] = Field(default_factory=dict)
