"""Index's redirects under at-least-once delivery: random batches of posts that gain, change,
share and lose aliases (some at other posts' addresses), with duplicated, reordered and stale
events, leave exactly the redirect objects ``pressline rebuild`` makes from the catalog, and
every alias claim in the catalog is held by the post that keeps that alias."""

from __future__ import annotations

import os
import random
from datetime import timedelta

import pytest
from index_world import START, World
from test_index_batches import deliver
from test_redirects import upload_page

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.pages import PAGES_BLOB, load_pages
from pressline.indexing.rebuild import rebuild_site
from pressline.indexing.redirects import CLAIM_PREFIX, alias_key, claim_name
from pressline.models import IndexUpdate
from pressline.stages.scheduler import SchedulerDeps, publish_due

SEEDS = int(os.environ.get("PRESSLINE_INDEX_SEEDS", "8"))
POSTS = 20
# Few enough that posts fight over them; some are post addresses another post may take later.
ALIASES = (
    *(f"/20{n:02d}/05/old-{n}/" for n in range(6)),
    "/old.html",
    "/about",  # also a static page's address, now and then
    "/contact/",
    *(f"/posts/post-{n}-a/" for n in range(4)),
)


def author(world: World, rng: random.Random, key: str, number: int) -> IndexUpdate:
    if rng.random() < 0.08:  # a static page comes or goes where an alias may be
        name = rng.choice(("about", "contact"))
        if rng.random() < 0.4 and world.source.head(f"pages/{name}.md") is not None:
            return world.remove(f"pages/{name}.md")
        aliases = tuple(rng.sample(ALIASES, rng.randint(0, 2)))
        return upload_page(
            world, name, f"Page {name} take {rng.randint(0, 99)}", aliases=aliases, draft=rng.random() < 0.1
        )
    if rng.random() < 0.12 and world.source.head(key) is not None:
        return world.remove(key)
    date = START - timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23))
    if rng.random() < 0.07:
        date = START + timedelta(hours=rng.randint(1, 48))  # scheduled
    return world.upload(
        key,
        f"Post {number} take {rng.randint(0, 99)}",
        date,
        slug=f"post-{number}-{rng.choice('ab')}",
        draft=rng.random() < 0.08,
        carry=rng.random() < 0.8,
        aliases=tuple(rng.sample(ALIASES, rng.randint(0, 3))),
    )


def objects(store: MemoryStore) -> dict[str, tuple[bytes, str | None]]:
    return {key: (obj.body, obj.redirect) for key, obj in store.objects.items()}


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_batches_with_aliases_leave_the_redirects_a_rebuild_makes(seed: int) -> None:
    rng = random.Random(seed)
    world = World()
    keys = [f"posts/{n}.md" for n in range(POSTS)]
    pending: list[IndexUpdate] = []
    sent: list[IndexUpdate] = []
    for _ in range(POSTS * 5):
        number = rng.randrange(POSTS)
        pending.append(author(world, rng, keys[number], number))
        if rng.random() < 0.2:
            deliver(world, rng, pending, sent)
        if rng.random() < 0.05:
            world.later(hours=rng.randint(1, 30))
            scheduler = SchedulerDeps(world.catalog, MemoryQueue(), "source-bucket", clock=lambda: world.now)
            pending += publish_due(scheduler)
    while pending:
        deliver(world, rng, pending, sent)

    # Every claim is held by the one post that keeps the alias, and every kept alias is claimed.
    claims = {name: owner for name, owner in world.catalog.slugs.items() if name.startswith(CLAIM_PREFIX)}
    pages = load_pages(world.catalog.stored_blobs.get(PAGES_BLOB)).pages.values()
    kept = {
        claim_name(key): item.source_key
        for item in [*world.catalog.posts.values(), *pages]
        for path in item.aliases
        if (key := alias_key(path)) is not None
    }
    assert claims == kept

    catalog = MemoryCatalog()
    catalog.posts = dict(world.catalog.posts)
    if PAGES_BLOB in world.catalog.stored_blobs:  # the static pages' record
        catalog.stored_blobs[PAGES_BLOB] = world.catalog.stored_blobs[PAGES_BLOB]
    source = MemoryStore()
    source.objects = dict(world.source.objects)
    rebuilt = MemoryStore()
    rebuild_site(catalog, source, rebuilt, world.site, now=world.now)
    incremental, regenerated = objects(world.site_store), objects(rebuilt)
    assert sorted(incremental) == sorted(regenerated)
    assert [key for key in regenerated if incremental[key] != regenerated[key]] == []
    assert any(redirect for _, redirect in regenerated.values())  # the property saw redirects at all
