"""A site in memory for Index tests: source and site buckets (MemoryStore), the catalog
(MemoryCatalog), the notify queue (MemoryQueue) and a clock the test moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pressline.adapters.queue import MemoryQueue
from pressline.adapters.store import MemoryStore
from pressline.indexing.memory import MemoryCatalog
from pressline.models import IndexUpdate, PostMeta, PostPublished, RenderedPost, SourceRef
from pressline.posts.paths import rendered_key
from pressline.site.pages import Site
from pressline.stages.index import IndexDeps, Outcome, apply_update

START = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
SOURCE_BUCKET = "source-bucket"


class World:
    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.source = MemoryStore()
        self.site_store = MemoryStore()
        self.catalog = MemoryCatalog()
        self.notify = MemoryQueue()
        self.site = Site(title="Test Site", url="https://blog.example", api_url="https://api.blog.example")
        self.deps = IndexDeps(
            source=self.source,
            site_store=self.site_store,
            catalog=self.catalog,
            notify=self.notify,
            site=self.site,
            clock=lambda: self.now,
        )

    # ----------------------------------------------------------------- authoring
    def upload(
        self,
        key: str,
        title: str,
        date: datetime,
        *,
        slug: str | None = None,
        tags: tuple[str, ...] = (),
        summary: str = "",
        body: str = "",
        draft: bool = False,
        updated: datetime | None = None,
        carry: bool = True,
        notify: bool | None = None,
        aliases: tuple[str, ...] = (),
        image: str | None = None,
    ) -> IndexUpdate:
        """What Validate and Render do for an upload: store the source and its rendered post,
        and send the update (``carry``: with the rendered post inside, as Render does when
        it is small; else Index reads the stored one)."""
        slug = slug or title.lower().replace(" ", "-")
        self.source.put(key, f"---\ntitle: {title}\n---\n".encode(), "text/markdown")
        head = self.source.head(key)
        assert head is not None
        ref = SourceRef(bucket=SOURCE_BUCKET, key=key, version_id=head.version_id, etag=head.etag)
        summary = summary or f"About {title}."
        meta = PostMeta(
            slug=slug,
            title=title,
            date=date,
            updated=updated,
            tags=tags,
            summary=summary,
            draft=draft,
            notify=notify,
            aliases=aliases,
            image=image,
        )
        status = "draft" if draft else "scheduled" if date > self.now else "published"
        rendered = RenderedPost(
            source=ref, meta=meta, body_html=body or f"<p>The body of {title}.</p>", status=status, rendered_at=self.now
        )
        self.source.put(rendered_key(ref), rendered.model_dump_json().encode(), "application/json")
        return IndexUpdate(action="upsert", source=ref, slug=slug, rendered=rendered if carry else None)

    def upload_image(self, key: str, *, width: int = 1600, height: int = 1200, tag: str = "v1") -> IndexUpdate:
        """What the Image stage does for an upload beside a post: store the source, publish its
        variants (AVIF, WebP and JPEG at 480, 960 and ``width``; ``tag`` stands for the bytes'
        hash in their names) and send the update with their ImageSet."""

        from pressline.models import ImageSet, ImageVariant
        from pressline.posts.paths import media_src

        self.source.put(key, b"\xff\xd8\xff" + tag.encode(), "image/jpeg")
        head = self.source.head(key)
        assert head is not None
        ref = SourceRef(bucket=SOURCE_BUCKET, key=key, version_id=head.version_id, etag=head.etag)
        src = media_src(key)
        folder, stem = src.rsplit("/", 1)[0], src.rsplit("/", 1)[1].rsplit(".", 1)[0]
        variants = []
        for w in sorted({min(480, width), min(960, width), width}):
            h = round(height * w / width)
            for ext, kind in (("avif", "image/avif"), ("webp", "image/webp"), ("jpg", "image/jpeg")):
                url = f"{folder}/{stem}-{w}w-{tag}.{ext}"
                self.site_store.put(url.lstrip("/"), b"variant", kind)
                variants.append(ImageVariant(content_type=kind, width=w, height=h, url=url))
        image = ImageSet(src=src, width=width, height=height, fallback="image/jpeg", variants=tuple(variants))
        return IndexUpdate(action="image", source=ref, image=image)

    def remove_image(self, key: str) -> IndexUpdate:
        self.source.delete(key)
        return IndexUpdate(action="image", source=SourceRef(bucket=SOURCE_BUCKET, key=key), image=None)

    def remove(self, key: str) -> IndexUpdate:
        self.source.delete(key)
        return IndexUpdate(action="delete", source=SourceRef(bucket=SOURCE_BUCKET, key=key))

    def apply(self, update: IndexUpdate) -> Outcome:
        return apply_update(update, self.deps)

    def publish(self, key: str, title: str, date: datetime, **kwargs: Any) -> Outcome:
        return self.apply(self.upload(key, title, date, **kwargs))

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    # ----------------------------------------------------------------- reading the site
    def text(self, key: str) -> str | None:
        found = self.site_store.get(key)
        return found.body.decode() if found else None

    def json(self, key: str) -> Any:
        text = self.text(key)
        return json.loads(text) if text is not None else None

    def report(self, source_key: str) -> dict[str, Any]:
        found = self.source.get(f"reports/{source_key}.json")
        assert found is not None, f"no report for {source_key}"
        return dict(json.loads(found.body))

    def announcements(self) -> list[PostPublished]:
        return [message for message in self.notify.sent if isinstance(message, PostPublished)]

    def feed_urls(self) -> list[str]:
        return [item["url"] for item in self.json("feed.json")["items"]]
