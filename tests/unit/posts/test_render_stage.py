"""The Render stage with in-memory stores and queues."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from posts_helpers import post

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore, StoredObject
from pressline.errors import PoisonMessageError
from pressline.models import IndexUpdate, RenderedPost, RenderRequest, Report, SourceRef
from pressline.site.pages import Site
from pressline.stages import render
from pressline.stages.batching import Batch, Handled, Message

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SITE = Site(title="Blog", url="https://blog.example", api_url="https://api.example", timezone="Europe/Paris")


class World:
    def __init__(self) -> None:
        self.source = CountingStore()  # keeps every version, as the versioned source bucket does
        self.index_queue = MemoryQueue()
        self.deps = render.Dependencies(
            source=self.source, index_queue=self.index_queue, site_info=SITE, clock=lambda: NOW
        )

    def upload(self, key: str, raw: bytes) -> SourceRef:
        self.source.put(key, raw, "text/markdown")
        stored = self.source.get(key)
        assert stored is not None
        return SourceRef(bucket="source-bucket", key=key, version_id=stored.version_id, etag=stored.etag)

    def handle(self, source: SourceRef, text: str | None = None) -> str:
        handled = self.batch(RenderRequest(source=source, text=text).model_dump_json())
        assert handled.response == {"batchItemFailures": []}
        [outcome] = handled.outcomes["m0"]
        return outcome

    def batch(self, *bodies: str) -> Handled[render.Outcome]:
        """One invocation with these message bodies (message ids m0, m1...)."""
        return render.handle_batch(Batch([Message(f"m{n}", body) for n, body in enumerate(bodies)]), self.deps)

    def updates(self) -> list[IndexUpdate]:
        return [message for message in self.index_queue.sent if isinstance(message, IndexUpdate)]

    def rendered(self, source: SourceRef) -> RenderedPost:
        stored = self.source.get(f"rendered/{source.key}/{source.version_id}.json")
        assert stored is not None
        return RenderedPost.model_validate_json(stored.body)


class CountingStore(MemoryStore):
    """A MemoryStore counting the reads of posts (each is a GET on AWS)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: str, version_id: str | None = None, *, limit: int | None = None) -> StoredObject | None:
        self.reads += 1
        return super().get(key, version_id, limit=limit)


def failed(handled: Handled[render.Outcome]) -> list[str]:
    return [item["itemIdentifier"] for item in handled.response["batchItemFailures"]]


def test_a_published_post_is_stored_and_sent_to_index() -> None:
    world = World()
    source = world.upload("posts/hello.md", post("title: Hello\ndate: 2026-01-01\ntags: [News]", "Body *text*.\n"))
    assert world.handle(source) == "rendered"
    stored = world.rendered(source)
    assert stored.status == "published" and stored.meta.slug == "hello" and stored.meta.summary == "Body text."
    assert stored.body_html == "<p>Body <em>text</em>.</p>\n" and stored.source == source
    [update] = world.updates()
    assert (update.action, update.slug, update.source) == ("upsert", "hello", source)
    assert update.rendered == stored  # small: it travels inside the update, and Index reads nothing
    # No page: Index writes every post page it applies, with its previous/next links.
    assert [key for key in world.source.objects if not key.startswith(("posts/", "rendered/"))] == []


def test_the_text_validate_carried_is_rendered_without_a_read() -> None:
    world = World()
    raw = post("title: Carried\ndate: 2026-01-01", "Caf\u00e9 \ufeff text.\n")
    source = world.upload("posts/c.md", raw)
    reads = world.source.reads
    assert world.handle(source, text=raw.decode()) == "rendered"
    assert world.source.reads == reads  # nothing read: the request held that version's bytes
    assert world.rendered(source).meta.title == "Carried"
    assert "Caf\u00e9" in world.rendered(source).body_html


def test_text_without_a_version_is_not_trusted() -> None:
    """Carried text is that of ``source.version_id``: without one it names no version, and
    the object is read instead."""
    world = World()
    source = world.upload("posts/c.md", post("title: Stored"))
    unversioned = source.model_copy(update={"version_id": None})
    assert world.handle(unversioned, text=post("title: Carried").decode()) == "rendered"
    [update] = world.updates()
    assert update.rendered is not None and update.rendered.meta.title == "Stored"


@pytest.mark.parametrize(("front", "status"), [("draft: true", "draft"), ("date: 2030-01-01", "scheduled")])
def test_drafts_and_scheduled_posts_reach_index(front: str, status: str) -> None:
    world = World()
    source = world.upload("posts/later.md", post(f"title: Later\n{front}"))
    assert world.handle(source) == "rendered"
    assert world.rendered(source).status == status
    assert [u.action for u in world.updates()] == ["upsert"]


def test_a_duplicate_request_changes_nothing() -> None:
    world = World()
    source = world.upload("posts/hello.md", post("title: Hello\ndate: 2026-01-01"))
    world.handle(source)
    first = world.source.get(f"rendered/posts/hello.md/{source.version_id}.json")
    assert world.handle(source) == "rendered"
    again = world.source.get(f"rendered/posts/hello.md/{source.version_id}.json")
    assert first is not None and again is not None and again.body == first.body and again.etag == first.etag
    first_update, second_update = world.updates()
    assert (first_update.source, first_update.slug) == (second_update.source, second_update.slug)  # Index: a duplicate
    # Not the stored rendering (this one was made again): Index reads the stored one.
    assert first_update.rendered is not None and second_update.rendered is None


def test_a_version_that_is_gone_is_stale() -> None:
    world = World()
    source = world.upload("posts/a.md", post("title: A"))
    world.upload("posts/a.md", post("title: A, again"))
    history = world.source.log["posts/a.md"]
    history[:] = [item for item in history if item.version_id != source.version_id]  # that version deleted
    assert world.handle(source) == "stale"
    assert world.updates() == []


def test_a_post_that_is_gone_is_stale() -> None:
    world = World()
    source = world.upload("posts/a.md", post("title: A"))
    world.source.delete("posts/a.md")
    world.source.log["posts/a.md"].clear()  # every version deleted
    assert world.handle(source) == "stale"
    assert world.updates() == []


def test_a_version_no_longer_current_is_rendered_for_index_to_judge() -> None:
    world = World()
    source = world.upload("posts/a.md", post("title: A\ndate: 2026-01-01"))
    world.upload("posts/a.md", post("title: A, again\ndate: 2026-01-01"))
    assert world.handle(source) == "rendered"
    assert world.rendered(source).meta.title == "A"
    # Index decides: usually stale, but if the newer upload was rejected, this one stands.
    [update] = world.updates()
    assert update.source == source and update.rendered is not None and update.rendered.meta.title == "A"


def test_slugs_are_validate_s_check_and_index_s_decision_not_render_s() -> None:
    """Render reads no slug registry: Validate refused a slug already taken, and a slug that
    two uploads claim at once is settled by Index (the first keeps it; its page is restored)."""
    world = World()
    source = world.upload("posts/hello.md", post("title: Hello\ndate: 2026-01-01"))
    assert world.handle(source) == "rendered"
    assert [u.slug for u in world.updates()] == ["hello"]


def test_warnings_travel_to_index_in_the_rendered_post() -> None:
    world = World()
    source = world.upload("posts/w.md", post("title: W\nlayout: x\nimage: notes.txt", "![d](d.svg) text\n"))
    world.handle(source)
    warnings = [(w.field, w.line) for w in world.rendered(source).warnings]
    assert warnings == [("layout", 3), ("body", None), ("image", None)]


def test_cover_images_are_stored_as_public_paths() -> None:
    world = World()
    source = world.upload("posts/2026/p.md", post("title: P\nimage: cover.jpg"))
    world.handle(source)
    assert world.rendered(source).meta.image == "/media/2026/cover.jpg"


def test_a_post_too_large_for_sqs_travels_by_reference() -> None:
    world = World()
    paragraphs = [f"Paragraph {i} " + "lorem ipsum dolor sit amet " * 30 for i in range(1200)]
    raw = post("title: Long\ndate: 2026-01-01", "\n\n".join(paragraphs) + "\n")
    assert 256 * 1024 < len(raw) <= 1024 * 1024  # bigger than any SQS message
    source = world.upload("posts/long.md", raw)
    assert world.handle(source) == "rendered"
    [update] = world.updates()
    assert len(update.model_dump_json()) < 1024  # the message names the version, nothing more
    assert update.rendered is None  # Index reads it
    stored = world.rendered(source)
    assert stored.meta.title == "Long" and all(f"<p>Paragraph {i} " in stored.body_html for i in range(1200))


@pytest.mark.parametrize("body", ["{}", "nonsense", '{"source": {"bucket": "b"}}'])
def test_a_malformed_request_is_poison(body: str) -> None:
    with pytest.raises(PoisonMessageError):
        render.parse_message(body)
    world = World()
    source = world.upload("posts/a.md", post("title: A"))
    handled = world.batch(body, RenderRequest(source=source).model_dump_json())
    assert failed(handled) == ["m0"] and handled.poison == 1  # it alone: the good one goes on
    assert handled.outcomes == {"m1": ["rendered"]} and len(world.updates()) == 1


def test_a_version_that_breaks_the_rules_is_rejected_like_validate_would() -> None:
    world = World()
    source = world.upload("posts/bad.md", post("title: T\ndraft: maybe"))
    assert world.handle(source) == "rejected"
    stored = world.source.get("reports/posts/bad.md.json")
    assert stored is not None
    report = Report.model_validate_json(stored.body)
    assert [(e.field, e.message, e.line) for e in report.errors] == [("draft", "must be true or false", 3)]
    assert world.source.get(f"rendered/posts/bad.md/{source.version_id}.json") is None
    assert world.updates() == []


def test_images_the_post_shows_but_nobody_uploaded_are_warned_about() -> None:
    world = World()
    world.source.put("posts/2026/here.png", b"\x89PNG\r\n\x1a\n", "image/png")
    source = world.upload("posts/2026/p.md", post("title: P", "![a](here.png) ![b](img/missing.jpg)\n"))
    world.handle(source)
    assert [(w.field, w.message) for w in world.rendered(source).warnings] == [
        ("body", "image posts/2026/img/missing.jpg is not uploaded (yet); upload it beside the post")
    ]


# --------------------------------------------------------------------------- batches
def test_a_batch_sends_its_updates_in_one_call() -> None:
    world = World()
    bodies = []
    for n in range(10):
        raw = post(f"title: Post {n}\ndate: 2026-01-01")
        source = world.upload(f"posts/p{n}.md", raw)
        bodies.append(RenderRequest(source=source, text=raw.decode()).model_dump_json())
    reads = world.source.reads
    handled = world.batch(*bodies)
    assert failed(handled) == [] and all(handled.outcomes[f"m{n}"] == ["rendered"] for n in range(10))
    assert world.index_queue.calls == 1 and world.source.reads == reads  # one SendMessageBatch, no GET
    assert sorted(u.slug or "" for u in world.updates()) == sorted(f"p{n}" for n in range(10))


def test_an_update_sqs_does_not_take_fails_its_message_alone() -> None:
    world = World()
    world.index_queue.refuse = lambda message: isinstance(message, IndexUpdate) and message.slug == "b"
    sources = [world.upload(f"posts/{name}.md", post(f"title: {name.upper()}")) for name in "abc"]
    handled = world.batch(*(RenderRequest(source=source).model_dump_json() for source in sources))
    assert failed(handled) == ["m1"] and sorted(handled.outcomes) == ["m0", "m2"]
    assert sorted(u.slug or "" for u in world.updates()) == ["a", "c"]
    # Its retry finds its rendering stored, and sends an update that names it.
    world.index_queue.refuse = None
    assert world.handle(sources[1]) == "rendered"
    assert world.updates()[-1].slug == "b" and world.updates()[-1].rendered is None


def test_a_failing_message_sends_nothing_and_the_others_go_on() -> None:
    from pressline.errors import RetryableError

    world = World()
    good = world.upload("posts/good.md", post("title: Good"))
    bad = world.upload("posts/bad.md", post("title: Bad"))
    put = world.source.put

    def flaky(
        key: str, body: bytes, content_type: str, cache_control: str | None = None, *, if_absent: bool = False
    ) -> bool:
        if key.startswith("rendered/posts/bad.md/"):
            raise RetryableError("S3 put: SlowDown")
        return put(key, body, content_type, cache_control, if_absent=if_absent)

    world.source.put = flaky  # type: ignore[method-assign]
    handled = world.batch(RenderRequest(source=good).model_dump_json(), RenderRequest(source=bad).model_dump_json())
    assert failed(handled) == ["m1"] and [u.slug for u in world.updates()] == ["good"]


# Any character an author can type, in the front matter and the body: control characters,
# NUL, CR, BOM, noncharacters (U+FFFE/U+FFFF, which SQS refuses raw), astral planes.
AUTHOR_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)


@settings(max_examples=60, deadline=None)
@given(title=AUTHOR_TEXT, body=AUTHOR_TEXT)
@example(title="Caf\u00e9 \ufffe", body='\ufeffa\uffffb\r\n\U0001f600 \\ " </script>\n')  # valid: it is published
def test_carried_text_renders_exactly_as_the_stored_version(title: str, body: str) -> None:
    """The whole class of posts: whatever Validate carries, through SQS's body, Render makes
    of it what it makes of the stored bytes of that version (or refuses it the same way)."""
    from pressline.adapters.queue import message_body
    from pressline.posts import messages

    raw = post(f"title: {json.dumps(title)}\ndate: 2026-01-01", body)
    carried, stored = World(), World()
    outcomes, reads = [], []
    for world in (carried, stored):
        source = world.upload("posts/p.md", raw)
        found = world.source.get("posts/p.md")
        assert found is not None
        request = messages.render_request(source, found) if world is carried else RenderRequest(source=source)
        before = world.source.reads
        outcomes.append(world.batch(message_body(request)))
        reads.append(world.source.reads - before)
    assert reads == [0, 1]  # the carried one read nothing
    assert carried_outcome(outcomes[0]) == carried_outcome(outcomes[1])
    assert [without_time(u) for u in carried.updates()] == [without_time(u) for u in stored.updates()]


def carried_outcome(handled: Handled[render.Outcome]) -> tuple[list[str], dict[str, list[render.Outcome]]]:
    return failed(handled), handled.outcomes


def without_time(update: IndexUpdate) -> str:
    """An update without the upload time (each world stamps its own)."""
    return update.model_dump_json(exclude={"source": {"last_modified"}, "rendered": {"source": {"last_modified"}}})


def test_a_version_render_cannot_handle_gets_a_failed_report_and_goes_on_to_the_dlq(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure of the pure rendering repeats on every retry: the author is told at once;
    the message still fails (the DLQ, its alarm, a redrive once fixed), the others go on."""
    world = World()
    good = world.upload("posts/good.md", post("title: Good"))
    bad = world.upload("posts/bad.md", post("title: Bad"))
    real = render.render

    def crashing(raw: bytes, source: SourceRef, **kwargs: object) -> render.Rendering:
        if source.key == "posts/bad.md":
            raise KeyError("a bug")
        return real(raw, source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render, "render", crashing)
    handled = world.batch(RenderRequest(source=good).model_dump_json(), RenderRequest(source=bad).model_dump_json())
    assert failed(handled) == ["m1"] and [u.slug for u in world.updates()] == ["good"]
    stored = world.source.get("reports/posts/bad.md.json")
    assert stored is not None
    report = Report.model_validate_json(stored.body)
    assert (report.status, report.version) == ("failed", bad.version_id)
    assert [(e.field, e.message) for e in report.errors] == [
        ("file", "this version could not be rendered (KeyError); it is retried once the cause is fixed")
    ]


def test_an_older_version_s_rejection_does_not_replace_the_newer_one_s_report() -> None:
    world = World()
    old = world.upload("posts/bad.md", post("title: T\ndraft: maybe"))
    world.upload("posts/bad.md", post("title: Newer"))
    world.source.put("reports/posts/bad.md.json", b'{"status": "published"}', "application/json")
    assert world.handle(old) == "rejected"
    stored = world.source.get("reports/posts/bad.md.json")
    assert stored is not None and stored.body == b'{"status": "published"}'


@pytest.mark.parametrize("character", ["a", '"', "\U0001f600", "\ufffe"])
@pytest.mark.parametrize("count", [1, 40_000, 65_000, 100_000])
def test_an_update_always_fits_in_an_sqs_message(character: str, count: int) -> None:
    """The rendering rides inside the update only while the update, as SQS counts it, is at
    most INLINE_RENDERED_BYTES; else the update names it."""
    from pressline.adapters.queue import MAX_BATCH_BYTES, message_body
    from pressline.models import PostMeta
    from pressline.posts import messages

    source = SourceRef(bucket="b", key="posts/a.md", version_id="v1")
    meta = PostMeta(slug="a", title="A", date=NOW)
    rendered = RenderedPost(source=source, meta=meta, body_html=character * count, status="published", rendered_at=NOW)
    update = messages.upsert(source, "a", rendered)
    assert len(message_body(update).encode()) <= messages.INLINE_RENDERED_BYTES < MAX_BATCH_BYTES
    # Bytes a character takes in the body: UTF-8, or its JSON escape (\" and \ufffe).
    width = {"a": 1, '"': 2, "\U0001f600": 4, "\ufffe": 6}[character]
    assert (update.rendered is not None) == (count * width < messages.INLINE_RENDERED_BYTES - 1024)


CORPUS_DIR = Path(__file__).resolve().parents[2] / "corpus"
CORPUS = sorted((CORPUS_DIR / "files").glob("*.md"))
CORPUS_EXPECTED = json.loads((CORPUS_DIR / "expected.json").read_text())["files"]


def through_validate_and_render(raw: bytes, *, carried: bool) -> tuple[object, ...]:
    """Validate then Render on one upload (every message through its SQS body); with
    ``carried`` False, Render gets the request without the text and reads the version."""
    from pressline.adapters.queue import message_body
    from pressline.posts.slugs import MemorySlugRegistry
    from pressline.stages import validate

    world = World()
    world.source.put("posts/corpus.md", raw, "text/markdown")
    uploaded = dataclasses.replace(world.source.objects["posts/corpus.md"], last_modified=NOW)  # a post's default date
    world.source.objects["posts/corpus.md"] = world.source.log["posts/corpus.md"][0] = uploaded
    requests = MemoryQueue()
    checks = validate.Dependencies(
        source=world.source, render_queue=requests, index_queue=MemoryQueue(), image_queue=MemoryQueue(),
        slugs=MemorySlugRegistry(), bucket="source-bucket", clock=lambda: NOW,
    )  # fmt: skip
    s3 = {"bucket": {"name": "source-bucket"}, "object": {"key": "posts/corpus.md", "size": len(raw)}}
    event = {"eventName": "ObjectCreated:Put", "eventTime": "2026-03-01T11:59:00.000Z", "s3": s3}
    validated = validate.handle_batch(Batch([Message("m0", json.dumps({"Records": [event]}))]), checks)
    assert failed(validated) == []
    sent = [m if carried else m.model_copy(update={"text": None}) for m in requests.sent]
    before = world.source.reads
    rendered = world.batch(*(message_body(m) for m in sent))
    reads = world.source.reads - before
    reports = {k: v.body for k, v in world.source.objects.items() if k.startswith("reports/")}
    return (validated.outcomes, failed(rendered), rendered.outcomes, [without_time(u) for u in world.updates()],
            reports, reads if sent else None)  # fmt: skip


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_every_corpus_file_renders_the_same_carried_or_read(path: Path) -> None:
    """The hostile-input corpus (bidi, controls, NUL, invalid UTF-8, bombs...): what Validate
    carries to Render gives what Render would make of the stored version, reading nothing."""
    raw = path.read_bytes()
    carried = through_validate_and_render(raw, carried=True)
    by_reference = through_validate_and_render(raw, carried=False)
    assert carried[:5] == by_reference[:5]
    if CORPUS_EXPECTED[path.name]["status"] == "accepted":
        assert carried[0] == {"m0": ["valid"]} and carried[2] == {"m0": ["rendered"]}
        assert (carried[5], by_reference[5]) == (0, 1)  # went to Render, which read nothing
    else:
        assert carried[0] == {"m0": ["rejected"]} and carried[5] is None
