"""An uploaded image made into responsive variants without metadata, or refused with a reason.

What ``process`` does, in order, and the choices it makes:

- The bytes decide what the image is (``pressline.posts.images.check_image``, as Validate does):
  a file whose name lies is a note, SVG and unknown bytes a refusal. Pillow is asked to open
  only that one format, so no other decoder ever parses an upload.
- Size is refused from the header, before any pixel is decoded: more than ``max_pixels``
  (40 million: a 48-MP phone photo must be resized first) or a side over ``max_side``.
  Pillow's own bomb guard (``Image.MAX_IMAGE_PIXELS``) refuses far larger claims while it opens.
- JPEGs are decoded at a reduced scale (``draft``: the DCT scaling of libjpeg) to the
  smallest size still at least as wide as the widest variant: a 4,000 x 3,000 photo is
  decoded at 2,000 x 1,500, a quarter of its pixels.
- The EXIF orientation is applied, then every metadata block is dropped: EXIF (GPS
  included), XMP, IPTC, comments, PNG text chunks. Colours are converted to sRGB from an
  embedded profile (CMYK and wide-gamut photos included) and the profile dropped too: an
  untagged image is sRGB to every browser, and a profile can be a tracking-sized blob.
- Animated GIF and WebP: the first frame only, as a still image (a note says so). A stage
  that decodes every frame of a hostile animation has no memory bound; a post that wants
  motion links a video.
- Modes: 16-bit becomes 8-bit (scaled, not clipped), palette and grey+alpha become RGBA when
  transparent, an alpha channel that is opaque everywhere is dropped; grey stays grey.
- Widths 480, 960 and 1,600, never upscaled: a narrower image gives one variant at its own
  width. Each width in AVIF and WebP, plus a fallback every client displays: JPEG for a
  JPEG (or an opaque WebP), PNG for a PNG, a GIF or a transparent WebP. The fallback of
  the widest width up to 1,200 (``ImageResult.share``: the 960 one, or the image's own
  width when narrower) is what og:image, feeds and emails point at.
- Names carry a hash of the variant's bytes (``harbour-480w-1a2b3c4d.webp``): replacing an
  image gives new names, so a cached old variant is never served in its place.

Memory: at most ``max_pixels`` are decoded (160 MB as RGBA at 40 MP; a JPEG at its draft
scale, far less). Peak RSS above the imports, measured by ``tests/bench/bench_images.py`` on
8,000 x 5,000 inputs: 343 MB for a PNG with alpha (the pixels and the premultiplied copy
Pillow resizes from), 382 MB for a 16-bit grey PNG (scaled through 32 bits), 125 MB for a
progressive JPEG (libjpeg keeps every coefficient; a baseline JPEG needs less). So about
400 MB above the imports is the bound: the image function wants 1,024 MB.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Literal

from PIL import ExifTags, Image, ImageCms, ImageOps

from pressline.posts.images import MAX_IMAGE_BYTES, check_image

Format = Literal["avif", "webp", "jpeg", "png"]

CONTENT_TYPES: dict[Format, str] = {
    "avif": "image/avif",
    "webp": "image/webp",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
EXTENSIONS: dict[Format, str] = {"avif": "avif", "webp": "webp", "jpeg": "jpg", "png": "png"}
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}

# Measured by tests/bench/bench_images.py. AVIF at speed 8, not libavif's default 6: on a
# 1,600 x 1,200 photo 6 took 2.4 s (3.7 s CPU on two threads) for a file only ~5% smaller
# than 8 makes in 0.3 s. On a 4,000 x 3,000 photo AVIF costs 0.8 / 0.5 / 0.14 s at 1,600 /
# 960 / 480 px against WebP's 0.24 / 0.09 / 0.03 s, for files 14% (960) and 27% (480) smaller
# than WebP's (the same at 1,600): kept, as the variants a phone downloads are the small ones.
_SAVE_OPTIONS: dict[Format, dict[str, object]] = {
    "avif": {"quality": 60, "speed": 8},
    "webp": {"quality": 80, "method": 4},
    "jpeg": {"quality": 82, "optimize": True, "progressive": True},
    "png": {"compress_level": 6},  # 9 took 20% longer on a 2,400 x 1,600 photo for 0.4% fewer bytes
}


@dataclass(frozen=True)
class Limits:
    """What ``process`` accepts and makes."""

    max_bytes: int = MAX_IMAGE_BYTES
    max_pixels: int = 40_000_000
    max_side: int = 16_000  # WebP's limit is 16,383 pixels a side
    widths: tuple[int, ...] = (480, 960, 1600)
    modern: tuple[Format, ...] = ("avif", "webp")
    share_width: int = 1200  # og:image, feeds and emails


@dataclass(frozen=True)
class Variant:
    width: int
    height: int
    format: Format
    name: str  # <stem>-<width>w-<hash8>.<ext>
    data: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class ImageResult:
    """The variants (narrowest first, each width's formats together) or why there are none."""

    variants: tuple[Variant, ...] = ()
    width: int = 0  # the image's own size, after its EXIF orientation
    height: int = 0
    fallback: Format | None = None  # the format every client displays
    rejected: str | None = None  # the reason, for the post's report
    notes: tuple[str, ...] = ()  # what changed that the author may want to know

    @property
    def ok(self) -> bool:
        return self.rejected is None

    def of_format(self, format: Format) -> tuple[Variant, ...]:
        return tuple(variant for variant in self.variants if variant.format == format)

    def share(self, limits: Limits | None = None) -> Variant | None:
        """The fallback variant for og:image, feeds and emails: the widest up to ``share_width``."""
        share_width = (limits or Limits()).share_width
        if self.fallback is None:
            return None
        fitting = [variant for variant in self.of_format(self.fallback) if variant.width <= share_width]
        return fitting[-1] if fitting else None


class _Refused(Exception):
    """Raised inside ``process`` with the reason the upload is refused."""


def process(data: bytes, name: str, limits: Limits | None = None) -> ImageResult:
    """The variants of the image ``data`` (uploaded as ``name``) or the reason it is refused."""
    limits = limits or Limits()
    notes: list[str] = []
    try:
        image, kind = _open(data, name, limits, notes)
        _check_size(*image.size, limits)  # the same either way round: before any EXIF is read
        image, size = _decode(image, kind, limits, notes)
        return _variants(image, size, kind, _stem(name), limits, notes)
    except _Refused as refused:
        return ImageResult(rejected=str(refused), notes=tuple(notes))


def _open(data: bytes, name: str, limits: Limits, notes: list[str]) -> tuple[Image.Image, str]:
    if len(data) > limits.max_bytes:
        raise _Refused(f"is {len(data):,} bytes; the limit for images is {limits.max_bytes:,} bytes")
    check = check_image(data, name)
    if check.errors or check.content_type is None:
        raise _Refused("; ".join(error.message for error in check.errors) or "is not an image")
    notes.extend(warning.message for warning in check.warnings)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a corrupt EXIF tag: the metadata is dropped anyway
            # Between MAX_IMAGE_PIXELS and twice that, Pillow only warns: refused all the same.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[check.content_type]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        claimed = re.search(r"\((\d+) pixels\)", str(bomb))
        pixels = f"{int(claimed.group(1)):,} pixels" if claimed else "far more pixels than allowed"
        raise _Refused(
            f"claims {pixels} in its header (a decompression bomb?); the limit is {limits.max_pixels:,} "
            "pixels: refused before decoding"
        ) from None
    except Exception:  # Pillow raises many kinds on hostile headers; none may stop the stage
        raise _Refused(f"is a corrupt {check.content_type} image: its header cannot be read") from None
    return image, check.content_type


def _is_animated(image: Image.Image) -> bool:
    """Whether ``image`` has a second frame (it is read to find out: it may be truncated there)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            animated = bool(getattr(image, "is_animated", False))
        image.seek(0)
    except Exception:  # a broken second frame: the first is all that is published anyway
        return False
    return animated and image.format != "MPO"  # MPO: a camera's extra pictures in one JPEG


def _jpeg_orientation(image: Image.Image, notes: list[str]) -> int:
    """The EXIF orientation of a JPEG, from its header (a PNG's EXIF may follow the pixels)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Tag data larger than file": the tag is skipped
            value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a broken EXIF block: the image itself may still be fine
        notes.append("has an unreadable EXIF block: its orientation is ignored")
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_size(width: int, height: int, limits: Limits) -> None:
    if width < 1 or height < 1:
        raise _Refused(f"is {width} x {height} pixels: an image needs at least one pixel each way")
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise _Refused(
            f"is {width:,} x {height:,} pixels ({width * height:,}); the limit is {limits.max_pixels:,} pixels "
            f"and {limits.max_side:,} a side: refused before decoding; resize it first"
        )


def _decode(image: Image.Image, kind: str, limits: Limits, notes: list[str]) -> tuple[Image.Image, tuple[int, int]]:
    """The pixels, turned as the EXIF orientation says, in sRGB; and the image's own size, turned."""
    if _is_animated(image):
        notes.append("is animated: only its first frame is published, as a still image")
    stored_width, stored_height = image.size
    if kind == "image/jpeg":
        # Decode at the smallest DCT scale still as wide as the widest variant, once turned.
        turned = _jpeg_orientation(image, notes) in (5, 6, 7, 8)
        factor = (stored_height if turned else stored_width) / min(
            stored_height if turned else stored_width, max(limits.widths)
        )
        image.draft(None, (math.ceil(stored_width / factor), math.ceil(stored_height / factor)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the metadata is dropped anyway
            image.load()
    except Exception as error:  # truncated, corrupt, a text chunk too large: never a crash
        raise _Refused(f"cannot be decoded: it is truncated or corrupt ({_short(error)})") from None
    decoded = image.size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        notes.append("has an unreadable EXIF block: its orientation is ignored")
    size = (stored_width, stored_height) if image.size == decoded else (stored_height, stored_width)
    return _to_srgb(image, notes), size


def _to_srgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """``image`` in RGB, RGBA, L or LA, 8 bits a channel, sRGB, with no metadata left."""
    profile = image.info.get("icc_profile")
    source_mode = image.mode
    if source_mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # convert("L") would clip every value above 255 to white: scale 16 bits to 8 instead.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
        notes.append("has 16 bits a channel: published with 8")
    elif source_mode == "P" or source_mode == "PA":
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    elif source_mode == "1":
        image = image.convert("L")
    elif source_mode == "CMYK":
        image = _profile_to_srgb(image, profile, notes) if profile else image.convert("RGB")
        notes.append("is CMYK: converted to sRGB")
        profile = None
    elif source_mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in source_mode else "RGB")
    if profile and image.mode in ("RGB", "RGBA") and not _is_srgb(profile):
        image = _profile_to_srgb(image, profile, notes)
    if image.mode in ("RGBA", "LA") and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert(image.mode[:-1])  # opaque everywhere: the alpha channel only costs bytes
    image.info = {}  # EXIF, XMP, IPTC, comments, text chunks, the profile: nothing is carried over
    return image


def _is_srgb(profile: bytes) -> bool:
    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile)))
    except (ImageCms.PyCMSError, OSError, TypeError):
        return False
    return "srgb" in description.lower()


def _profile_to_srgb(image: Image.Image, profile: bytes, notes: list[str]) -> Image.Image:
    mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        converted = ImageCms.profileToProfile(
            image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), outputMode=mode
        )
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        notes.append("has a colour profile that cannot be read: its colours are published as they are")
        return image.convert(mode)
    assert converted is not None  # not in place
    return converted


def _variants(
    image: Image.Image, size: tuple[int, int], kind: str, stem: str, limits: Limits, notes: list[str]
) -> ImageResult:
    """``image`` (decoded, maybe at a reduced scale) in every width and format; ``size`` is its own."""
    width, height = size
    opaque = "A" not in image.mode
    fallback: Format = "jpeg" if kind == "image/jpeg" or (kind == "image/webp" and opaque) else "png"
    formats = (*limits.modern, fallback)
    variants: list[Variant] = []
    current = image
    for target in reversed(_widths(width, limits)):  # widest first: each resize starts from the last
        target_size = (target, max(1, round(height * target / width)))
        if current.size != target_size:
            current = current.resize(target_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        variants[:0] = [_encode(current, format, stem) for format in formats]
    return ImageResult(tuple(variants), width, height, fallback, notes=tuple(notes))


def _widths(width: int, limits: Limits) -> list[int]:
    """The variant widths of an image ``width`` pixels wide, never wider than it."""
    return sorted({target for target in limits.widths if target < width} | {min(width, max(limits.widths))})


def _encode(image: Image.Image, format: Format, stem: str) -> Variant:
    buffer = io.BytesIO()
    image.save(buffer, format.upper(), **_SAVE_OPTIONS[format])
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:8]
    name = f"{stem}-{image.width}w-{digest}.{EXTENSIONS[format]}"
    return Variant(image.width, image.height, format, name, data)


def _stem(name: str) -> str:
    """The file name's stem, safe in a URL: ``posts/My photo.JPG`` -> ``my-photo``."""
    base = name.rsplit("/", 1)[-1]
    base = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
    return stem[:80] or "image"


def _short(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 100 else text[:99] + "…"
