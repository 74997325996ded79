"""Validate and Render for static pages (``pages/<name>.md``), with in-memory stores and
queues: a page goes to Render without a slug lookup, a name the site cannot serve gets a
report, a removed page goes to Index as a delete, and Render makes a page's rendering."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from urllib.parse import quote_plus

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.models import IndexUpdate, RenderedPost, RenderRequest, Report
from pressline.posts.slugs import MemorySlugRegistry
from pressline.site.pages import Site
from pressline.stages import render, validate
from pressline.stages.batching import Batch, Message

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class CountingSlugs(MemorySlugRegistry):
    def __init__(self, owners: dict[str, str] | None = None) -> None:
        super().__init__(owners)
        self.reads = 0

    def owners_of(self, slugs: Collection[str]) -> dict[str, str]:
        self.reads += 1
        return super().owners_of(slugs)


class Stages:
    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self.source = MemoryStore()
        self.render_queue, self.index_queue, self.image_queue = MemoryQueue(), MemoryQueue(), MemoryQueue()
        self.slugs = CountingSlugs(owners)
        self.validate = validate.Dependencies(
            source=self.source, render_queue=self.render_queue, index_queue=self.index_queue,
            image_queue=self.image_queue, slugs=self.slugs, bucket="source-bucket", clock=lambda: NOW,
        )  # fmt: skip
        self.render = render.Dependencies(
            source=self.source,
            index_queue=self.index_queue,
            site_info=Site(title="T", url="https://blog.example", api_url="https://api.blog.example"),
            clock=lambda: NOW,
        )

    def upload(self, key: str, text: str) -> list[str]:
        self.source.put(key, text.encode(), "text/markdown")
        return self.event(key, "ObjectCreated:Put")

    def event(self, key: str, name: str) -> list[str]:
        obj = {"key": quote_plus(key), "size": 10}
        record = {"eventName": name, "eventTime": "2026-03-01T11:59:00.000Z",
                  "s3": {"bucket": {"name": "source-bucket"}, "object": obj}}  # fmt: skip
        handled = validate.handle_batch(Batch([Message("m0", json.dumps({"Records": [record]}))]), self.validate)
        assert handled.response == {"batchItemFailures": []}
        return list(handled.outcomes["m0"])

    def report(self, key: str) -> Report | None:
        stored = self.source.get(f"reports/{key}.json")
        return Report.model_validate_json(stored.body) if stored else None

    def render_all(self) -> list[IndexUpdate]:
        """Render each request; the updates it would send to Index."""
        updates = []
        for request in [m for m in self.render_queue.sent if isinstance(m, RenderRequest)]:
            _, update = render.handle_message(request.model_dump_json(), self.render)
            if update is not None:
                updates.append(update)
        return updates


def test_a_page_goes_to_render_with_no_slug_lookup_even_where_a_post_has_its_name() -> None:
    stages = Stages(owners={"about": "posts/about.md"})
    assert stages.upload("pages/about.md", "---\ntitle: About\nnav_order: 2\n---\n\nUs.\n") == ["valid"]
    assert stages.slugs.reads == 0
    [update] = stages.render_all()
    assert update.action == "upsert" and update.slug == "about"
    rendered = update.rendered
    assert isinstance(rendered, RenderedPost)
    assert (rendered.status, rendered.meta.nav_order, rendered.meta.nav) == ("published", 2, True)
    assert "<p>Us.</p>" in rendered.body_html


def test_a_future_dated_page_renders_as_published() -> None:
    stages = Stages()
    stages.upload("pages/now.md", "---\ntitle: Now\ndate: 2999-01-01\n---\n\nSoon.\n")
    [update] = stages.render_all()
    assert update.rendered is not None and update.rendered.status == "published"


def test_what_pages_cannot_hold_is_reported_and_goes_nowhere() -> None:
    stages = Stages()
    for key in ("pages/archive.md", "pages/a/b.md", "pages/team.png", "pages/Big.md"):
        assert stages.upload(key, "---\ntitle: X\n---\n\nY\n") == ["rejected"], key
        report = stages.report(key)
        assert report is not None and report.status == "rejected" and [e.field for e in report.errors] == ["file"]
    assert stages.render_queue.sent == [] and stages.index_queue.sent == [] and stages.image_queue.sent == []


def test_a_removed_page_goes_to_index_as_a_delete() -> None:
    stages = Stages()
    stages.upload("pages/about.md", "---\ntitle: About\n---\n\nUs.\n")
    stages.source.delete("pages/about.md")
    assert stages.event("pages/about.md", "ObjectRemoved:DeleteMarkerCreated") == ["deleted"]
    [delete] = [m for m in stages.index_queue.sent if isinstance(m, IndexUpdate)]
    assert (delete.action, delete.source.key) == ("delete", "pages/about.md")


def test_a_rejected_page_edit_sends_the_last_valid_version_on() -> None:
    stages = Stages(owners={"about": "posts/about.md"})  # a post's slug is no page's concern
    stages.source.put("pages/about.md", b"---\ntitle: Good\n---\n\nUs.\n", "text/markdown")  # v1
    stages.source.put("pages/about.md", b"---\ntitle: Bad\nnav_order: first\n---\n\nUs.\n", "text/markdown")
    assert stages.event("pages/about.md", "ObjectCreated:Put") == ["rejected"]
    report = stages.report("pages/about.md")
    assert report is not None and [e.field for e in report.errors] == ["nav_order"]
    assert [m.source.version_id for m in stages.render_queue.sent if isinstance(m, RenderRequest)] == ["v1"]


def test_a_page_shows_images_kept_under_posts_from_the_sites_media() -> None:
    stages = Stages()
    stages.source.put("posts/about/team.jpg", b"jpeg", "image/jpeg")
    text = "---\ntitle: About\nimage: ../posts/about/team.jpg\n---\n\n![The team](../posts/about/team.jpg)\n"
    stages.upload("pages/about.md", text)
    [update] = stages.render_all()
    assert update.rendered is not None
    assert 'src="/media/about/team.jpg"' in update.rendered.body_html
    assert update.rendered.meta.image == "/media/about/team.jpg"
    assert update.rendered.warnings == []
