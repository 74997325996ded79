"""pressline.site.responsive as the pages will call it: <picture> markup, the first-eager rule,
missing images warned and left as they are, every other byte kept, and nothing unsafe written."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressline.images import image_set, process
from pressline.posts.markdown import markdown_to_html
from pressline.posts.sanitize import sanitize, sanitize_rendered
from pressline.site.responsive import (
    CONTENT_SIZES,
    LISTING_SIZES,
    ImageSet,
    ImageVariant,
    cover,
    responsive,
    share_url,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "images"))

import make_images
from html_safety import assert_safe

# Derandomized, as tests/fuzz/conftest.py's ci profile: a red build is reproducible.
PROPERTY = settings(max_examples=200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def variant_set(src: str, width: int, height: int, *, fallback: str = "jpeg", widths: tuple[int, ...] = ()) -> ImageSet:
    """A manifest entry as ``image_set`` makes it, without encoding any pixels."""
    stem = src.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    folder = src.rsplit("/", 1)[0]
    widths = widths or tuple(sorted({w for w in (480, 960, 1600) if w < width} | {min(width, 1600)}))
    extension = {"jpeg": "jpg", "png": "png"}[fallback]
    variants = tuple(
        ImageVariant(
            content_type=f"image/{kind}",
            width=w,
            height=round(height * w / width),
            url=f"{folder}/{stem}-{w}w-abcd1234.{ext}",
        )
        for w in widths
        for kind, ext in (("avif", "avif"), ("webp", "webp"), (fallback, extension))
    )
    return ImageSet(src=src, width=width, height=height, fallback=f"image/{fallback}", variants=variants)


HARBOUR = variant_set("/media/2026/harbour.jpg", 2000, 1500)
BODY = (
    '<p>Hi</p>\n<p><img src="/media/2026/harbour.jpg" alt="A harbour" title="At dusk" loading="lazy" '
    'decoding="async"></p>\n'
)


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, as a browser reads them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def of(self, name: str) -> list[dict[str, str | None]]:
        return [attributes for tag, attributes in self.tags if tag == name]


def test_one_image_becomes_a_picture_in_avif_webp_and_jpeg() -> None:
    result = responsive(BODY, {HARBOUR.src: HARBOUR})

    sizes = html.escape(CONTENT_SIZES, quote=True)

    def srcset(ext: str) -> str:
        return ", ".join(f"/media/2026/harbour-{w}w-abcd1234.{ext} {w}w" for w in (480, 960, 1600))

    assert result.warnings == []
    assert result.html == (
        "<p>Hi</p>\n<p><picture>"
        f'<source type="image/avif" srcset="{srcset("avif")}" sizes="{sizes}">'
        f'<source type="image/webp" srcset="{srcset("webp")}" sizes="{sizes}">'
        f'<img src="/media/2026/harbour-960w-abcd1234.jpg" srcset="{srcset("jpg")}" sizes="{sizes}" '
        'width="2000" height="1500" alt="A harbour" title="At dusk" fetchpriority="high" decoding="async">'
        "</picture></p>\n"
    )


def test_the_content_sizes_match_the_column_of_style_css() -> None:
    style = (Path(__file__).resolve().parents[3] / "shared/pressline/site/templates/style.css").read_text()
    # The column: main's max width (--measure) less its padding, in border-box; and img scales
    # down with its aspect ratio kept, so width/height reserve the box (no layout shift).
    assert re.search(r"--measure:\s*42rem", style)
    assert re.search(r"main \{ max-width: var\(--measure\);[^}]*padding: 0 1\.25rem", style)
    assert "box-sizing: border-box" in style
    assert re.search(r"img \{ max-width: 100%; height: auto; \}", style)
    assert CONTENT_SIZES == "(max-width: 42rem) calc(100vw - 2.5rem), 39.5rem"


def test_a_real_upload_through_process_and_the_sanitizer() -> None:
    photo = make_images.photo_with_gps((1700, 1275))
    result = process(photo, "posts/2026/harbour.jpg")
    entry = image_set(result, "/media/2026/", src="/media/2026/harbour.jpg")
    body = sanitize(markdown_to_html("Intro\n\n![A harbour](harbour.jpg)\n"), "posts/2026/harbour.md")

    page = responsive(body, {entry.src: entry})

    assert page.warnings == []
    (picture_img,) = Elements(page.html).of("img")
    sources = Elements(page.html).of("source")
    assert [s["type"] for s in sources] == ["image/avif", "image/webp"]
    names = {variant.name for variant in result.variants}
    for srcset in [s["srcset"] for s in sources] + [picture_img["srcset"]]:
        assert srcset is not None
        entries = [item.split(" ") for item in srcset.split(", ")]
        assert [descriptor for _, descriptor in entries] == ["480w", "960w", "1600w"]
        assert all(url.removeprefix("/media/2026/") in names for url, _ in entries)
    assert picture_img["width"] == "1700" and picture_img["height"] == "1275"
    assert picture_img["src"] == "/media/2026/" + result.of_format("jpeg")[1].name  # the 960 one
    assert picture_img["alt"] == "A harbour"
    assert share_url(entry, "https://blog.example.com/") == "https://blog.example.com/media/2026/" + (
        result.of_format("jpeg")[1].name
    )


def test_only_the_first_image_loads_eagerly() -> None:
    boats = variant_set("/media/2026/boats.jpg", 1200, 800)
    body = BODY + '<p><img src="/media/2026/boats.jpg" alt="Boats" loading="lazy" decoding="async"></p>\n' * 2
    images = {HARBOUR.src: HARBOUR, boats.src: boats}

    first, *rest = Elements(responsive(body, images).html).of("img")
    assert first.get("fetchpriority") == "high" and "loading" not in first
    assert len(rest) == 2 and all(img["loading"] == "lazy" and "fetchpriority" not in img for img in rest)

    # A page with a cover above its body: every body image is lazy.
    imgs = Elements(responsive(body, images, eager_first=False).html).of("img")
    assert [img["loading"] for img in imgs] == ["lazy"] * 3 and not any("fetchpriority" in img for img in imgs)


def test_a_missing_image_is_left_as_it_is_with_one_warning() -> None:
    missing = '<p><img src="/media/2026/not-yet.png" alt="Soon" loading="lazy" decoding="async"></p>\n'
    external = '<p><img src="https://cdn.example.com/a.png" alt="e" loading="lazy" decoding="async"></p>\n'
    body = missing + BODY + missing + external

    result = responsive(body, {HARBOUR.src: HARBOUR})

    assert result.html.count(missing) == 2 and result.html.endswith(external)
    assert result.html.count("<picture>") == 1
    (warning,) = result.warnings  # one for the path, however often it appears; none for the external one
    assert warning.field == "image"
    assert "/media/2026/not-yet.png" in warning.message and "once it is uploaded" in warning.message
    # The first <img> of the body is the missing one: the harbour, second, is lazy.
    assert Elements(result.html).of("img")[1]["loading"] == "lazy"


def test_a_second_pass_changes_nothing() -> None:
    boats = variant_set("/media/2026/boats.jpg", 1200, 800)
    images = {HARBOUR.src: HARBOUR, boats.src: boats}
    once = responsive(BODY + '<img src="/media/2026/boats.jpg" alt="">', images)
    twice = responsive(once.html, images)
    assert twice.html == once.html and twice.warnings == []
    assert once.html.count("<picture>") == 2 and once.html.count('fetchpriority="high"') == 1


def test_the_size_the_author_gave_is_kept_with_the_aspect_ratio() -> None:
    cases = {
        'width="400"': ("400", "300", "400px"),
        'height="150"': ("200", "150", "200px"),
        'width="400" height="100"': ("400", "100", "400px"),  # both: the author's choice
        'width="50%"': ("2000", "1500", CONTENT_SIZES),  # not pixels: the image's own size
        'width="' + "9" * 5000 + '"': ("2000", "1500", CONTENT_SIZES),
    }
    for given_size, (width, height, sizes) in cases.items():
        body = f'<img src="/media/2026/harbour.jpg" alt="" {given_size}>'
        (img,) = Elements(responsive(body, {HARBOUR.src: HARBOUR}).html).of("img")
        assert (img["width"], img["height"], img["sizes"]) == (width, height, sizes), given_size[:40]


def test_a_manifest_entry_without_a_fallback_leaves_the_image_as_it_is() -> None:
    modern_only = HARBOUR.model_copy(
        update={"variants": tuple(v for v in HARBOUR.variants if v.content_type != "image/jpeg")}
    )
    result = responsive(BODY, {HARBOUR.src: modern_only})
    assert result.html == BODY
    (warning,) = result.warnings
    assert "no JPEG or PNG variant" in warning.message and HARBOUR.src in warning.message


def test_an_image_narrower_than_480_has_one_width() -> None:
    icon = variant_set("/media/2026/icon.png", 300, 200, fallback="png")
    result = responsive('<img src="/media/2026/icon.png" alt="">', {icon.src: icon})

    (img,) = Elements(result.html).of("img")
    assert img["srcset"] == "/media/2026/icon-300w-abcd1234.png 300w"
    assert img["src"] == "/media/2026/icon-300w-abcd1234.png"
    assert img["width"] == "300" and img["height"] == "200" and img["alt"] == ""
    assert [s["srcset"] for s in Elements(result.html).of("source")] == [
        "/media/2026/icon-300w-abcd1234.avif 300w",
        "/media/2026/icon-300w-abcd1234.webp 300w",
    ]


def test_a_transparent_png_falls_back_to_png() -> None:
    result = process(make_images.transparent_palette_png(), "posts/logo.png")
    entry = image_set(result, "/media", src="/media/logo.png")
    assert entry.fallback == "image/png"

    (img,) = Elements(responsive('<img src="/media/logo.png" alt="Logo">', {entry.src: entry}).html).of("img")
    assert img["src"] is not None and img["src"].endswith(".png") and img["src"].startswith("/media/logo-")
    assert share_url(entry, "https://blog.example.com") == "https://blog.example.com" + img["src"]


def test_a_refused_upload_has_no_manifest_entry() -> None:
    with pytest.raises(ValueError, match="refused"):
        image_set(process(b"<svg></svg>", "posts/x.svg"), "/media/", src="/media/x.svg")


def test_cover_markup_for_the_post_page_and_for_listings() -> None:
    top = Elements(cover(HARBOUR, 'A "harbour" <at> dusk', eager=True))
    (img,) = top.of("img")
    assert img["alt"] == 'A "harbour" <at> dusk' and img["fetchpriority"] == "high" and "loading" not in img
    assert img["sizes"] == CONTENT_SIZES

    (listed,) = Elements(cover(HARBOUR, "A harbour", eager=False, sizes=LISTING_SIZES)).of("img")
    assert listed["loading"] == "lazy" and listed["sizes"] == LISTING_SIZES
    assert listed["width"] == "2000" and listed["height"] == "1500"


def test_share_url_is_the_widest_fallback_up_to_1200() -> None:
    assert (
        share_url(HARBOUR, "https://blog.example.com/")
        == "https://blog.example.com/media/2026/harbour-960w-abcd1234.jpg"
    )
    big = variant_set("/media/big.jpg", 3000, 2000, widths=(480, 1200, 1600))
    assert share_url(big, "https://blog.example.com") == "https://blog.example.com/media/big-1200w-abcd1234.jpg"
    only_wide = variant_set("/media/w.jpg", 3000, 2000, widths=(1600,))
    assert share_url(only_wide, "https://blog.example.com") is None


HOSTILE_TEXT = [
    '"><script>alert(1)</script>',
    "' onerror='alert(1)",
    "javascript:alert(1)",
    "</picture><img src=x onerror=alert(1)>",
    "&quot; onload=&quot;x",
]
HOSTILE_URLS = [
    "javascript:alert(1)",
    '/media/a.jpg" onerror="alert(1)',
    "/media/a.jpg 1w, javascript:alert(1)",
    "//evil.example.com/a.jpg",
    "/media/<script>.jpg",
    "data:image/png;base64,AAAA",
    "http://plain.example.com/a.jpg",
    "/media/java\tscript:x.jpg",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_hostile_alt_and_title_stay_text(text: str) -> None:
    escaped = html.escape(text, quote=True)
    body = f'<p><img src="/media/2026/harbour.jpg" alt="{escaped}" title="{escaped}"></p>'
    result = responsive(body, {HARBOUR.src: HARBOUR})
    assert_safe(result.html, "responsive body")
    (img,) = Elements(result.html).of("img")
    assert img["alt"] == text and img["title"] == text
    assert_safe(cover(HARBOUR, text, eager=True), "cover")


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_manifest_url_leaves_the_image_as_it_is(url: str) -> None:
    good = HARBOUR.variants
    bad = HARBOUR.model_copy(update={"variants": (good[0].model_copy(update={"url": url}), *good[1:])})

    result = responsive(BODY, {bad.src: bad})

    assert result.html == BODY
    (warning,) = result.warnings
    assert warning.field == "image" and "not a site path or an https URL" in warning.message
    assert cover(bad, "x", eager=True) == ""
    assert_safe(result.html)


def test_nh3_strips_the_picture_markup_so_responsive_runs_after_sanitizing() -> None:
    once = responsive(BODY, {HARBOUR.src: HARBOUR}).html
    resanitized = sanitize_rendered(once, "posts/2026/harbour.md")
    # If this fails, the project's sanitizer now keeps <picture>: the order constraint in
    # responsive's docstring can be relaxed.
    assert "<picture" not in resanitized and "<source" not in resanitized and "srcset" not in resanitized
    # The intended order: the stored body sanitized again first, then made responsive.
    assert responsive(sanitize_rendered(BODY, "posts/2026/harbour.md"), {HARBOUR.src: HARBOUR}).html == once


def test_the_page_markup_needs_no_pillow() -> None:
    # Index will import it from the shared layer, which has no Pillow (and no pressline.images).
    code = "import sys, pressline.site.responsive; print('PIL' in sys.modules, 'pressline.images' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False False"
    )


# Random bodies shaped like the sanitizer's output: escaped text between allowed tags, and
# images that are in the manifest, missing or external.
TEXT = st.text(alphabet=st.sampled_from(list("ab <>&;\"'=/\n#é\u00a0")), max_size=20).map(
    lambda text: html.escape(text, quote=False)
)
TAGS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<em>",
        "</em>",
        '<a href="/posts/x/" rel="noopener nofollow">',
        "</a>",
        "<br>",
        "&amp;",
        "&#60;img&#62;",
        '<pre tabindex="0"><code>',
        "</code></pre>",
    ]
)
KNOWN = ["/media/2026/harbour.jpg", "/media/2026/boats.jpg"]
IMG_SRC = st.sampled_from([*KNOWN, "/media/2026/missing.png", "https://cdn.example.com/x.png"])
MANIFEST = {src: variant_set(src, 1300, 900) for src in KNOWN}


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[str], list[bool]]:
    """A body's pieces, and for each whether it is a manifest <img> (to be rewritten)."""
    pieces: list[str] = []
    rewritten: list[bool] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["text", "tag", "img"]))
        if kind == "img":
            src = draw(IMG_SRC)
            alt = html.escape(draw(st.text(max_size=10)), quote=True)
            pieces.append(f'<img src="{src}" alt="{alt}" loading="lazy" decoding="async">')
            rewritten.append(src in MANIFEST)
        else:
            pieces.append(draw(TEXT if kind == "text" else TAGS))
            rewritten.append(False)
    return pieces, rewritten


@PROPERTY
@given(bodies())
def test_every_byte_outside_the_rewritten_images_is_kept(body: tuple[list[str], list[bool]]) -> None:
    pieces, rewritten = body
    result = responsive("".join(pieces), MANIFEST)

    kept = re.split(r"<picture>.*?</picture>", result.html, flags=re.DOTALL)
    # The input with each manifest image cut out, and the output with each <picture> cut out:
    # the same pieces of text in the same order.
    expected: list[str] = [""]
    for piece, is_rewritten in zip(pieces, rewritten, strict=True):
        if is_rewritten:
            expected.append("")
        else:
            expected[-1] += piece
    assert kept == expected
    assert result.html.count("<picture>") == sum(rewritten)
    assert_safe(result.html, "random body")


ALT = st.text(alphabet=st.sampled_from(list("ab <>&\"'=/;#é")), max_size=12).filter(
    lambda alt: "]" not in alt and "[" not in alt
)


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(["harbour.jpg", "boats.jpg", "missing.png"]), ALT, TEXT), max_size=6))
def test_sanitized_posts_with_any_alt_text_become_safe_pictures(images: list[tuple[str, str, str]]) -> None:
    # Through the real Markdown renderer and sanitizer, with alt texts full of quotes, "<", ">"
    # and "&": each manifest image's alt reads the same after the rewrite, and nothing unsafe.
    markdown = "\n\n".join(f"{html.unescape(text)} ![{alt.strip()}]({name})" for name, alt, text in images)
    body = sanitize(markdown_to_html(markdown), "posts/2026/harbour.md")
    found = [img for img in Elements(body).of("img") if img.get("src") in MANIFEST]

    result = responsive(body, MANIFEST)

    assert_safe(result.html, "sanitized body")
    pictures = Elements(result.html)
    assert (
        result.html.count("<picture>")
        == len(found)
        == len(pictures.of("img")) - (len(Elements(body).of("img")) - len(found))
    )
    rewritten = [img for img in pictures.of("img") if img.get("srcset")]
    assert [img.get("alt") for img in rewritten] == [img.get("alt") for img in found]
    assert responsive(result.html, MANIFEST).html == result.html
