"""Scheduled posts falling due while S3 holds another upload than the catalog's version:
a rejected upload changes nothing (the last valid version goes live at its date), a
valid newer one wins, an undecided one is waited for (within a bound), and no post is
asked for by the scheduler for ever."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from index_world import SOURCE_BUCKET, START, World

from pressline.adapters.queue import MemoryQueue
from pressline.indexing.plan import PENDING_GRACE, Fetch, Skip, check_due, target_post
from pressline.models import IndexUpdate, Problem, RenderedPost, SourceRef
from pressline.posts.paths import rendered_key
from pressline.posts.report import build_report, write_report
from pressline.stages.scheduler import SchedulerDeps, publish_due

KEY = "posts/later.md"
DUE = START + timedelta(hours=2)
NEXT_UPLOAD = timedelta(seconds=5)


@pytest.fixture
def scheduler(world: World) -> SchedulerDeps:
    return SchedulerDeps(world.catalog, MemoryQueue(), source_bucket=SOURCE_BUCKET, clock=lambda: world.now)


def schedule(world: World) -> None:
    assert world.publish(KEY, "Later", DUE).status == "scheduled"


def upload_only(world: World, body: bytes = b"---\ntitle: [broken\n---\n", age: timedelta | None = None) -> SourceRef:
    """A new source version that Validate has not decided on yet (no report, no rendered post),
    uploaded ``age`` (default: a minute) before the post's date."""
    world.source.put(KEY, body, "text/markdown")
    stored = world.source.objects[KEY]
    stored = dataclasses.replace(stored, last_modified=DUE - (age or timedelta(minutes=1)))
    world.source.objects[KEY] = stored
    return SourceRef(bucket=SOURCE_BUCKET, key=KEY, version_id=stored.version_id, etag=stored.etag)


def reject(world: World, source: SourceRef) -> None:
    """What Validate does with an invalid upload: its report, nothing else."""
    problem = Problem(field="title", message="is not valid YAML")
    write_report(world.source, build_report(source, "rejected", processed_at=world.now, errors=[problem]))


def fall_due(world: World, scheduler: SchedulerDeps) -> IndexUpdate:
    world.now = DUE + timedelta(minutes=1)
    [due] = publish_due(scheduler)
    return due


def test_a_rejected_edit_leaves_the_scheduled_version_to_go_live_at_its_date(
    world: World, scheduler: SchedulerDeps
) -> None:
    schedule(world)
    reject(world, upload_only(world))
    due = fall_due(world, scheduler)

    outcome = world.apply(due)

    assert outcome.applied and outcome.status == "published"
    assert world.text("posts/later/index.html") is not None and "/posts/later/" in (world.text("index.html") or "")
    assert [message.slug for message in world.announcements()] == ["later"]
    assert world.report(KEY)["status"] == "rejected"  # the newest upload's report stays: why it was refused
    assert publish_due(scheduler) == []
    assert not world.apply(due).applied  # asked again: a duplicate


def test_a_published_post_with_a_rejected_edit_stays_published(world: World) -> None:
    """The same rule for a post already live (nothing reaches Index)."""
    world.publish(KEY, "Later", START - timedelta(days=1))
    reject(world, upload_only(world))

    assert world.catalog.posts[KEY].status == "published"
    assert world.text("posts/later/index.html") is not None


def test_a_valid_newer_version_goes_live_instead_when_its_upsert_is_not_applied_yet(
    world: World, scheduler: SchedulerDeps
) -> None:
    schedule(world)
    newer = world.upload(KEY, "Later Still", DUE, slug="later")  # rendered; its upsert still queued
    due = fall_due(world, scheduler)

    outcome = world.apply(due)

    assert outcome.applied and outcome.status == "published"
    assert "Later Still" in (world.text("posts/later/index.html") or "")
    assert world.catalog.posts[KEY].version == newer.source.version_id
    assert world.report(KEY)["status"] == "published"
    assert not world.apply(newer).applied  # the upsert, arriving after, is a duplicate
    assert publish_due(scheduler) == []
    assert len(world.announcements()) == 1


def test_an_undecided_newer_upload_is_waited_for_then_the_verdict_decides(
    world: World, scheduler: SchedulerDeps
) -> None:
    schedule(world)
    pending = upload_only(world)
    due = fall_due(world, scheduler)

    waiting = world.apply(due)

    assert not waiting.applied and "waiting for version" in waiting.reason
    assert world.text("posts/later/index.html") is None and world.announcements() == []
    reject(world, pending)  # Validate decides: rejected
    assert world.apply(fall_due(world, scheduler)).status == "published"
    assert publish_due(scheduler) == []


def test_an_upload_undecided_for_longer_than_the_grace_no_longer_holds_the_post_back(
    world: World, scheduler: SchedulerDeps
) -> None:
    schedule(world)
    upload_only(world, age=PENDING_GRACE)  # lost on its way (a DLQ holds it)
    due = fall_due(world, scheduler)

    assert world.apply(due).status == "published"
    assert publish_due(scheduler) == []


def test_a_rejected_upload_does_not_block_a_valid_newer_one_in_flight(world: World, scheduler: SchedulerDeps) -> None:
    """Reverse order: the rejected upload's report is there while a valid newer upload is still
    on its way. The due neither publishes the old version nor blocks the newer one."""
    schedule(world)
    reject(world, upload_only(world))
    upload_only(world, body=b"---\ntitle: Fixed\n---\n")  # valid, not yet through Validate
    due = fall_due(world, scheduler)

    assert not world.apply(due).applied  # S3's current version is undecided: wait
    fixed = world.upload(KEY, "Fixed", DUE + timedelta(days=1), slug="later")  # Render is done
    outcome = world.apply(fixed)

    assert outcome.applied and outcome.status == "scheduled"
    assert world.catalog.posts[KEY].version == fixed.source.version_id
    assert not world.apply(due).applied  # stale: the catalog's version changed
    assert publish_due(scheduler) == []  # not due before its new date
    assert world.announcements() == []


def test_a_due_post_whose_rendered_version_is_gone_leaves_the_schedule(world: World, scheduler: SchedulerDeps) -> None:
    schedule(world)
    post = world.catalog.posts[KEY]
    source = SourceRef(bucket=SOURCE_BUCKET, key=KEY, version_id=post.version_id, etag=post.etag)
    world.source.delete(rendered_key(source))
    due = fall_due(world, scheduler)

    outcome = world.apply(due)

    assert outcome.applied and "taken off the schedule" in outcome.reason
    assert KEY not in world.catalog.posts and "later" not in world.catalog.slugs
    report = world.report(KEY)
    assert report["status"] == "rejected" and "upload it again" in report["errors"][0]["message"]
    assert world.text("posts/later/index.html") is None and world.announcements() == []
    assert publish_due(scheduler) == []


def test_a_due_for_a_version_the_catalog_no_longer_holds_is_stale(world: World, scheduler: SchedulerDeps) -> None:
    schedule(world)
    due = fall_due(world, scheduler)
    world.publish(KEY, "Later", DUE, slug="later", draft=True)  # withdrawn to a draft meanwhile

    outcome = world.apply(due)

    assert not outcome.applied and "stale due" in outcome.reason
    assert world.text("posts/later/index.html") is None and world.announcements() == []
    assert publish_due(scheduler) == []


# --------------------------------------------------------------------------- the pure rule
def _ref(version: str, modified: datetime | None = None) -> SourceRef:
    return SourceRef(bucket=SOURCE_BUCKET, key=KEY, version_id=version, last_modified=modified)


def test_check_due_decides_by_the_catalog_and_the_verdict_on_s3s_version(world: World) -> None:
    scheduled = world.upload(KEY, "Later", DUE)
    rendered = world.source.get(rendered_key(scheduled.source))
    assert rendered is not None
    current = target_post(RenderedPost.model_validate_json(rendered.body), scheduled.source, START)
    update = IndexUpdate(action="due", source=scheduled.source)
    now = DUE
    fresh, old = _ref("h", now - timedelta(minutes=1)), _ref("h", now - PENDING_GRACE - timedelta(seconds=1))

    assert check_due(update, current, fresh, "rejected", now) == Fetch(scheduled.source, keep_report=True)
    assert check_due(update, current, fresh, "rendered", now) == Fetch(fresh)
    assert isinstance(check_due(update, current, fresh, "pending", now), Skip)
    assert check_due(update, current, old, "pending", now) == Fetch(scheduled.source)
    published = current.model_copy(update={"status": "published"})
    other = current.model_copy(update={"version": "another"})
    for catalog in (None, published, other):
        assert isinstance(check_due(update, catalog, fresh, "rejected", now), Skip)


# --------------------------------------------------------------------------- an edit overtaken by a rejected upload
def stamped(world: World, update: IndexUpdate, uploaded: datetime) -> IndexUpdate:
    """The upload time Validate puts in the SourceRef (S3's LastModified), in the update and
    in the rendered post, as the pipeline carries it."""
    source = update.source.model_copy(update={"last_modified": uploaded})
    stored = world.source.get(rendered_key(source))
    assert stored is not None
    rendered = RenderedPost.model_validate_json(stored.body).model_copy(update={"source": source})
    world.source.put(rendered_key(source), rendered.model_dump_json().encode(), "application/json")
    return update.model_copy(update={"source": source})


def test_a_valid_edit_overtaken_by_a_rejected_upload_still_applies(world: World) -> None:
    """Render sent the edit while it was current; a rejected upload came before Index got to
    it. The rejected upload changes nothing, so the edit is not lost."""
    world.apply(stamped(world, world.upload(KEY, "First", START - timedelta(days=1), slug="later"), START))
    edit = stamped(world, world.upload(KEY, "Second", START - timedelta(days=1), slug="later"), START + NEXT_UPLOAD)
    reject(world, upload_only(world))

    outcome = world.apply(edit)

    assert outcome.applied and "Second" in (world.text("posts/later/index.html") or "")
    assert world.catalog.posts[KEY].version == edit.source.version_id
    assert world.report(KEY)["status"] == "rejected"  # still the newest upload's verdict
    assert not world.apply(edit).applied  # a duplicate


def test_an_older_edit_overtaken_by_a_rejected_upload_never_overwrites_a_newer_one(world: World) -> None:
    older = stamped(world, world.upload(KEY, "Older", START - timedelta(days=1), slug="later"), START)
    newer = stamped(world, world.upload(KEY, "Newer", START - timedelta(days=1), slug="later"), START + NEXT_UPLOAD)
    reject(world, upload_only(world))
    world.apply(newer)

    outcome = world.apply(older)  # reordered: arrives last

    assert not outcome.applied and "not newer" in outcome.reason
    assert "Newer" in (world.text("posts/later/index.html") or "")


def test_an_edit_uploaded_in_the_same_second_is_still_ordered_behind_a_rejected_upload(world: World) -> None:
    """S3 gives upload times to the second: the order of two versions comes from the key's
    version history instead, so an edit made within a second of the live version still wins."""
    world.apply(stamped(world, world.upload(KEY, "First", START - timedelta(days=1), slug="later"), START))
    edit = stamped(world, world.upload(KEY, "Second", START - timedelta(days=1), slug="later"), START)  # same time
    reject(world, upload_only(world))

    assert world.apply(edit).applied
    assert "Second" in (world.text("posts/later/index.html") or "")


def test_an_edit_without_upload_times_is_ordered_by_the_history_too(world: World) -> None:
    world.publish(KEY, "First", START - timedelta(days=1), slug="later")  # no upload time recorded
    edit = world.upload(KEY, "Second", START - timedelta(days=1), slug="later")
    reject(world, upload_only(world))

    assert world.apply(edit).applied
    assert "Second" in (world.text("posts/later/index.html") or "")


def test_a_rejected_upload_then_due_then_the_overtaken_edit(world: World, scheduler: SchedulerDeps) -> None:
    """A scheduled post: the due publishes the catalog's version, and the valid edit that was
    still on its way when the rejected upload came applies after it."""
    world.apply(stamped(world, world.upload(KEY, "Later", DUE), START))
    edit = stamped(world, world.upload(KEY, "Later Edited", DUE, slug="later"), START + NEXT_UPLOAD)
    reject(world, upload_only(world))
    assert world.apply(fall_due(world, scheduler)).status == "published"

    assert world.apply(edit).applied
    assert "Later Edited" in (world.text("posts/later/index.html") or "")
    assert len(world.announcements()) == 1
