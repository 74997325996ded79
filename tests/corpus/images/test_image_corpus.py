"""The hostile image corpus: every file has the outcome expected.json gives it, and the committed
files are exactly what make_images.py makes (so each case is reviewable as code)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import make_images
import pytest
from PIL import Image

from pressline.images import ImageResult, process

HERE = Path(__file__).resolve().parent
EXPECTED: dict[str, dict[str, object]] = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))
PILLOW_FORMATS = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG", "png": "PNG"}


def committed_files() -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in HERE.iterdir()
        if path.is_file() and path.suffix not in (".py", ".json")
    }


def test_the_committed_files_are_what_the_script_makes() -> None:
    made = make_images.build()
    committed = committed_files()
    assert sorted(committed) == sorted(made) == sorted(EXPECTED)
    changed = [name for name, data in made.items() if committed[name] != data]
    assert not changed, f"run tests/corpus/images/make_images.py: {changed} differ from what it makes"


def test_the_corpus_stays_small() -> None:
    sizes = {name: len(data) for name, data in committed_files().items()}
    assert sum(sizes.values()) < 100_000, sizes
    assert max(sizes.values()) <= 64 * 1024, sizes  # the huge EXIF block is the largest: one JPEG segment


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_has_its_expected_outcome(name: str) -> None:
    expected = EXPECTED[name]
    result = process((HERE / name).read_bytes(), name)
    if expected["outcome"] == "rejected":
        assert not result.ok and not result.variants
        assert str(expected["reason"]) in str(result.rejected)
        return
    assert result.ok, result.rejected
    assert [result.width, result.height] == expected["size"]
    assert sorted({variant.width for variant in result.variants}) == expected["widths"]
    assert result.fallback == expected["fallback"]
    if "note" in expected:
        assert any(str(expected["note"]) in note for note in result.notes), result.notes
    check_variants_decode(result)
    if "mode" in expected:
        fallback = result.of_format(result.fallback)[-1]
        assert Image.open(io.BytesIO(fallback.data)).mode == expected["mode"]


def check_variants_decode(result: ImageResult) -> None:
    """Every width comes in AVIF, WebP and the fallback, and each variant is what it says it is."""
    for width in {variant.width for variant in result.variants}:
        formats = {variant.format for variant in result.variants if variant.width == width}
        assert formats == {"avif", "webp", result.fallback}
    for variant in result.variants:
        with Image.open(io.BytesIO(variant.data)) as image:
            assert image.format == PILLOW_FORMATS[variant.format]
            assert image.size == (variant.width, variant.height)
            image.load()
        assert variant.height == max(1, round(result.height * variant.width / result.width))
