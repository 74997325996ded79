"""The Render stage with in-memory stores and queues."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from posts_helpers import post

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.errors import PoisonMessageError
from pressline.models import IndexUpdate, RenderedPost, RenderRequest, Report, SourceRef
from pressline.site.pages import Site
from pressline.stages import render

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SITE = Site(title="Blog", url="https://blog.example", api_url="https://api.example", timezone="Europe/Paris")


class World:
    def __init__(self) -> None:
        self.source = MemoryStore()  # keeps every version, as the versioned source bucket does
        self.site = MemoryStore()
        self.index_queue = MemoryQueue()
        self.deps = render.Dependencies(
            source=self.source, site=self.site, index_queue=self.index_queue, site_info=SITE, clock=lambda: NOW
        )

    def upload(self, key: str, raw: bytes) -> SourceRef:
        self.source.put(key, raw, "text/markdown")
        stored = self.source.get(key)
        assert stored is not None
        return SourceRef(bucket="source-bucket", key=key, version_id=stored.version_id, etag=stored.etag)

    def handle(self, source: SourceRef) -> str:
        return render.handle_message(RenderRequest(source=source).model_dump_json(), self.deps)

    def rendered(self, source: SourceRef) -> RenderedPost:
        stored = self.source.get(f"rendered/{source.key}/{source.version_id}.json")
        assert stored is not None
        return RenderedPost.model_validate_json(stored.body)


def test_a_published_post_is_stored_paged_and_sent_to_index() -> None:
    world = World()
    source = world.upload("posts/hello.md", post("title: Hello\ndate: 2026-01-01\ntags: [News]", "Body *text*.\n"))
    assert world.handle(source) == "rendered"
    stored = world.rendered(source)
    assert stored.status == "published" and stored.meta.slug == "hello" and stored.meta.summary == "Body text."
    assert stored.body_html == "<p>Body <em>text</em>.</p>\n" and stored.source == source
    page = world.site.get("posts/hello/index.html")
    assert page is not None and page.content_type == "text/html; charset=utf-8"
    assert b'<h1 class="p-name">Hello</h1>' in page.body and b"<em>text</em>" in page.body
    [(update, group, dedup)] = world.index_queue.sent
    assert isinstance(update, IndexUpdate)
    assert (update.action, update.slug, update.source, group) == ("upsert", "hello", source, "site")
    assert dedup is not None and len(dedup) == 64
    assert update.rendered == stored  # small: it travels inside the update, and Index reads nothing


@pytest.mark.parametrize(("front", "status"), [("draft: true", "draft"), ("date: 2030-01-01", "scheduled")])
def test_drafts_and_scheduled_posts_get_no_page_but_reach_index(front: str, status: str) -> None:
    world = World()
    source = world.upload("posts/later.md", post(f"title: Later\n{front}"))
    assert world.handle(source) == "rendered"
    assert world.rendered(source).status == status
    assert world.site.objects == {}
    assert [u.action for u, _, _ in world.index_queue.sent] == ["upsert"]


def test_a_duplicate_request_changes_nothing() -> None:
    world = World()
    source = world.upload("posts/hello.md", post("title: Hello\ndate: 2026-01-01"))
    world.handle(source)
    first = world.source.get(f"rendered/posts/hello.md/{source.version_id}.json")
    page = world.site.get("posts/hello/index.html")
    assert world.handle(source) == "rendered"
    again = world.source.get(f"rendered/posts/hello.md/{source.version_id}.json")
    assert first is not None and again is not None and again.body == first.body and again.etag == first.etag
    # The page is left alone: Index may have rewritten it with its neighbour links meanwhile.
    assert page is not None and world.site.get("posts/hello/index.html") == page
    (first_update, _, first_dedup), (second_update, _, second_dedup) = world.index_queue.sent
    assert first_dedup == second_dedup  # same dedup id: FIFO drops it
    # Not the stored rendering (this one was made again): Index reads the stored one.
    assert first_update.rendered is not None and second_update.rendered is None


def test_a_version_that_is_gone_is_stale() -> None:
    world = World()
    source = world.upload("posts/a.md", post("title: A"))
    world.upload("posts/a.md", post("title: A, again"))
    history = world.source.log["posts/a.md"]
    history[:] = [item for item in history if item.version_id != source.version_id]  # that version deleted
    assert world.handle(source) == "stale"
    assert world.site.objects == {} and world.index_queue.sent == []


def test_a_post_that_is_gone_is_stale() -> None:
    world = World()
    source = world.upload("posts/a.md", post("title: A"))
    world.source.delete("posts/a.md")
    assert world.handle(source) == "stale"
    assert world.site.objects == {} and world.index_queue.sent == []


def test_a_version_no_longer_current_is_rendered_for_index_to_judge_but_gets_no_page() -> None:
    world = World()
    source = world.upload("posts/a.md", post("title: A\ndate: 2026-01-01"))
    world.upload("posts/a.md", post("title: A, again\ndate: 2026-01-01"))
    assert world.handle(source) == "stale"
    assert world.rendered(source).meta.title == "A"
    assert world.site.objects == {}  # the newer version's page is never overwritten by an older one
    # Index decides: usually stale, but if the newer upload was rejected, this one stands.
    [(update, _, _)] = world.index_queue.sent
    assert update.source == source and update.rendered is not None and update.rendered.meta.title == "A"


def test_slugs_are_validate_s_check_and_index_s_decision_not_render_s() -> None:
    """Render reads no slug registry: Validate refused a slug already taken, and a slug that
    two uploads claim at once is settled by Index (the first keeps it; its page is restored)."""
    world = World()
    source = world.upload("posts/hello.md", post("title: Hello\ndate: 2026-01-01"))
    assert world.handle(source) == "rendered"
    assert [u.slug for u, _, _ in world.index_queue.sent] == ["hello"]


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
    [(update, _, _)] = world.index_queue.sent
    assert len(update.model_dump_json()) < 1024  # the message names the version, nothing more
    assert update.rendered is None and world.rendered(source).meta.title == "Long"  # Index reads it
    page = world.site.get("posts/long/index.html")
    assert page is not None
    text = page.body.decode()
    assert all(f"<p>Paragraph {i} " in text for i in range(1200))  # never truncated


@pytest.mark.parametrize("body", ["{}", "nonsense", '{"source": {"bucket": "b"}}'])
def test_a_malformed_request_is_poison(body: str) -> None:
    with pytest.raises(PoisonMessageError):
        render.handle_message(body, World().deps)


def test_a_version_that_breaks_the_rules_is_rejected_like_validate_would() -> None:
    world = World()
    source = world.upload("posts/bad.md", post("title: T\ndraft: maybe"))
    assert world.handle(source) == "rejected"
    stored = world.source.get("reports/posts/bad.md.json")
    assert stored is not None
    report = Report.model_validate_json(stored.body)
    assert [(e.field, e.message, e.line) for e in report.errors] == [("draft", "must be true or false", 3)]
    assert world.source.get(f"rendered/posts/bad.md/{source.version_id}.json") is None
    assert world.site.objects == {} and world.index_queue.sent == []


def test_images_the_post_shows_but_nobody_uploaded_are_warned_about() -> None:
    world = World()
    world.source.put("posts/2026/here.png", b"\x89PNG\r\n\x1a\n", "image/png")
    source = world.upload("posts/2026/p.md", post("title: P", "![a](here.png) ![b](img/missing.jpg)\n"))
    world.handle(source)
    assert [(w.field, w.message) for w in world.rendered(source).warnings] == [
        ("body", "image posts/2026/img/missing.jpg is not uploaded (yet); upload it beside the post")
    ]
