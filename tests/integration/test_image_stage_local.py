"""The Image stage on the local stack (every resource of template.yaml on moto, the queues run by
the local runner): a phone photo uploaded beside a post is published only without its metadata,
a bad image is a report that blocks nothing, and events/image.json runs the handler.

Only what the Image stage owns is checked here (the files in the site bucket, the reports, the
queues); what pages make of the images is Index's, tested with it.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageCms

from pressline.local.harness import StackHandle
from pressline.models import Report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus" / "images"))

import make_images  # the corpus builders: a phone photo with GPS EXIF, XMP, IPTC and a comment

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "images"

# The photo's metadata as bytes: none may be in any published file.
LEAKS = (
    b"Exif\x00\x00",
    b"GPS",
    b"http://ns.adobe.com/xap",
    b"<x:xmpmeta",
    b"Photoshop",
    b"PhoneMaker",
    make_images.GPS_COMMENT.encode(),
    make_images.IPTC_CAPTION,
    b"ICC_PROFILE",
)
POST = b"---\ntitle: A walk along the harbour\ndate: 2026-03-01\n---\n\n![The harbour](harbour.jpg)\n"


def phone_photo(size: tuple[int, int]) -> bytes:
    """A JPEG as a phone writes it: GPS EXIF, XMP, a comment, an IPTC caption and an ICC profile."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = make_images.encoded(
        make_images.picture(size),
        "JPEG",
        quality=90,
        exif=make_images.gps_exif(),
        xmp=make_images.XMP_PACKET.encode(),
        comment=make_images.GPS_COMMENT,
        icc_profile=profile,
    )
    return data[:2] + make_images.iptc_segment(make_images.IPTC_CAPTION) + data[2:]


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def upload(stack: StackHandle, key: str, body: bytes) -> None:
    stack.s3.put_object(Bucket=stack.outputs["SourceBucketName"], Key=key, Body=body)


def report(stack: StackHandle, key: str) -> Report:
    body = stack.s3.get_object(Bucket=stack.outputs["SourceBucketName"], Key=f"reports/{key}.json")["Body"].read()
    return Report.model_validate_json(body)


def site_files(stack: StackHandle, prefix: str) -> dict[str, dict[str, Any]]:
    """Every object under ``prefix`` in the site bucket: its bytes and headers."""
    bucket = stack.outputs["SiteBucketName"]
    listing = stack.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    found = {}
    for item in listing:
        response = stack.s3.get_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = {
            "data": response["Body"].read(),
            "type": response.get("ContentType"),
            "cache": response.get("CacheControl"),
        }
    return found


@pytest.fixture
def stack(aws_stack: StackHandle) -> StackHandle:
    return aws_stack


def test_a_phone_photo_beside_a_post_is_published_only_without_its_metadata(stack: StackHandle) -> None:
    photo = phone_photo((2000, 1500))
    uploaded = opened(photo)  # the checks below can fail: the upload carries every block
    assert uploaded.getexif().get_ifd(ExifTags.IFD.GPSInfo) and {"xmp", "icc_profile", "comment"} <= set(uploaded.info)
    assert all(leak in photo for leak in LEAKS)

    upload(stack, "posts/2026/harbour.jpg", photo)
    upload(stack, "posts/2026/harbour-walk.md", POST)
    stack.drain()

    published = report(stack, "posts/2026/harbour.jpg")
    assert published.status == "published" and published.url is not None
    assert published.url.endswith("/media/2026/harbour.jpg")
    files = site_files(stack, "media/2026/")
    variants = {key: file for key, file in files.items() if key != "media/2026/harbour.jpg"}
    # 480, 960 and 1,600 wide (never upscaled), each in AVIF, WebP and JPEG, names with a hash.
    sizes = sorted((opened(file["data"]).format, opened(file["data"]).size) for file in variants.values())
    assert sizes == sorted(
        (kind, (width, width * 3 // 4)) for kind in ("AVIF", "WEBP", "JPEG") for width in (480, 960, 1600)
    )
    for key, file in variants.items():
        assert key.startswith("media/2026/harbour-") and file["cache"] == "public, max-age=31536000, immutable"
        assert file["type"] == Image.MIME[opened(file["data"]).format or ""]
    copy = files["media/2026/harbour.jpg"]  # the original's URL serves the widest JPEG variant
    assert (opened(copy["data"]).format, opened(copy["data"]).size) == ("JPEG", (1600, 1200))
    assert copy["type"] == "image/jpeg" and copy["cache"] == "public, max-age=86400"
    assert copy["data"] in [file["data"] for file in variants.values()]
    for key, file in files.items():
        image = opened(file["data"])
        assert len(image.getexif()) == 0, key
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop"} & set(image.info), key
        for leak in LEAKS:
            assert leak not in file["data"], (key, leak)
    assert stack.queue_depth("ImageQueueUrl") == 0 and stack.queue_depth("ImageDeadLetterQueueUrl") == 0


def test_a_bad_image_is_rejected_with_its_reason_and_blocks_nothing(stack: StackHandle) -> None:
    upload(stack, "posts/broken.jpg", (CORPUS / "truncated.jpg").read_bytes())
    upload(stack, "posts/bomb.png", (CORPUS / "bomb-10000x10000.png").read_bytes())
    stack.drain()
    upload(stack, "posts/after.md", b"---\ntitle: After the bad images\ndate: 2026-03-01\n---\n\nStill here.\n")
    upload(stack, "posts/good.jpg", phone_photo((300, 200)))
    stack.drain()

    broken, bomb = report(stack, "posts/broken.jpg"), report(stack, "posts/bomb.png")
    assert broken.status == "rejected" and [e.field for e in broken.errors] == ["file"]
    assert "truncated" in broken.errors[0].message
    assert bomb.status == "rejected" and "decompression bomb" in bomb.errors[0].message
    assert report(stack, "posts/after.md").status == "published"
    assert report(stack, "posts/good.jpg").status == "published"
    assert set(site_files(stack, "media/")) >= {"media/good.jpg"}
    assert not [key for key in site_files(stack, "media/") if key.startswith(("media/broken", "media/bomb"))]
    assert stack.queue_depth("ImageQueueUrl") == 0 and stack.queue_depth("ImageDeadLetterQueueUrl") == 0


def test_a_removed_image_takes_its_copy_away(stack: StackHandle) -> None:
    upload(stack, "posts/gone.jpg", phone_photo((300, 200)))
    stack.drain()
    assert "media/gone.jpg" in site_files(stack, "media/")
    stack.s3.delete_object(Bucket=stack.outputs["SourceBucketName"], Key="posts/gone.jpg")
    stack.drain()
    assert "media/gone.jpg" not in site_files(stack, "media/")
    assert report(stack, "posts/gone.jpg").status == "unpublished"


def test_the_event_file_publishes_its_image(stack: StackHandle) -> None:
    """``make invoke FN=Image EVENT=events/image.json``, as the handler receives it."""
    event = json.loads((ROOT / "events" / "image.json").read_text(encoding="utf-8"))
    body = json.loads(event["Records"][0]["body"])
    key = body["source"]["key"]
    upload(stack, key, (ROOT / "examples" / "posts" / Path(key).name).read_bytes())
    body["source"]["bucket"] = stack.outputs["SourceBucketName"]
    event["Records"][0]["body"] = json.dumps(body)

    assert stack.invoke("Image", event) == {"batchItemFailures": []}

    assert report(stack, key).status == "published"
    files = site_files(stack, "media/")
    assert "media/" + Path(key).name in files and len(files) > 1


def test_an_image_the_site_bucket_kept_refusing_is_redriven_from_the_dead_letter_queue(
    stack: StackHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pressline.adapters.store import S3Store
    from pressline.cli import main
    from pressline.errors import RetryableError

    real_put = S3Store.put

    def throttled(store: S3Store, key: str, *args: Any, **kwargs: Any) -> bool:
        if key.startswith("media/"):
            raise RetryableError("S3 put_object: SlowDown")
        return real_put(store, key, *args, **kwargs)

    monkeypatch.setattr(S3Store, "put", throttled)
    upload(stack, "posts/later.jpg", phone_photo((300, 200)))
    stack.drain(retry_after=0)  # every receive fails, up to maxReceiveCount: then the DLQ keeps it
    assert stack.queue_depth("ImageDeadLetterQueueUrl") == 1 and "media/later.jpg" not in site_files(stack, "media/")

    # S3 is back: the operator redrives the image DLQ by its stage name (README, Operations).
    monkeypatch.setattr(S3Store, "put", real_put)
    monkeypatch.chdir(tmp_path)  # no .local/outputs.json of a running `make run` is picked up
    assert main(["redrive", "image", "--stack-name", stack.stack.stack_name]) == 0
    stack.drain()
    assert report(stack, "posts/later.jpg").status == "published" and "media/later.jpg" in site_files(stack, "media/")
    assert stack.queue_depth("ImageDeadLetterQueueUrl") == 0
