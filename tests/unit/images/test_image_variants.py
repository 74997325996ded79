"""pressline.images.process as the image stage will call it: variants, names, privacy, colours."""

from __future__ import annotations

import hashlib
import io
import re
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from pressline.images import Limits, process

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "images"))

import make_images  # the corpus builders: a phone photo with GPS, 16-bit PNGs, ...

# What a variant must never contain: the photo's metadata, found as bytes anywhere in the file.
LEAKS = (
    b"Exif",
    b"GPS",
    b"<x:xmpmeta",
    b"Photoshop",
    b"PhoneMaker",
    make_images.GPS_COMMENT.encode(),
    make_images.IPTC_CAPTION,
    b"51.5037",
    b"iCCP",
    b"ICC_PROFILE",
)


def as_png(image: Image.Image) -> bytes:
    return make_images.encoded(image, "PNG")


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_a_phone_photo_with_gps_is_published_without_any_metadata() -> None:
    original = make_images.photo_with_gps((1000, 750))
    with_profile = opened(original)
    original = make_images.encoded(
        with_profile,
        "JPEG",
        exif=make_images.gps_exif(),
        xmp=make_images.XMP_PACKET.encode(),
        comment=make_images.GPS_COMMENT,
        icc_profile=srgb_profile(),
    )
    original = original[:2] + make_images.iptc_segment(make_images.IPTC_CAPTION) + original[2:]
    source = opened(original)  # the check below can fail: the upload has every block
    assert source.getexif().get_ifd(0x8825) and "xmp" in source.info and "comment" in source.info
    assert "icc_profile" in source.info and b"Photoshop" in original

    result = process(original, "posts/holiday.jpg")

    assert result.ok and len(result.variants) == 9  # 480, 960 and 1000 wide, each in three formats
    for variant in result.variants:
        image = opened(variant.data)
        assert not set(image.info) & {"exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "photoshop"}, (
            variant.name,
            image.info,
        )
        assert len(image.getexif()) == 0, variant.name
        assert getattr(image, "applist", []) == [] or all(marker != "APP1" for marker, _ in image.applist)
        for leak in LEAKS:
            assert leak not in variant.data, (variant.name, leak)


def test_a_png_with_text_chunks_and_exif_is_published_without_them() -> None:
    original = make_images.png_with_text()
    assert opened(original).text and b"eXIf" in original
    result = process(original, "diagram.png")
    assert result.ok
    for variant in result.variants:
        image = opened(variant.data)
        assert getattr(image, "text", {}) == {} and len(image.getexif()) == 0, variant.name
        for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
            assert chunk not in variant.data, (variant.name, chunk)
        for leak in LEAKS:
            assert leak not in variant.data, (variant.name, leak)


def test_the_exif_orientation_is_applied_so_a_portrait_photo_stays_portrait() -> None:
    # Stored landscape, 800 x 600, left half red; orientation 6 means "turn 90 degrees clockwise
    # to show": the reader sees a 600 x 800 portrait whose top is red.
    result = process(make_images.photo_with_gps((800, 600), orientation=6), "portrait.jpg")
    assert (result.width, result.height) == (600, 800)
    assert sorted({variant.width for variant in result.variants}) == [480, 600]
    for variant in result.variants:
        image = opened(variant.data).convert("RGB")
        assert image.height > image.width, variant.name
        red, green, blue = image.getpixel((image.width // 2, 2))
        assert red > 150 and green < 100 and blue < 100, (variant.name, (red, green, blue))
        red, green, blue = image.getpixel((image.width // 2, image.height - 3))
        assert blue > red, (variant.name, (red, green, blue))


def test_a_turned_jpeg_decoded_at_a_reduced_scale_keeps_its_size_and_orientation() -> None:
    # Stored 400 x 3,600 with orientation 6: shown 3,600 x 400, so the 1,600 variant needs only
    # half the stored pixels each way (the JPEG is decoded at 200 x 1,800, then turned).
    result = process(make_images.photo_with_gps((400, 3600), orientation=6), "panorama.jpg")
    assert (result.width, result.height) == (3600, 400)
    assert [(v.width, v.height) for v in result.of_format("jpeg")] == [(480, 53), (960, 107), (1600, 178)]
    widest = opened(result.of_format("jpeg")[-1].data).convert("RGB")
    red, green, blue = widest.getpixel((800, 5))  # the stored left half, turned to the top
    assert red > 150 and green < 100 and blue < 100, (red, green, blue)
    red, green, blue = widest.getpixel((100, 172))
    assert blue > red, (red, green, blue)


@pytest.mark.parametrize(
    ("width", "widths"),
    [
        (300, [300]),
        (480, [480]),
        (700, [480, 700]),
        (960, [480, 960]),
        (1200, [480, 960, 1200]),
        (2400, [480, 960, 1600]),
    ],
)
def test_widths_are_480_960_1600_never_upscaled(width: int, widths: list[int]) -> None:
    result = process(as_png(make_images.picture((width, 12))), "strip.png")
    assert sorted({variant.width for variant in result.variants}) == widths
    assert result.width == width


@pytest.mark.parametrize(("width", "shared"), [(300, 300), (1100, 1100), (1200, 1200), (2400, 960)])
def test_the_shared_variant_is_the_widest_fallback_up_to_1200(width: int, shared: int) -> None:
    result = process(make_images.encoded(make_images.picture((width, 12)), "JPEG"), "wide.jpg")
    variant = result.share()
    assert variant is not None and variant.format == "jpeg" and variant.width == shared


def test_names_carry_a_hash_of_the_bytes_so_a_replaced_image_never_serves_stale_bytes() -> None:
    first = process(as_png(make_images.picture((500, 40))), "posts/My Holiday Photo.PNG")
    again = process(as_png(make_images.picture((500, 40))), "posts/My Holiday Photo.PNG")
    replaced = process(as_png(make_images.picture((500, 40)).rotate(180)), "posts/My Holiday Photo.PNG")
    for variant in first.variants:
        digest = hashlib.sha256(variant.data).hexdigest()[:8]
        extension = {"jpeg": "jpg"}.get(variant.format, variant.format)
        assert variant.name == f"my-holiday-photo-{variant.width}w-{digest}.{extension}"
        assert re.fullmatch(r"[a-z0-9-]+-\d+w-[0-9a-f]{8}\.(avif|webp|png|jpg)", variant.name)
    assert [v.name for v in first.variants] == [v.name for v in again.variants]  # the same upload: the same names
    assert not {v.name for v in first.variants} & {v.name for v in replaced.variants}


def test_a_cmyk_jpeg_keeps_its_colours_in_srgb() -> None:
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # no cyan, full magenta and yellow: red
    result = process(make_images.encoded(cmyk, "JPEG", quality=95), "print.jpg")
    assert any("CMYK" in note for note in result.notes)
    for variant in result.variants:
        red, green, blue = opened(variant.data).convert("RGB").getpixel((20, 15))
        assert red > 200 and green < 60 and blue < 60, (variant.name, (red, green, blue))


def test_colours_are_converted_to_srgb_from_the_embedded_profile_which_is_dropped() -> None:
    # Stored as pure red under a profile whose red and green primaries are swapped: the colour
    # meant is green, and green is what a browser must get once the profile is gone.
    result = process(make_images.swapped_primaries_jpeg(), "wide-gamut.jpg")
    assert result.ok and result.variants
    for variant in result.variants:
        image = opened(variant.data)
        assert "icc_profile" not in image.info, variant.name
        red, green, blue = image.convert("RGB").getpixel((20, 15))
        assert green > 200 and red < 60 and blue < 60, (variant.name, (red, green, blue))


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped() -> None:
    result = process(make_images.sixteen_bit_png(0, 1), "scan.png")
    image = opened(result.of_format("png")[0].data)
    assert image.mode == "L"
    row = [image.getpixel((x, 4)) for x in (0, 20, 39)]
    assert row[0] < 5 and 110 < row[1] < 145 and row[2] > 250, row  # clipping would make all but the first 255


def test_transparency_is_kept_in_png_webp_and_avif() -> None:
    result = process(make_images.transparent_palette_png(), "logo.png")
    assert result.fallback == "png"
    for variant in result.variants:
        image = opened(variant.data).convert("RGBA")
        assert image.getpixel((2, 10))[3] < 20, variant.name  # the red half was made see-through
        assert image.getpixel((27, 10))[3] > 235, variant.name


def test_an_opaque_alpha_channel_is_dropped() -> None:
    result = process(as_png(make_images.picture((40, 30), "RGBA")), "opaque.png")
    assert opened(result.of_format("png")[0].data).mode == "RGB"


def test_a_file_over_the_byte_limit_is_refused_by_its_size() -> None:
    data = as_png(make_images.picture((40, 30)))
    result = process(data, "big.png", Limits(max_bytes=len(data) - 1))
    assert not result.ok and f"{len(data):,} bytes" in str(result.rejected)


def test_the_pixel_limit_is_checked_on_the_header() -> None:
    # 1,200 pixels against a limit of 1,000: refused with the size, and the AVIF and WebP never made.
    result = process(as_png(make_images.picture((40, 30))), "small.png", Limits(max_pixels=1000))
    assert not result.ok and "40 x 30 pixels" in str(result.rejected) and "1,000" in str(result.rejected)


def test_only_the_formats_asked_for_are_made() -> None:
    result = process(as_png(make_images.picture((40, 30))), "x.png", Limits(modern=("webp",)))
    assert [variant.format for variant in result.variants] == ["webp", "png"]
