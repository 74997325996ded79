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
