"""``pressline rebuild``: regenerate every page, listing, feed, sitemap and search shard
from the catalog, after a template or configuration change (or to repair a site).

The hot path never does this; it is O(posts) on purpose. It reads the published posts
from the catalog (gsi1, no scan), recomputes the listings and the summary, rewrites
every generated object, and removes generated objects that no post backs any more.
Run it while no upload is in flight (the Index function may be paused by disabling its
event source mapping); the next update after it starts from the rebuilt state.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pressline.adapters.buffered import BufferedStore
from pressline.adapters.store import ObjectStore
from pressline.indexing import generate, images, redirects, search
from pressline.indexing import layout as paths
from pressline.indexing.catalog import (
    RECENT_BLOB,
    RECENT_SIZE,
    TAG_FRONT_SIZE,
    Blob,
    Catalog,
    CatalogPost,
    Entry,
    Listing,
    Recent,
    RecentPost,
    Summary,
    TagSummary,
    month_listing,
    month_of,
    rendered_object_key,
    search_blob,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.pages import PAGES_BLOB, pages_blob, read_pages, site_with_pages, write_pages
from pressline.indexing.renderings import load_rendering
from pressline.models import ImageSet, RenderedPost
from pressline.posts.paths import page_key
from pressline.site.pages import Site
from pressline.site.writer import HTML, SiteFiles, Text

logger = logging.getLogger("pressline.rebuild")

# Prefixes of the site bucket that only Index generates (pruned of what no post backs).
GENERATED_PREFIXES = ("posts/", "archive/", "tags/", "sitemaps/", "search/shards/")


def derive(posts: Iterable[CatalogPost], timezone: str) -> tuple[Summary, dict[str, Listing]]:
    """Every listing and the summary, from the published posts (pure)."""
    months: dict[str, list[Entry]] = {}
    tag_years: dict[tuple[str, str], list[Entry]] = {}
    names: dict[str, str] = {}
    for post in posts:
        if not post.public:
            continue
        month = month_of(post.date, timezone)
        entry = post.entry()
        months.setdefault(month, []).append(entry)
        for tag, name in zip(post.tag_slugs, _names(post), strict=True):
            tag_years.setdefault((tag, month[:4]), []).append(entry)
            names.setdefault(tag, name)
    listings: dict[str, Listing] = {}
    for month, entries in months.items():
        listings[month_listing(month)] = _sorted(entries)
    tags: dict[str, TagSummary] = {}
    for (tag, year), entries in tag_years.items():
        listings[tag_year_listing(tag, year)] = _sorted(entries)
        tags.setdefault(tag, TagSummary(name=names[tag])).years[year] = len(entries)
    for tag, info in tags.items():
        newest: list[Entry] = []
        for year in sorted(info.years, reverse=True):
            newest.extend(listings[tag_year_listing(tag, year)].entries)
            if len(newest) >= TAG_FRONT_SIZE:
                break
        listings[tag_front_listing(tag)] = Listing(entries=tuple(newest[:TAG_FRONT_SIZE]))
    summary = Summary(
        months={month: len(entries) for month, entries in sorted(months.items())},
        tags=dict(sorted(tags.items())),
    )
    return summary, listings


def _names(post: CatalogPost) -> list[str]:
    """The author's spelling of each of the post's tag slugs (first spelling wins)."""
    from pressline.posts.slug import tag_slug

    spelled: dict[str, str] = {}
    for tag in post.tags:
        spelled.setdefault(tag_slug(tag), tag)
    return [spelled[slug] for slug in post.tag_slugs]


def _sorted(entries: list[Entry]) -> Listing:
    return Listing(entries=tuple(sorted(entries, key=lambda entry: entry.order, reverse=True)))


@dataclass
class RebuildResult:
    posts: int = 0
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # posts without a rendered version


FLUSH_EVERY = 500  # pages held before they are written (in parallel): bounded memory on large sites


class _RebuildFiles(SiteFiles):
    """The rebuild's files, written in parallel a few hundred at a time."""

    def __init__(self, store: ObjectStore) -> None:
        super().__init__(BufferedStore(store))
        self.buffer: BufferedStore = self.store  # type: ignore[assignment]

    def put(
        self,
        key: str,
        text: Text,
        content_type: str = HTML,
        cache_control: str = paths.LISTING_CACHE,
        *,
        redirect: str | None = None,
    ) -> None:
        super().put(key, text, content_type, cache_control, redirect=redirect)
        if len(self.buffer.pending) >= FLUSH_EVERY:
            self.buffer.flush()


def rebuild_site(
    catalog: Catalog,
    source: ObjectStore,
    site_store: ObjectStore,
    site: Site,
    *,
    existing_keys: Iterable[str] = (),
    existing_redirects: Iterable[str] = (),
    now: datetime | None = None,
    on_post: Callable[[int], None] | None = None,
) -> RebuildResult:
    """Regenerate everything. ``existing_keys``: the site bucket's generated keys, to prune;
    ``existing_redirects``: its redirect objects anywhere (old URLs), pruned of what no post holds.
    ``on_post(total)`` is called once for each post rewritten (the command's progress bar)."""
    now = now or datetime.now(UTC)
    result = RebuildResult()
    files = _RebuildFiles(site_store)
    posts = list(catalog.all_published())  # newest first
    result.posts = len(posts)
    summary, listings = derive(posts, site.timezone)
    pages = read_pages(catalog)  # static pages: their own record, kept as it is
    site = site_with_pages(site, pages)  # every page shows their navigation
    site = replace(site, images=published_images(catalog, posts).get)  # as Index shows them

    shards: dict[str, list[dict[str, Any]]] = {}
    contents: dict[str, RenderedPost] = {}
    entries = [post.entry() for post in posts]
    for index, post in enumerate(posts):
        if on_post is not None:
            on_post(len(posts))
        rendered = load_rendering(source, rendered_object_key(post.source_key, post.version))
        if rendered is None:
            result.missing.append(post.source_key)
            logger.warning("No rendered version %s of %s: its page is not rewritten", post.version, post.source_key)
            continue
        if index < RECENT_SIZE:
            contents[post.source_key] = rendered
        newer = entries[index - 1] if index > 0 else None
        older = entries[index + 1] if index + 1 < len(posts) else None
        generate.post_page(rendered, older, newer, site, files)
        document = search.document(post, rendered.body_html, site)
        shards.setdefault(month_of(post.date, site.timezone), []).append(document)

    for month in summary.months:
        month_entries = listings[month_listing(month)].entries
        generate.month_files(month, month_entries, shard_json(month, shards.get(month, [])), site, files)
    for tag, info in summary.tags.items():
        generate.tag_front_page(tag, summary, listings[tag_front_listing(tag)].entries, site, files)
        for year in info.years:
            generate.tag_year_page(tag, year, summary, listings[tag_year_listing(tag, year)].entries, site, files)
    generate.write_structure(summary, site, files)
    page_contents = {
        (page.source_key, page.version): load_rendering(source, rendered_object_key(page.source_key, page.version))
        for page in pages.public
    }
    write_pages(pages, {at: rendered for at, rendered in page_contents.items() if rendered is not None}, site, files)
    live_pages = [(page_key(page.name), page.path, page.aliases) for page in pages.public]
    redirects.rebuild_redirects(posts, files, site, live_pages)  # old URLs; a real page wins

    recent = Recent(
        posts=tuple(
            RecentPost(post=post, rendered=contents[post.source_key])
            for post in posts[:RECENT_SIZE]
            if post.source_key in contents
        )
    )
    generate.write_newest(recent, site, files, now)
    produced = set(files.written)
    stale_redirects = set(existing_redirects)
    for key in sorted({*existing_keys, *stale_redirects}):
        if (key.startswith(GENERATED_PREFIXES) or key in stale_redirects) and key not in produced:
            files.delete(key)
    files.buffer.flush()
    # S3's copy is read only where the catalog's is too large to keep there.
    source.put(paths.RECENT_STATE, recent.model_dump_json().encode(), "application/json")
    blobs = state_blobs({month: shards.get(month, []) for month in summary.months}, recent)
    kept = pages_blob(pages)
    catalog.replace_derived(summary, listings, {**blobs, PAGES_BLOB: kept} if kept else blobs)
    result.written, result.deleted = files.written, files.deleted
    return result


def published_images(catalog: Catalog, posts: Sequence[CatalogPost]) -> dict[str, ImageSet]:
    """The variants of every image the posts show, from their records (``indexing.images``):
    one read per 100 images. The records are the Image stage's, through Index, and not derived
    from the posts, so a rebuild reads them and leaves them as they are."""
    names = list(dict.fromkeys(images.image_blob(src) for post in posts for src in post.images))
    found = catalog.blobs(names) if names else {}
    sets = {name.removeprefix(images.IMAGE_PREFIX): images.parse_record(blob).image for name, blob in found.items()}
    return {src: image for src, image in sets.items() if image is not None}


def shard_json(month: str, docs: list[dict[str, Any]]) -> str:
    return search.dump_shard(month, search.update_shard(docs, (), None))


def state_blobs(shards: dict[str, list[dict[str, Any]]], recent: Recent) -> dict[str, Blob]:
    """Index's working state in the catalog for these search documents (by month) and
    newest posts: what its updates would have left."""
    blobs = {search_blob(month): Blob.of(shard_json(month, docs).encode("utf-8")) for month, docs in shards.items()}
    blobs[RECENT_BLOB] = Blob.of(recent.model_dump_json().encode())
    return blobs


# --------------------------------------------------------------------------- command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument(
        "--stack-name", default=None, help="a deployed stack: read its outputs and site parameters from CloudFormation"
    )
    parser.add_argument("--site-url", default=None, help="the public site URL (default: SITE_URL or the outputs')")
    parser.add_argument("--keep-stale", action="store_true", help="do not delete generated objects no post backs")


def _stack(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A deployed stack's outputs and parameters."""
    from pressline.adapters.aws import client

    stack = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    parameters = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters", [])}
    return outputs, parameters


def _config(args: argparse.Namespace) -> dict[str, str]:
    outputs: dict[str, str] = {}
    parameters: dict[str, str] = {}
    path: Path | None = args.outputs
    if args.stack_name:
        outputs, parameters = _stack(args.stack_name)
    elif path is None and Path(".local/outputs.json").exists():
        path = Path(".local/outputs.json")
    if path is not None:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    if outputs.get("Endpoint"):
        os.environ["AWS_ENDPOINT_URL"] = outputs["Endpoint"]
        os.environ.setdefault("AWS_DEFAULT_REGION", outputs.get("Region", "us-east-1"))
    # The functions' own settings: the site's title and time zone shape every page.
    # and the WebSub hub every feed names.
    for variable, parameter in (("SITE_TITLE", "SiteTitle"), ("SITE_TIMEZONE", "SiteTimezone"), ("HUB_URL", "HubUrl")):
        if parameters.get(parameter):
            os.environ[variable] = parameters[parameter]
    return {
        "source_bucket": outputs.get("SourceBucketName") or os.environ.get("SOURCE_BUCKET", ""),
        "site_bucket": outputs.get("SiteBucketName") or os.environ.get("SITE_BUCKET", ""),
        "posts_table": outputs.get("PostsTableName") or os.environ.get("POSTS_TABLE", ""),
        "site_url": args.site_url
        or outputs.get("SiteUrl")
        or parameters.get("SiteUrl")
        or os.environ.get("SITE_URL", ""),
        "api_url": outputs.get("ApiUrl") or os.environ.get("API_URL", ""),
    }


def list_generated(s3: Any, bucket: str, prefixes: Sequence[str] = GENERATED_PREFIXES) -> list[str]:
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in prefixes:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def list_redirects(s3: Any, bucket: str) -> list[str]:
    """The redirect objects (an old URL's, ``indexing.redirects``) outside the generated
    prefixes: a HEAD of each object there (the listing does not say; the site's own files
    and static pages are few, images are under media/ and never redirect)."""
    found: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.startswith((*GENERATED_PREFIXES, "media/")):
                continue
            if s3.head_object(Bucket=bucket, Key=key).get("WebsiteRedirectLocation"):
                found.append(key)
    return found


def run(args: argparse.Namespace) -> int:
    from pressline.adapters.aws import client, reset_clients
    from pressline.adapters.store import S3Store
    from pressline.config import settings
    from pressline.indexing.dynamo import DynamoCatalog

    reset_clients()  # an endpoint from the outputs applies to the clients made from here on
    config = _config(args)
    reset_clients()
    missing = [name for name in ("source_bucket", "site_bucket", "posts_table", "site_url") if not config[name]]
    if missing:
        print(f"pressline rebuild: missing {', '.join(missing)} (give --outputs or set the env vars)")
        return 2
    settings.cache_clear()
    base = Site.from_settings()
    site = Site(
        title=base.title,
        url=config["site_url"].rstrip("/"),
        api_url=config["api_url"] or base.api_url,
        timezone=base.timezone,
        date_format=base.date_format,
        language=base.language,
        hub_url=base.hub_url,
    )
    existing = [] if args.keep_stale else list_generated(client("s3"), config["site_bucket"])
    old_urls = [] if args.keep_stale else list_redirects(client("s3"), config["site_bucket"])
    from pressline.importing.progress import Progress

    progress: list[Progress] = []  # made at the first post, when the count is known

    def advance(total: int) -> None:
        if not progress:
            progress.append(Progress(total, "Rebuilding"))
        progress[0].advance()

    try:
        result = rebuild_site(
            DynamoCatalog(config["posts_table"]),
            S3Store(config["source_bucket"]),
            S3Store(config["site_bucket"]),
            site,
            existing_keys=existing,
            existing_redirects=old_urls,
            on_post=advance,
        )
    finally:
        for bar in progress:
            bar.close()
    print(f"Rebuilt {result.posts} posts: {len(result.written)} objects written, {len(result.deleted)} removed.")
    for key in result.missing:
        print(f"  no rendered version for {key}: upload it again to republish it")
    return 0 if not result.missing else 1
