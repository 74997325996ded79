"""Where Index keeps its working state, and what each place costs.

The rendered post comes inside the update when Render could carry it; the newest-posts
state and each month's search shard live in the catalog (read in the snapshot, written in
the commit). A state too large for the catalog goes to S3, and a catalog from before the
state lived there is read from S3 once. Whichever place, the site is the same.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from index_world import START, World

from pressline.errors import RetryableError
from pressline.indexing import catalog as catalog_module
from pressline.indexing import layout
from pressline.indexing.catalog import RECENT_BLOB, Blob, Recent, search_blob
from pressline.models import IndexUpdate
from pressline.posts.paths import rendered_key


def _publish_many(world: World, count: int, *, first: int = 0) -> None:
    for n in range(first, first + count):
        date = START - timedelta(days=40) + timedelta(days=n)
        body = "<p>" + " ".join(f"word{n}x{i}" for i in range(80)) + "</p>"
        outcome = world.publish(f"posts/{n}.md", f"Post {n}", date, tags=("news", f"t{n % 3}"), body=body)
        assert outcome.applied, outcome.reason


def _site(world: World) -> dict[str, bytes]:
    return {key: stored.body for key, stored in world.site_store.objects.items()}


def test_a_carried_rendering_spares_index_the_read(world: World) -> None:
    update = world.upload("posts/a.md", "Alpha", START - timedelta(days=1))
    world.source.delete(rendered_key(update.source))  # Index must not need it
    assert world.apply(update).applied
    assert "Alpha" in (world.text("posts/alpha/index.html") or "")


def test_a_rendering_carried_for_another_version_is_not_used(world: World) -> None:
    old = world.upload("posts/a.md", "Old title", START - timedelta(days=1), slug="a")
    new = world.upload("posts/a.md", "New title", START - timedelta(days=1), slug="a", carry=False)
    mixed = IndexUpdate(action="upsert", source=new.source, slug="a", rendered=old.rendered)
    assert world.apply(mixed).applied
    page = world.text("posts/a/index.html") or ""
    assert "New title" in page and "Old title" not in page  # read from the stored rendering of its version


def test_without_a_carried_rendering_the_stored_one_is_read(world: World) -> None:
    assert world.apply(world.upload("posts/a.md", "Alpha", START - timedelta(days=1), carry=False)).applied
    assert "Alpha" in (world.text("posts/alpha/index.html") or "")


def test_newest_posts_and_search_shards_live_in_the_catalog(world: World) -> None:
    _publish_many(world, 5)
    assert world.source.get(layout.RECENT_STATE) is None  # nothing in S3 but the public shard
    recent = Recent.model_validate_json(world.catalog.stored_blobs[RECENT_BLOB].data())
    assert [item.post.title for item in recent.posts] == [f"Post {n}" for n in reversed(range(5))]
    months = {key.removeprefix("SEARCH#") for key in world.catalog.stored_blobs if key.startswith("SEARCH#")}
    assert months == set(world.catalog.summary.months)
    for month in months:
        public = world.site_store.get(layout.search_shard_key(month))
        assert public is not None and public.body == world.catalog.stored_blobs[search_blob(month)].data()


def test_a_month_that_empties_drops_its_search_state(world: World) -> None:
    update = world.upload("posts/only.md", "Only", START - timedelta(days=400))
    world.apply(update)
    [month] = world.catalog.summary.months
    assert search_blob(month) in world.catalog.stored_blobs
    world.apply(world.remove("posts/only.md"))
    assert search_blob(month) not in world.catalog.stored_blobs
    assert world.site_store.get(layout.search_shard_key(month)) is None


def test_state_too_large_for_the_catalog_goes_to_s3_and_the_site_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = World()
    _publish_many(reference, 25)
    monkeypatch.setattr(catalog_module, "BLOB_LIMIT", 10)  # every blob is "too large"
    small = World()
    _publish_many(small, 25)
    assert all(blob.external for blob in small.catalog.stored_blobs.values())
    assert small.source.get(layout.RECENT_STATE) is not None
    assert _site(small) == _site(reference)


def test_a_catalog_from_before_the_state_lived_there_is_read_from_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    """An older deployment kept the state in S3 only: the first update reads it there, and
    the site goes on exactly as if it had always been in the catalog."""
    reference = World()
    _publish_many(reference, 30)
    old = World()
    with monkeypatch.context() as patch:
        patch.setattr(catalog_module, "BLOB_LIMIT", 10)  # state written to S3, as before
        _publish_many(old, 25)
    old.catalog.stored_blobs.clear()  # ... and never to the catalog
    _publish_many(old, 5, first=25)
    assert _site(old) == _site(reference)
    assert not any(blob.external for blob in old.catalog.stored_blobs.values())


def test_a_blob_round_trips_and_knows_when_it_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"posts": []}' * 100
    blob = Blob.of(data)
    assert not blob.external and blob.data() == data
    assert blob.packed is not None and len(blob.packed) < len(data)  # compressed
    monkeypatch.setattr(catalog_module, "BLOB_LIMIT", 5)
    big = Blob.of(data)
    assert big.external
    with pytest.raises(ValueError, match="in S3"):
        big.data()


@pytest.mark.parametrize("change", ["delete", "draft"])
def test_taking_a_post_down_reads_the_newest_posts_from_the_catalog(
    world: World, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    _publish_many(world, 5)
    if change == "delete":
        update = world.remove("posts/4.md")
    else:
        update = world.upload("posts/4.md", "Post 4", START - timedelta(days=36), draft=True)
    assert world.apply(update).applied
    assert "state missing" not in caplog.text  # no fallback to rebuilding it from the catalog
    assert "Post 4" not in (world.text("feed.json") or "")
    recent = Recent.model_validate_json(world.catalog.stored_blobs[RECENT_BLOB].data())
    assert [item.post.title for item in recent.posts] == ["Post 3", "Post 2", "Post 1", "Post 0"]


def test_a_failed_page_write_fails_the_change_before_its_announcement_and_commit(world: World) -> None:
    """Index writes a change's pages in parallel: one failure among them still stops the
    change before anything that says it happened, and the retry makes the same site."""
    from pressline.adapters import buffered

    assert buffered.PARALLEL_WRITES > 1
    real_put = world.site_store.put

    def failing_put(key: str, body: bytes, content_type: str, cache_control: str | None = None, **kw: bool) -> bool:
        if key == "feed.xml":
            raise RetryableError("S3 put_object feed.xml: SlowDown")
        return real_put(key, body, content_type, cache_control, **kw)

    world.site_store.put = failing_put  # type: ignore[method-assign]
    update = world.upload("posts/a.md", "Alpha", START - timedelta(days=1))
    with pytest.raises(RetryableError, match="SlowDown"):
        world.apply(update)
    assert world.catalog.commits == 0 and world.announcements() == []
    assert world.site_store.get("posts/alpha/index.html") is not None  # the other writes went ahead

    world.site_store.put = real_put  # type: ignore[method-assign]
    assert world.apply(update).applied
    assert len(world.announcements()) == 1 and "Alpha" in (world.text("feed.xml") or "")
