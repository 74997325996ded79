"""The Image stage with in-memory stores and queues: what each request leads to on the site, in
the report and for Index, whatever order and however often requests come."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore, ObjectHead
from pressline.images import stage
from pressline.models import ImageRequest, IndexUpdate, Report, SourceRef
from pressline.posts.paths import file_key
from pressline.stages.batching import Batch, Handled, Message

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "corpus" / "images"))

import make_images  # the corpus builders: a phone photo with GPS, XMP, IPTC and a comment

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "images"
KEY = "posts/2026/harbour walk.jpg"  # a space: keys are raw, URLs quoted
PHOTO = make_images.photo_with_gps((1200, 900))
# The photo's metadata, as bytes: none may reach the site.
LEAKS = (b"Exif", b"GPS", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"Photoshop", b"PhoneMaker", b"back garden")


class World:
    def __init__(self) -> None:
        self.source = MemoryStore()
        self.site = MemoryStore()
        self.index_queue = MemoryQueue()
        self.deps = stage.Dependencies(
            source=self.source, site=self.site, index_queue=self.index_queue, bucket="source-bucket",
            base_url="https://blog.example", clock=lambda: NOW,
        )  # fmt: skip

    def upload(self, data: bytes, key: str = KEY) -> str:
        self.source.put(key, data, "image/jpeg")
        version = self.source.objects[key].version_id
        assert version is not None
        return version

    def batch(self, *bodies: str) -> Handled[stage.Outcome]:
        return stage.handle_batch(Batch([Message(f"m{n}", body) for n, body in enumerate(bodies)]), self.deps)

    def handle(self, key: str = KEY, version: str | None = None) -> str:
        handled = self.batch(request(key, version))
        assert handled.response == {"batchItemFailures": []}
        [outcome] = handled.outcomes["m0"]
        return outcome

    def report(self, key: str = KEY) -> Report:
        stored = self.source.get(f"reports/{key}.json")
        assert stored is not None, f"no report for {key}"
        return Report.model_validate_json(stored.body)

    def updates(self) -> list[IndexUpdate]:
        return [message for message in self.index_queue.sent if isinstance(message, IndexUpdate)]

    def site_files(self) -> dict[str, bytes]:
        return {key: stored.body for key, stored in self.site.objects.items()}


def request(key: str = KEY, version: str | None = None) -> str:
    return ImageRequest(source=SourceRef(bucket="source-bucket", key=key, version_id=version)).model_dump_json()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_photo_is_published_as_variants_and_a_stripped_copy_at_its_own_path() -> None:
    world = World()
    version = world.upload(PHOTO)

    assert world.handle(version=version) == "published"

    [update] = world.updates()
    assert update.action == "image" and update.source.key == KEY and update.source.version_id == version
    assert update.image is not None
    assert (update.image.src, update.image.width, update.image.height) == ("/media/2026/harbour%20walk.jpg", 1200, 900)
    assert update.image.fallback == "image/jpeg"
    assert sorted({v.width for v in update.image.variants}) == [480, 960, 1200]
    assert {v.content_type for v in update.image.variants} == {"image/avif", "image/webp", "image/jpeg"}
    files = world.site_files()
    # Every variant the update names exists, at its URL's key, with its type; nothing else but the copy.
    named = {file_key(v.url): v for v in update.image.variants}
    assert set(files) == {*named, "media/2026/harbour walk.jpg"}
    for key, variant in named.items():
        assert variant.url.startswith("/media/2026/harbour-") and " " not in variant.url
        image = opened(files[key])
        assert (image.width, image.height) == (variant.width, variant.height)
        assert Image.MIME[image.format or ""] == variant.content_type == world.site.objects[key].content_type
    copy = opened(files["media/2026/harbour walk.jpg"])
    assert (copy.format, copy.width, copy.height) == ("JPEG", 1200, 900)  # the widest fallback
    for key, data in files.items():
        image = opened(data)
        assert len(image.getexif()) == 0 and not {"exif", "xmp", "icc_profile", "comment"} & set(image.info), key
        for leak in LEAKS:
            assert leak not in data, (key, leak)
    report = world.report()
    assert (report.status, report.version, report.url) == (
        "published", version, "https://blog.example/media/2026/harbour walk.jpg"
    )  # fmt: skip


def test_a_refused_image_gets_its_reason_and_the_previous_version_stays() -> None:
    world = World()
    world.upload(PHOTO)
    assert world.handle() == "published"
    before, sent = world.site_files(), len(world.updates())
    version = world.upload((CORPUS / "truncated.jpg").read_bytes())

    assert world.handle(version=version) == "rejected"

    report = world.report()
    assert report.status == "rejected" and report.version == version
    assert [error.field for error in report.errors] == ["file"] and "truncated" in report.errors[0].message
    assert world.site_files() == before and len(world.updates()) == sent  # nothing else changed


@pytest.mark.parametrize("name", ["bomb-65000x65000.jpg", "corrupt-header.png", "not-an-image.png", "empty.jpg"])
def test_hostile_files_are_reports_never_failures(name: str) -> None:
    world = World()
    key = f"posts/{name}"
    world.upload((CORPUS / name).read_bytes(), key)
    assert world.handle(key) == "rejected"
    assert world.report(key).errors and world.site_files() == {} and world.updates() == []


def test_a_removed_image_deletes_its_copy_and_tells_index() -> None:
    world = World()
    world.upload(PHOTO)
    assert world.handle() == "published"
    variants = set(world.site_files()) - {"media/2026/harbour walk.jpg"}
    world.source.delete(KEY)

    assert world.handle(version="delete-marker") == "unpublished"

    assert set(world.site_files()) == variants  # Index deletes the variants: it knows which posts show them
    update = world.updates()[-1]
    assert (update.action, update.image, update.source.version_id) == ("image", None, "delete-marker")
    assert world.report().status == "unpublished"


def test_a_duplicate_request_writes_the_same_bytes_and_sends_an_equal_update() -> None:
    world = World()
    world.upload(PHOTO)
    assert world.handle() == "published"
    first = world.site_files()

    assert world.handle() == "published"

    assert world.site_files() == first
    one, two = world.updates()
    assert one == two


def test_a_stale_request_publishes_what_s3_holds_now() -> None:
    world = World()
    old = world.upload(make_images.photo_with_gps((600, 400)))
    new = world.upload(PHOTO)

    assert world.handle(version=old) == "published"

    [update] = world.updates()
    assert update.source.version_id == new and update.image is not None and update.image.width == 1200
    assert world.report().version == new


def test_an_image_replaced_while_processed_is_left_to_the_newer_request() -> None:
    world = World()
    world.upload(PHOTO)
    newer = ObjectHead(KEY, "v-newer", '"newer"', NOW, 10)
    world.source.head = lambda key: newer  # type: ignore[method-assign]

    assert world.handle() == "stale"

    assert "media/2026/harbour walk.jpg" not in world.site_files()  # the newer one's copy is never overwritten
    assert world.updates() == [] and world.source.get(f"reports/{KEY}.json") is None


def test_a_malformed_request_fails_alone_and_the_batch_sends_its_updates_together() -> None:
    world = World()
    world.upload(PHOTO)
    world.upload(make_images.photo_with_gps((300, 200)), "posts/small.jpg")
    bodies = ["not json", request(), request("posts/notes.md"), request("posts/small.jpg")]

    handled = world.batch(*bodies)

    assert handled.response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}
    assert handled.poison == 2
    assert handled.outcomes == {"m1": ["published"], "m3": ["published"]}
    assert [u.source.key for u in world.updates()] == [KEY, "posts/small.jpg"] and world.index_queue.calls == 1


def test_an_update_sqs_does_not_take_fails_its_message_for_a_retry() -> None:
    world = World()
    world.upload(PHOTO)
    world.index_queue.refuse = lambda message: True
    handled = world.batch(request())
    assert handled.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    world.index_queue.refuse = None
    assert world.handle() == "published" and len(world.updates()) == 1  # the retry sends it


def test_logs_name_keys_never_metadata(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    world.upload(PHOTO)
    world.upload((CORPUS / "truncated.jpg").read_bytes(), "posts/bad.jpg")
    with caplog.at_level("INFO"):
        world.handle()
        world.handle("posts/bad.jpg")
    assert {getattr(record, "key", None) for record in caplog.records} >= {KEY, "posts/bad.jpg"}
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for leak in ("PhoneMaker", "back garden", "51.5", "GPS", "xmpmeta"):
        assert leak not in logged


def test_an_image_replaced_while_its_copy_was_written_is_retried_and_then_published() -> None:
    world = World()
    world.upload(make_images.photo_with_gps((600, 400)))
    heads = iter([world.source.head(KEY), ObjectHead(KEY, "v-newer", '"newer"', NOW, 10)])
    world.source.head = lambda key: next(heads)  # type: ignore[method-assign]  # current, then replaced

    handled = world.batch(request())

    assert handled.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}  # SQS brings it back
    assert world.updates() == []  # no update for a version that is no longer S3's
    del world.source.head  # the real one again: the retry publishes what S3 holds now
    newer = world.upload(PHOTO)
    assert world.handle() == "published"
    [update] = world.updates()
    assert update.source.version_id == newer and opened(world.site_files()["media/2026/harbour walk.jpg"]).width == 1200


def test_an_image_uploaded_again_while_its_copy_was_deleted_is_retried_and_then_published() -> None:
    world = World()
    world.upload(PHOTO)
    world.source.delete(KEY)
    world.source.head = lambda key: ObjectHead(KEY, "v-again", '"again"', NOW, 10)  # type: ignore[method-assign]

    handled = world.batch(request())

    assert handled.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]} and world.updates() == []
    del world.source.head
    world.upload(PHOTO)
    assert world.handle() == "published" and "media/2026/harbour walk.jpg" in world.site_files()


@pytest.mark.parametrize("folder_bytes", [900, 990, 1000])
def test_an_image_in_a_folder_too_deep_for_its_variants_names_is_published_under_its_hash(folder_bytes: int) -> None:
    """S3 takes keys of 1,024 bytes; a variant's name is longer than the upload's (the width and
    the hash): a deep folder moves the variants under media/by-hash/<sha256>/, never past S3's limit."""
    from pressline.posts.paths import MAX_KEY_BYTES, key_bytes, key_digest

    folder = "posts/" + "/".join(["é" * 30] * 40)
    while key_bytes(folder) > folder_bytes:
        folder = folder[:-1].rstrip("/")
    key = f"{folder}/photo.jpg"
    assert key_bytes(key) <= MAX_KEY_BYTES
    world = World()
    world.upload(make_images.photo_with_gps((1200, 900)), key)
    assert world.handle(key) == "published"
    [update] = world.updates()
    assert update.image is not None
    keys = [file_key(v.url) for v in update.image.variants]
    assert all(key_bytes(k) <= MAX_KEY_BYTES for k in keys) and set(keys) <= set(world.site_files())
    hashed = key_bytes(folder.replace("posts/", "media/", 1)) + stage.LONGEST_VARIANT_NAME > MAX_KEY_BYTES
    assert all(k.startswith(f"media/by-hash/{key_digest(key)}/") for k in keys) is hashed
    assert world.report(key).status == "published"
