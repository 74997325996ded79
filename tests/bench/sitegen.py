"""Generated sites for the benchmarks (a helper module, not a benchmark: ``make bench`` runs bench_*.py).

The same deterministic posts feed Pressline (as a seeded catalog) and Hugo (as content
files): one post a day back from ``END``, ~600 words of Markdown with a heading, a list, a
link, emphasis and a code block, two tags out of eight.

Seeding writes what ``pressline rebuild`` would leave for those posts (catalog items,
listings and summary derived by ``pressline.indexing.rebuild.derive``, the newest-posts
state), so a site of 10,000 posts is ready in seconds instead of 10,000 trips through the
pipeline. Only Index reads that state, and a publish reads only the pieces it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

END = datetime(2026, 3, 20, 12, tzinfo=UTC)  # the newest seeded post
TAGS = ("python", "aws", "travel", "notes", "photography", "city", "essays", "guides")
WORDS = [
    *("river", "bridge", "council", "market", "evening", "library", "station", "harbour", "garden"),
    *("morning", "window", "street", "quiet", "light", "winter", "summer", "bicycle", "ferry"),
    *("museum", "school", "bakery", "square", "tower", "island", "valley"),
]


@dataclass(frozen=True)
class GeneratedPost:
    number: int
    slug: str
    title: str
    date: datetime
    tags: tuple[str, str]
    body: str  # Markdown, no front matter

    def pressline_source(self) -> bytes:
        """The file an author uploads to posts/<slug>.md."""
        front = f'---\ntitle: "{self.title}"\ndate: {self.date.isoformat()}\ntags: [{", ".join(self.tags)}]\n---\n\n'
        return (front + self.body).encode("utf-8")

    def hugo_source(self) -> str:
        """The same post as a Hugo content file (YAML front matter, same slug)."""
        return (
            f'---\ntitle: "{self.title}"\ndate: {self.date.isoformat()}\nslug: {self.slug}\n'
            f"tags: [{', '.join(self.tags)}]\n---\n\n{self.body}"
        )


def _sentence(seed: int, length: int) -> str:
    words = [WORDS[(seed * 7 + i * 13) % len(WORDS)] for i in range(length)]
    return " ".join(words).capitalize() + "."


def body(number: int) -> str:
    """~600 words with the Markdown features posts use."""
    paragraphs = [" ".join(_sentence(number + p * 5 + s, 12) for s in range(8)) for p in range(5)]
    return (
        f"{paragraphs[0]}\n\n## What changes\n\n{paragraphs[1]} See the [council's page]"
        f"(https://example.com/council/{number}) for *all* the **details**.\n\n"
        f"- {_sentence(number, 8)}\n- {_sentence(number + 1, 8)}\n- {_sentence(number + 2, 8)}\n\n"
        f"{paragraphs[2]}\n\n```python\nprint('post {number}')\n```\n\n{paragraphs[3]}\n\n"
        f"> {_sentence(number + 3, 15)}\n\n{paragraphs[4]}\n"
    )


def post(number: int, date: datetime | None = None, prefix: str = "seed") -> GeneratedPost:
    return GeneratedPost(
        number=number,
        slug=f"{prefix}-{number}",
        title=f"Generated post number {number}",
        date=date or END - timedelta(days=number),
        tags=(TAGS[number % len(TAGS)], TAGS[(number * 3 + 1) % len(TAGS)]),
        body=body(number),
    )


def site(size: int) -> list[GeneratedPost]:
    """The site's posts, newest first."""
    return [post(n) for n in range(size)]


def seed(posts: list[GeneratedPost], s3: Any, dynamodb: Any, source_bucket: str, posts_table: str) -> None:
    """Write the catalog and Index's state for ``posts`` as ``pressline rebuild`` would."""
    from pressline.indexing import layout, search
    from pressline.indexing.catalog import CatalogPost, Recent, RecentPost, month_of
    from pressline.indexing.dynamo import DynamoCatalog
    from pressline.indexing.rebuild import derive, state_blobs
    from pressline.models import PostMeta, RenderedPost, SourceRef
    from pressline.posts.markdown import render_body
    from pressline.site.pages import Site

    catalog_posts = [
        CatalogPost(
            source_key=f"posts/{item.slug}.md",
            version=f"v{item.number}",
            version_id=f"v{item.number}",
            status="published",
            slug=item.slug,
            title=item.title,
            date=item.date,
            tags=item.tags,
            summary=f"A summary of generated post {item.number}, as long as a real one on a listing page.",
            applied_at=item.date,
        )
        for item in posts
    ]
    catalog = DynamoCatalog(posts_table, dynamodb=dynamodb)
    catalog.put_posts(catalog_posts)
    summary, listings = derive(catalog_posts, "UTC")
    site = Site(title="Bench", url="https://bench.example", api_url="https://api.bench.example")  # dates as shown
    shards: dict[str, list[dict[str, Any]]] = {}
    for item, catalog_post in zip(posts, catalog_posts, strict=True):
        html = render_body(item.body, catalog_post.source_key).html
        shards.setdefault(month_of(item.date, "UTC"), []).append(search.document(catalog_post, html, site))
    recent = []
    for item, catalog_post in zip(posts[:20], catalog_posts[:20], strict=True):
        source = SourceRef(bucket=source_bucket, key=catalog_post.source_key, version_id=catalog_post.version_id)
        meta = PostMeta(slug=item.slug, title=item.title, date=item.date, tags=item.tags, summary=catalog_post.summary)
        html = render_body(item.body, source.key).html
        rendered = RenderedPost(source=source, meta=meta, body_html=html, status="published", rendered_at=item.date)
        recent.append(RecentPost(post=catalog_post, rendered=rendered))
    state = Recent(posts=tuple(recent))
    s3.put_object(Bucket=source_bucket, Key=layout.RECENT_STATE, Body=state.model_dump_json().encode())
    catalog.replace_derived(summary, listings, state_blobs(shards, state))
