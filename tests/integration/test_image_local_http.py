"""``pressline local`` (``make run``) as an author uses it: a phone photo copied beside a post with
``aws s3 cp``, then every published file of it fetched from the local site over HTTP, as a
reader's browser would: none carries the photo's EXIF, GPS position, XMP, ICC profile or
comment, and each has the size its name says."""

from __future__ import annotations

import io
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image, ImageCms

from pressline.local.harness import RunningLocalStack, aws_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus" / "images"))

import make_images  # the corpus builders: a phone photo with GPS EXIF, XMP, IPTC and a comment

T = TypeVar("T")
LEAKS = (b"Exif\x00\x00", b"GPS", b"http://ns.adobe.com/xap", b"PhoneMaker", b"ICC_PROFILE", b"back garden")


def phone_photo(size: tuple[int, int]) -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = make_images.encoded(
        make_images.picture(size), "JPEG", quality=90, exif=make_images.gps_exif(),
        xmp=make_images.XMP_PACKET.encode(), comment=make_images.GPS_COMMENT, icc_profile=profile,
    )  # fmt: skip
    return data[:2] + make_images.iptc_segment(make_images.IPTC_CAPTION) + data[2:]


def wait_for(what: str, found: Callable[[], T | None], timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value is not None:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # the local stack, on 127.0.0.1
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", error.read()


def test_a_photo_copied_with_the_aws_cli_is_served_only_without_its_metadata(
    local_stack: RunningLocalStack, tmp_path: Path
) -> None:
    if aws_cli() is None:
        pytest.skip("no AWS CLI: run `make awscli`")
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(phone_photo((1800, 1200)))
    assert all(leak in photo.read_bytes() for leak in LEAKS)  # the check below can fail
    source, site = local_stack.outputs["SourceBucketName"], local_stack.outputs["SiteBucketName"]
    s3 = local_stack.client("s3")

    local_stack.aws("s3", "cp", str(photo), f"s3://{source}/posts/trip/IMG_2041.jpg")

    def report() -> dict[str, object] | None:
        try:
            body = s3.get_object(Bucket=source, Key="reports/posts/trip/IMG_2041.jpg.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        found: dict[str, object] = json.loads(body)
        return found

    assert wait_for("the photo's report", report)["status"] == "published"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=site, Prefix="media/trip/").get("Contents", [])]
    assert "media/trip/IMG_2041.jpg" in keys and len(keys) == 1 + 3 * 3  # the copy, 3 widths x 3 formats
    widths = set()
    for key in keys:
        status, content_type, data = fetch(f"{local_stack.site_url}/{key}")
        assert status == 200, key
        image = Image.open(io.BytesIO(data))
        image.load()
        assert content_type == Image.MIME[image.format or ""], key
        assert len(image.getexif()) == 0 and not {"exif", "xmp", "icc_profile", "comment"} & set(image.info), key
        assert not [leak for leak in LEAKS if leak in data], key
        if key != "media/trip/IMG_2041.jpg":
            width = int(key.rsplit("-", 2)[-2].removesuffix("w"))  # IMG_2041-480w-1a2b3c4d.webp
            assert image.size == (width, round(width * 1200 / 1800)), key
            widths.add(width)
        else:
            assert (image.format, image.size) == ("JPEG", (1600, 1067)), key  # the widest fallback
    assert widths == {480, 960, 1600}
