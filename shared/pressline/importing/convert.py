"""``ImportedItem`` -> the Pressline source files: a post (``posts/<slug>.md``) or a page
(``pages/<slug>.md``), its images beside it (``posts/<slug>/<name>``) and its comments.

The core of ``pressline import``, the same for every source. Decisions are pure; the two
things that touch the world, reading an asset's file and downloading an image, come in as
``Fetcher`` (``media.Downloader`` on the command line, a dictionary in tests).

What comes out is held to the pipeline's own rules: each post is checked with
``check_post`` (pages with the page rules) exactly as ``pressline check`` would, and an
item that fails them is reported and not written. Two promises are checked on the output,
not hoped for: every file says ``notify: false`` (an import announces nothing), and no image
in it still points at the old site.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import yaml

from pressline.importing import links
from pressline.importing.media import Downloaded, DownloadError
from pressline.importing.model import ImportedAsset, ImportedItem, ItemProblem
from pressline.models import Problem
from pressline.posts.images import check_image, sniff
from pressline.posts.slug import MAX_SLUG_LENGTH, is_valid_slug, slugify, tag_slug

FileKind = Literal["image", "post", "page", "comments"]
HtmlToMarkdown = Callable[[str], str]
MAX_TAGS = 20
MAX_TAG_LENGTH = 60
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
# Names a page may not take (the site's own top-level folders and files); helper code in
# pressline.posts.paths has the full list once static pages land.
_RESERVED_PAGE_NAMES_FALLBACK = frozenset({"posts", "tags", "archive", "media", "search", "sitemaps", "api", "pages"})


class Fetcher(Protocol):
    """Where an image referenced by URL comes from. ``allows(url)``: whether it may be
    downloaded at all (the allow-list); ``get(url)`` downloads it or raises DownloadError."""

    def allows(self, url: str) -> bool: ...

    def get(self, url: str) -> Downloaded: ...


@dataclass(frozen=True)
class OutFile:
    """One file of the import: ``path`` is both its place under ``--out`` and its key in the
    source bucket (comments: ``comments/<slug>.json`` there, ``imports/comments/…`` in the bucket)."""

    path: str
    data: bytes
    content_type: str
    kind: FileKind

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Finding:
    """One problem of one item: the file it concerns, the item as the author finds it in the
    export, the problem (field, reason, line), and whether it is an error."""

    file: str
    item: str
    problem: Problem
    error: bool = False


@dataclass
class ConvertedItem:
    item: ImportedItem
    slug: str
    path: str  # posts/<slug>.md or pages/<slug>.md
    files: list[OutFile] = field(default_factory=list)  # images first, then the post, then its comments
    findings: list[Finding] = field(default_factory=list)
    images: int = 0  # images written beside it
    links_rewritten: int = 0
    # Not imported: it fails the pipeline's rules or could not be converted. An item with an
    # image that could not come over is still imported (the image replaced by its alt text),
    # with that error reported.
    failed: bool = False

    @property
    def ok(self) -> bool:
        """Whether the item is imported (its files are written)."""
        return not self.failed

    @property
    def has_errors(self) -> bool:
        return any(finding.error for finding in self.findings)

    @property
    def import_id(self) -> str:
        """What every object of this item is tagged with: ``<source>:<source id>``."""
        return f"{self.item.source}:{self.item.source_id}"


def item_label(item: ImportedItem) -> str:
    """How a message names an item: its title and its id in the export."""
    title = item.title if len(item.title) <= 60 else item.title[:59] + "…"
    return f"{title!r} ({item.source_id})"


def _kind_path(slug: str, kind: str) -> str:
    return f"posts/{slug}.md" if kind == "post" else f"pages/{slug}.md"


# --------------------------------------------------------------------------- slugs
def reserved_page_names() -> frozenset[str]:
    from pressline.posts import paths

    names = getattr(paths, "RESERVED_PAGE_NAMES", _RESERVED_PAGE_NAMES_FALLBACK)
    return frozenset(names)


def assign_slugs(items: Sequence[ImportedItem]) -> tuple[dict[str, str], list[Finding]]:
    """A unique, valid slug for each item (keyed by source id), and a warning for each one
    that differs from the source's. Oldest first, so that re-exporting a site with a new post
    never moves an existing post to another address; ties by source id."""
    reserved = reserved_page_names()
    taken: set[str] = set()
    slugs: dict[str, str] = {}
    warnings: list[Finding] = []
    ordered = sorted(items, key=lambda item: (sort_date(item), item.source_id))
    for item in ordered:
        base = item.slug if is_valid_slug(item.slug) else slugify(item.slug) or slugify(item.title)
        if not base:
            base = "item-" + hashlib.sha256(item.source_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        slug = base
        counter = 2
        while slug in taken or (item.kind == "page" and slug in reserved):
            suffix = f"-{counter}"
            slug = base[: MAX_SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
            counter += 1
        taken.add(slug)
        slugs[item.source_id] = slug
        if slug != item.slug:
            reason = "is taken by another imported item" if base == item.slug else "is not a usable slug"
            if item.kind == "page" and base in reserved:
                reason = "is one of the site's own addresses"
            message = f"'{item.slug[:80]}' {reason}; the item is imported as '{slug}'"
            problem = Problem(field="slug", message=message)
            warnings.append(Finding(_kind_path(slug, item.kind), item_label(item), problem))
    return slugs, warnings


def sort_date(item: ImportedItem) -> datetime:
    moment = item.date or datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def link_targets(
    items: Iterable[ImportedItem], slugs: dict[str, str], site_url: str | None, now: datetime | None = None
) -> links.LinkTargets:
    """Every old URL of every item mapped to its new path, and which of those are not out yet."""
    now = now or datetime.now(UTC)
    targets = links.LinkTargets(site_url)
    for item in items:
        slug = slugs.get(item.source_id)
        if slug is not None:
            targets.add(item.old_urls, links.new_path(slug, item.kind))
            if not _is_public(item, now):
                targets.unpublished.add(links.new_path(slug, item.kind))
    return targets


def _is_public(item: ImportedItem, now: datetime) -> bool:
    return not item.draft and (item.kind == "page" or item.date is None or sort_date(item) <= now)


# --------------------------------------------------------------------------- one item
@dataclass
class _ItemImages:
    """The images of one item being converted: each source once, each under its own name."""

    slug: str
    kind: str
    names: dict[str, str] = field(default_factory=dict)  # source (URL or asset reference) -> name
    files: list[OutFile] = field(default_factory=list)

    def reference(self, name: str) -> str:
        """How the item's Markdown names one of its images: beside a post, and for a page
        under ``posts/`` too (the pipeline publishes images from there only)."""
        return f"{self.slug}/{name}" if self.kind == "post" else f"../posts/{self.slug}/{name}"

    def add(self, source: str, wanted: str, data: bytes, content_type: str) -> str:
        if source in self.names:
            return self.names[source]
        name = _image_name(wanted, content_type, {file.path.rsplit("/", 1)[-1] for file in self.files})
        self.files.append(OutFile(f"posts/{self.slug}/{name}", data, content_type, "image"))
        self.names[source] = name
        return name


def _image_name(wanted: str, content_type: str, taken: set[str]) -> str:
    """A safe file name for an image: the source's name as a slug, the extension its bytes say."""
    name = PurePosixPath(unquote(wanted.split("?")[0].split("#")[0]).replace("\\", "/")).name
    stem, dot, suffix = name.rpartition(".")
    base = slugify(stem if dot else name, 60) or "image"
    extension = _EXTENSIONS[content_type]
    if suffix.lower() == "jpeg" and content_type == "image/jpeg":
        extension = ".jpeg"  # the author's spelling, when it is the truth
    name = base + extension
    counter = 2
    while name in taken:
        name = f"{base}-{counter}{extension}"
        counter += 1
    return name


@dataclass
class Converter:
    """Converts the items of one import: the slugs and link targets of all of them are known
    before the first is converted, so that links between them can be rewritten."""

    site_url: str | None
    slugs: dict[str, str]
    targets: links.LinkTargets
    fetcher: Fetcher
    html_to_markdown: HtmlToMarkdown | None = None
    read_file: Callable[[str], bytes] | None = None
    timezone: tzinfo = UTC
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Each URL asked for once per item however many places show it (the downloader keeps
    # what it fetched for the other items: bytes are not held here for the whole import).
    _fetched: dict[str, bytes | DownloadError] = field(default_factory=dict)

    def convert(self, item: ImportedItem) -> ConvertedItem:
        slug = self.slugs[item.source_id]
        path = _kind_path(slug, item.kind)
        self._fetched = {}
        converted = ConvertedItem(item=item, slug=slug, path=path)
        label = item_label(item)

        def note(field_name: str, message: str, *, error: bool = False, file: str = path) -> None:
            converted.findings.append(Finding(file, label, Problem(field=field_name, message=message), error))

        for warning in item.warnings:
            converted.findings.append(Finding(path, label, warning))
        body = item.body
        if item.body_format == "html":
            try:
                body, conversion_warnings = self._from_html(body)
            except Exception as error:  # a converter bug on one item never stops the rest
                note("body", f"could not be converted from HTML ({type(error).__name__}: {error})", error=True)
                converted.failed = True
                return converted
            # What the HTML said that Markdown does not (a video, a gallery, a script removed, an
            # unknown shortcode): the author reads it in the report, per item.
            converted.findings.extend(Finding(path, label, warning) for warning in conversion_warnings)
        images = _ItemImages(slug, item.kind)
        base = next((url for url in item.old_urls if urlsplit(url).scheme in ("http", "https")), None)
        if base is None and self.site_url and item.old_urls:
            base = urljoin(self.site_url, item.old_urls[0])

        def image(reference: str, field_name: str) -> str:
            """The item's reference to an image: a new one beside it, KEEP, or DROP."""
            try:
                found = self._image_source(item, reference, base)
            except DownloadError as error:
                shown = reference if len(reference) <= 100 else reference[:99] + "…"
                note(field_name, f"image {shown} {error}; it is replaced by its alt text", error=True)
                return links.DROP
            if found is None:
                host = links.host_of(reference) or "another site"
                note(field_name, f"image {reference[:100]} is on {host}, not in the allow-list: kept as a link there")
                return links.KEEP
            source, wanted, data = found
            checked = check_image(data, f"posts/{slug}/{_image_name(wanted, sniff(data) or 'image/png', set())}")
            if checked.content_type is None:
                reason = "; ".join(problem.message for problem in checked.errors)
                note(field_name, f"image {reference[:100]} {reason}; it is replaced by its alt text", error=True)
                return links.DROP
            return images.reference(images.add(source, wanted, data, checked.content_type))

        def decide(reference: links.Reference) -> str:
            url = reference.url
            if reference.image:
                return image(url, "body")
            target = self.targets.target_of(url, base)
            if target is not None:
                converted.links_rewritten += 1
                if target in self.targets.unpublished and _is_public(item, self.checked_at):
                    note("body", f"links to {target}, a draft or scheduled item: it answers 404 until that is out")
                return target + _fragment(url)
            if links.is_image_url(url) and self._is_old_site(url, base):
                return image(url, "body")  # a link to the full-size image: brought over too
            # Said for absolute URLs only: a site-relative one (/, /tags/x/) names the new site as well.
            if "//" in url.split("?")[0] and self._is_old_site(url, base):
                shown = url if len(url) <= 100 else url[:99] + "…"
                note("body", f"links to {shown} on the old site, which is no imported item: kept as it is")
            return links.KEEP

        rewritten = links.rewrite(body, decide)
        body = rewritten.text.strip("\n")
        cover = None
        if item.image:
            chosen = image(item.image, "image")
            cover = None if chosen == links.DROP else item.image if chosen == links.KEEP else chosen
        fields = self._front_matter(item, slug, cover, note)
        text = _document(fields, body)
        data = text.encode("utf-8")
        self._check(converted, data, note)
        if not converted.ok:
            return converted
        converted.images = len(images.files)
        converted.files.extend(images.files)
        kind: FileKind = "post" if item.kind == "post" else "page"
        converted.files.append(OutFile(path, data, "text/markdown; charset=utf-8", kind))
        if item.comments:
            comments = {
                "source": item.source,
                "source_id": item.source_id,
                "slug": slug,
                "kind": item.kind,
                "comments": [comment.model_dump(mode="json") for comment in item.comments],
            }
            encoded = json.dumps(comments, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
            converted.files.append(OutFile(f"comments/{slug}.json", encoded, "application/json", "comments"))
        return converted

    # ----------------------------------------------------------------------- pieces
    def _from_html(self, html: str) -> tuple[str, tuple[Problem, ...]]:
        """An HTML body's Markdown and the conversion's warnings (none from a stand-in converter)."""
        if self.html_to_markdown is not None:
            return self.html_to_markdown(html), ()
        from pressline.importing.html import convert_html  # imported when an export has HTML

        converted = convert_html(html)
        return converted.markdown, converted.warnings

    def _is_old_site(self, url: str, base: str | None) -> bool:
        return links.old_path(url, self.site_url, base) is not None

    def _image_source(self, item: ImportedItem, reference: str, base: str | None) -> tuple[str, str, bytes] | None:
        """(what identifies the image, the name it came with, its bytes), or None when it is on
        a host the import does not download from (kept as an external image); DownloadError
        when it should come over but cannot."""
        reference = reference.strip()
        if reference.lower().startswith("data:"):
            raise DownloadError("is a data: URL, which is not imported")
        asset = _matching_asset(item.assets, reference, self.site_url, base)
        if asset is not None:
            return self._asset_bytes(asset)
        url = _absolute(reference, self.site_url, base)
        if url is None:
            raise DownloadError("is not among the item's files, and the old site's address is not known")
        if not self.fetcher.allows(url):
            if self._is_old_site(url, base):
                raise DownloadError("is on the old site but downloads are off")
            return None
        return url, urlsplit(url).path, self._get(url)

    def _asset_bytes(self, asset: ImportedAsset) -> tuple[str, str, bytes]:
        if asset.data is not None:
            return "asset:" + asset.reference, asset.name, asset.data
        if asset.path is not None:
            if self.read_file is None:
                raise DownloadError("is a file beside the content, which this import does not read")
            try:
                return "file:" + asset.path, asset.name, self.read_file(asset.path)
            except OSError as error:
                raise DownloadError(f"cannot be read ({error.strerror or error})") from None
        url = _absolute(asset.reference, self.site_url, None)
        if url is None:
            raise DownloadError("has neither a file nor a URL")
        if not self.fetcher.allows(url):
            if self._is_old_site(url, None):
                raise DownloadError("is on the old site but downloads are off")
            raise DownloadError(f"is on {links.host_of(url) or 'a host'} outside the allow-list (--allow-host)")
        return url, asset.name, self._get(url)

    def _get(self, url: str) -> bytes:
        if url not in self._fetched:
            try:
                self._fetched[url] = self.fetcher.get(url).data
            except DownloadError as error:
                self._fetched[url] = error
        found = self._fetched[url]
        if isinstance(found, DownloadError):
            raise found
        return found

    def _front_matter(
        self, item: ImportedItem, slug: str, cover: str | None, note: Callable[..., None]
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"title": item.title}
        if item.kind == "post":
            fields["slug"] = slug
        if item.date is not None:
            fields["date"] = _iso(item.date)
        elif item.kind == "post":
            note("date", "is not in the export: the post will be dated when it is uploaded")
        if item.updated is not None:
            fields["updated"] = _iso(item.updated)
        tags = self._tags(item, note) if item.kind == "post" else []
        if tags:
            fields["tags"] = tags
        if item.summary.strip():
            fields["summary"] = item.summary.strip()
        if item.author:
            fields["author"] = item.author
        if item.draft:
            fields["draft"] = True
        if cover:
            fields["image"] = cover
        if item.canonical_url:
            if self._is_old_site(item.canonical_url, None):
                note("canonical_url", "named the old site, which now redirects here: left out")
            else:
                fields["canonical_url"] = item.canonical_url
        aliases = self._aliases(item, slug, note)
        if aliases:
            fields["aliases"] = aliases
        if item.kind == "page" and item.nav_order is not None:
            fields["nav_order"] = item.nav_order
        fields["notify"] = False  # an import is the past: it emails nobody
        return fields

    def _tags(self, item: ImportedItem, note: Callable[..., None]) -> list[str]:
        tags: list[str] = []
        seen: set[str] = set()
        for tag in item.tags:
            name = " ".join(tag.split())
            if not name or len(name) > MAX_TAG_LENGTH or not tag_slug(name):
                note("tags", f"'{name[:40]}' is not usable as a tag (empty, over {MAX_TAG_LENGTH} characters or "
                     "without letters or digits): left out")  # fmt: skip
                continue
            if tag_slug(name) not in seen:
                seen.add(tag_slug(name))
                tags.append(name)
        if len(tags) > MAX_TAGS:
            note("tags", f"{len(tags)} tags and categories; the limit is {MAX_TAGS}: kept the first {MAX_TAGS}")
            tags = tags[:MAX_TAGS]
        return tags

    def _aliases(self, item: ImportedItem, slug: str, note: Callable[..., None]) -> list[str]:
        """The item's old URLs on the old site as aliases, in the one normal form of
        ``pressline.posts.aliases``; never its own new address (a redirect to itself loops)."""
        from pressline.posts.aliases import MAX_ALIASES, AliasError, normalise_alias

        own = links.new_path(slug, item.kind)
        aliases: list[str] = []
        for url in item.old_urls:
            key = links.old_path(url, self.site_url)
            if key is None or "?" in key or key == "/":
                continue  # another site's address, or a query (WordPress's /?p=123): nothing to redirect
            if key == own.rstrip("/"):
                continue  # the same address here (Hugo's /posts/<slug>/): nothing to redirect, nothing to say
            try:
                alias = normalise_alias(urlsplit(url.strip()).path if "://" in url else url)
            except AliasError as error:
                note("aliases", f"old URL {error}: it will not redirect")
                continue
            if alias.rstrip("/") == own.rstrip("/") or alias in aliases:
                continue
            if self.targets.paths.get(key) not in (None, own):
                note("aliases", f"old URL {alias} is also an old URL of another imported item: it redirects there")
                continue
            aliases.append(alias)
        if len(aliases) > MAX_ALIASES:
            note("aliases", f"{len(aliases)} old URLs; the limit is {MAX_ALIASES}: kept the first {MAX_ALIASES}")
            aliases = aliases[:MAX_ALIASES]
        return aliases

    def _check(self, converted: ConvertedItem, data: bytes, note: Callable[..., None]) -> None:
        """The pipeline's own rules on the file, and the import's two promises."""
        result = _check_source(data, converted.path, self.checked_at, self.timezone)
        for problem in result.errors:
            converted.findings.append(Finding(converted.path, item_label(converted.item), problem, error=True))
            converted.failed = True
        for problem in result.warnings:
            converted.findings.append(Finding(converted.path, item_label(converted.item), problem))
        if result.post is None:
            return
        old_host = links.host_of(self.site_url)
        if old_host:
            html = result.post.unsafe_html or ""
            hotlinked = [src for src in image_sources(html) if links.host_of(_absolute_src(src)) == old_host]
            if result.post.meta.image and links.host_of(result.post.meta.image) == old_host:
                hotlinked.append(result.post.meta.image)
            for src in hotlinked:
                note("body", f"still shows an image from the old site ({src[:100]})", error=True)
                converted.failed = True


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("img", "source", "video", "audio", "input"):
            self.sources.extend(value for name, value in attrs if name in ("src", "srcset", "poster") and value)


def image_sources(html: str) -> list[str]:
    """Every image source in ``html``, read as a browser reads tags (an HTML parser, not a pattern)."""
    parser = _ImageSources()
    parser.feed(html)
    parser.close()
    return parser.sources


def _absolute_src(src: str) -> str:
    src = src.strip().split()[0] if src.strip() else ""
    return "https:" + src if src.startswith("//") else src


def _check_source(data: bytes, key: str, checked_at: datetime, timezone: tzinfo) -> Any:
    """``check_post`` for posts, the page rules for pages (when the pipeline has them)."""
    from pressline.posts.rules import check_post

    if key.startswith("pages/"):
        try:
            from pressline.posts.pagerules import check_page
        except ImportError:
            pass
        else:
            return check_page(data, key, uploaded_at=checked_at, timezone=timezone)
    return check_post(data, key, uploaded_at=checked_at, timezone=timezone)


def _fragment(url: str) -> str:
    return "#" + url.split("#", 1)[1] if "#" in url else ""


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _absolute(reference: str, site_url: str | None, base: str | None) -> str | None:
    """An http(s) URL for an image reference: as is, on the old site (``/wp-content/…``),
    or relative to the item's old URL; None when there is nothing to resolve it against."""
    try:
        parts = urlsplit(reference)
    except ValueError:
        return None
    if parts.scheme:
        return reference  # any scheme: media refuses what is not http(s), and says so
    if reference.startswith("//"):
        return "https:" + reference
    if reference.startswith("/"):
        return urljoin(site_url, reference) if site_url else None
    return urljoin(base, reference) if base else None


def _matching_asset(
    assets: Sequence[ImportedAsset], reference: str, site_url: str | None, base: str | None
) -> ImportedAsset | None:
    """The asset a reference names: the same text, the same relative path, or the same URL."""
    for asset in assets:
        if asset.reference == reference:
            return asset
    relative = posixpath.normpath(unquote(reference.split("?")[0].split("#")[0])).lstrip("/")
    for asset in assets:
        if "://" not in asset.reference and posixpath.normpath(unquote(asset.reference)).lstrip("/") == relative:
            return asset
    key = links.old_path(reference, site_url, base)
    if key is not None:
        for asset in assets:
            if links.old_path(asset.reference, site_url, base) == key:
                return asset
    return None


def _document(fields: dict[str, Any], body: str) -> str:
    front = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, width=1_000_000, default_flow_style=False)
    return f"---\n{front}---\n\n{body}\n"


def reader_problem(problem: ItemProblem) -> Finding:
    """A reader's item it could not read, as a finding of this import."""
    return Finding(problem.file, problem.item, problem.problem, error=True)


__all__ = [
    "ConvertedItem",
    "Converter",
    "Fetcher",
    "Finding",
    "OutFile",
    "assign_slugs",
    "item_label",
    "link_targets",
    "reader_problem",
]
