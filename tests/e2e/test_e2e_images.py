"""Images as readers get them (issue 14), in Chromium on the local stack with the example posts:

- every ``<img>`` on every post page and the home page has width, height, srcset and sizes, and
  shows a resized variant, never the uploaded file;
- no layout shift (CLS 0) on the photo post and the home page, at 375 and 1280 px, while their
  images arrive late, and the same measure finds the shift an image without width and height makes;
- the cover at the top of the photo post, and beside it in the listings of the home page, its
  tag's page and its month's archive (a thumbnail of the width LISTING_SIZES promises), in light
  and dark mode, axe clean;
- a 375-px phone (DPR 1 and 2) downloads at most half the bytes of the originals.
"""

from __future__ import annotations

from typing import Any

import pytest
from pressline_e2e import axe
from pressline_e2e.browser import HEIGHT, new_context
from pressline_e2e.images import (
    PHONE_WIDTH,
    TARGET_SAVING,
    ImageGate,
    images_on,
    is_variant,
    layout_shift,
    load_whole_page,
    original_images,
    phone_visit,
    wait_for_images,
)
from pressline_e2e.pages import archive_path, goto, month_paths, tag_page_path
from pressline_e2e.stack import EXAMPLES, LocalSite, PublishedPost

pytestmark = pytest.mark.e2e

PHOTO_POST = "posts/a-photo-walk-along-the-harbour.md"
PHOTO = EXAMPLES / "harbour-at-dawn.png"
SCHEMES = ("light", "dark")
ROOT_FONT_PX = 16  # Chromium's default: the rem of LISTING_SIZES
COLUMN_PADDING_PX = 2.5 * ROOT_FONT_PX  # main's padding, both sides (the calc(100vw - 2.5rem))
THUMBNAIL_PX = 12 * ROOT_FONT_PX  # LISTING_SIZES from 36rem up


def photo_post(site: LocalSite) -> PublishedPost:
    for post in site.published:
        if post.key == PHOTO_POST:
            return post
    raise AssertionError(f"{PHOTO_POST} is not published: {site.reports.get(PHOTO_POST)}")


@pytest.fixture(scope="module", autouse=True)
def images_published(site: LocalSite) -> None:
    wait_for_images(site, photo_post(site).path)


@pytest.fixture
def phone(page: Any) -> Any:
    """The conftest's page at 375 px wide (a failed test's screenshot is kept, as for ``page``)."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": HEIGHT})
    return page


def test_every_image_has_its_size_and_sources_and_shows_a_variant(phone: Any, site: LocalSite) -> None:
    pages = ["/", *(post.path for post in site.published)]
    problems: list[str] = []
    counted = 0
    for path in pages:
        load_whole_page(phone, site.url(path))
        for image in images_on(phone):
            counted += 1
            missing = [name for name in ("width", "height", "srcset", "sizes") if not image[name]]
            if missing:
                problems.append(f"{path}: <img src={image['src']!r}> has no {', '.join(missing)}")
            if not is_variant(image["currentSrc"]):
                problems.append(f"{path}: <img src={image['src']!r}> shows {image['currentSrc']!r}, not a variant")
            if image["naturalWidth"] == 0:
                problems.append(f"{path}: <img src={image['src']!r}> did not load")
    assert not problems, "\n".join(problems)
    # The photo post has a cover and a body image, and the home page its cover: not a vacuous pass.
    assert counted >= 3, f"only {counted} images on {pages}"


@pytest.mark.parametrize("width", [PHONE_WIDTH, 1280])
@pytest.mark.parametrize("which", ["photo post", "home"])
def test_no_layout_shift_while_the_images_arrive(browser: Any, site: LocalSite, which: str, width: int) -> None:
    path = photo_post(site).path if which == "photo post" else "/"
    context = new_context(browser, width=width)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        gate = ImageGate()
        gate.install(page)
        shift = layout_shift(page, site.url(path), gate)
        assert images_on(page), f"{path} has no image: nothing was measured"
    finally:
        context.close()
    assert shift == 0, f"{path} at {width} px: cumulative layout shift {shift:.4f} while its images arrived"


@pytest.mark.parametrize("sized", [False, True], ids=["without width and height", "with width and height"])
def test_the_layout_shift_measure_finds_an_image_without_its_size(phone: Any, site: LocalSite, sized: bool) -> None:
    """The same measure on a page of the site's origin made here: text, the photo, more text.
    Without width and height the photo pushes the text below it down when it arrives (CLS > 0);
    with them its room is kept (CLS 0). So the CLS 0 above is a result, not the measure's blind spot."""
    gate = ImageGate()
    gate.install(phone)
    size = ' width="320" height="180"' if sized else ""
    document = (
        "<!doctype html><html lang='en'><head><meta name='viewport' content='width=device-width'>"
        "<style>img { max-width: 100%; height: auto; }</style></head><body>"
        f"<p>Above the photo.</p><img src='photo.png' alt='The harbour'{size}><p>Below the photo.</p></body></html>"
    )
    photo = PHOTO.read_bytes()
    # Registered after the gate, so it answers first; its image still waits for the gate.
    phone.route("**/cls-self-test/page.html", lambda route: route.fulfill(body=document, content_type="text/html"))
    phone.route(
        "**/cls-self-test/photo.png",
        lambda route: gate.defer(lambda: route.fulfill(body=photo, content_type="image/png")),
    )
    shift = layout_shift(phone, site.url("/cls-self-test/page.html"), gate)
    if sized:
        assert shift == 0, f"an image with width and height shifted the page by {shift:.4f}"
    else:
        assert shift > 0, "an image without width and height arrived late and the measure saw no shift"


def _month_listing(page: Any, site: LocalSite, post: PublishedPost) -> str:
    """The archive's month page that lists ``post``, found from the archive's links."""
    for month in month_paths(page, site, archive_path(page, site)):
        goto(page, site, month)
        if page.locator(f"main h2 a[href='{post.path}']").count():
            return month
    raise AssertionError(f"no month of the archive lists {post.path}")


def _assert_no_violations(page: Any, where: str) -> None:
    found = axe.violations(page)
    assert not found, f"axe on {where}:\n{axe.describe(found)}"


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not laid out"
    return dict(box)


def _cover_shown(image: Any, where: str) -> dict[str, float]:
    image.scroll_into_view_if_needed()
    image.wait_for(state="visible")
    assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"{where}: the cover did not load"
    box = _box(image)
    assert box["width"] > 0 and box["height"] > 0, f"{where}: the cover has no size {box}"
    return box


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", [PHONE_WIDTH, 1280])
def test_the_cover_shows_on_the_post_and_beside_it_in_listings(
    browser: Any, site: LocalSite, scheme: str, width: int
) -> None:
    post = photo_post(site)
    context = new_context(browser, width=width, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # The post: the cover between its header and its body.
        goto(page, site, post.path)
        cover = page.locator("article figure.cover img")
        assert cover.count() == 1, f"{post.path} ({scheme}, {width} px): no cover"
        cover_box = _cover_shown(cover, f"{post.path} ({scheme}, {width} px)")
        header, body = _box(page.locator("article .post-header")), _box(page.locator("article .post-body"))
        assert header["y"] + header["height"] <= cover_box["y"] + 1, "the cover is not below the post's header"
        assert cover_box["y"] + cover_box["height"] <= body["y"] + 1, "the cover is not above the post's body"
        _assert_no_violations(page, f"{post.path} ({scheme}, {width} px)")

        # The listings: the home page, the post's first tag's page and its month's archive.
        tag = tag_page_path(page, site, post, post.tags[0])
        month = _month_listing(page, site, post)
        for listing in ("/", tag, month):
            where = f"{listing} ({scheme}, {width} px)"
            goto(page, site, listing)
            entry = page.locator("li.h-entry", has=page.locator(f"h2 a[href='{post.path}']"))
            assert entry.count() == 1, f"{where}: no entry for {post.path}"
            thumbnail = _cover_shown(entry.locator(".entry-cover img"), where)
            title = _box(entry.locator("h2"))
            column = page.evaluate("() => document.querySelector('main').clientWidth")
            if width > 36 * ROOT_FONT_PX:
                # Beside the text, as wide as LISTING_SIZES says (12rem).
                assert abs(thumbnail["width"] - THUMBNAIL_PX) <= 1, f"{where}: thumbnail {thumbnail['width']} px"
                assert thumbnail["x"] + thumbnail["width"] <= title["x"], f"{where}: the cover is not beside the title"
            else:
                # Above the text, the column's width: calc(100vw - 2.5rem).
                assert abs(thumbnail["width"] - (column - COLUMN_PADDING_PX)) <= 1, f"{where}: {thumbnail['width']} px"
                assert thumbnail["y"] + thumbnail["height"] <= title["y"], f"{where}: the cover is not above the title"
            # The entries without a cover have no empty room for one.
            assert page.locator("li.h-entry:not(.with-cover) .entry-cover").count() == 0
            _assert_no_violations(page, where)
    finally:
        context.close()


@pytest.mark.parametrize("dpr", [1, 2])
def test_a_phone_downloads_at_most_half_the_originals_bytes(browser: Any, site: LocalSite, dpr: int) -> None:
    rows = []
    total_downloaded = total_original = 0
    for post in site.published:
        originals = original_images(post)
        if not originals:
            continue
        with phone_visit(browser, site.url(post.path), dpr=dpr, timeout_ms=15_000) as (_, received):
            downloaded = sum(received.by_url.values())
        original = sum(originals.values())
        rows.append(f"{post.path}: {downloaded:,} bytes downloaded, originals {original:,} ({', '.join(originals)})")
        assert downloaded > 0, f"{post.path}: no image downloaded at all ({received.by_url})"
        assert all(is_variant(url) for url in received.by_url), f"{post.path}: {sorted(received.by_url)}"
        assert downloaded <= TARGET_SAVING * original, "\n".join(rows)
        total_downloaded += downloaded
        total_original += original
    assert rows, "no example post shows an image from examples/posts/"
    print(f"\nDPR {dpr}: " + "; ".join(rows))
    saving = 1 - total_downloaded / total_original
    print(f"DPR {dpr}: {total_downloaded:,} of {total_original:,} bytes, {saving:.0%} less")
