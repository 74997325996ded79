"""Ghost's JSON export (Settings > Labs > Export, Ghost 1 to 5) read into ``ImportedItem``s.

The export is one JSON document: ``{"db": [{"meta": ..., "data": {"posts": [...], "tags": [...],
"posts_tags": [...], "users": [...], "posts_authors": [...], "settings": [...]}}]}``. A post's
content is in ``html`` when Ghost rendered it (published posts, usually), else only in the
editor's own document: ``lexical`` (Ghost 5) or ``mobiledoc`` (Ghost 1-4), rendered here to HTML
by the small renderers below. Ghost 1-era posts written in its Markdown editor are one mobiledoc
``markdown`` card: their Markdown is taken as it is (what the author wrote), not Ghost's HTML.

Pure but for reading the one file: ``GhostSource.items`` never raises on a bad post (an
``ItemProblem``), and a file it cannot read at all is one file-level problem.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from pressline.importing.model import ImportedAsset, ImportedItem, ItemProblem
from pressline.models import Problem
from pressline.posts.slug import slugify

# Far above the exports of real blogs (a 2,000-post Ghost blog exports ~40 MB with its three
# copies of each post), and a bound on what ``json.loads`` holds in memory.
MAX_EXPORT_BYTES = 256 * 1024 * 1024
# One post's content in any of its forms: Pressline's own limit on a post is far below.
MAX_CONTENT_CHARS = 8 * 1024 * 1024
# The editor documents are trees: bounded so that a hostile one cannot exhaust the stack.
MAX_DOCUMENT_DEPTH = 60
GHOST_URL = "__GHOST_URL__"
_SAFE_SCHEMES = ("http", "https", "mailto")
_BROWSER_IGNORED = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(33)))
_ITEM = "(export)"


class GhostSource:
    """A Ghost JSON export. ``site_url`` is the old site's address: given, else the export's
    ``url`` setting (older exports), else unknown (``__GHOST_URL__`` then becomes a site-relative
    path, so ``/content/images/...`` still names the old site's images)."""

    def __init__(
        self,
        path: str | Path,
        site_url: str | None = None,
        max_bytes: int = MAX_EXPORT_BYTES,
        images: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self._given_site_url = site_url.rstrip("/") if site_url else None
        self._max_bytes = max_bytes
        # Ghost keeps uploads in content/images/ of its install; beside the export, that folder's
        # images come with the posts instead of being downloaded from the old site.
        beside = self.path.parent / "content" / "images"
        self._images = Path(images) if images is not None else beside if beside.is_dir() else None
        self._loaded: tuple[list[Mapping[str, Any]], Problem | None] | None = None

    # ------------------------------------------------------------------ reading
    def _databases(self) -> tuple[list[Mapping[str, Any]], Problem | None]:
        if self._loaded is None:
            self._loaded = _load(self.path, self._max_bytes)
        return self._loaded

    @property
    def site_url(self) -> str | None:
        if self._given_site_url:
            return self._given_site_url
        for database in self._databases()[0]:
            found = _site_url_of(database)
            if found:
                return found
        return None

    def items(self) -> Iterator[ImportedItem | ItemProblem]:
        databases, problem = self._databases()
        if problem is not None:
            yield ItemProblem(file=str(self.path), item=_ITEM, problem=problem)
            return
        site_url = self.site_url
        for database in databases:
            data = database.get("data")
            if not isinstance(data, Mapping):
                yield self._problem(_ITEM, "data", "is missing: this is not a Ghost export")
                continue
            tables = _Tables(data)
            for index, post in enumerate(_rows(data, "posts")):
                name = _item_name(post, index)
                try:
                    item = _item(post, tables, site_url)
                    if self._images is not None:
                        assets, warnings = _images_beside(item, self._images, site_url)
                        item = item.model_copy(update={"assets": assets, "warnings": item.warnings + warnings})
                    yield item
                except _PostError as error:
                    yield ItemProblem(file=str(self.path), item=name, problem=error.problem)
                except (ValueError, TypeError, RecursionError) as error:  # a value of the wrong shape
                    problem = Problem(field="post", message=f"cannot be read: {_short(str(error))}")
                    yield ItemProblem(file=str(self.path), item=name, problem=problem)

    def _problem(self, item: str, field: str, message: str) -> ItemProblem:
        return ItemProblem(file=str(self.path), item=item, problem=Problem(field=field, message=message))


def _load(path: Path, max_bytes: int) -> tuple[list[Mapping[str, Any]], Problem | None]:
    """The export's databases (``db`` entries), or why there are none."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        return [], Problem(field="file", message=f"cannot be read: {error.strerror or error}")
    if len(raw) > max_bytes:
        return [], Problem(field="file", message=f"is larger than {max_bytes // (1024 * 1024)} MiB")
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        return [], Problem(field="file", message=f"is not UTF-8 text (byte {error.start})")
    except json.JSONDecodeError as error:
        return [], Problem(field="file", message=f"is not valid JSON: {error.msg}", line=error.lineno)
    except RecursionError:
        return [], Problem(field="file", message="is not a Ghost export: it nests too deeply")
    if isinstance(document, Mapping) and isinstance(document.get("db"), list):
        databases = [entry for entry in document["db"] if isinstance(entry, Mapping)]
    elif isinstance(document, Mapping) and isinstance(document.get("data"), Mapping):
        databases = [document]  # some tools write the one database without the "db" list
    else:
        return [], Problem(field="file", message="is not a Ghost export: no 'db' list with 'data' in it")
    if not databases:
        return [], Problem(field="db", message="is empty: the export holds no database")
    return databases, None


def _site_url_of(database: Mapping[str, Any]) -> str | None:
    data = database.get("data")
    candidates: list[object] = []
    if isinstance(data, Mapping):
        candidates += [row.get("value") for row in _rows(data, "settings") if row.get("key") in ("url", "site_url")]
    meta = database.get("meta")
    if isinstance(meta, Mapping):
        candidates.append(meta.get("url"))
    for value in candidates:
        if isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and urlsplit(value).netloc:
            return value.rstrip("/")
    return None


def _rows(data: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    rows = data.get(table)
    return [row for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []


class _Tables:
    """The export's tables that a post refers to by id, looked up once."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.tags = {row.get("id"): row for row in _rows(data, "tags")}
        self.users = {row.get("id"): row for row in _rows(data, "users")}
        self.post_tags = _joined(_rows(data, "posts_tags"), "tag_id")
        self.post_authors = _joined(_rows(data, "posts_authors"), "author_id")
        self.navigation = _navigation(data)
        # Ghost 4+ keeps a post's SEO fields in posts_meta; Ghost 1-3 had them on the post.
        self.post_meta = {row.get("post_id"): row for row in _rows(data, "posts_meta")}


def _navigation(data: Mapping[str, Any]) -> dict[str, int]:
    """The site's primary navigation (the ``navigation`` setting, JSON of label/url pairs):
    each entry's path -> its position, so that a page linked there stays in the navigation."""
    for row in _rows(data, "settings"):
        if row.get("key") != "navigation" or not isinstance(row.get("value"), str):
            continue
        try:
            entries = json.loads(row["value"])
        except (json.JSONDecodeError, RecursionError):
            return {}
        paths: dict[str, int] = {}
        for position, entry in enumerate(_list(entries)):
            url = entry.get("url") if isinstance(entry, Mapping) else None
            if isinstance(url, str):
                path = urlsplit(url.replace(GHOST_URL, "")).path
                paths.setdefault("/" + path.strip("/") + "/", position)
        return paths
    return {}


def _joined(rows: list[Mapping[str, Any]], other: str) -> dict[object, list[object]]:
    """post id -> the other ids, in the export's ``sort_order`` (then as listed)."""
    ordered = sorted(enumerate(rows), key=lambda pair: (_as_int(pair[1].get("sort_order")), pair[0]))
    joined: dict[object, list[object]] = {}
    for _, row in ordered:
        joined.setdefault(row.get("post_id"), []).append(row.get(other))
    return joined


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _PostError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(field=field, message=message)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_name(post: Mapping[str, Any], index: int) -> str:
    for key in ("title", "slug", "id"):
        value = post.get(key)
        if isinstance(value, str) and value.strip():
            return _short(value.strip())
    return f"post #{index + 1}"


def _text(post: Mapping[str, Any], key: str) -> str | None:
    value = post.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _PostError(key, f"must be text, not {type(value).__name__}")
    if len(value) > MAX_CONTENT_CHARS:
        raise _PostError(key, f"is longer than {MAX_CONTENT_CHARS // (1024 * 1024)} MiB")
    return value


def _date(post: Mapping[str, Any], key: str) -> datetime | None:
    """Ghost writes ISO 8601 in UTC ("2019-05-01T10:00:00.000Z"); Ghost 1 sometimes wrote
    "2016-05-01 10:00:00" (UTC too) or milliseconds since 1970."""
    value = post.get(key)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    except (ValueError, OverflowError, OSError):
        pass
    raise _PostError(key, f"is not a date: {_short(str(value))!r}")


def _meta_description(post: Mapping[str, Any], tables: _Tables) -> str | None:
    """The summary when there is no excerpt: the post's meta description, which Ghost showed
    search engines and link previews."""
    for row in (post, tables.post_meta.get(post.get("id")) or {}):
        value = row.get("meta_description")
        if isinstance(value, str) and value.strip() and len(value) <= MAX_CONTENT_CHARS:
            return value
    return None


def _later(updated: datetime | None, published: datetime | None) -> datetime | None:
    """The last edit, when it is after the publication: a scheduled post was last saved before
    the day it goes out, which says nothing a reader needs."""
    return updated if updated is not None and (published is None or updated > published) else None


def _localised(value: str | None, site_url: str | None) -> str | None:
    """Ghost 4+ stores its own address as ``__GHOST_URL__``: the old site's address again."""
    if value is None or GHOST_URL not in value:
        return value
    return value.replace(GHOST_URL, site_url or "")


def _item(post: Mapping[str, Any], tables: _Tables, site_url: str | None) -> ImportedItem:
    post_id = post.get("id")
    if not isinstance(post_id, str | int) or isinstance(post_id, bool) or str(post_id) == "":
        raise _PostError("id", "is missing: a Ghost post always has one")
    warnings: list[Problem] = []
    kind = "page" if post.get("type") == "page" or post.get("page") in (True, 1) else "post"
    title = (_text(post, "title") or "").strip()
    raw_slug = (_text(post, "slug") or "").strip()
    slug = slugify(raw_slug) or slugify(title) or f"ghost-{slugify(str(post_id)) or 'post'}"
    if not title:
        title = raw_slug or slug
        warnings.append(Problem(field="title", message=f"is empty; '{title}' is used"))

    status = post.get("status") or "published"
    published = _date(post, "published_at")
    date = published or _date(post, "created_at")
    if status == "scheduled":
        warnings.append(Problem(field="status", message=f"was scheduled on Ghost for {date}; it is published then"))
    elif status == "sent":  # Ghost 5's email-only post: it went to subscribers, never on the site
        message = "was sent by email only, never on the site; imported as a draft for you to decide"
        warnings.append(Problem(field="status", message=message))
    elif status not in ("published", "draft"):
        warnings.append(Problem(field="status", message=f"'{_short(str(status))}' is unknown; imported as a draft"))
    draft = status not in ("published", "scheduled")
    visibility = post.get("visibility")
    if visibility not in (None, "public"):
        message = f"was for {_short(str(visibility))} readers on Ghost; Pressline publishes it to everyone"
        warnings.append(Problem(field="visibility", message=message))

    body, body_format = _content(post, site_url, warnings)

    tags: list[str] = []
    for tag_id in tables.post_tags.get(post_id, []):
        tag = tables.tags.get(tag_id) or {}
        name = tag.get("name")
        # "#name" tags (visibility "internal") are Ghost's private labels for themes and routing.
        internal = not isinstance(name, str) or name.startswith("#") or tag.get("visibility") == "internal"
        if not internal and str(name).strip() and str(name).strip() not in tags:
            tags.append(str(name).strip())

    author_ids = tables.post_authors.get(post_id) or [post.get("author_id")]
    author = tables.users.get(author_ids[0]) if author_ids and author_ids[0] is not None else None
    author_name = author.get("name") if author else None

    old_path = f"/{raw_slug}/" if raw_slug else None
    return ImportedItem(
        source="ghost",
        source_id=str(post_id),
        kind=kind,
        slug=slug,
        title=title,
        date=date,
        updated=_later(_date(post, "updated_at"), date),
        tags=tuple(tags),
        summary=(_text(post, "custom_excerpt") or _meta_description(post, tables) or "").strip(),
        author=author_name.strip() if isinstance(author_name, str) and author_name.strip() else None,
        draft=draft,
        body=body,
        body_format=body_format,
        image=_localised(_text(post, "feature_image") or _text(post, "image"), site_url) or None,  # 0.x: image
        canonical_url=_localised(_text(post, "canonical_url"), site_url) or None,
        old_urls=(f"{site_url or ''}{old_path}",) if old_path else (),
        nav_order=tables.navigation.get(old_path or "") if kind == "page" else None,
        warnings=tuple(warnings),
    )


def _content(post: Mapping[str, Any], site_url: str | None, warnings: list[Problem]) -> tuple[str, Any]:
    """The post's body and its format: Markdown when the author wrote it as Markdown (Ghost 0.x's
    ``markdown`` field, or the one card of Ghost 1's Markdown editor), else HTML: Ghost's own,
    or rendered from the editor's."""
    written = _text(post, "markdown")  # Ghost 0.x
    if written and written.strip() and not post.get("mobiledoc"):
        return _localised(written, site_url) or "", "markdown"
    mobiledoc = _document(post, "mobiledoc")
    if mobiledoc is not None:
        markdown = _only_markdown_card(mobiledoc)
        if markdown is not None:
            return _localised(markdown, site_url) or "", "markdown"
    rendered = _text(post, "html")
    if rendered and rendered.strip():
        return _localised(rendered, site_url) or "", "html"
    lexical = _document(post, "lexical")
    if lexical is not None:
        return _localised(render_lexical(lexical, warnings), site_url) or "", "html"
    if mobiledoc is not None:
        return _localised(render_mobiledoc(mobiledoc, warnings), site_url) or "", "html"
    plaintext = _text(post, "plaintext")
    if plaintext and plaintext.strip():
        return _localised(plaintext, site_url) or "", "markdown"
    warnings.append(Problem(field="html", message="is empty, and so are lexical and mobiledoc: the post has no text"))
    return "", "html"


def _document(post: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """An editor document: JSON in a string (as Ghost stores it), or already decoded."""
    value = post.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) > MAX_CONTENT_CHARS:
            raise _PostError(key, f"is longer than {MAX_CONTENT_CHARS // (1024 * 1024)} MiB")
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise _PostError(key, "is not valid JSON") from None
    if not isinstance(value, Mapping):
        raise _PostError(key, "must be a JSON object")
    return value


def _only_markdown_card(mobiledoc: Mapping[str, Any]) -> str | None:
    """The Markdown of a mobiledoc that is one Markdown card and nothing else, else None."""
    sections = mobiledoc.get("sections")
    cards = mobiledoc.get("cards")
    if not (isinstance(sections, list) and isinstance(cards, list)):
        return None
    card_sections = [section for section in sections if isinstance(section, list) and section[:1] == [10]]
    if len(card_sections) != 1 or len(sections) != 1:
        return None
    card = _card(cards, card_sections[0])
    if card and card[0] in ("markdown", "card-markdown") and isinstance(card[1].get("markdown"), str):
        return str(card[1]["markdown"])
    return None


# --------------------------------------------------------------------------- images beside
# Where a post names an upload: /content/images/..., on the old site or site-relative, with
# Ghost's resized and converted copies (size/w600/, format/webp/) naming the original.
_UPLOAD = re.compile(r"""/content/images/([^\s"'()<>\[\]?#]+)""")
# How far before "/content/images/" the site's address may start: an address, not a paragraph.
_ADDRESS_BEFORE = 512
_MAX_PATH = 1024
_NOT_IN_ADDRESS = re.compile(r"""[\s"'()<>\[\]]""")
_VARIANT = re.compile(r"^(?:size/w\d+(?:h\d+)?/)?(?:format/\w+/)?")
MAX_IMAGE_BYTES = 32 * 1024 * 1024


def _upload_reference(text: str, match: re.Match[str]) -> str:
    """The whole reference an upload's path is the end of: with the address before it
    ("https://old.example/content/images/a.png") when there is one, else the path. Looked for
    backwards from the path (a pattern scanning forwards from each "http" took time quadratic
    in a body of them: 200 KB of "http://", 70 s)."""
    window_start = max(0, match.start() - _ADDRESS_BEFORE)
    scheme = max(
        text.rfind("http://", window_start, match.start()), text.rfind("https://", window_start, match.start())
    )
    if scheme != -1 and not _NOT_IN_ADDRESS.search(text, scheme, match.start()):
        return text[scheme : match.end()]
    return match.group(0)


def _images_beside(
    item: ImportedItem, folder: Path, site_url: str | None
) -> tuple[tuple[ImportedAsset, ...], tuple[Problem, ...]]:
    """The uploads ``item`` names that are in ``folder`` (Ghost's content/images), never a file
    outside it (``..``, links out) or a hidden or oversized one."""
    root = Path(os.path.realpath(folder))
    assets: list[ImportedAsset] = []
    warnings: list[Problem] = []
    names: set[str] = set()
    seen: set[str] = set()
    text = "\n".join([item.body, item.image or ""])
    for match in _UPLOAD.finditer(text):
        reference = _upload_reference(text, match)
        if reference in seen:
            continue
        seen.add(reference)
        if "://" in reference and not (site_url and reference.startswith(site_url + "/content/images/")):
            continue  # another site's uploads
        if len(match.group(1)) > _MAX_PATH:
            continue  # no file has such a name (and realpath takes time quadratic in one)
        relative = PurePosixPath(unquote(_VARIANT.sub("", match.group(1))))
        if any(part in ("", "..") or part.startswith(".") for part in relative.parts):
            continue
        real = Path(os.path.realpath(root.joinpath(*relative.parts)))
        if not real.is_relative_to(root) or not real.is_file():
            continue
        if real.stat().st_size > MAX_IMAGE_BYTES:
            message = f"{relative} in the images folder is over {MAX_IMAGE_BYTES // (1024 * 1024)} MiB; not imported"
            warnings.append(Problem(field="image", message=message))
            continue
        name, number = real.name, 2
        while name in names:
            name, number = f"{real.stem}-{number}{real.suffix}", number + 1
        names.add(name)
        assets.append(ImportedAsset(name=name, reference=reference, path=str(real)))
    return tuple(assets), tuple(warnings)


# --------------------------------------------------------------------------- HTML helpers
def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _safe_href(url: object, warnings: list[Problem]) -> str | None:
    """A link target, or None for one no reader should follow (``javascript:``, ``data:``)."""
    if not isinstance(url, str):
        return None
    # As a browser reads it: C0 controls and spaces around it, tabs and newlines in it, ignored
    # ("\x01java\tscript:" is a javascript: link).
    cleaned = _BROWSER_IGNORED.sub("", url.strip(_C0_AND_SPACE))
    if not cleaned:
        return None
    scheme = urlsplit(cleaned).scheme.lower()
    if (scheme and scheme not in _SAFE_SCHEMES) or (not scheme and ":" in cleaned.split("/", 1)[0]):
        shown = _short(scheme or cleaned.split(":", 1)[0], 20)
        warnings.append(Problem(field="content", message=f"a link to a '{shown}:' address was removed"))
        return None
    return cleaned


def _link(url: object, text: str, warnings: list[Problem]) -> str:
    href = _safe_href(url, warnings)
    return f'<a href="{_attr(href)}">{text}</a>' if href else text


def _image(src: object, alt: object, caption: object, warnings: list[Problem]) -> str:
    href = _safe_href(src, warnings)
    if not href:
        return ""
    tag = f'<img src="{_attr(href)}" alt="{_attr(alt or "")}">'
    if isinstance(caption, str) and caption.strip():
        # Ghost's captions are HTML it wrote itself; Pressline sanitizes every body it renders.
        return f"<figure>{tag}<figcaption>{caption}</figcaption></figure>"
    return f"<figure>{tag}</figure>"


def _code(code: object, language: object) -> str:
    language_class = f' class="language-{_attr(language)}"' if isinstance(language, str) and language.strip() else ""
    return f"<pre><code{language_class}>{html.escape(str(code or ''))}</code></pre>"


def _bookmark(payload: Mapping[str, Any], warnings: list[Problem]) -> str:
    """An embed or bookmark card as a plain link: its iframe or script is the other site's code."""
    url = payload.get("url")
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), Mapping) else {}
    title = metadata.get("title") if isinstance(metadata, Mapping) else None
    text = html.escape(title.strip() if isinstance(title, str) and title.strip() else str(url or ""))
    linked = _link(url, text, warnings)
    return f"<p>{linked}</p>" if linked else ""


def _markdown_card(markdown: object) -> str:
    from pressline.posts.markdown import markdown_to_html

    return markdown_to_html(str(markdown or ""))


def _card_html(name: str, payload: Mapping[str, Any], warnings: list[Problem]) -> str:
    """A card of either editor (they share names and payloads) as HTML."""
    if name in ("markdown", "card-markdown"):
        return _markdown_card(payload.get("markdown"))
    if name == "html":
        return str(payload.get("html") or "")
    if name == "image":
        return _image(payload.get("src"), payload.get("alt"), payload.get("caption"), warnings)
    if name in ("code", "codeblock"):
        return _code(payload.get("code"), payload.get("language"))
    if name in ("embed", "bookmark", "video", "audio", "file"):
        if name in ("video", "audio", "file"):
            payload = {
                "url": payload.get("src"),
                "metadata": {"title": payload.get("fileName") or payload.get("title")},
            }
        return _bookmark(payload, warnings)
    if name in ("hr", "horizontalrule"):
        return "<hr>"
    if name == "gallery":
        images = _list(payload.get("images"))
        parts = [
            _image(image.get("src"), image.get("alt"), None, warnings) for image in images if isinstance(image, Mapping)
        ]
        return "".join(parts)
    if name in ("callout", "aside"):
        text = payload.get("calloutText") or payload.get("text") or ""
        return f"<blockquote>{text}</blockquote>"
    if name in ("paywall", "email", "email-cta", "signup", "header", "button", "toggle", "product"):
        message = f"a Ghost '{name}' card has no equivalent here and was left out"
    else:
        message = f"an unknown card '{_short(name, 40)}' was left out"
    warnings.append(Problem(field="content", message=message))
    return ""


# --------------------------------------------------------------------------- mobiledoc
_MOBILEDOC_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "aside", "pull-quote"}
_MARKUP_TAGS = {"a", "b", "strong", "i", "em", "code", "s", "strike", "del", "u", "sub", "sup"}


def _card(cards: list[Any], section: list[Any]) -> tuple[str, Mapping[str, Any]] | None:
    index = section[1] if len(section) > 1 else None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cards):
        return None
    card = cards[index]
    if not (isinstance(card, list) and len(card) >= 1 and isinstance(card[0], str)):
        return None
    payload = card[1] if len(card) > 1 and isinstance(card[1], Mapping) else {}
    return card[0], payload


def render_mobiledoc(document: Mapping[str, Any], warnings: list[Problem]) -> str:
    """Mobiledoc 0.3 (Ghost 1-4) as HTML: markup, list, image and card sections."""
    sections = document.get("sections")
    if not isinstance(sections, list):
        raise _PostError("mobiledoc", "has no 'sections' list")
    markups, atoms, cards = _list(document.get("markups")), _list(document.get("atoms")), _list(document.get("cards"))
    parts: list[str] = []
    for section in sections:
        if not isinstance(section, list) or not section:
            continue
        kind = section[0]
        if kind == 1 and len(section) >= 3:  # markup section: [1, tag, markers]
            tag = str(section[1]).lower()
            tag = tag if tag in _MOBILEDOC_TAGS else "p"
            tag = "blockquote" if tag in ("aside", "pull-quote") else tag
            parts.append(f"<{tag}>{_markers(section[2], markups, atoms, warnings)}</{tag}>")
        elif kind == 2 and len(section) >= 2:  # image section: [2, src]
            parts.append(_image(section[1], "", None, warnings))
        elif kind == 3 and len(section) >= 3 and isinstance(section[2], list):  # list: [3, tag, items]
            tag = "ol" if str(section[1]).lower() == "ol" else "ul"
            items = "".join(f"<li>{_markers(item, markups, atoms, warnings)}</li>" for item in section[2])
            parts.append(f"<{tag}>{items}</{tag}>")
        elif kind == 10:  # card: [10, card index]
            card = _card(cards, section)
            if card is None:
                warnings.append(Problem(field="mobiledoc", message="a card section names no card; left out"))
            else:
                parts.append(_card_html(card[0], card[1], warnings))
        else:
            warnings.append(Problem(field="mobiledoc", message=f"a section of unknown type {_short(str(kind), 20)}"))
    return "\n".join(part for part in parts if part)


def _markers(markers: object, markups: list[Any], atoms: list[Any], warnings: list[Problem]) -> str:
    """A section's markers: text runs that open markups and close the innermost ones."""
    if not isinstance(markers, list):
        return ""
    out: list[str] = []
    open_tags: list[str] = []
    for marker in markers:
        if not (isinstance(marker, list) and len(marker) >= 4):
            continue
        kind, opens, closes, value = marker[:4]
        for index in opens if isinstance(opens, list) else []:
            markup = markups[index] if isinstance(index, int) and 0 <= index < len(markups) else None
            tag = str(markup[0]).lower() if isinstance(markup, list) and markup else ""
            if tag not in _MARKUP_TAGS:
                tag = "span"
            if tag == "a":
                attributes = _list(markup[1]) if isinstance(markup, list) and len(markup) > 1 else []
                pairs = dict(zip(attributes[::2], attributes[1::2], strict=False))
                href = _safe_href(pairs.get("href"), warnings)
                out.append(f'<a href="{_attr(href)}">' if href else "<span>")
                tag = "a" if href else "span"
            else:
                out.append(f"<{tag}>")
            open_tags.append(tag)
        if kind == 0:
            out.append(html.escape(str(value)))
        elif kind == 1:  # an atom: Ghost's only one is the soft return
            atom = atoms[value] if isinstance(value, int) and 0 <= value < len(atoms) else None
            if isinstance(atom, list) and atom and atom[0] == "soft-return":
                out.append("<br>")
            elif isinstance(atom, list) and len(atom) > 1:
                out.append(html.escape(str(atom[1])))
        count = closes if isinstance(closes, int) and closes > 0 else 0
        for _ in range(min(count, len(open_tags))):
            out.append(f"</{open_tags.pop()}>")
    out.extend(f"</{tag}>" for tag in reversed(open_tags))
    return "".join(out)


# --------------------------------------------------------------------------- lexical
# Lexical's text format is a bit field; the tags in the order they nest.
_FORMATS = ((16, "code"), (1, "strong"), (2, "em"), (4, "s"), (8, "u"), (32, "sub"), (64, "sup"))
_LEXICAL_CARDS = {
    "image", "codeblock", "markdown", "html", "embed", "bookmark", "horizontalrule", "gallery", "callout", "aside",
    "video", "audio", "file", "paywall", "email", "email-cta", "signup", "header", "button", "toggle", "product",
}  # fmt: skip


def render_lexical(document: Mapping[str, Any], warnings: list[Problem]) -> str:
    """Ghost 5's Lexical document as HTML."""
    root = document.get("root")
    if not isinstance(root, Mapping):
        raise _PostError("lexical", "has no 'root'")
    return "\n".join(part for part in (_lexical(child, warnings, 1) for child in _children(root)) if part)


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    children = node.get("children")
    return [child for child in children if isinstance(child, Mapping)] if isinstance(children, list) else []


def _lexical(node: Mapping[str, Any], warnings: list[Problem], depth: int) -> str:
    if depth > MAX_DOCUMENT_DEPTH:
        raise _PostError("lexical", f"nests deeper than {MAX_DOCUMENT_DEPTH} levels")
    kind = str(node.get("type") or "")
    kind = kind.removeprefix("extended-")  # Ghost's own text, heading and quote nodes

    def inner() -> str:
        return "".join(_lexical(child, warnings, depth + 1) for child in _children(node))

    if kind == "text":
        text = html.escape(str(node.get("text") or ""))
        flags = _as_int(node.get("format"))
        for bit, tag in _FORMATS:
            if flags & bit:
                text = f"<{tag}>{text}</{tag}>"
        return text
    if kind == "linebreak":
        return "<br>"
    if kind == "tab":
        return "\t"
    if kind == "paragraph":
        return f"<p>{inner()}</p>"
    if kind == "heading":
        tag = str(node.get("tag") or "h2")
        tag = tag if tag in ("h1", "h2", "h3", "h4", "h5", "h6") else "h2"
        return f"<{tag}>{inner()}</{tag}>"
    if kind in ("quote", "aside"):
        return f"<blockquote>{inner()}</blockquote>"
    if kind == "list":
        tag = "ol" if node.get("listType") == "number" or node.get("tag") == "ol" else "ul"
        return f"<{tag}>{inner()}</{tag}>"
    if kind == "listitem":
        return f"<li>{inner()}</li>"
    if kind in ("link", "autolink"):
        return _link(node.get("url"), inner(), warnings)
    if kind in _LEXICAL_CARDS:
        return _card_html(kind, node, warnings)
    warnings.append(Problem(field="lexical", message=f"a node of unknown type '{_short(kind, 40)}'; its text is kept"))
    return inner()


__all__ = ["MAX_EXPORT_BYTES", "GhostSource", "render_lexical", "render_mobiledoc"]
