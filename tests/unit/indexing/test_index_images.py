"""Index and the images beside posts (issue 14): pages show published images as ``<picture>``
with sizes, whichever of the post and its image arrives first; a replaced image's old variants
go; a deleted one leaves the page as written, never broken; stale and duplicate image updates
change nothing; listings carry covers; a rebuild shows what Index showed."""

from __future__ import annotations

import re
from datetime import timedelta

from index_world import START, World

from pressline.adapters.store import MemoryStore
from pressline.indexing.images import image_blob, parse_record
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.rebuild import rebuild_site

PHOTO = "posts/2026/harbour.jpg"
SRC = "/media/2026/harbour.jpg"
BODY = f'<p>Dawn.</p><p><img src="{SRC}" alt="The harbour at dawn"></p>'
PAGE = "posts/harbour-walk/index.html"


def _publish_walk(world: World, **kwargs: object) -> None:
    outcome = world.publish("posts/2026/walk.md", "Harbour walk", START - timedelta(days=1), body=BODY, **kwargs)
    assert outcome.applied, outcome.reason


def _img_tags(html: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", html)


def _record(world: World, src: str = SRC) -> object:
    return parse_record(world.catalog.stored_blobs.get(image_blob(src)))


def test_a_post_published_before_its_image_shows_it_as_written_then_resized_when_it_lands() -> None:
    world = World()
    _publish_walk(world)
    page = world.text(PAGE)
    assert page is not None and f'src="{SRC}"' in page and "<picture>" not in page
    warnings = [w["message"] for w in world.report("posts/2026/walk.md")["warnings"]]
    assert any(SRC in w and "no published variants" in w for w in warnings), warnings

    outcome = world.apply(world.upload_image(PHOTO))
    assert outcome.applied, outcome.reason
    assert PAGE in outcome.written
    page = world.text(PAGE)
    assert page is not None and "<picture>" in page
    (img,) = _img_tags(page)
    for attribute in ("width=", "height=", "srcset=", "sizes=", 'alt="The harbour at dawn"'):
        assert attribute in img, (attribute, img)
    assert 'src="/media/2026/harbour-960w-v1.jpg"' in img
    assert '<source type="image/avif" srcset="/media/2026/harbour-480w-v1.avif 480w' in page
    assert _record(world).posts == ("posts/2026/walk.md",)  # type: ignore[attr-defined]


def test_an_image_published_before_its_post_is_resized_on_the_posts_first_page() -> None:
    world = World()
    assert world.apply(world.upload_image(PHOTO)).applied
    _publish_walk(world)
    page = world.text(PAGE)
    assert page is not None and "<picture>" in page and 'width="1600" height="1200"' in page
    assert not [w for w in world.report("posts/2026/walk.md")["warnings"] if w["field"] == "image"]


def test_a_replaced_image_replaces_its_variants_and_the_old_files_go() -> None:
    world = World()
    _publish_walk(world)
    world.apply(world.upload_image(PHOTO, tag="v1"))
    outcome = world.apply(world.upload_image(PHOTO, width=800, height=600, tag="v2"))
    assert outcome.applied
    page = world.text(PAGE)
    assert page is not None and "harbour-800w-v2" in page and "-v1." not in page
    assert world.site_store.head("media/2026/harbour-1600w-v1.avif") is None
    assert "media/2026/harbour-960w-v1.jpg" in outcome.deleted
    assert world.site_store.head("media/2026/harbour-800w-v2.jpg") is not None


def test_a_deleted_image_leaves_the_page_as_written_and_its_variants_go() -> None:
    world = World()
    _publish_walk(world)
    world.apply(world.upload_image(PHOTO))
    outcome = world.apply(world.remove_image(PHOTO))
    assert outcome.applied, outcome.reason
    page = world.text(PAGE)
    assert page is not None and "<picture>" not in page and f'src="{SRC}"' in page
    assert world.site_store.head("media/2026/harbour-480w-v1.webp") is None
    record = _record(world)
    assert record.image is None and record.posts == ("posts/2026/walk.md",)  # type: ignore[attr-defined]


def test_stale_and_duplicate_image_updates_change_nothing() -> None:
    world = World()
    _publish_walk(world)
    old = world.upload_image(PHOTO, tag="v1")
    new = world.upload_image(PHOTO, tag="v2")  # S3 now holds v2: v1's update is stale
    assert world.apply(new).applied
    before = world.text(PAGE)
    stale = world.apply(old)
    assert not stale.applied and stale.reason.startswith("stale")
    duplicate = world.apply(new)
    assert not duplicate.applied and duplicate.reason.startswith("duplicate")
    assert world.text(PAGE) == before and before is not None and "-v2." in before
    # A delete whose key was uploaded again since is stale too.
    gone = world.remove_image(PHOTO)
    world.apply(world.upload_image(PHOTO, tag="v3"))
    assert not world.apply(gone).applied


def test_a_post_that_stops_showing_an_image_leaves_its_record() -> None:
    world = World()
    _publish_walk(world)
    world.apply(world.upload_image(PHOTO))
    edited = world.publish("posts/2026/walk.md", "Harbour walk", START - timedelta(days=1), body="<p>No photo.</p>")
    assert edited.applied
    assert _record(world).posts == ()  # type: ignore[attr-defined]
    outcome = world.apply(world.upload_image(PHOTO, tag="v2"))
    assert PAGE not in outcome.written


def test_a_cover_is_in_the_listings_and_og_image_once_published() -> None:
    world = World()
    _publish_walk(world, image=SRC, tags=("photography",))
    page = world.text(PAGE)
    assert page is not None and 'og:image" content="https://blog.example/media/2026/harbour.jpg"' in page
    outcome = world.apply(world.upload_image(PHOTO))
    for written in ("index.html", PAGE, "tags/photography/index.html", "archive/2026/03/index.html"):
        assert written in outcome.written, (written, outcome.written)
    page = world.text(PAGE)
    assert page is not None and 'og:image" content="https://blog.example/media/2026/harbour-960w-v1.jpg"' in page
    month = world.catalog.lists["MONTH#2026-03"].entries[0]
    assert month.cover is not None and max(v.width for v in month.cover.variants) <= 960
    assert b"harbour-480w-v1" in world.catalog.stored_blobs["RECENT"].data()  # the home page's state


def test_a_neighbours_page_written_again_keeps_its_resized_images() -> None:
    world = World()
    _publish_walk(world)
    world.apply(world.upload_image(PHOTO))
    newer = world.publish("posts/2026/next.md", "Next walk", START - timedelta(hours=1))
    assert PAGE in newer.written  # its "next" link changed
    page = world.text(PAGE)
    assert page is not None and "<picture>" in page and "Next walk" in page


def test_a_rebuild_shows_the_images_as_index_did() -> None:
    world = World()
    _publish_walk(world, image=SRC, tags=("photography",))
    world.apply(world.upload_image(PHOTO))
    world.publish("posts/2026/other.md", "Other", START - timedelta(days=3), body="<p>No images.</p>")
    rebuilt = MemoryStore()
    catalog: MemoryCatalog = world.catalog
    rebuild_site(catalog, world.source, rebuilt, world.site, now=world.now)
    for key in (PAGE, "index.html", "tags/photography/index.html", "archive/2026/03/index.html"):
        incremental, again = world.site_store.get(key), rebuilt.get(key)
        assert incremental is not None and again is not None
        assert incremental.body == again.body, key
    assert image_blob(SRC) in catalog.stored_blobs  # a rebuild leaves the records alone
