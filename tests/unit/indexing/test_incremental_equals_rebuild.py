"""The heart of constant cost: updating only the pages a change touches must leave the
site exactly as a full rebuild from the catalog would. Random histories of uploads,
edits (new dates, titles, tags), drafts, schedules, deletes, duplicates and stale
redeliveries are applied one by one; then ``rebuild_site`` regenerates everything into a
second bucket, and every object must be byte-identical."""

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
from pressline.stages.scheduler import SchedulerDeps, publish_due

# More histories on demand: PRESSLINE_INDEX_SEEDS=500 pytest tests/unit/indexing
SEEDS = int(os.environ.get("PRESSLINE_INDEX_SEEDS", "8"))
TAGS = ("python", "aws", "Go", "notes", "travel")


def random_history(world: World, rng: random.Random, steps: int, posts: int = 12) -> None:
    keys = [f"posts/{n}.md" for n in range(posts)]
    sent: list[IndexUpdate] = []
    for _ in range(steps):
        key = rng.choice(keys)
        roll = rng.random()
        if roll < 0.12 and world.source.head(key) is not None:
            update = world.remove(key)
        else:
            number = keys.index(key)
            date = START - timedelta(days=rng.randint(0, 75 if posts < 20 else 1000), hours=rng.randint(0, 23))
            if roll > 0.93:
                date = START + timedelta(hours=rng.randint(1, 48))  # scheduled
            update = world.upload(
                key,
                f"Post {number} take {rng.randint(0, 99)}",
                date,
                slug=f"post-{number}-{rng.choice('ab')}",  # slugs change on some edits
                tags=tuple(rng.sample(TAGS, rng.randint(0, 3))),
                draft=rng.random() < 0.08,
            )
        sent.append(update)
        world.apply(update)
        if rng.random() < 0.2:  # a duplicate or a late, stale redelivery
            world.apply(rng.choice(sent))
        if rng.random() < 0.1:
            world.later(hours=rng.randint(1, 30))  # the clock moves: scheduled posts fall due
            scheduler = SchedulerDeps(world.catalog, MemoryQueue(), "source-bucket", clock=lambda: world.now)
            for due in publish_due(scheduler):
                world.apply(due)


@pytest.mark.parametrize("posts", [12, 45])  # 45: more than the newest twenty, so feeds refill
@pytest.mark.parametrize("seed", range(SEEDS))
def test_incremental_updates_equal_a_full_rebuild(seed: int, posts: int) -> None:
    rng = random.Random(seed)
    world = World()
    random_history(world, rng, steps=60 if posts < 20 else 160, posts=posts)

    rebuilt = MemoryStore()
    catalog = MemoryCatalog()
    catalog.posts = dict(world.catalog.posts)
    source = MemoryStore()
    source.objects = dict(world.source.objects)
    rebuild_site(catalog, source, rebuilt, world.site, now=world.now)

    assert catalog.summary == world.catalog.summary
    assert catalog.lists == world.catalog.lists
    incremental = {key: obj.body for key, obj in world.site_store.objects.items()}
    regenerated = {key: obj.body for key, obj in rebuilt.objects.items()}
    assert sorted(incremental) == sorted(regenerated)
    different = [key for key in regenerated if incremental[key] != regenerated[key]]
    assert different == []
