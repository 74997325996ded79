"""The preview's site: a folder of posts, pages and images built in memory by the pipeline's
own code, so that each page is byte for byte what the stack would write (the site's URL aside).

One file at a time, in ``pressline check``'s order:

1. **check**: ``pressline check``'s own ``check_file`` (its errors and warnings, its slug and
   alias clashes across the folder). A file with an error is what Validate would reject: it
   stays off the site, and its address shows the error instead (``Build.errors``).
2. **render**: Render's pure core (``stages.render.render``), the RenderedPost Render stores.
3. **index**: the catalog Index would hold (``indexing.plan.target_post``, the aliases each
   keeps by ``indexing.redirects.plan_aliases``, first claim first), in a MemoryCatalog with
   the renderings in a MemoryStore, then ``pressline rebuild``'s generator
   (``indexing.rebuild.rebuild_site``), which writes every page, listing, feed, sitemap,
   search shard and redirect into an in-memory site bucket (tests keep it equal to what Index
   writes one change at a time, and to the local stack's pages).

Two shortcuts, each made right by the whole build that follows: on a large folder the home
page and the newest posts' pages are made first from the posts that look newest
(``quick_files``, ``first_build``), and after a save the saved post's own page is made at once
(``saved_build``). ``Build.answers`` says which pages a first build stands for.

Drafts and scheduled posts are not on the site (no listing, feed or search shows them), but
their own page is, so that an author can read it: marked by a banner (``Build.unlisted``).
Nothing here imports boto3: the stores are in memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pressline.adapters.store import MemoryStore
from pressline.models import ImageSet, Problem, RenderedPost, SourceRef
from pressline.posts.check import check_file, source_key
from pressline.posts.paths import (
    classify,
    media_key,
    page_key,
    page_name,
    page_path,
    post_page_key,
    post_path,
)
from pressline.site.pages import Site

if TYPE_CHECKING:
    from pressline.indexing.catalog import CatalogPost, Entry
    from pressline.indexing.pages import CatalogPage

PREVIEW_BUCKET = "preview"  # the SourceRef's bucket: no bucket is ever read
Unlisted = Literal["draft", "scheduled"]


@dataclass(frozen=True)
class FileProblems:
    """One file's errors and warnings, as ``pressline check`` gives them."""

    path: Path
    errors: list[Problem]
    warnings: list[Problem]


@dataclass(frozen=True)
class Rejected:
    """A file the pipeline would refuse, and the address it would have had."""

    path: Path
    url_path: str | None  # None: no address can be told (the front matter does not parse, say)
    problems: FileProblems


@dataclass
class Build:
    """The whole preview site at one moment."""

    site: Site
    store: MemoryStore  # the site bucket: key -> page, feed, image, redirect
    problems: list[FileProblems] = field(default_factory=list)
    errors: dict[str, Rejected] = field(default_factory=dict)  # site key -> the refused file meant to be there
    unlisted: dict[str, tuple[Unlisted, datetime]] = field(default_factory=dict)  # site key -> why, and its date
    posts: int = 0
    pages: int = 0
    listed: list[Entry] = field(default_factory=list)  # the published posts, newest first
    # A first build of the newest posts only (``first_build``): the keys it answers for as the
    # whole build will (the home page and the newest posts' pages); None: every key, the whole build.
    answers: frozenset[str] | None = None

    @property
    def error_count(self) -> int:
        return sum(len(item.errors) for item in self.problems)

    @property
    def warning_count(self) -> int:
        return sum(len(item.warnings) for item in self.problems)


@dataclass
class RenderCache:
    """Renderings by file and version: on a save only the files that changed are rendered again."""

    renderings: dict[tuple[str, str | None, datetime], RenderedPost | None] = field(default_factory=dict)
    images: dict[tuple[str, str], Any] = field(default_factory=dict)  # (key, sha256) -> ImageResult

    def render(
        self, data: bytes, source: SourceRef, uploaded_at: datetime, site: Site, now: datetime
    ) -> RenderedPost | None:
        from pressline.stages.render import render

        at = (source.key, source.version_id, uploaded_at)
        if at not in self.renderings:
            self.renderings[at] = render(data, source, uploaded_at=uploaded_at, site=site, now=now).post
        return self.renderings[at]

    def image(self, key: str, data: bytes) -> Any:
        """What the Image stage makes of an image (``pressline.images.process``, an
        ``ImageResult``), by file and content: decoded once, whatever the number of saves."""
        from pressline.images import process

        at = (key, hashlib.sha256(data).hexdigest())
        if at not in self.images:
            self.images = {known: result for known, result in self.images.items() if known[0] != key}
            self.images[at] = process(data, key)
        return self.images[at]

    def keep_only(self, sources: Iterable[SourceRef]) -> None:
        """Forget the renderings of versions no file has any more (bounded memory while editing)."""
        wanted = {(source.key, source.version_id, source.last_modified) for source in sources}
        self.renderings = {at: rendered for at, rendered in self.renderings.items() if at in wanted}


@dataclass
class _Read:
    """The folder as Index would have it: the catalog's posts and pages, their renderings."""

    build: Build
    renderings: dict[str, RenderedPost] = field(default_factory=dict)  # by source key
    posts: dict[str, CatalogPost] = field(default_factory=dict)
    pages: dict[str, CatalogPage] = field(default_factory=dict)
    images: dict[str, ImageSet] = field(default_factory=dict)  # by src: what pages show them with

    def errors_elsewhere(self) -> bool:
        """Whether a file was not a post (a page, an image, something refused)."""
        return bool(self.pages or self.build.errors or self.build.store.objects)


def _read(files: Sequence[Path], site: Site, timezone: ZoneInfo, now: datetime, cache: RenderCache) -> _Read:
    """Check, render and catalog each file, in order (a file's slug and aliases are its own
    if no file before it took them); images go to the site bucket as the Image stage puts them."""
    read = _Read(Build(site=site, store=MemoryStore()))
    build = read.build
    slugs: dict[str, Path] = {}
    aliases: dict[str, Path] = {}
    owners: dict[str, str] = {}  # alias claims and slugs -> source key, as Index's catalog holds them
    for path in files:
        errors, warnings = check_file(path, timezone, slugs, aliases)
        problems = FileProblems(path, errors, warnings)
        if errors or warnings:
            build.problems.append(problems)
        key = source_key(path)
        kind = classify(key)
        if errors:
            _reject(build, path, key, kind, problems, timezone)
            continue
        try:
            data = path.read_bytes()
            uploaded_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:  # gone since it was checked: the next poll sees it gone
            continue
        if kind == "image":
            published = _publish_image(build.store, key, data, cache)
            if published is not None:
                read.images[published.src] = published
            continue
        if kind not in ("post", "page"):
            continue
        rendered = cache.render(data, _source(key, data, uploaded_at), uploaded_at, site, now)
        if rendered is None:  # check_file accepted it: only a rule of Render's alone refuses it
            continue
        read.renderings[key] = rendered
        if kind == "page":
            read.pages[key] = _page_record(rendered, now, owners)
        else:
            read.posts[key] = _catalog_post(rendered, now, owners)
    return read


def build_site(
    files: Sequence[Path],
    site: Site,
    *,
    timezone: ZoneInfo,
    now: datetime | None = None,
    cache: RenderCache | None = None,
) -> Build:
    """The site these files make (``files`` as ``pressline check`` expands a folder)."""
    from pressline.indexing import images
    from pressline.indexing.memory import MemoryCatalog
    from pressline.indexing.pages import PAGES_BLOB, SitePages, pages_blob, site_with_pages
    from pressline.indexing.rebuild import rebuild_site

    now = now or datetime.now(UTC)
    cache = cache or RenderCache()
    read = _read(files, site, timezone, now, cache)
    cache.keep_only(rendered.source for rendered in read.renderings.values())
    build = read.build
    source_store, catalog = MemoryStore(), MemoryCatalog()
    for rendered in read.renderings.values():
        source_store.put(_rendered_key(rendered.source), rendered.model_dump_json().encode("utf-8"), "application/json")
    for key, post in read.posts.items():
        cover = read.images.get(images.cover_src(read.renderings[key]) or "")
        post = read.posts[key] = post.model_copy(update={"cover": images.for_listing(cover)})
        catalog.posts[key] = post
        catalog.slugs.setdefault(post.slug, key)
    for src, image in read.images.items():  # as Index keeps them: pages show the variants
        blob = images.record_blob(images.ImageRecord(version="preview", image=image))
        if blob is not None:
            catalog.stored_blobs[images.image_blob(src)] = blob
    site_pages = SitePages(pages=dict(sorted(read.pages.items())))
    blob = pages_blob(site_pages)
    if blob is not None:
        catalog.stored_blobs[PAGES_BLOB] = blob
    rebuild_site(catalog, source_store, build.store, site, now=now)
    build.site = replace(site_with_pages(site, site_pages), images=read.images.get)
    build.listed = [post.entry() for post in _newest_first(read.posts.values())]
    build.posts = len(build.listed)
    build.pages = len(site_pages.public)
    _write_unlisted(build, read)
    return build


def _newest_first(posts: Iterable[CatalogPost]) -> list[CatalogPost]:
    return sorted((post for post in posts if post.public), key=lambda post: post.order, reverse=True)


def saved_build(
    saved: Sequence[Path],
    previous: Build,
    *,
    timezone: ZoneInfo,
    now: datetime | None = None,
    cache: RenderCache | None = None,
) -> Build | None:
    """The whole build before a save with the saved posts' own pages made again, from the same
    generator and neighbours: what a browser on such a page shows at once, before the whole build
    (which follows, and reloads the browser again only if something else changed). None unless
    every saved file is a published post, before and after, at the same place among the posts
    (its date and slug kept): a new post, a date moved, a draft or an error is the whole build's."""
    from pressline.indexing import generate
    from pressline.site.writer import SiteFiles

    if previous.answers is not None or not saved:
        return None
    now = now or datetime.now(UTC)
    read = _read(saved, previous.site, timezone, now, cache or RenderCache())
    if len(read.posts) != len(saved) or read.build.error_count or read.errors_elsewhere():
        return None
    place = {entry.source_key: index for index, entry in enumerate(previous.listed)}
    store = MemoryStore()
    store.objects.update(previous.store.objects)
    build = Build(site=previous.site, store=store, problems=previous.problems, errors=previous.errors,
                  unlisted=previous.unlisted, posts=previous.posts, pages=previous.pages,
                  listed=list(previous.listed))  # fmt: skip
    writer = SiteFiles(store)
    for key, post in read.posts.items():
        index = place.get(key)
        if not post.public or index is None:
            return None
        entry = post.entry()
        if (entry.slug, entry.order) != (previous.listed[index].slug, previous.listed[index].order):
            return None
        older = previous.listed[index + 1] if index + 1 < len(previous.listed) else None
        newer = previous.listed[index - 1] if index > 0 else None
        generate.post_page(read.renderings[key], older, newer, previous.site, writer)
        build.listed[index] = entry
    return build


def first_build(
    files: Sequence[Path],
    site: Site,
    *,
    timezone: ZoneInfo,
    now: datetime | None = None,
    cache: RenderCache | None = None,
) -> Build:
    """The home page and the newest posts' pages only, from some of the folder's files
    (``quick_files``), with the generators Index writes them with: the whole build follows,
    and ``Build.answers`` names what this one answers for. Nothing else is made, so the
    browser's first page costs what these few pages cost, whatever the folder's size."""
    from pressline.indexing import generate, views
    from pressline.indexing.catalog import HOME_SIZE
    from pressline.indexing.layout import HOME
    from pressline.site.writer import SiteFiles

    now = now or datetime.now(UTC)
    read = _read(files, site, timezone, now, cache or RenderCache())
    build = read.build
    if read.pages:  # every page shows the navigation
        from pressline.indexing.pages import SitePages, site_with_pages

        build.site = site_with_pages(site, SitePages(pages=dict(sorted(read.pages.items()))))
    build.site = replace(build.site, images=read.images.get)
    newest = sorted((post for post in read.posts.values() if post.public), key=lambda post: post.order, reverse=True)
    build.answers = frozenset()
    if len(newest) <= HOME_SIZE:  # the 11th newest is the home page's link onwards
        return build
    entries = [post.entry() for post in newest]
    writer = SiteFiles(build.store)
    writer.put(HOME, views.home_page(entries, build.site))
    for index, post in enumerate(newest[:HOME_SIZE]):
        newer = entries[index - 1] if index > 0 else None
        generate.post_page(read.renderings[post.source_key], entries[index + 1], newer, build.site, writer)
    build.answers = frozenset(writer.written)
    return build


# --------------------------------------------------------------------------- a quick start
QUICK_FROM = 200  # posts in a folder from which the home page is built first, the rest after
QUICK_POSTS = 15  # posts the first build takes: the home page shows 10 and links to the 11th's month
_DATE_LINE = re.compile(rb"^(?:date|publishDate|pubdate)\s*[:=]\s*[\"']?(\d{4}-\d\d-\d\d)", re.MULTILINE)
_FRONT_MATTER_BYTES = 4096


def quick_files(files: Sequence[Path], count: int = QUICK_POSTS) -> list[Path] | None:
    """The files a first build needs for the home page to be the whole build's: every page
    and image-free file set aside, the ``count`` posts that look newest by the day their front
    matter gives (else the file's time, the pipeline's default date), ties and posts whose date
    cannot be read at a glance included. A guess, made right by the whole build that follows
    (the preview reloads the browser if the home page changed). None: too few posts to bother."""
    posts: list[tuple[str, Path]] = []
    unknown: list[Path] = []
    rest: list[Path] = []
    for path in files:
        kind = classify(source_key(path))
        if kind == "page":  # every page: the navigation shows them
            rest.append(path)
        if kind != "post":
            continue
        try:
            with path.open("rb") as handle:
                head = handle.read(_FRONT_MATTER_BYTES)
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError:
            continue
        found = _DATE_LINE.search(head)
        if found is not None:
            posts.append((found.group(1).decode("ascii"), path))
        elif re.search(rb"^(?:date|publishDate|pubdate)\s*[:=]", head, re.MULTILINE):
            unknown.append(path)  # a date written another way: checked, whatever it says
        else:
            posts.append((modified.date().isoformat(), path))
    if len(posts) + len(unknown) < QUICK_FROM:
        return None
    posts.sort(key=lambda item: item[0], reverse=True)
    cut = posts[min(count, len(posts)) - 1][0] if posts else ""
    chosen = {path for day, path in posts if day >= cut} | set(unknown) | set(rest)
    return [path for path in files if path in chosen]  # in the folder's order, as check_file wants


def _source(key: str, data: bytes, uploaded_at: datetime) -> SourceRef:
    """A version named by its content, as S3 names one by its version id."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    return SourceRef(bucket=PREVIEW_BUCKET, key=key, version_id=f"preview-{digest}", etag=f'"{digest}"',
                     last_modified=uploaded_at)  # fmt: skip


def _rendered_key(source: SourceRef) -> str:
    from pressline.posts.paths import rendered_key

    return rendered_key(source)


def _publish_image(store: MemoryStore, key: str, data: bytes, cache: RenderCache) -> ImageSet | None:
    """As the Image stage publishes an image: its variants, and the widest JPEG/PNG without
    metadata at the original's path; the ImageSet pages show it with. Without Pillow (the
    ``images`` extra) the file as it is, as pages then show it."""
    try:
        from pressline.images.stage import manifest, put_copy, put_variants
    except ImportError:
        from pressline.posts.images import check_image
        from pressline.stages.validate import IMAGE_CACHE_CONTROL

        checked = check_image(data, key)
        if checked.content_type is not None:
            store.put(media_key(key), data, checked.content_type, cache_control=IMAGE_CACHE_CONTROL)
        return None
    result = cache.image(key, data)
    if not result.ok or result.fallback is None:
        return None  # check_file reported why
    put_variants(key, result, store)
    put_copy(key, result, store)
    image: ImageSet = manifest(key, result)
    return image


def _catalog_post(rendered: RenderedPost, now: datetime, owners: dict[str, str]) -> CatalogPost:
    """Index's catalog record of a post applied now, with the aliases it keeps."""
    from pressline.indexing.plan import target_post

    post = target_post(rendered, rendered.source, now)
    owners.setdefault(post.slug, post.source_key)
    kept = _kept_aliases(rendered, post_page_key(post.slug), owners)
    return post.model_copy(update={"aliases": kept})


def _page_record(rendered: RenderedPost, now: datetime, owners: dict[str, str]) -> CatalogPage:
    from pressline.indexing.pages import page_record
    from pressline.indexing.plan import target_post

    # A page is never scheduled (indexing.pages.decide_page): a date to come publishes it now.
    post = target_post(rendered, rendered.source, now)
    if post.status == "scheduled":
        post = post.model_copy(update={"status": "published"})
    page = page_record(post, rendered.meta)
    kept = _kept_aliases(rendered, page_key(page.name), owners)
    return page.model_copy(update={"aliases": kept})


def _kept_aliases(rendered: RenderedPost, own_key: str, owners: dict[str, str]) -> tuple[str, ...]:
    """The aliases Index lets this file keep, the files before it having claimed theirs."""
    from pressline.indexing.redirects import plan_aliases

    owner = rendered.source.key
    plan = plan_aliases(rendered.meta.aliases, source_key=owner, own_key=own_key, held=(), owners=owners)
    for name in plan.claims:
        owners.setdefault(name, owner)
    return plan.kept


def _write_unlisted(build: Build, read: _Read) -> None:
    """The page of each draft and scheduled post or page, where no published one stands."""
    from pressline.indexing import generate
    from pressline.site.staticpage import render_static_page
    from pressline.site.writer import SiteFiles

    files = SiteFiles(build.store)
    for key, rendered in read.renderings.items():
        post = read.posts.get(key)
        page = read.pages.get(key)
        if post is not None and not post.public:
            site_key = post_page_key(post.slug)
            if build.store.head(site_key) is None:
                generate.post_page(rendered, None, None, build.site, files)
                build.unlisted[site_key] = ("draft" if post.status == "draft" else "scheduled", post.date)
        elif page is not None and not page.public:
            site_key = page_key(page.name)
            if build.store.head(site_key) is None:
                files.put(site_key, render_static_page(rendered, page.name, build.site))
                build.unlisted[site_key] = ("draft", page.date)


def _reject(build: Build, path: Path, key: str, kind: str, problems: FileProblems, timezone: ZoneInfo) -> None:
    """Where the refused file would be: its error shows there, unless a valid file holds the address."""
    url_path = _address(path, key, kind, timezone)
    if url_path is None:
        return
    from pressline.local.web import site_key

    build.errors.setdefault(site_key(url_path), Rejected(path, url_path, problems))


def _address(path: Path, key: str, kind: str, timezone: ZoneInfo) -> str | None:
    """The address a refused file would have: its slug's, its page name's, its image's."""
    if kind == "page":
        return page_path(page_name(key))
    if kind == "image" or kind == "refused-image":
        return "/" + media_key(key)
    if kind != "post":
        return None
    from pressline.posts.rules import check_post, default_slug

    try:
        data = path.read_bytes()
    except OSError:
        return None
    result = check_post(data, key, uploaded_at=datetime.now(UTC), timezone=timezone)
    if result.post is not None:
        return post_path(result.post.meta.slug)
    slug = default_slug(key, "")
    return post_path(slug) if slug else None
