"""The scheduler asks Index for every post that fell due, ten "due" updates a call, and
leaves an update SQS did not take for its next run (the post is still due)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pressline.adapters.queue import MemoryQueue
from pressline.indexing.catalog import CatalogPost
from pressline.models import IndexUpdate
from pressline.stages.scheduler import SchedulerDeps, publish_due

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class DueCatalog:
    """The one Catalog query the scheduler makes: the scheduled posts dated up to now."""

    def __init__(self, posts: list[CatalogPost]) -> None:
        self.posts = posts

    def due(self, now: datetime) -> list[CatalogPost]:
        return [post for post in self.posts if post.date <= now]


def scheduled(n: int, date: datetime) -> CatalogPost:
    return CatalogPost(
        source_key=f"posts/p{n}.md", version=f"v{n}", version_id=f"v{n}", etag=f'"{n}"', status="scheduled",
        slug=f"p{n}", title=f"P{n}", date=date, applied_at=NOW - timedelta(days=1),
    )  # fmt: skip


def deps(catalog: DueCatalog, queue: MemoryQueue) -> SchedulerDeps:
    return SchedulerDeps(catalog, queue, source_bucket="source-bucket", clock=lambda: NOW)  # type: ignore[arg-type]


def test_posts_due_go_to_index_ten_a_call() -> None:
    posts = [scheduled(n, NOW - timedelta(minutes=n)) for n in range(23)] + [scheduled(99, NOW + timedelta(hours=1))]
    queue = MemoryQueue()
    sent = publish_due(deps(DueCatalog(posts), queue))
    assert [update.source.key for update in sent] == [f"posts/p{n}.md" for n in range(23)]
    assert queue.sent == sent and queue.calls == 3
    due = sent[0]
    assert isinstance(due, IndexUpdate) and (due.action, due.slug, due.source.version_id) == ("due", "p0", "v0")


def test_nothing_due_makes_no_call() -> None:
    queue = MemoryQueue()
    assert publish_due(deps(DueCatalog([scheduled(1, NOW + timedelta(minutes=1))]), queue)) == []
    assert queue.calls == 0


def test_an_update_sqs_does_not_take_is_asked_for_by_the_next_run() -> None:
    posts = [scheduled(n, NOW - timedelta(minutes=1)) for n in range(3)]
    queue = MemoryQueue(refuse=lambda message: isinstance(message, IndexUpdate) and message.slug == "p1")
    catalog = DueCatalog(posts)
    assert [update.slug for update in publish_due(deps(catalog, queue))] == ["p0", "p2"]
    queue.refuse = None
    # Index has not applied any yet (the catalog still says scheduled): the next run asks for
    # all three again, and Index takes the two it has as duplicates.
    assert [update.slug for update in publish_due(deps(catalog, queue))] == ["p0", "p1", "p2"]
