"""Index's decision for one update, as one pure function: given what the batch read about
its key (``Facts``: S3's current version, the renderings, Validate's verdict) and what the
catalog holds now, what happens? Apply a change, skip a duplicate or stale message, refuse
a slug that another post owns, take a scheduled post off the schedule, or fail it.

S3 is the authority on what is current: S3 and SQS both duplicate and reorder, so a
message only says *which* key to look at, and any order of a batch's messages leads to
the same site (``tests/unit/indexing/test_index_batches.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pressline.indexing.catalog import CatalogPost
from pressline.indexing.plan import (
    Fetch,
    HeadState,
    Skip,
    check_due,
    check_past_rejected,
    check_source,
    is_duplicate,
    target_post,
)
from pressline.models import IndexUpdate, RenderedPost, SourceRef
from pressline.posts.paths import version_token


@dataclass(frozen=True)
class Facts:
    """What the batch's read step learnt about one update's key."""

    head: SourceRef | None  # S3's current version; None: the object is gone
    renderings: Mapping[str, RenderedPost] = field(default_factory=dict)  # version token -> rendering
    head_rejected: bool = False  # Validate rejected S3's current version (its report says so)
    history: tuple[str, ...] = ()  # the key's version ids, newest first (only when a rejection overtook it)


@dataclass(frozen=True)
class Apply:
    """Take the key from ``old`` to ``new`` (None: absent)."""

    source: SourceRef
    old: CatalogPost | None
    new: CatalogPost | None
    rendered: RenderedPost | None
    report: bool = True  # False: the newest upload was rejected, and its report (why) stays


@dataclass(frozen=True)
class RejectSlug:
    """Two source files claim one slug (both passed Validate at once): the first keeps it."""

    source: SourceRef
    target: CatalogPost
    owner: str
    rendered: RenderedPost


@dataclass(frozen=True)
class Unschedule:
    """A scheduled post whose rendered version is gone can never go live: it leaves the
    schedule (else the scheduler would ask for it every minute for ever)."""

    source: SourceRef
    post: CatalogPost


@dataclass(frozen=True)
class Fail:
    """This update can never apply: its author is told why, its message is set aside."""

    reason: str


Decision = Apply | Skip | RejectSlug | Unschedule | Fail


def decide(
    update: IndexUpdate,
    facts: Facts,
    current: CatalogPost | None,
    slug_owners: Mapping[str, str],
    now: datetime,
) -> Decision:
    """The one decision for ``update``. ``current``: the catalog's post for the key as the
    batch has left it so far; ``slug_owners``: the owners of the slugs of ``facts.renderings``."""
    key, head = update.source.key, facts.head
    if head is None:
        gone = check_source(update, None, exists=False, current=current)
        if isinstance(gone, Skip):
            return gone
        return Apply(update.source, current, None, None)  # S3 no longer has it: take it down
    head_version = version_token(head)
    source, keep_report = update.source, False
    if update.action == "due" and version_token(source) != head_version:
        due = check_due(update, current, head, _head_state(facts, head), now)
        if isinstance(due, Skip):
            return due
        # From here on the resolved version is treated as the current one.
        source, keep_report = due.source, due.keep_report
        update = IndexUpdate(action=update.action, source=source, slug=update.slug)
        head_version = version_token(source)
    elif update.action == "upsert" and version_token(source) != head_version and facts.head_rejected:
        past = check_past_rejected(update, current, _newer_in_history(source, current, facts.history))
        if isinstance(past, Skip):
            return past
        head_version, keep_report = version_token(source), True
    early = check_source(update, head_version, exists=True, current=None)
    if isinstance(early, Skip):
        return early
    rendered = facts.renderings.get(version_token(source))
    if rendered is None and update.action == "due":
        if current is None or current.version != version_token(source) or current.status != "scheduled":
            return Skip(f"stale due: version {version_token(source)} is not scheduled")
        return Unschedule(source, current)
    if rendered is None:
        # Render stores it before it sends the update, and S3 reads are consistent: it will
        # not appear later, and retrying would only delay the author's report.
        return Fail(f"rendered version {head_version} is missing; upload the post again")
    target = target_post(rendered, source, now)
    fresh = check_source(update, head_version, exists=True, current=current)
    if not isinstance(fresh, Fetch):
        return Skip(getattr(fresh, "reason", "stale"))
    if is_duplicate(current, target):
        return Skip(f"duplicate: version {target.version} already applied")
    owner = slug_owners.get(target.slug)
    if owner is not None and owner != key:
        return RejectSlug(source, target, owner, rendered)
    return Apply(source, current, target, rendered, report=not keep_report)


def _head_state(facts: Facts, head: SourceRef) -> HeadState:
    """What S3's current version is, when a "due" update names another: rejected (Validate's
    report; a version Index itself refused is rendered too, so the report comes first),
    rendered, or still undecided."""
    if facts.head_rejected:
        return "rejected"
    return "rendered" if version_token(head) in facts.renderings else "pending"


def _newer_in_history(source: SourceRef, current: CatalogPost | None, history: tuple[str, ...]) -> bool:
    """Is ``source`` newer than the catalog's version? S3's version history says (its order,
    not upload times, which S3 gives to the second)."""
    if current is None or source.version_id is None:
        return False
    if source.version_id not in history:
        return False  # older than every version listed
    if current.version_id not in history:
        return True  # the catalog's version is older than every version listed
    return history.index(source.version_id) < history.index(current.version_id)
