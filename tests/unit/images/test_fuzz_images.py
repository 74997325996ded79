"""Random truncations and byte flips of valid images never crash ``process``: each gives
variants that decode, or a refusal with a reason. Derandomized (the same examples every run,
as tests/fuzz/conftest.py's ``ci`` profile), so a red build is reproducible."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pressline.images import ImageResult, process

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "images"))

import make_images

SEEDS = {
    "photo.jpg": make_images.photo_with_gps((48, 36), orientation=6),
    "cmyk.jpg": make_images.encoded(make_images.picture((40, 30), "CMYK"), "JPEG"),
    "sixteen-bit.png": make_images.sixteen_bit_png(6, 4),
    "wide-gamut.jpg": make_images.swapped_primaries_jpeg(),
    "diagram.png": make_images.png_with_text(),
    "animated.gif": make_images.animated("GIF"),
    "transparent.webp": make_images.transparent_webp(),
}
FUZZ = settings(
    max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def check(result: ImageResult) -> None:
    if not result.ok:
        assert result.rejected and not result.variants
        return
    assert result.variants
    for variant in result.variants:
        with Image.open(io.BytesIO(variant.data)) as image:
            image.load()
            assert image.size == (variant.width, variant.height)


@pytest.mark.parametrize("name", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_truncated_images_never_crash(name: str, data: st.DataObject) -> None:
    seed = SEEDS[name]
    length = data.draw(st.integers(min_value=0, max_value=len(seed) - 1))
    check(process(seed[:length], name))


@pytest.mark.parametrize("name", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_images_with_flipped_bytes_never_crash(name: str, data: st.DataObject) -> None:
    seed = bytearray(SEEDS[name])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), min_size=1, max_size=8))
    for index, value in flips:
        seed[index] = value
    check(process(bytes(seed), name))


# Every mode Pillow can write in each format an author may upload.
WRITABLE = {
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "GIF": ("L", "P"),
    "WEBP": ("RGB", "RGBA"),
}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}


@st.composite
def valid_images(draw: st.DrawFn) -> tuple[bytes, str, tuple[int, int]]:
    format = draw(st.sampled_from(sorted(WRITABLE)))
    mode = draw(st.sampled_from(WRITABLE[format]))
    size = (draw(st.integers(1, 1800)), draw(st.integers(1, 40)))
    image = make_images.picture(size).convert("RGBA")
    image.putalpha(draw(st.integers(0, 255)))  # sometimes see-through, sometimes opaque
    converted = image.convert(mode) if mode != "I;16" else image.convert("L").convert("I;16")
    return make_images.encoded(converted, format), f"upload.{EXTENSIONS[format]}", size


@FUZZ
@given(upload=valid_images())
def test_every_valid_image_gives_variants_no_wider_than_itself(upload: tuple[bytes, str, tuple[int, int]]) -> None:
    data, name, (width, height) = upload
    result = process(data, name)
    assert result.ok, result.rejected
    assert (result.width, result.height) == (width, height)
    assert max(variant.width for variant in result.variants) == min(width, 1600)
    check(result)
