"""Images beside posts: recognised by their bytes, SVG refused."""

from __future__ import annotations

import pytest
from posts_helpers import EXAMPLES

from pressline.posts.images import MAX_IMAGE_BYTES, check_image, sniff
from pressline.posts.paths import classify, media_key, media_path

PNG = (EXAMPLES / "harbour-at-dawn.png").read_bytes()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


@pytest.mark.parametrize(
    ("data", "kind"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")]
)
def test_sniffing(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


def test_a_real_image_is_accepted() -> None:
    checked = check_image(PNG, "posts/a/harbour.png")
    assert checked.content_type == "image/png" and checked.errors == [] and checked.warnings == []


def test_uppercase_suffixes_are_images() -> None:
    assert classify("posts/a/IMG_0001.JPG") == "image"
    assert check_image(JPEG, "posts/a/IMG_0001.JPG").content_type == "image/jpeg"


def test_a_misnamed_image_is_published_with_its_real_type() -> None:
    checked = check_image(JPEG, "posts/a/photo.png")
    assert checked.content_type == "image/jpeg"
    assert [w.message for w in checked.warnings] == ["is a JPEG image despite its name; it is published as image/jpeg"]


def test_html_named_png_is_refused() -> None:
    checked = check_image(b"<html><script>alert(1)</script></html>", "posts/a/evil.png")
    assert checked.content_type is None
    assert [(e.field, e.message) for e in checked.errors] == [("file", "is not a PNG, JPEG, GIF or WebP image")]


def test_svg_is_refused() -> None:
    checked = check_image(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "posts/a/d.SVG")
    assert checked.content_type is None
    assert "SVG" in checked.errors[0].message and classify("posts/a/d.svg") == "refused-image"


def test_images_over_10_mib_are_refused() -> None:
    checked = check_image(PNG + b"\x00" * MAX_IMAGE_BYTES, "posts/big.png")
    assert checked.content_type is None and "limit for images is 10 MiB" in checked.errors[0].message


def test_published_path() -> None:
    assert media_key("posts/2026/a/pic.png") == "media/2026/a/pic.png"
    assert media_path("posts/pic.png") == "/media/pic.png"
