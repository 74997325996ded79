"""WordPress's export (WXR, "WordPress eXtended RSS", versions 1.0 to 1.2) as ``ImportedItem`` values.

WXR is an RSS 2.0 file: ``<channel>`` holds the site's addresses, its authors and terms, then one
``<item>`` per post, page, attachment, menu entry and whatever else plugins store as posts. It is
read with **defusedxml**: an export never declares entities, and one that does is refused
whole (an entity can expand to gigabytes, or name a local file to read). It is read as a stream
(``iterparse``), twice: a first pass collects what items refer to across the file (attachments,
authors, menu positions), a second yields the posts and pages one at a time, so a 1 GB export
needs the memory of one item and of its attachments' addresses.

Bad input never stops the rest: an item that cannot be read is an ``ItemProblem`` and the next
one is read; a file that breaks off (truncated, or junk in the middle) gives the items before the
break and one problem saying where. Characters that are not text (control characters, bytes
that are not UTF-8) are read as U+FFFD and reported on their item, never a crash.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import IO, Literal
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError  # nosec B405 (types only: every parse is defusedxml's)

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from pressline.importing.model import ImportedAsset, ImportedComment, ImportedItem, ItemProblem
from pressline.models import Problem

SOURCE = "wordpress"
WXR_VERSIONS = ("1.0", "1.1", "1.2")
_WP_NAMESPACES = {f"http://wordpress.org/export/{version}/" for version in WXR_VERSIONS}
_EXCERPT_NAMESPACES = {f"http://wordpress.org/export/{version}/excerpt/" for version in WXR_VERSIONS}
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"

# A body larger than a post may be (posts.rules.MAX_POST_BYTES, 1 MiB) would be refused when it
# is uploaded: refused here, with the reason, rather than converted and written.
MAX_BODY_CHARS = 1024 * 1024
MAX_TITLE_CHARS = 200  # posts.rules.MAX_TITLE_LENGTH: longer titles are cut, with a warning
MAX_SUMMARY_CHARS = 1000
MAX_COMMENT_CHARS = 64 * 1024
NO_DATE = "0000-00-00 00:00:00"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Not allowed in XML 1.0 (and not text): read as U+FFFD so that the parser goes on.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
# WordPress's own post types that are not content (menus, revisions, the editor's templates...).
_CONTENT_TYPES = {"post": "post", "page": "page"}
_SKIPPED_STATUSES = {"trash", "auto-draft", "inherit"}
_DRAFT_STATUSES = {"draft", "pending"}
CommentStatus = Literal["approved", "pending", "spam", "trash"]
_COMMENT_STATUS: dict[str, CommentStatus] = {
    "1": "approved",
    "0": "pending",
    "spam": "spam",
    "trash": "trash",
    "post-trashed": "trash",
}
# Published as images by Pressline; anything else attached (PDFs, zips) is an asset too, but an
# SVG can carry scripts and is never published (posts.sanitize refuses it as an image).
_REFUSED_ASSET_TYPES = {"image/svg+xml"}
_REFUSED_ASSET_SUFFIXES = (".svg", ".svgz")


def _local(tag: str) -> tuple[str, str]:
    """``{namespace}name`` -> (namespace, name)."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


@dataclass(frozen=True)
class _Attachment:
    post_id: str
    url: str
    parent: str
    title: str = ""
    alt: str = ""
    mime: str = ""
    order: int = 0


@dataclass
class _Context:
    """What the first pass learned about the whole file."""

    site_urls: list[str] = field(default_factory=list)
    channel_link: str = ""
    authors: dict[str, str] = field(default_factory=dict)  # login -> display name
    attachments: dict[str, _Attachment] = field(default_factory=dict)  # post id -> attachment
    children: dict[str, list[str]] = field(default_factory=dict)  # parent id -> attachment ids
    menu_order: dict[str, int] = field(default_factory=dict)  # page id -> position in a menu
    offsets: Counter[timedelta] = field(default_factory=Counter)  # the site's zone, from dates
    is_wxr: bool = False


class _CleanStream:
    """The export's bytes as UTF-8 the XML parser accepts: bytes that are not UTF-8 and
    characters XML forbids become U+FFFD, so that one bad character in one post
    does not end the whole file there. A file declaring another encoding is passed as is."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        head = raw.read(256)
        declared = _DECLARED_ENCODING.match(head)
        self.passthrough = declared is not None and declared.group(1).decode("ascii").lower().replace("_", "-") not in (
            "utf-8",
            "utf8",
        )
        self.pending = head

    def read(self, size: int = -1) -> bytes:
        while True:
            chunk = self.pending + self.raw.read(65536 if size is None or size < 0 else max(size, 4096))
            self.pending = b""
            if self.passthrough:
                return chunk
            text = _NOT_XML.sub("\ufffd", self.decoder.decode(chunk, final=not chunk))
            if text or not chunk:  # b"" only at the end: iterparse stops at the first empty read
                return text.encode("utf-8")


def _text(element: Element | None) -> str:
    return "" if element is None or element.text is None else element.text


class WxrSource:
    """One WordPress export file. ``timezone`` is the site's zone (WordPress writes each post's
    local time and its UTC time; a draft has only the local one): by default, the offset most
    posts of the file show between the two."""

    def __init__(self, path: str | Path, timezone: tzinfo | None = None) -> None:
        self.path = Path(path)
        self.timezone = timezone
        self.skipped: Counter[str] = Counter()  # what was not imported, by post type or status
        self._context: _Context | None = None
        self._file_problem: Problem | None = None

    # ---- the ImportSource protocol
    @property
    def site_url(self) -> str | None:
        urls = self._scan().site_urls
        return urls[0] if urls else None

    @property
    def site_urls(self) -> tuple[str, ...]:
        """Every address the export names for the site (the blog's, WordPress's own, the feed's
        link): images are often under one and posts under another."""
        return tuple(self._scan().site_urls)

    def items(self) -> Iterator[ImportedItem | ItemProblem]:
        context = self._scan()
        if self._file_problem is not None and not context.is_wxr:
            yield self._problem(self._file_problem)
            return
        self.skipped.clear()
        count = 0
        try:
            with self.path.open("rb") as raw:
                stream = _CleanStream(raw)
                channel: Element | None = None
                for event, element in iterparse(stream, events=("start", "end")):
                    if event == "start":
                        if element.tag == "channel":
                            channel = element
                        continue
                    if element.tag != "item":
                        continue
                    count += 1
                    yield from self._item(element, context)
                    element.clear()
                    if channel is not None:
                        channel.clear()  # the header was read by the first pass
        except DefusedXmlException:
            yield self._problem(_entities_problem())
        except ParseError as error:
            yield self._problem(_broken_problem(error, count))
        except OSError as error:
            yield self._problem(Problem(field="file", message=f"cannot be read: {error.strerror or error}"))

    # ---- the first pass
    def _scan(self) -> _Context:
        if self._context is not None:
            return self._context
        context = _Context()
        self._context = context
        try:
            with self.path.open("rb") as raw:
                for _event, element in iterparse(_CleanStream(raw), events=("end",)):
                    namespace, name = _local(element.tag)
                    if namespace in _WP_NAMESPACES:
                        context.is_wxr = True
                        if name == "base_blog_url":  # where visitors read the posts: first
                            _add_url(context.site_urls, _text(element), first=True)
                        elif name == "base_site_url":  # WordPress's own address (its uploads)
                            _add_url(context.site_urls, _text(element))
                        elif name == "author":
                            _add_author(context, element)
                    elif element.tag == "link" and not context.channel_link:
                        context.channel_link = _text(element).strip()  # the channel's comes before any item's
                    elif element.tag == "item":
                        _note_item(context, element)
                        element.clear()
        except DefusedXmlException:
            self._file_problem = _entities_problem()
        except ParseError as error:
            self._file_problem = _broken_problem(error, 0)
        except OSError as error:
            self._file_problem = Problem(field="file", message=f"cannot be read: {error.strerror or error}")
        _add_url(context.site_urls, context.channel_link)
        if self._file_problem is None and not context.is_wxr:
            self._file_problem = Problem(
                field="file",
                message="is not a WordPress export (WXR 1.0-1.2): no wordpress.org/export namespace; "
                "export it again with Tools > Export in WordPress",
            )
        return context

    def _problem(self, problem: Problem, item: str = "(the file)") -> ItemProblem:
        return ItemProblem(file=str(self.path), item=item, problem=problem)

    # ---- one item
    def _item(self, element: Element, context: _Context) -> Iterator[ImportedItem | ItemProblem]:
        fields = _Fields(element)
        post_type = fields.wp("post_type") or "post"
        status = fields.wp("status") or "publish"
        post_id = fields.wp("post_id")
        title = " ".join(_text(element.find("title")).split())
        label = f"{title[:60]!r} (id {post_id})" if title else f"id {post_id or '?'}"
        if post_type not in _CONTENT_TYPES:
            self.skipped[post_type] += 1  # attachments were taken by the first pass
            return
        if status in _SKIPPED_STATUSES:
            self.skipped[status] += 1
            return
        if status == "private":
            yield self._problem(
                Problem(
                    field="status",
                    message="is private on the old site: not imported (Pressline has no private posts); "
                    "make it public there, or copy it by hand",
                ),
                label,
            )
            return
        try:
            yield self._imported(fields, context, post_type, status, post_id, title)
        except _ItemError as error:
            yield self._problem(error.problem, label)
        except (ValueError, TypeError) as error:  # a field the model refuses (pydantic's ValidationError)
            yield self._problem(Problem(field="item", message=f"cannot be read: {str(error)[:300]}"), label)

    def _imported(
        self, fields: _Fields, context: _Context, post_type: str, status: str, post_id: str, title: str
    ) -> ImportedItem:
        warnings: list[Problem] = []
        body = fields.get(_CONTENT)
        if len(body) > MAX_BODY_CHARS:
            raise _ItemError(
                Problem(
                    field="content",
                    message=f"is {len(body):,} characters; the limit is {MAX_BODY_CHARS:,}: split the post",
                )
            )
        if not title:
            title = f"Untitled {post_id}".strip()
            warnings.append(Problem(field="title", message=f"is empty; named {title!r}"))
        if len(title) > MAX_TITLE_CHARS:
            title = title[:MAX_TITLE_CHARS].rstrip()
            warnings.append(Problem(field="title", message=f"is longer than {MAX_TITLE_CHARS} characters; cut"))
        for name, value in (("title", title), ("content", body)):
            if "\ufffd" in value:
                warnings.append(
                    Problem(
                        field=name,
                        message="has characters that are not text (control characters, or bytes that are not "
                        "UTF-8), shown as \ufffd",
                    )
                )
        draft = status in _DRAFT_STATUSES
        if status not in _DRAFT_STATUSES | {"publish", "future"}:
            draft = True
            warnings.append(
                Problem(field="status", message=f"is {status!r}, which WordPress does not publish; a draft")
            )
        if fields.wp("post_password"):
            draft = True
            warnings.append(
                Problem(
                    field="status", message="is password-protected on the old site: imported as a draft, not public"
                )
            )
        zone = self._zone(context)
        date = _date(fields.wp("post_date_gmt"), fields.wp("post_date"), zone, warnings, "post_date")
        updated = _date(fields.wp("post_modified_gmt"), fields.wp("post_modified"), zone, [], "post_modified")
        if date is None and not draft:
            warnings.append(Problem(field="post_date", message="is missing; the post has no date"))
        link = fields.get("link").strip()
        old_urls = (link,) if link and status == "publish" and _is_http(link) else ()
        meta = fields.postmeta()
        assets, image = _assets(context, post_id, meta.get("_thumbnail_id", ""), warnings)
        if "[gallery" in body:
            body = _expand_galleries(body, context, post_id)
        kind = _CONTENT_TYPES[post_type]
        return ImportedItem(
            source=SOURCE,
            source_id=fields.get("guid").strip() or f"{SOURCE}:{post_id}",
            kind="page" if kind == "page" else "post",
            slug=_slug(fields.wp("post_name"), title, post_type, post_id, warnings),
            title=title,
            date=date,
            updated=updated if updated != date else None,
            tags=_terms(fields.element),
            summary=_summary(fields.excerpt()),
            author=_author(context, fields.get(_CREATOR)),
            draft=draft,
            body=body,
            body_format="html",
            image=image,
            old_urls=old_urls,
            assets=assets,
            comments=tuple(self._comments(fields.element, zone)),
            nav_order=context.menu_order.get(post_id) if kind == "page" else None,
            warnings=tuple(warnings),
        )

    def _zone(self, context: _Context) -> tzinfo:
        if self.timezone is not None:
            return self.timezone
        if context.offsets:
            offset = context.offsets.most_common(1)[0][0]
            return timezone(offset) if offset else UTC
        return UTC

    def _comments(self, element: Element, zone: tzinfo) -> Iterator[ImportedComment]:
        for comment in element:
            namespace, name = _local(comment.tag)
            if namespace not in _WP_NAMESPACES or name != "comment":
                continue
            values = {_local(child.tag)[1]: _text(child) for child in comment}
            kind = values.get("comment_type", "")
            if kind in ("pingback", "trackback"):
                self.skipped[kind] += 1
                continue
            comment_id = values.get("comment_id", "").strip()
            if not comment_id:
                continue
            parent = values.get("comment_parent", "0").strip()
            yield ImportedComment(
                source_id=comment_id,
                parent_id=parent if parent not in ("", "0") else None,
                author=" ".join(values.get("comment_author", "").split())[:200],
                email=values.get("comment_author_email", "").strip()[:320] or None,
                url=values.get("comment_author_url", "").strip()[:2000] or None,
                date=_date(values.get("comment_date_gmt", ""), values.get("comment_date", ""), zone, [], "comment"),
                body_html=values.get("comment_content", "")[:MAX_COMMENT_CHARS],
                status=_COMMENT_STATUS.get(values.get("comment_approved", "").strip(), "pending"),
            )


class _ItemError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Fields:
    """An item's child elements by name, whatever the WXR version's namespace."""

    def __init__(self, element: Element) -> None:
        self.element = element
        self.wp_values: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.excerpt_value = ""
        for child in element:
            namespace, name = _local(child.tag)
            if namespace in _WP_NAMESPACES:
                self.wp_values.setdefault(name, _text(child))
            elif namespace in _EXCERPT_NAMESPACES:
                self.excerpt_value = _text(child)
            else:
                self.values.setdefault(child.tag, _text(child))

    def wp(self, name: str) -> str:
        return self.wp_values.get(name, "").strip()

    def get(self, tag: str) -> str:
        return self.values.get(tag, "")

    def excerpt(self) -> str:
        return self.excerpt_value

    def postmeta(self) -> dict[str, str]:
        return _postmeta(self.element)


def _postmeta(element: Element) -> dict[str, str]:
    meta: dict[str, str] = {}
    for child in element:
        namespace, name = _local(child.tag)
        if namespace in _WP_NAMESPACES and name == "postmeta":
            values = {_local(part.tag)[1]: _text(part) for part in child}
            key = values.get("meta_key", "").strip()
            if key:
                meta.setdefault(key, values.get("meta_value", "").strip())
    return meta


# --------------------------------------------------------------------------- the first pass's notes
def _add_url(urls: list[str], url: str, first: bool = False) -> None:
    url = url.strip().rstrip("/")
    if _is_http(url) and url not in urls:
        urls.insert(0 if first else len(urls), url)


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _add_author(context: _Context, element: Element) -> None:
    values = {_local(child.tag)[1]: " ".join(_text(child).split()) for child in element}
    login = values.get("author_login", "")
    if login:
        context.authors[login] = values.get("author_display_name") or login


def _note_item(context: _Context, element: Element) -> None:
    fields = _Fields(element)
    post_type, post_id = fields.wp("post_type"), fields.wp("post_id")
    local, gmt = fields.wp("post_date"), fields.wp("post_date_gmt")
    if local and gmt and NO_DATE not in (local, gmt):
        try:
            offset = datetime.strptime(local, _DATE_FORMAT) - datetime.strptime(gmt, _DATE_FORMAT)
        except ValueError:
            pass
        else:
            if abs(offset) <= timedelta(hours=14):
                context.offsets[offset] += 1
    if post_type == "attachment" and post_id:
        url = fields.wp("attachment_url") or fields.get("guid").strip()
        meta = fields.postmeta()
        try:
            order = int(fields.wp("menu_order") or 0)
        except ValueError:
            order = 0
        attachment = _Attachment(
            post_id=post_id,
            url=url,
            parent=fields.wp("post_parent"),
            title=" ".join(_text(element.find("title")).split()),
            alt=" ".join(meta.get("_wp_attachment_image_alt", "").split()),
            mime=fields.wp("post_mime_type"),
            order=order,
        )
        context.attachments[post_id] = attachment
        if attachment.parent and attachment.parent != "0":
            context.children.setdefault(attachment.parent, []).append(post_id)
    elif post_type == "nav_menu_item":
        meta = fields.postmeta()
        if meta.get("_menu_item_object") == "page" and meta.get("_menu_item_object_id"):
            try:
                position = int(fields.wp("menu_order") or 0)
            except ValueError:
                return
            page = meta["_menu_item_object_id"]
            context.menu_order[page] = min(position, context.menu_order.get(page, position))


# --------------------------------------------------------------------------- fields
def _entities_problem() -> Problem:
    return Problem(
        field="file",
        message="declares XML entities (<!ENTITY ...>), which a WordPress export never does: refused "
        "(an entity can expand to gigabytes, or read a file of this computer)",
    )


def _broken_problem(error: ParseError, items: int) -> Problem:
    line, column = getattr(error, "position", (None, None))
    reason = str(error).split(":")[0]
    if reason.startswith("no element found") or reason.startswith("unclosed token"):
        message = f"ends in the middle (line {line}): the file is cut short; {items} items were read before it"
    else:
        message = (
            f"is not well-formed XML at line {line}, column {column} ({reason}); {items} items were read before it"
        )
    return Problem(field="file", message=message + ". Export it again", line=line)


def _date(gmt: str, local: str, zone: tzinfo, warnings: list[Problem], name: str) -> datetime | None:
    gmt, local = gmt.strip(), local.strip()
    try:
        if gmt and gmt != NO_DATE:
            return datetime.strptime(gmt, _DATE_FORMAT).replace(tzinfo=UTC)
        if local and local != NO_DATE:
            return datetime.strptime(local, _DATE_FORMAT).replace(tzinfo=zone)
    except ValueError:
        warnings.append(Problem(field=name, message=f"{(gmt or local)[:40]!r} is not a date (YYYY-MM-DD hh:mm:ss)"))
    return None


_UNSAFE_SLUG = re.compile(r"[/\\\x00-\x1f\x7f\ufffd]|^\.\.?$")


def _slug(name: str, title: str, post_type: str, post_id: str, warnings: list[Problem]) -> str:
    from pressline.posts.slug import slugify

    # WordPress keeps a slug with letters outside ASCII percent-encoded ("caf%c3%a9").
    slug = unquote(name, errors="replace").strip() if name else ""
    if slug and _UNSAFE_SLUG.search(slug):
        warnings.append(Problem(field="post_name", message=f"{slug[:60]!r} cannot be a web address; made from it"))
        slug = slugify(slug)
    return slug or slugify(title) or f"{post_type}-{post_id or 'untitled'}"


def _terms(element: Element) -> tuple[str, ...]:
    """Categories and tags, as their names, each once (case aside), without WordPress's default
    category "Uncategorized", which only says that none was chosen."""
    names: dict[str, str] = {}
    for child in element.findall("category"):
        domain = child.get("domain", "category")
        if domain not in ("category", "post_tag", "tag"):
            continue  # post formats, plugins' taxonomies
        nicename = child.get("nicename", "")
        text = " ".join(_text(child).split())
        if not text or nicename == "uncategorized" or (domain == "category" and text.lower() == "uncategorized"):
            continue
        names.setdefault(text.casefold(), text)
    return tuple(names.values())


def _summary(excerpt: str) -> str:
    if not excerpt.strip():
        return ""
    if "<" in excerpt or "&" in excerpt:
        from bs4 import BeautifulSoup

        excerpt = BeautifulSoup(excerpt, "html.parser").get_text(" ")
    return " ".join(excerpt.split())[:MAX_SUMMARY_CHARS]


def _author(context: _Context, login: str) -> str | None:
    login = " ".join(login.split())
    return (context.authors.get(login) or login) or None


def _asset_name(url: str) -> tuple[str | None, str]:
    """The file name an attachment is published under (its URL's last segment, decoded), or
    None and why not: not http(s), no file name, or ".." anywhere in the path, which a real
    upload never has and which could name a file outside the uploads (or outside the target)."""
    if not _is_http(url):
        return None, "is not an http(s) address"
    path = unquote(urlsplit(url).path, errors="replace").replace("\\", "/")
    if ".." in path.split("/"):
        return None, "has '..' in its path"
    name = path.rsplit("/", 1)[-1].strip()
    if name in ("", ".") or name.startswith(".") or _NOT_XML.search(name) or "\ufffd" in name:
        return None, "does not end in a file name"
    return name, ""


def _assets(
    context: _Context, post_id: str, thumbnail_id: str, warnings: list[Problem]
) -> tuple[tuple[ImportedAsset, ...], str | None]:
    ids = list(context.children.get(post_id, ()))
    if thumbnail_id and thumbnail_id not in ids:
        ids.append(thumbnail_id)
    assets: list[ImportedAsset] = []
    names: set[str] = set()
    image: str | None = None
    for attachment_id in ids:
        attachment = context.attachments.get(attachment_id)
        if attachment is None:
            if attachment_id == thumbnail_id:
                warnings.append(
                    Problem(field="_thumbnail_id", message=f"names attachment {attachment_id}, not in the export")
                )
            continue
        url = attachment.url.strip()
        name, why = _asset_name(url)
        if name is None:
            warnings.append(Problem(field="attachment_url", message=f"{url[:100]!r} {why}: not imported"))
            continue
        if attachment.mime in _REFUSED_ASSET_TYPES or name.lower().endswith(_REFUSED_ASSET_SUFFIXES):
            warnings.append(
                Problem(
                    field="attachment_url",
                    message=f"{name} is an SVG image, which is not published (it can carry scripts)",
                )
            )
            continue
        if attachment_id == thumbnail_id:
            image = url
        stem, dot, suffix = name.rpartition(".")
        unique, number = name, 2
        while unique.lower() in names:  # two uploads named alike in different months
            unique = f"{stem}-{number}.{suffix}" if dot else f"{name}-{number}"
            number += 1
        names.add(unique.lower())
        assets.append(ImportedAsset(name=unique, reference=url))
    return tuple(assets), image


_GALLERY = re.compile(r"\[gallery\b([^\]]*)\]", re.IGNORECASE)
_IDS = re.compile(r"""\bids\s*=\s*["']?([0-9,\s]+)""", re.IGNORECASE)


def _expand_galleries(body: str, context: _Context, post_id: str) -> str:
    """``[gallery]`` (the post's attached images) and ``[gallery ids="3,5"]`` as the images they
    show, which the export knows and the HTML converter does not."""
    import html

    def expand(match: re.Match[str]) -> str:
        ids_match = _IDS.search(match.group(1))
        if ids_match:
            ids = [value.strip() for value in ids_match.group(1).split(",") if value.strip()]
        else:
            attached = [context.attachments[i] for i in context.children.get(post_id, ()) if i in context.attachments]
            ids = [
                a.post_id
                for a in sorted(attached, key=lambda a: (a.order, int(a.post_id) if a.post_id.isdigit() else 0))
            ]
        images = []
        for attachment_id in ids:
            attachment = context.attachments.get(attachment_id)
            if attachment is None or not _is_http(attachment.url) or not attachment.mime.startswith("image/"):
                continue
            if attachment.mime in _REFUSED_ASSET_TYPES:
                continue
            alt = html.escape(attachment.alt or attachment.title, quote=True)
            images.append(f'<img src="{html.escape(attachment.url, quote=True)}" alt="{alt}">')
        return "\n\n<p>" + " ".join(images) + "</p>\n\n" if images else match.group(0)

    return _GALLERY.sub(expand, body)


__all__ = ["MAX_BODY_CHARS", "WxrSource"]
