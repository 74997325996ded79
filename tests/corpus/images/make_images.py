"""Makes the hostile image corpus: small files, each one case ``pressline.images.process`` must handle.

Every file is built here with Pillow (pinned in pyproject's ``images`` extra) or by patching a
header, so the corpus is reviewable as code; ``test_image_corpus.py`` runs this again and checks
that the committed files are exactly what it makes, then that each file has the outcome
``expected.json`` gives it. Bombs are headers only: a few hundred bytes claiming billions of pixels.

Run: ``.venv/bin/python tests/corpus/images/make_images.py`` (rewrites the files beside it).
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import ExifTags, Image, ImageCms, ImageDraw, TiffImagePlugin

HERE = Path(__file__).resolve().parent

GPS_COMMENT = "Taken in our back garden"
XMP_PACKET = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.2N"/></rdf:RDF>'
    '</x:xmpmeta><?xpacket end="w"?>'
)
IPTC_CAPTION = b"Home address caption"


def picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A small image with shapes in it (a flat colour would hide resampling and orientation bugs)."""
    image = Image.new("RGB", size, (40, 90, 160))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle((0, 0, width // 2, height), fill=(200, 40, 30))  # the left half red
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(240, 220, 60))
    return image.convert(mode)


def noise(size: tuple[int, int]) -> Image.Image:
    """Random RGB pixels, the same every run (Image.effect_noise draws from the C library's rand())."""
    pixels = random.Random(14).randbytes(size[0] * size[1] * 3)
    return Image.frombytes("RGB", size, pixels)


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def iptc_segment(caption: bytes) -> bytes:
    """A JPEG APP13 segment (Photoshop 3.0, one IPTC resource holding a caption)."""
    record = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
    if len(record) % 2:
        resource += b"\x00"
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(TiffImagePlugin.IFDRational(value) for value in (51, 30, 12))
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = tuple(TiffImagePlugin.IFDRational(value) for value in (0, 7, 39))
    return exif


def photo_with_gps(size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    """A phone photo as phones write them: GPS EXIF, XMP, a comment and an IPTC caption."""
    plain = encoded(
        picture(size), "JPEG", quality=90, exif=gps_exif(orientation), xmp=XMP_PACKET.encode(), comment=GPS_COMMENT
    )
    return plain[:2] + iptc_segment(IPTC_CAPTION) + plain[2:]  # right after SOI


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with next to no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A valid small JPEG with its frame header (SOF0) patched to claim ``width`` x ``height``."""
    data = bytearray(encoded(picture((16, 16)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def sixteen_bit_png(color_type: int, channels: int, width: int = 40, height: int = 8) -> bytes:
    """A 16-bit PNG (grey or RGBA), a gradient across its pixels, written by hand."""
    row = b"\x00" + b"".join(struct.pack(">H", (x * 65535) // (width - 1)) * channels for x in range(width))
    rows = row * height
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows, 9))
        + png_chunk(b"IEND", b"")
    )


def text_bomb_png() -> bytes:
    """A valid PNG with a zTXt chunk that inflates to 8 MiB (Pillow stops text at 1 MiB)."""
    valid = encoded(picture((16, 16)), "PNG")
    bomb = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (8 << 20), 9))
    iend = valid.rindex(b"IEND") - 4
    return valid[:iend] + bomb + valid[iend:]


def png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", GPS_COMMENT)
    info.add_text("Location", "51.5037 N, 0.1276 W", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET)
    return encoded(picture((50, 30)), "PNG", pnginfo=info, exif=gps_exif())


def animated(format: str) -> bytes:
    frames = [picture((32, 24)).rotate(angle) for angle in (0, 90, 180)]
    if format == "GIF":
        frames = [frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=16) for frame in frames]
    options: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0}
    if format == "WEBP":
        options["lossless"] = True
    return encoded(frames[0], format, **options)


def transparent_palette_png() -> bytes:
    image = picture((30, 20)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    image.info["transparency"] = image.getpixel((0, 0))  # the red half becomes see-through
    return encoded(image, "PNG", transparency=image.getpixel((0, 0)))


def transparent_webp() -> bytes:
    image = picture((30, 20)).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((30, 20)))
    return encoded(image, "WEBP", lossless=True)


def swapped_primaries_profile() -> bytes:
    """An RGB colour profile whose red and green primaries are swapped (Pillow's sRGB profile with
    its rXYZ and gXYZ tags exchanged, renamed): a pixel stored as pure red means pure green, so a
    conversion to sRGB shows plainly whether it happened."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", profile[128:132])[0]
    entries = {bytes(profile[132 + 12 * i : 136 + 12 * i]): 132 + 12 * i for i in range(count)}
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    profile[red + 4 : red + 12], profile[green + 4 : green + 12] = (
        profile[green + 4 : green + 12],
        profile[red + 4 : red + 12],
    )
    profile[24:36] = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)  # a fixed creation date: the same bytes every run
    return bytes(profile).replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be"))


def swapped_primaries_jpeg() -> bytes:
    return encoded(Image.new("RGB", (40, 30), (255, 0, 0)), "JPEG", quality=95, icc_profile=swapped_primaries_profile())


FILES: dict[str, Callable[[], bytes]] = {
    "photo-gps-xmp-iptc.jpg": photo_with_gps,
    "portrait-orientation-6.jpg": lambda: photo_with_gps((80, 60), orientation=6),
    "huge-exif.jpg": lambda: encoded(picture((40, 30)), "JPEG", exif=_exif_with_description("x" * 60_000)),
    "png-text-chunks.png": png_with_text,
    "bomb-100000x100000.png": lambda: png_claiming(100_000, 100_000),
    "bomb-10000x10000.png": lambda: png_claiming(10_000, 10_000),
    "bomb-65000x65000.jpg": lambda: jpeg_claiming(65_000, 65_000),
    "over-limit-8000x6000.png": lambda: png_claiming(8_000, 6_000),
    "over-side-17000x100.png": lambda: png_claiming(17_000, 100),
    "truncated.jpg": lambda: encoded(picture((64, 48)), "JPEG")[:-300],
    "truncated.png": lambda: encoded(noise((64, 48)), "PNG")[:1500],
    "corrupt-header.png": lambda: png_claiming(16, 16)[:20] + b"\xde\xad\xbe\xef" * 4,
    "corrupt-pixels.png": lambda: png_claiming(16, 16).replace(zlib.compress(b"\x00" * 64), b"\x78\x9c" + b"\xff" * 10),
    "cmyk.jpg": lambda: encoded(picture((40, 30), "CMYK"), "JPEG"),
    "swapped-primaries-profile.jpg": swapped_primaries_jpeg,
    "sixteen-bit-grey.png": lambda: sixteen_bit_png(0, 1),
    "sixteen-bit-rgba.png": lambda: sixteen_bit_png(6, 4),
    "grayscale.jpg": lambda: encoded(picture((40, 30), "L"), "JPEG"),
    "jpeg-named.png": lambda: encoded(picture((40, 30)), "JPEG"),
    "animated.gif": lambda: animated("GIF"),
    "animated.webp": lambda: animated("WEBP"),
    "palette-transparent.png": transparent_palette_png,
    "transparent.webp": transparent_webp,
    "text-bomb.png": text_bomb_png,
    "strip-1000x10.png": lambda: encoded(picture((1000, 10)), "PNG"),
    "drawing.svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "not-an-image.png": lambda: b"<html><body>Hello</body></html>",
    "empty.jpg": lambda: b"",
}


def _exif_with_description(text: str) -> Image.Exif:
    exif = gps_exif()
    exif[ExifTags.Base.ImageDescription] = text
    return exif


def build() -> dict[str, bytes]:
    return {name: make() for name, make in FILES.items()}


def main() -> None:
    for name, data in build().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(FILES)} files to {HERE}")


if __name__ == "__main__":
    main()
