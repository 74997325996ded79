"""Index and the images beside posts (issue 14): pages show published images as ``<picture>``
with sizes, whichever of the post and its image arrives first; a replaced image's old variants
go; a deleted one leaves the page as written, never broken; stale and duplicate image updates
change nothing; listings carry covers; a rebuild shows what Index showed."""

from __future__ import annotations

import os
import random
import re
from datetime import timedelta

import pytest
from index_world import START, World

from pressline.adapters.store import MemoryStore
from pressline.indexing.images import IMAGE_PREFIX, image_blob, parse_record
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.rebuild import rebuild_site
from pressline.models import IndexUpdate
from pressline.posts.paths import media_src
from pressline.posts.sanitize import sanitize_rendered

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
    (item,) = world.json("feed.json")["items"]
    assert item["image"] == "https://blog.example/media/2026/harbour-960w-v1.jpg"


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


# --------------------------------------------------------------------------- any order
SEEDS = int(os.environ.get("PRESSLINE_INDEX_SEEDS", "8"))
_URLS = re.compile(r'(?:src|srcset)="([^"]+)"')


def _random_history(world: World, rng: random.Random, steps: int) -> None:
    """Posts showing some of three images (in the body, as the cover), images uploaded again,
    deleted, and updates delivered twice or late, in any order."""
    posts = [f"posts/2026/p{n}.md" for n in range(6)]
    photos = [f"posts/2026/img{n}.jpg" for n in range(3)]
    sent: list[IndexUpdate] = []
    for step in range(steps):
        if rng.random() < 0.4:
            photo = rng.choice(photos)
            gone = world.source.head(photo) is not None and rng.random() < 0.3
            update = (
                world.remove_image(photo)
                if gone
                else world.upload_image(photo, width=rng.choice([400, 1600]), tag=f"t{step}")
            )
        else:
            key = rng.choice(posts)
            if world.source.head(key) is not None and rng.random() < 0.1:
                update = world.remove(key)
            else:
                shown = [media_src(p) for p in rng.sample(photos, rng.randint(0, 2))]
                written = "".join(f'<p><img src="{src}" alt="photo {i}"></p>' for i, src in enumerate(shown))
                body = sanitize_rendered(written or "<p>Text.</p>", key)  # as Render leaves it
                number = posts.index(key)
                update = world.upload(
                    key,
                    f"Post {number} take {step}",
                    START - timedelta(days=rng.randint(0, 40)),
                    slug=f"post-{number}",
                    tags=tuple(rng.sample(("photos", "city"), rng.randint(0, 2))),
                    body=body,
                    image=media_src(rng.choice(photos)) if rng.random() < 0.5 else None,
                    draft=rng.random() < 0.1,
                )
        sent.append(update)
        assert not world.apply(update).failed
        if rng.random() < 0.2:
            assert not world.apply(rng.choice(sent)).failed  # a duplicate, or a late and stale one


@pytest.mark.parametrize("seed", range(SEEDS))
def test_posts_and_images_in_any_order_leave_the_site_a_rebuild_makes(seed: int) -> None:
    rng = random.Random(seed)
    world = World()
    _random_history(world, rng, steps=50)
    # Last, one post and its image, in either order: the site ends with at least one resized image.
    src = media_src("posts/2026/img0.jpg")
    last = [
        world.upload_image("posts/2026/img0.jpg", tag="t-last"),
        world.upload("posts/2026/last.md", "Last", START, body=sanitize_rendered(f'<img src="{src}" alt="">', "k")),
    ]
    for update in rng.sample(last, 2):
        assert world.apply(update).applied

    catalog = MemoryCatalog()
    catalog.posts = dict(world.catalog.posts)
    catalog.stored_blobs = {n: b for n, b in world.catalog.stored_blobs.items() if n.startswith(IMAGE_PREFIX)}
    rebuilt = MemoryStore()
    rebuild_site(catalog, world.source, rebuilt, world.site, now=world.now)
    pages = {key: obj.body for key, obj in world.site_store.objects.items() if not key.startswith("media/")}
    assert sorted(pages) == sorted(rebuilt.objects)
    assert [key for key in pages if pages[key] != rebuilt.objects[key].body] == []
    assert any(b"<picture>" in body for body in pages.values())  # the history did show some resized
    # Every page names only variants that exist (the Image stage's files; Index deletes the retired ones).
    for key, body in pages.items():
        for value in _URLS.findall(body.decode()):
            for url in (part.strip().split(" ")[0] for part in value.split(",")):
                if url.startswith("/media/") and "w-t" in url:  # a variant (the helper's names: -<w>w-t<step>)
                    assert world.site_store.head(url.lstrip("/")) is not None, (key, url)


def test_feeds_carry_absolute_image_urls_that_every_reader_displays() -> None:
    world = World()
    _publish_walk(world)
    world.apply(world.upload_image(PHOTO))
    absolute = 'src="https://blog.example/media/2026/harbour.jpg"'  # the Image stage's stripped JPEG/PNG
    (item,) = world.json("feed.json")["items"]
    assert absolute in item["content_html"] and "<picture>" not in item["content_html"]
    for feed in ("feed.xml", "rss.xml"):
        text = world.text(feed)
        assert text is not None and absolute in text, feed  # inside escaped HTML: &lt;img src="..."
        assert 'src="/media' not in text
