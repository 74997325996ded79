"""The Validate stage with in-memory stores and queues: what each upload leads to, and what
a batch of them costs."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from posts_helpers import EXAMPLES, post

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore, StoredObject
from pressline.errors import PoisonMessageError
from pressline.models import ImageRequest, IndexUpdate, RenderRequest, Report
from pressline.posts.slugs import MemorySlugRegistry
from pressline.stages import validate
from pressline.stages.batching import Batch, Handled, Message

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PNG = (EXAMPLES / "harbour-at-dawn.png").read_bytes()


class World:
    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.source = MemoryStore()
        self.render_queue = MemoryQueue()
        self.index_queue = MemoryQueue()
        self.image_queue = MemoryQueue()
        self.slugs = CountingSlugs(owners)
        self.deps = validate.Dependencies(
            source=self.source, render_queue=self.render_queue, index_queue=self.index_queue,
            image_queue=self.image_queue, slugs=self.slugs, bucket="source-bucket", clock=lambda: NOW,
        )  # fmt: skip

    def report(self, key: str) -> Report | None:
        stored = self.source.get(f"reports/{key}.json")
        return Report.model_validate_json(stored.body) if stored else None

    def handle(self, key: str, event: str = "ObjectCreated:Put", version: str | None = None) -> list[str]:
        handled = self.batch(notification(key, event, version))
        assert handled.response == {"batchItemFailures": []}
        return list(handled.outcomes["m0"])

    def batch(self, *bodies: str) -> Handled[validate.Outcome]:
        """One invocation with these message bodies (message ids m0, m1...)."""
        messages = [Message(f"m{n}", body) for n, body in enumerate(bodies)]
        return validate.handle_batch(Batch(messages), self.deps)

    def requests(self) -> list[RenderRequest]:
        return [message for message in self.render_queue.sent if isinstance(message, RenderRequest)]


class CountingSlugs(MemorySlugRegistry):
    """Slug owners from a dict, counting the reads (each is one BatchGetItem on AWS)."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        super().__init__(owners)
        self.reads = 0

    def owners_of(self, slugs: Collection[str]) -> dict[str, str]:
        self.reads += 1
        return super().owners_of(slugs)


def failed(handled: Handled[validate.Outcome]) -> list[str]:
    return [item["itemIdentifier"] for item in handled.response["batchItemFailures"]]


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
    [message] = world.requests()
    assert message.source.key == "posts/My Post.md" and message.source.version_id == "v1"
    assert message.source.bucket == "source-bucket"
    # The text Validate read travels with it: exactly that version's bytes, so Render reads nothing.
    assert message.text is not None and message.text.encode() == post("title: Hello")
    assert world.report("posts/My Post.md") is None  # Index writes the report of a valid post
    assert world.index_queue.sent == []


def test_a_stale_event_validates_what_s3_holds_now() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v1, invalid
    world.source.put("posts/a.md", post("title: Fixed"), "text/markdown")  # v2, valid
    assert world.handle("posts/a.md", version="v1") == ["valid"]
    [message] = world.requests()
    assert message.source.version_id == "v2" and message.text is not None and "Fixed" in message.text


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
    assert world.requests() == [] and world.index_queue.sent == [] and world.image_queue.sent == []
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
    [message] = world.requests()
    assert message.source.version_id == "v1" and message.text is not None and "Good edit" in message.text


def test_the_last_valid_version_is_found_behind_several_rejected_ones() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: Good"), "text/markdown")  # v1
    world.source.put("posts/a.md", post("title: T\ndate: someday"), "text/markdown")  # v2, invalid
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v3, invalid
    assert world.handle("posts/a.md") == ["rejected"]
    assert [message.source.version_id for message in world.requests()] == ["v1"]


def test_a_post_deleted_before_its_rejected_upload_stays_deleted() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: Good"), "text/markdown")  # v1
    world.source.delete("posts/a.md")  # v2, a delete marker
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")  # v3, invalid
    assert world.handle("posts/a.md") == ["rejected"]
    assert world.requests() == []


def test_a_new_file_rejected_has_no_version_to_fall_back_to() -> None:
    world = World()
    world.source.put("posts/a.md", post("title: ''"), "text/markdown")
    assert world.handle("posts/a.md") == ["rejected"]
    assert world.requests() == []


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
    [message] = world.index_queue.sent
    assert isinstance(message, IndexUpdate) and message.action == "delete"
    assert message.source.key == "posts/gone.md" and message.source.version_id == "dm1"
    # The same event again sends the same delete: the Index queue is a standard queue, and
    # Index recognises a duplicate (S3 and the catalog say the post is gone already).
    world.handle("posts/gone.md", event="ObjectRemoved:DeleteMarkerCreated", version="dm1")
    assert world.index_queue.sent == [message, message]


def test_a_created_event_for_a_missing_object_is_a_deletion() -> None:
    world = World()
    assert world.handle("posts/raced.md") == ["deleted"]
    assert world.requests() == []


def test_a_removed_event_for_an_object_that_exists_again_validates_it() -> None:
    world = World()
    world.source.put("posts/back.md", post("title: Back"), "text/markdown")
    assert world.handle("posts/back.md", event="ObjectRemoved:Delete") == ["valid"]
    assert world.index_queue.sent == []


def test_images_are_handed_to_the_image_stage_unpublished_and_read_only_to_their_signature() -> None:
    world = World()
    world.source.put("posts/2026/harbour.PNG", PNG, "image/png")
    limits: list[int | None] = []
    read = world.source.get

    def counted(key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        limits.append(limit)
        return read(key, version_id, limit=limit)

    world.source.get = counted  # type: ignore[method-assign]
    assert world.handle("posts/2026/harbour.PNG") == ["image-requested"]
    assert limits == [validate.IMAGE_SNIFF_BYTES] and len(PNG) > 100 * validate.IMAGE_SNIFF_BYTES
    [sent] = world.image_queue.sent
    assert isinstance(sent, ImageRequest)
    assert (sent.source.key, sent.source.version_id) == ("posts/2026/harbour.PNG", "v1")
    # The Image stage writes the report once it has the variants: Validate writes nothing.
    assert world.report("posts/2026/harbour.PNG") is None
    assert world.handle("posts/2026/harbour.PNG", event="ObjectRemoved:Delete") == ["image-requested"]
    world.source.delete("posts/2026/harbour.PNG")
    assert world.handle("posts/2026/harbour.PNG", event="ObjectRemoved:Delete", version="v9") == ["image-removed"]
    removed = world.image_queue.sent[-1]
    assert isinstance(removed, ImageRequest) and removed.source.version_id == "v9"  # the Image stage reconciles
    assert len(world.image_queue.sent) == 3 and world.render_queue.sent == [] and world.index_queue.sent == []


def test_an_image_over_the_limit_is_refused_from_its_size_alone() -> None:
    world = World()
    world.source.put("posts/huge.jpg", b"\xff\xd8\xff" + b"\x00" * (10 * 1024 * 1024), "image/jpeg")
    assert world.handle("posts/huge.jpg") == ["rejected"]
    report = world.report("posts/huge.jpg")
    assert report is not None and "the limit for images is 10 MiB" in report.errors[0].message
    assert world.image_queue.sent == []


def test_svg_and_fake_images_are_refused() -> None:
    world = World()
    world.source.put("posts/d.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")
    world.source.put("posts/fake.png", b"<html>not an image</html>", "image/png")
    assert world.handle("posts/d.svg") == ["rejected"] and world.handle("posts/fake.png") == ["rejected"]
    assert world.image_queue.sent == []
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
    handled = world.batch(body)
    assert handled.outcomes == {"m0": []} and failed(handled) == []


@pytest.mark.parametrize("body", ["not json", "[]", '{"Records": [{"eventName": "x"}]}'])
def test_a_malformed_message_is_poison(body: str) -> None:
    with pytest.raises(PoisonMessageError):
        validate.parse_message(body)
    world = World()
    world.source.put("posts/a.md", post("title: A"), "text/markdown")
    handled = world.batch(body, notification("posts/a.md"))
    assert failed(handled) == ["m0"] and handled.poison == 1  # it alone: the good one goes on
    assert handled.outcomes == {"m1": ["valid"]} and len(world.requests()) == 1


# --------------------------------------------------------------------------- batches
def test_a_batch_looks_up_its_slugs_once_and_sends_its_requests_together() -> None:
    world = World(owners={"taken": "posts/other.md"})
    for n in range(9):
        world.source.put(f"posts/p{n}.md", post(f"title: Post {n}"), "text/markdown")
    world.source.put("posts/late.md", post("title: Late\nslug: taken"), "text/markdown")
    keys = [f"posts/p{n}.md" for n in range(9)] + ["posts/late.md"]
    handled = world.batch(*(notification(key) for key in keys))
    assert failed(handled) == []
    assert [handled.outcomes[f"m{n}"] for n in range(10)] == [["valid"]] * 9 + [["rejected"]]
    assert world.slugs.reads == 1 and world.render_queue.calls == 1  # one BatchGetItem, one SendMessageBatch
    assert sorted(m.source.key for m in world.requests()) == sorted(keys[:9])
    report = world.report("posts/late.md")
    assert report is not None and [e.field for e in report.errors] == ["slug"]


def test_a_request_sqs_does_not_take_fails_its_message_alone() -> None:
    world = World()
    world.render_queue.refuse = lambda message: (
        isinstance(message, RenderRequest) and message.source.key == "posts/b.md"
    )
    for key in ("posts/a.md", "posts/b.md", "posts/c.md"):
        world.source.put(key, post(f"title: {key}"), "text/markdown")
    handled = world.batch(*(notification(key) for key in ("posts/a.md", "posts/b.md", "posts/c.md")))
    assert failed(handled) == ["m1"]  # SQS brings it back; its retry sends it again
    assert sorted(handled.outcomes) == ["m0", "m2"]
    assert sorted(m.source.key for m in world.requests()) == ["posts/a.md", "posts/c.md"]


def test_a_slug_lookup_that_fails_fails_the_posts_waiting_for_it_only() -> None:
    from pressline.errors import RetryableError

    world = World()

    def throttled(slugs: Collection[str]) -> dict[str, str]:
        raise RetryableError("DynamoDB batch_get_item: ProvisionedThroughputExceededException")

    world.slugs.owners_of = throttled  # type: ignore[method-assign]
    world.source.put("posts/a.md", post("title: A"), "text/markdown")
    world.source.put("posts/pic.png", PNG, "image/png")
    handled = world.batch(notification("posts/a.md"), notification("posts/pic.png"), notification("posts/gone.md"))
    assert failed(handled) == ["m0"]
    assert handled.outcomes == {"m1": ["image-requested"], "m2": ["deleted"]}
    assert world.requests() == [] and [m.action for m in world.index_queue.sent if isinstance(m, IndexUpdate)] == [
        "delete"
    ]


def test_a_large_post_goes_to_render_by_reference() -> None:
    world = World()
    raw = post("title: Long", "word " * 40_000)  # 200 KB: too much to carry
    world.source.put("posts/long.md", raw, "text/markdown")
    assert world.handle("posts/long.md") == ["valid"]
    [message] = world.requests()
    assert message.text is None and message.source.version_id == "v1"  # Render reads it


def requested(world: World) -> list[tuple[str, str | None, str | None]]:
    """The render requests sent (their upload times differ between worlds)."""
    return [(m.source.key, m.source.version_id, m.text) for m in world.requests()]


def images(world: World) -> list[tuple[str, str | None]]:
    """The image requests sent (their upload times differ between worlds)."""
    return [(m.source.key, m.source.version_id) for m in world.image_queue.sent if isinstance(m, ImageRequest)]


def reports(world: World) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    found = {}
    for key, stored in world.source.objects.items():
        if key.startswith("reports/"):
            report = Report.model_validate_json(stored.body)
            found[key] = (report.status, [(e.field, e.message) for e in report.errors])
    return found


KINDS = st.sampled_from(["valid", "invalid", "slug-taken", "deleted", "image", "poison", "test-event"])


@settings(max_examples=30, deadline=None)
@given(kinds=st.lists(KINDS, min_size=1, max_size=10))
def test_a_batch_does_what_its_messages_would_do_one_at_a_time(kinds: list[str]) -> None:
    """The whole class of batches: whatever a batch holds, each message gets the outcome,
    the report and the messages it would get alone, and only poison fails."""

    def world_with(kinds: list[str]) -> tuple[World, list[str]]:
        world = World(owners={"taken": "posts/owner.md"})
        bodies = []
        for n, kind in enumerate(kinds):
            key = f"posts/{n}.png" if kind == "image" else f"posts/{n}.md"
            if kind in ("valid", "invalid", "slug-taken"):
                front = {"valid": f"title: P{n}", "invalid": "title: ''", "slug-taken": "title: T\nslug: taken"}[kind]
                world.source.put(key, post(front), "text/markdown")
            if kind == "image":
                world.source.put(key, PNG, "image/png")
            test_event = json.dumps({"Event": "s3:TestEvent"})
            bodies.append({"poison": "not json", "test-event": test_event}.get(kind, notification(key)))
        return world, bodies

    together, bodies = world_with(kinds)
    handled = together.batch(*bodies)
    alone, _ = world_with(kinds)
    for n, body in enumerate(bodies):
        one = alone.batch(body)
        assert failed(one) == (["m0"] if kinds[n] == "poison" else [])
        assert handled.outcomes.get(f"m{n}") == one.outcomes.get("m0")
    assert failed(handled) == [f"m{n}" for n, kind in enumerate(kinds) if kind == "poison"]
    assert requested(together) == requested(alone)
    assert together.index_queue.sent == alone.index_queue.sent
    assert images(together) == images(alone)
    assert reports(together) == reports(alone)
    assert together.slugs.reads <= 1 and together.render_queue.calls <= 1


@pytest.mark.parametrize("character", ["a", "\u00e9", "\u20ac", "\U0001f600", '"', "\\", "\t", "\ufffe", "\uffff"])
@pytest.mark.parametrize("count", [1, 20_000, 40_000, 43_690, 60_000])
def test_a_render_request_always_fits_in_an_sqs_message(character: str, count: int) -> None:
    """Whatever the text (JSON escapes quotes and tabs; SQS's body escapes U+FFFE and U+FFFF),
    a request that carries it is at most INLINE_SOURCE_BYTES as sent, and one too large to
    carry goes by reference."""
    from pressline.adapters.queue import MAX_BATCH_BYTES, message_body
    from pressline.adapters.store import StoredObject
    from pressline.models import SourceRef
    from pressline.posts import messages

    raw = post("title: T", character * count + "\n")
    stored = StoredObject("posts/a.md", raw, "v1", '"1"', NOW, "text/markdown")
    request = messages.render_request(SourceRef(bucket="b", key="posts/a.md", version_id="v1"), stored)
    size = len(message_body(request).encode())
    assert size <= messages.INLINE_SOURCE_BYTES < MAX_BATCH_BYTES
    assert (request.text is not None) == (
        len(message_body(RenderRequest(source=request.source, text=raw.decode())).encode())
        <= messages.INLINE_SOURCE_BYTES
    )
