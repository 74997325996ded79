"""Index applies whole batches: random batches of creates, edits, deletes, drafts and
schedules, with duplicated, reordered and stale events, must leave

- the catalog holding what S3 holds (every key at its current version, or gone), and
- every generated file byte-identical to what ``pressline rebuild`` makes from that catalog,

while each page a batch touches is written once per batch."""

from __future__ import annotations

import os
import random
from datetime import timedelta

import pytest
from index_world import START, World

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.rebuild import rebuild_site
from pressline.models import IndexUpdate
from pressline.stages.index import index_batch
from pressline.stages.scheduler import SchedulerDeps, publish_due

# More on demand: PRESSLINE_INDEX_SEEDS=500 pytest tests/unit/indexing/test_index_batches.py
SEEDS = int(os.environ.get("PRESSLINE_INDEX_SEEDS", "8"))
TAGS = ("python", "aws", "Go", "notes", "travel")


def author(world: World, rng: random.Random, key: str, number: int) -> IndexUpdate:
    """What an author's action leaves in S3, and the event it sends on to Index."""
    if rng.random() < 0.12 and world.source.head(key) is not None:
        return world.remove(key)
    date = START - timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23))
    if rng.random() < 0.07:
        date = START + timedelta(hours=rng.randint(1, 48))  # scheduled
    return world.upload(
        key,
        f"Post {number} take {rng.randint(0, 99)}",
        date,
        slug=f"post-{number}-{rng.choice('ab')}",  # slugs change on some edits
        tags=tuple(rng.sample(TAGS, rng.randint(0, 3))),
        draft=rng.random() < 0.08,
        carry=rng.random() < 0.8,  # large renderings travel by reference
    )


def deliver(world: World, rng: random.Random, pending: list[IndexUpdate], sent: list[IndexUpdate]) -> None:
    """One batch as SQS may hand it over: any of the pending events in any order, some
    twice, with an old one redelivered now and then."""
    size = rng.randint(1, min(len(pending), 40))
    batch = [pending.pop(rng.randrange(len(pending))) for _ in range(size)]
    batch += rng.sample(batch, rng.randint(0, len(batch) // 3))  # duplicates
    if sent and rng.random() < 0.3:
        batch.append(rng.choice(sent))  # a late, stale redelivery
    rng.shuffle(batch)
    index_batch(batch, world.deps)
    sent += batch


def rebuilt_from(world: World) -> tuple[MemoryCatalog, MemoryStore]:
    catalog = MemoryCatalog()
    catalog.posts = dict(world.catalog.posts)
    source = MemoryStore()
    source.objects = dict(world.source.objects)
    site = MemoryStore()
    rebuild_site(catalog, source, site, world.site, now=world.now)
    return catalog, site


@pytest.mark.parametrize("posts", [15, 60])  # 60: more than the newest twenty, so feeds refill
@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_batches_leave_the_site_a_rebuild_makes(seed: int, posts: int) -> None:
    rng = random.Random(seed)
    world = World()
    keys = [f"posts/{n}.md" for n in range(posts)]
    pending: list[IndexUpdate] = []
    sent: list[IndexUpdate] = []
    for _ in range(posts * 4):
        number = rng.randrange(posts)
        pending.append(author(world, rng, keys[number], number))
        if rng.random() < 0.15:
            deliver(world, rng, pending, sent)
        if rng.random() < 0.05:
            world.later(hours=rng.randint(1, 30))  # the clock moves: scheduled posts fall due
            scheduler = SchedulerDeps(world.catalog, MemoryQueue(), "source-bucket", clock=lambda: world.now)
            pending += publish_due(scheduler)
    while pending:
        deliver(world, rng, pending, sent)

    for key in keys:  # the catalog holds what S3 holds
        head, post = world.source.head(key), world.catalog.posts.get(key)
        assert (post is None) == (head is None), key
        if head is not None and post is not None:
            assert post.version == head.version_id, key

    catalog, rebuilt = rebuilt_from(world)
    assert catalog.summary == world.catalog.summary
    assert catalog.lists == world.catalog.lists
    incremental = {key: obj.body for key, obj in world.site_store.objects.items()}
    regenerated = {key: obj.body for key, obj in rebuilt.objects.items()}
    assert sorted(incremental) == sorted(regenerated)
    assert [key for key in regenerated if incremental[key] != regenerated[key]] == []


def test_a_batch_writes_each_page_once_and_commits_once(world: World) -> None:
    updates = [
        world.upload(f"posts/{n}.md", f"Post {n}", START - timedelta(hours=n), tags=("python",)) for n in range(30)
    ]
    outcomes = index_batch(updates + updates[:5], world.deps)  # with duplicates

    assert [outcome.applied for outcome in outcomes] == [True] * 30 + [False] * 5
    assert world.catalog.commits == 1
    written = {key: len(log) for key, log in world.site_store.log.items()}
    assert written["index.html"] == written["feed.xml"] == written["tags/python/index.html"] == 1
    assert all(count == 1 for count in written.values())  # every key once
    assert len(world.announcements()) == 30


def test_one_batch_equals_the_same_updates_one_by_one() -> None:
    rng = random.Random(7)
    alone, together = World(), World()
    updates: list[tuple[IndexUpdate, IndexUpdate]] = []
    for n in range(25):
        date = START - timedelta(days=rng.randint(0, 90))
        tags = tuple(rng.sample(TAGS, 2))
        updates.append(
            (
                alone.upload(f"posts/{n}.md", f"Post {n}", date, tags=tags),
                together.upload(f"posts/{n}.md", f"Post {n}", date, tags=tags),
            )
        )
    for one, _ in updates:
        index_batch([one], alone.deps)
    index_batch([both for _, both in updates], together.deps)

    def site(world: World) -> dict[str, bytes]:
        return {key: obj.body for key, obj in world.site_store.objects.items()}

    assert site(alone) == site(together)
    assert alone.catalog.lists == together.catalog.lists

    def posts(world: World) -> dict[str, tuple[str, str, str]]:
        return {key: (post.slug, post.status, post.order) for key, post in world.catalog.posts.items()}

    assert posts(alone) == posts(together)


def test_a_large_batch_lists_the_current_versions_instead_of_a_head_each(world: World) -> None:
    heads = 0
    real_head = world.source.head

    def counted_head(key: str) -> object:
        nonlocal heads
        heads += 1
        return real_head(key)

    updates = [world.upload(f"posts/{n}.md", f"Post {n}", START - timedelta(hours=n)) for n in range(150)]
    world.source.head = counted_head  # type: ignore[method-assign]
    outcomes = index_batch(updates, world.deps)

    assert all(outcome.applied for outcome in outcomes)
    assert heads == 0  # one listing instead of 150 HEADs
    small = [world.upload("posts/0.md", "Post 0 again", START)]  # (the upload's own HEAD counts too)
    before = heads
    index_batch(small, world.deps)
    assert heads == before + 1  # a small batch: one HEAD is cheaper than a listing
