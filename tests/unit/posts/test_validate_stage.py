"""The Validate stage with in-memory stores and queues: what each upload leads to."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
from posts_helpers import EXAMPLES, post

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.errors import PoisonMessageError
from pressline.models import IndexUpdate, RenderRequest, Report
from pressline.posts.slugs import MemorySlugRegistry
from pressline.stages import validate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PNG = (EXAMPLES / "harbour-at-dawn.png").read_bytes()


class World:
    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.source = MemoryStore()
        self.site = MemoryStore()
        self.render_queue = MemoryQueue()
        self.index_queue = MemoryQueue()
        self.deps = validate.Dependencies(
            source=self.source, site=self.site, render_queue=self.render_queue, index_queue=self.index_queue,
            slugs=MemorySlugRegistry(owners), bucket="source-bucket", base_url="https://blog.example",
            clock=lambda: NOW,
        )  # fmt: skip

    def report(self, key: str) -> Report | None:
        stored = self.source.get(f"reports/{key}.json")
        return Report.model_validate_json(stored.body) if stored else None

    def handle(self, key: str, event: str = "ObjectCreated:Put", version: str | None = None) -> list[str]:
        return list(validate.handle_message(notification(key, event, version), self.deps))


def notification(key: str, event: str = "ObjectCreated:Put", version: str | None = None) -> str:
    obj: dict[str, object] = {"key": quote_plus(key), "size": 10}
    if version:
        obj["versionId"] = version
    record = {"eventName": event, "eventTime": "2026-03-01T11:59:00.000Z",
              "s3": {"bucket": {"name": "source-bucket"}, "object": obj}}  # fmt: skip
    return json.dumps({"Records": [record]})


def test_a_valid_post_is_sent_to_render_with_its_current_version() -> None:
    world = World()
    world.source.put("posts/My Post.md", post("title: Hello"), "text/markdown")
    assert world.handle("posts/My Post.md") == ["valid"]
    [(message, group, dedup)] = world.render_queue.sent
    assert isinstance(message, RenderRequest) and group is None and dedup is None
    assert message.source.key == "posts/My Post.md" and message.source.version_id == "v1"
    assert message.source.bucket == "source-bucket"
    assert world.report("posts/My Post.md") is None  # Index writes the report of a valid post
    assert world.index_queue.sent == []


def test_a_stale_event_validates_what_s3_holds_now() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v1, invalid
    world.source.put("posts/a.md", post("title: Fixed"), "text/markdown")  # v2, valid
    assert world.handle("posts/a.md", version="v1") == ["valid"]
    [(message, _, _)] = world.render_queue.sent
    assert isinstance(message, RenderRequest) and message.source.version_id == "v2"


def test_a_rejected_post_gets_a_report_and_nothing_else() -> None:
    world = World()
    world.source.put("posts/a/b.md", post("title: T\ndate: someday\nlayout: x"), "text/markdown")
    assert world.handle("posts/a/b.md") == ["rejected"]
    report = world.report("posts/a/b.md")
    assert report is not None
    assert (report.key, report.version, report.status, report.url) == ("posts/a/b.md", "v1", "rejected", None)
    assert [(e.field, e.line) for e in report.errors] == [("date", 3)]
    assert [(w.field, w.line) for w in report.warnings] == [("layout", 4)]
    assert report.processed_at == NOW
    assert world.render_queue.sent == [] and world.index_queue.sent == [] and world.site.objects == {}
    assert set(world.source.objects) == {"posts/a/b.md", "reports/posts/a/b.md.json"}


def test_a_valid_edit_overtaken_by_a_rejected_upload_still_goes_to_render() -> None:
    """Both uploaded before Validate saw the first: S3's current version is the rejected one,
    but a rejected upload changes nothing, so the valid edit before it must not be lost."""
    world = World()
    world.source.put("posts/a.md", post("title: Good edit"), "text/markdown")  # v1
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v2, invalid
    assert world.handle("posts/a.md", version="v1") == ["rejected"]
    report = world.report("posts/a.md")
    assert report is not None and (report.version, report.status) == ("v2", "rejected")  # the author sees why
    [(message, _, _)] = world.render_queue.sent
    assert isinstance(message, RenderRequest) and message.source.version_id == "v1"


def test_the_last_valid_version_is_found_behind_several_rejected_ones() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: Good"), "text/markdown")  # v1
    world.source.put("posts/a.md", post("title: T\ndate: someday"), "text/markdown")  # v2, invalid
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v3, invalid
    assert world.handle("posts/a.md") == ["rejected"]
    assert [message.source.version_id for message, _, _ in world.render_queue.sent] == ["v1"]


def test_a_post_deleted_before_its_rejected_upload_stays_deleted() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: Good"), "text/markdown")  # v1
    world.source.delete("posts/a.md")  # v2, a delete marker
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v3, invalid
    assert world.handle("posts/a.md") == ["rejected"]
    assert world.render_queue.sent == []


def test_a_new_file_rejected_has_no_version_to_fall_back_to() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")
    assert world.handle("posts/a.md") == ["rejected"]
    assert world.render_queue.sent == []


def test_a_slug_owned_by_another_key_is_rejected_with_its_line() -> None:
    world = World(owners={"taken": "posts/first.md", "mine": "posts/second.md"})
    world.source.put("posts/second.md", post("title: T\nslug: taken"), "text/markdown")
    assert world.handle("posts/second.md") == ["rejected"]
    report = world.report("posts/second.md")
    assert report is not None
    assert [(e.field, e.message, e.line) for e in report.errors] == [
        ("slug", "'taken' is already used by posts/first.md; choose another slug", 3)
    ]
    world.source.put("posts/second.md", post("title: T\nslug: mine"), "text/markdown")
    assert world.handle("posts/second.md") == ["valid"]  # its own slug is fine


def test_an_oversized_post_is_rejected_without_reading_it() -> None:
    world = World()
    world.source.put("posts/big.md", b"x" * (1024 * 1024 + 1), "text/markdown")
    assert world.handle("posts/big.md") == ["rejected"]
    report = world.report("posts/big.md")
    assert report is not None and report.errors[0].message == "is 1,048,577 bytes; the limit is 1 MiB (1,048,576)"


def test_a_deleted_post_goes_to_index_as_a_delete() -> None:
    world = World()
    assert world.handle("posts/gone.md", event="ObjectRemoved:DeleteMarkerCreated", version="dm1") == ["deleted"]
    [(message, group, dedup)] = world.index_queue.sent
    assert isinstance(message, IndexUpdate) and message.action == "delete"
    assert message.source.key == "posts/gone.md" and message.source.version_id == "dm1"
    assert group == "site" and dedup is not None and len(dedup) <= 128
    # The same event again has the same dedup id (FIFO drops it); a later delete does not.
    world.handle("posts/gone.md", event="ObjectRemoved:DeleteMarkerCreated", version="dm1")
    assert world.index_queue.sent[1][2] == dedup
    later = notification("posts/gone.md", "ObjectRemoved:Delete").replace("11:59:00", "12:30:00")
    validate.handle_message(later, world.deps)
    assert world.index_queue.sent[2][2] != dedup


def test_a_created_event_for_a_missing_object_is_a_deletion() -> None:
    world = World()
    assert world.handle("posts/raced.md") == ["deleted"]
    assert world.render_queue.sent == []


def test_a_removed_event_for_an_object_that_exists_again_validates_it() -> None:
    world = World()
    world.source.put("posts/back.md", post("title: Back"), "text/markdown")
    assert world.handle("posts/back.md", event="ObjectRemoved:Delete") == ["valid"]
    assert world.index_queue.sent == []


def test_images_are_published_under_media() -> None:
    world = World()
    world.source.put("posts/2026/harbour.PNG", PNG, "image/png")
    assert world.handle("posts/2026/harbour.PNG") == ["image-published"]
    published = world.site.get("media/2026/harbour.PNG")
    assert published is not None and published.body == PNG and published.content_type == "image/png"
    report = world.report("posts/2026/harbour.PNG")
    assert report is not None and report.status == "published"
    assert report.url == "https://blog.example/media/2026/harbour.PNG"
    assert world.handle("posts/2026/harbour.PNG", event="ObjectRemoved:Delete") == ["image-published"]
    world.source.delete("posts/2026/harbour.PNG")
    assert world.handle("posts/2026/harbour.PNG", event="ObjectRemoved:Delete") == ["image-removed"]
    assert world.site.get("media/2026/harbour.PNG") is None
    report = world.report("posts/2026/harbour.PNG")
    assert report is not None and report.status == "unpublished"


def test_svg_and_fake_images_are_refused() -> None:
    world = World()
    world.source.put("posts/d.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")
    world.source.put("posts/fake.png", b"<html>not an image</html>", "image/png")
    assert world.handle("posts/d.svg") == ["rejected"] and world.handle("posts/fake.png") == ["rejected"]
    assert world.site.objects == {}
    svg = world.report("posts/d.svg")
    assert svg is not None and svg.status == "rejected" and "SVG" in svg.errors[0].message


def test_other_files_under_posts_get_a_report_and_others_are_ignored() -> None:
    world = World()
    world.source.put("posts/notes.txt", b"hello", "text/plain")
    assert world.handle("posts/notes.txt") == ["rejected"]
    report = world.report("posts/notes.txt")
    assert report is not None and "neither a post (.md) nor an image" in report.errors[0].message
    assert world.handle("drafts/x.md") == ["ignored"]
    assert world.handle("posts/folder/") == ["ignored"]


def test_a_test_event_is_skipped() -> None:
    world = World()
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "source-bucket"})
    assert validate.handle_message(body, world.deps) == []


@pytest.mark.parametrize("body", ["not json", "[]", '{"Records": [{"eventName": "x"}]}'])
def test_a_malformed_message_is_poison(body: str) -> None:
    with pytest.raises(PoisonMessageError):
        validate.handle_message(body, World().deps)
