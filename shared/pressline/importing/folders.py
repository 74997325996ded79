"""Hugo and Jekyll site folders read into ``ImportedItem``s.

Both are folders of Markdown files with front matter, so most of the work is shared: walking
the folder without leaving it, reading a capped file, splitting YAML, TOML or JSON front matter,
dates, tags, and finding the images a post names among the site's files. What differs is where
the posts are, which file is a page, and the URL each had on the old site (Hugo's permalinks,
Jekyll's permalink styles), which become the post's aliases.

Bodies stay Markdown (Jekyll's ``.html`` posts stay HTML); the template languages in them are
translated where they mean something Markdown can say (Hugo's ``figure``, ``youtube`` and
``ref`` shortcodes, Jekyll's ``highlight``, ``raw``, ``post_url`` and ``site.baseurl``) and kept
as text with a warning where they do not.

Safety: nothing outside the folder is read (a symlink that leads out is a problem, a ``..``
in a reference resolves inside or not at all), hidden files are skipped, and every file is
read with a size cap. One bad file is an ``ItemProblem``; the others are read on.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pressline.importing.model import ImportedAsset, ImportedItem, ItemProblem
from pressline.importing.templates import convert_liquid, convert_shortcodes
from pressline.models import Problem
from pressline.posts import frontmatter
from pressline.posts.slug import slugify

# A content file: Pressline's own limit on a post is 1 MiB; twice that leaves room for front
# matter and template code that the conversion removes.
MAX_TEXT_BYTES = 2 * 1024 * 1024
# An image or other file beside the content.
MAX_ASSET_BYTES = 32 * 1024 * 1024
# A reference longer than this names no file.
_MAX_PATH = 1024
# Links and images of one item looked for among the site's files: far above a real post.
MAX_REFERENCES = 2_000
# Files looked at in one walk: far above any blog, a bound on a folder that is not one.
MAX_FILES = 200_000
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mkdn"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
MEDIA_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp", ".tif", ".tiff"}
    | {".pdf", ".mp3", ".mp4", ".m4a", ".ogg", ".webm", ".mov", ".zip"}
)
# Folders of a Jekyll site's generated output and dependencies: never content. (Hugo's are
# outside content/, which is all its reader walks.)
_SKIPPED_DIRS = frozenset({"node_modules", "vendor", "_site", "_vendor", "_sass", "_layouts", "_includes"})


# --------------------------------------------------------------------------- the folder
class _FileError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(field=field, message=message)


class _Folder:
    """A site folder that nothing is read outside of."""

    def __init__(self, path: str | Path) -> None:
        self.given = Path(path)
        self.root = Path(os.path.realpath(path))

    def relative(self, path: Path) -> str:
        """How the author finds the file: its path from the folder, with '/'."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def inside(self, path: Path) -> Path | None:
        """``path`` with its symlinks resolved, when that is still inside the folder."""
        real = Path(os.path.realpath(path))
        return real if real == self.root or real.is_relative_to(self.root) else None

    def read(self, path: Path, limit: int | None = None) -> bytes:
        limit = limit or MAX_TEXT_BYTES
        real = self.inside(path)
        if real is None:
            raise _FileError("file", "is a link to a place outside the site folder; it is not read")
        try:
            size = real.stat().st_size
            if size > limit:
                raise _FileError("file", f"is {size:,} bytes; the limit is {limit // (1024 * 1024)} MiB")
            with real.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as error:
            raise _FileError("file", f"cannot be read: {error.strerror or error}") from None
        if len(data) > limit:  # it grew since stat
            raise _FileError("file", f"is larger than {limit // (1024 * 1024)} MiB")
        return data

    def read_text(self, path: Path) -> str:
        data = self.read(path)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _FileError("file", f"is not UTF-8 text (byte {error.start:,})") from None
        if "\x00" in text:
            raise _FileError("file", "holds NUL characters: it is not a text file")
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def walk(self, start: Path, problems: list[ItemProblem], skipped: frozenset[str] = frozenset()) -> Iterator[Path]:
        """The files under ``start``, sorted, never through a link that leads out, never hidden,
        never in the ``skipped`` folders of ``start`` itself. A hidden or outward-linked content
        file is reported in ``problems``; other hidden files (``.DS_Store``, ``.git``) are
        skipped quietly."""
        count = 0
        for directory, dirs, files in os.walk(start, followlinks=False):
            here = Path(directory)
            kept = []
            for name in sorted(dirs):
                if name.startswith(".") or (name in skipped and here == start):
                    continue
                if (here / name).is_symlink():
                    if self.inside(here / name) is None:
                        problems.append(self._problem(here / name, "is a link to a folder outside the site folder"))
                        continue
                    # A link inside the folder would be walked twice (or forever): its target is walked anyway.
                    continue
                kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                path = here / name
                if name.startswith("."):
                    if Path(name).suffix.lower() in MARKDOWN_EXTENSIONS | HTML_EXTENSIONS:
                        problems.append(self._problem(path, "is a hidden file; it is not imported"))
                    continue
                if path.is_symlink() and self.inside(path) is None:
                    problems.append(self._problem(path, "is a link to a place outside the site folder; not read"))
                    continue
                count += 1
                if count > MAX_FILES:
                    problems.append(self._problem(start, f"has more than {MAX_FILES:,} files; the rest are not read"))
                    return
                yield path

    def _problem(self, path: Path, message: str) -> ItemProblem:
        return ItemProblem(file=self.relative(path), item=path.name, problem=Problem(field="file", message=message))

    def problem(self, path: Path, problem: Problem) -> ItemProblem:
        return ItemProblem(file=self.relative(path), item=path.name, problem=problem)


# --------------------------------------------------------------------------- front matter


@dataclass
class _Parsed:
    fields: dict[str, Any]
    body: str
    has_front_matter: bool
    warnings: list[Problem] = field(default_factory=list)
    body_line: int = 1  # the file's line the body starts on, for the lines in warnings


def split_front_matter(text: str) -> _Parsed:
    """YAML (``---``), TOML (``+++``) or JSON (``{``) front matter and the body after it.
    Raises ``_FileError`` for front matter that cannot be read."""
    parsed = _split_any(text)
    # Every way above slices the body off the end of the text.
    parsed.body_line = text.count("\n", 0, len(text) - len(parsed.body)) + 1
    return parsed


def _split_any(text: str) -> _Parsed:
    if text.startswith("{"):
        return _split_json(text)
    try:
        document = frontmatter.split(text)
    except frontmatter.FrontMatterError as error:
        raise _FileError(error.problem.field, error.problem.message) from None
    return _Parsed(document.fields, document.body, document.has_front_matter, list(document.warnings))


def _split_json(text: str) -> _Parsed:
    """Hugo's JSON front matter: one object at the top of the file, the body after it."""
    head = text[: frontmatter.MAX_FRONT_MATTER_BYTES + 1]
    try:
        fields, end = json.JSONDecoder().raw_decode(head)
    except json.JSONDecodeError as error:
        if len(head) > frontmatter.MAX_FRONT_MATTER_BYTES:
            raise _FileError(
                "front matter", f"is larger than {frontmatter.MAX_FRONT_MATTER_BYTES // 1024} KiB"
            ) from None
        raise _FileError("front matter", f"is not valid JSON: {error.msg} (line {error.lineno})") from None
    except RecursionError:
        raise _FileError("front matter", "is nested too deeply") from None
    if not isinstance(fields, dict):
        raise _FileError("front matter", "must be a JSON object")
    return _Parsed(fields, text[end:].lstrip("\n"), True)


def _load_config(folder: _Folder, path: Path) -> dict[str, Any]:
    """A site's configuration file (TOML, YAML or JSON by its extension)."""
    text = folder.read_text(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":  # with the front matter's bounds (tomllib is quadratic in dotted keys)
            return frontmatter.load_toml(text)[0]
        if suffix == ".json":
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise _FileError("file", "must be a JSON object")
            return loaded
        fields, _, _, _ = frontmatter.load_yaml(text)
        return fields
    except frontmatter.FrontMatterError as error:
        raise _FileError("file", error.problem.message.replace("front matter", "configuration")) from None
    except json.JSONDecodeError as error:
        raise _FileError("file", f"cannot be read: {error}") from None
    except RecursionError:
        raise _FileError("file", "is nested too deeply") from None


# --------------------------------------------------------------------------- field values
def _text(fields: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def _words(value: object, split_spaces: bool = False) -> list[str]:
    """A list field, or one text (Jekyll: space-separated words)."""
    if isinstance(value, str):
        return value.split() if split_spaces else [value]
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, str | int | float) and not isinstance(item, bool)]
    return []


def _unique(values: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    kept: list[str] = []
    for value in (value.strip() for value in values):
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return tuple(kept)


_JEKYLL_DATE = re.compile(
    r"^(\d{4}-\d{1,2}-\d{1,2})(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$"
)


def parse_date(value: object, zone: tzinfo) -> datetime:
    """A front matter date: TOML's dates, YAML's text, Jekyll's "2019-05-01 10:00:00 +0200".
    Without an offset it is in the site's zone. Raises ValueError naming the value."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            match = _JEKYLL_DATE.match(text)
            if not match:
                raise ValueError(f"'{text[:60]}' is not a date") from None
            day, time, offset = match.groups()
            year, month, day_of_month = (int(part) for part in day.split("-"))
            hour, minute, *rest = (int(float(part)) for part in (time or "0:00").split(":"))
            second = rest[0] if rest else 0
            offset = None if offset in (None, "Z", "UTC") else offset
            try:
                moment = datetime(year, month, day_of_month, hour, minute, second)
                if offset:
                    sign = 1 if offset[0] == "+" else -1
                    digits = offset[1:].replace(":", "")
                    from datetime import timedelta, timezone

                    zone_of = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
                    moment = moment.replace(tzinfo=zone_of)
                elif match.group(3):
                    moment = moment.replace(tzinfo=UTC)
            except ValueError as error:
                raise ValueError(f"'{text[:60]}' is not a date: {error}") from None
    else:
        raise ValueError(f"must be a date, not {type(value).__name__}")
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _zone(name: object, warnings: list[Problem]) -> tzinfo:
    if not isinstance(name, str) or not name.strip():
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        warnings.append(Problem(field="timezone", message=f"'{name[:60]}' is not a time zone; UTC is used"))
        return UTC


def _date_field(
    fields: Mapping[str, Any], names: tuple[str, ...], zone: tzinfo, warnings: list[Problem]
) -> datetime | None:
    for name in names:
        value = fields.get(name)
        if value is None or value == "":
            continue
        try:
            return parse_date(value, zone)
        except (ValueError, OverflowError) as error:
            warnings.append(Problem(field=name, message=f"{error}; it is ignored"))
    return None


def _title_of(stem: str) -> str:
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


def _cover(fields: Mapping[str, Any]) -> str | None:
    """The cover image, under the names themes use for it."""
    for name in ("image", "featured_image", "feature_image", "cover_image", "thumbnail"):
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, Mapping):
            inner = _text(value, "path", "src", "url", "image", "feature")
            if inner:
                return inner
    images = fields.get("images")
    if isinstance(images, list) and images and isinstance(images[0], str) and images[0].strip():
        return images[0].strip()
    for name in ("cover", "header"):
        value = fields.get(name)
        if isinstance(value, Mapping):
            inner = _text(value, "image", "src", "path", "overlay_image", "teaser")
            if inner:
                return inner
    return None


def _author(fields: Mapping[str, Any], default: str | None) -> str | None:
    value = fields.get("author")
    if isinstance(value, Mapping):
        value = value.get("name")
    if isinstance(value, str) and value.strip():
        return value.strip()
    authors = fields.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], str) and authors[0].strip():
        return authors[0].strip()
    return default


def _absolute(site: str | None, base_path: str, path: str) -> str:
    """An old URL: the site's address (its path prefix included) and a path under it, or,
    when the address is unknown, the path with the prefix, site-relative."""
    return f"{site}{path}" if site else f"{base_path}{path}"


def _site_address(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return value.strip().rstrip("/")
    return None


# --------------------------------------------------------------------------- images
# Where a body names a file: Markdown links and images (inline and reference definitions),
# and src/href attributes of the HTML in it.
_MARKDOWN_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+)>?")
_REFERENCE_TARGET = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]*<?(\S+?)>?(?:[ \t]|$)", re.MULTILINE)
_ATTRIBUTE_TARGET = re.compile(r"""\b(?:src|href|poster)\s*=\s*["']([^"'<>]+)["']""", re.IGNORECASE)


def _targets(text: str) -> list[str]:
    found: list[str] = []
    for pattern in (_MARKDOWN_TARGET, _REFERENCE_TARGET, _ATTRIBUTE_TARGET):
        found.extend(match.group(1) for match in pattern.finditer(text))
    return found


@dataclass
class _Assets:
    """The files an item brings, each once, under a name unique beside it."""

    folder: _Folder
    warnings: list[Problem]
    assets: list[ImportedAsset] = field(default_factory=list)
    _paths: set[tuple[Path, str]] = field(default_factory=set)
    _names: set[str] = field(default_factory=set)

    def add(self, path: Path, reference: str) -> bool:
        real = self.folder.inside(path)
        if real is None or not real.is_file():
            return False
        if (real, reference) in self._paths:
            return True
        try:
            size = real.stat().st_size
        except OSError:
            return False
        if size > MAX_ASSET_BYTES:
            limit = MAX_ASSET_BYTES // (1024 * 1024)
            message = f"'{self.folder.relative(real)}' is {size:,} bytes, over {limit} MiB; it is not imported"
            self.warnings.append(Problem(field="assets", message=message))
            return True
        name = real.name
        stem, suffix, number = real.stem, real.suffix, 2
        while name in self._names and not any(asset.path == str(real) and asset.name == name for asset in self.assets):
            name, number = f"{stem}-{number}{suffix}", number + 1
        self._names.add(name)
        self._paths.add((real, reference))
        self.assets.append(ImportedAsset(name=name, reference=reference, path=str(real)))
        return True


def _site_path(reference: str, site: str | None, base_path: str, page_url: str) -> str | None:
    """The site path (without the site's own path prefix) that ``reference`` names, if it
    names one on the old site: an absolute URL there, a path from the root, or one relative to
    the page's old URL (``../images/x.png``)."""
    target = reference.strip()
    if not target or len(target) > _MAX_PATH or target.startswith(("#", "mailto:", "data:", "//")):
        return None  # no file has a name that long (and realpath takes time quadratic in one)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if site is None or not target.startswith(site + "/"):
            return None
        path = urlsplit(target).path
    else:
        path = urlsplit(urljoin(page_url, target)).path if not parts.path.startswith("/") else parts.path
    if not path:
        return None
    path = posixpath.normpath(path)
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        path = path[len(base_path) :] or "/"
    return path


def _media_under(folder: _Folder, directory: Path, site_path: str) -> Path | None:
    """The file at ``site_path`` under ``directory``, if it is media and inside the folder."""
    relative = PurePosixPath(site_path.lstrip("/"))
    if any(part in ("..", "") or part.startswith(".") for part in relative.parts):
        return None
    if relative.suffix.lower() not in MEDIA_EXTENSIONS:
        return None
    candidate = directory.joinpath(*relative.parts)
    real = folder.inside(candidate)
    return real if real is not None and real.is_file() else None


# --------------------------------------------------------------------------- shared helpers
def _warn_once(warnings: list[Problem], field_name: str, message: str) -> None:
    if not any(problem.message == message for problem in warnings):
        warnings.append(Problem(field=field_name, message=message))


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- one content file
@dataclass
class _Entry:
    """A content file read and split, before its body is converted: everything that the other
    files' links (``ref``, ``post_url``) need is known before any body is."""

    path: Path
    relative: str  # from the site folder
    parsed: _Parsed
    kind: str
    slug: str
    title: str
    date: datetime | None
    url: str  # site path on the old site, without the site's own path prefix
    aliases: list[str]
    warnings: list[Problem]
    is_html: bool = False
    draft: bool = False


def _finish(
    entry: _Entry,
    source: str,
    body: str,
    fields: Mapping[str, Any],
    *,
    site: str | None,
    base_path: str,
    zone: tzinfo,
    tags: tuple[str, ...],
    summary: str,
    default_author: str | None,
    assets: _Assets,
    media_dirs: list[Path],
    updated_names: tuple[str, ...],
    nav_order: int | None,
) -> ImportedItem:
    """The ``ImportedItem`` of a converted entry, with the files it names as assets."""
    warnings = assets.warnings  # the body's, and those of its files as they are found
    page_url = base_path + entry.url
    cover = _cover(fields)
    references = list(dict.fromkeys([*_targets(body), *([cover] if cover else [])]))
    if len(references) > MAX_REFERENCES:
        message = f"names {len(references):,} files; only the first {MAX_REFERENCES:,} are looked for beside it"
        warnings.append(Problem(field="body", message=message))
    for reference in references[:MAX_REFERENCES]:
        site_path = _site_path(reference, site, base_path, page_url)
        if site_path is None:
            continue
        for directory in media_dirs:
            found = _media_under(assets.folder, directory, site_path)
            if found is not None and assets.add(found, reference):
                break
    updated = _date_field(fields, updated_names, zone, warnings)
    if updated is not None and entry.date is not None and updated <= entry.date:
        updated = None  # saved before it was published (or the same): not an update a reader needs
    # A draft never had an address of its own; the aliases its author wrote are kept.
    paths = entry.aliases if entry.draft else [entry.url, *entry.aliases]
    old_urls = _unique([_absolute(site, base_path, path) for path in paths])
    return ImportedItem(
        source=source,
        source_id=entry.relative,
        kind="page" if entry.kind == "page" else "post",
        slug=entry.slug,
        title=entry.title,
        date=entry.date,
        updated=updated,
        tags=tags,
        summary=summary,
        author=_author(fields, default_author),
        draft=entry.draft,
        body=body,
        body_format="html" if entry.is_html else "markdown",
        image=cover,
        canonical_url=_text(fields, "canonical_url", "canonicalURL", "canonical"),
        old_urls=old_urls,
        assets=tuple(assets.assets),
        nav_order=nav_order if entry.kind == "page" else None,
        warnings=(*entry.warnings, *warnings),
    )


def _item_slug(fields: Mapping[str, Any], stem: str, title: str, warnings: list[Problem]) -> str:
    written = _text(fields, "slug")
    slug = slugify(written or stem) or slugify(title)
    if not slug:
        slug = "imported"
        warnings.append(Problem(field="slug", message="cannot be made from the file name or title; 'imported' is used"))
    return slug


def _site_prefix(site: str | None, base_path: object) -> str:
    """The site's own path prefix ("/blog"), from its address or Jekyll's ``baseurl``."""
    if isinstance(base_path, str) and base_path.strip("/ "):
        return "/" + base_path.strip().strip("/")
    if site:
        path = urlsplit(site).path.rstrip("/")
        return path
    return ""


# --------------------------------------------------------------------------- Hugo
_HUGO_CONFIGS = (
    "hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json", "config.toml", "config.yaml", "config.yml", "config.json",
    "config/_default/hugo.toml", "config/_default/hugo.yaml", "config/_default/config.toml",
    "config/_default/config.yaml", "config/_default/hugo.json", "config/_default/config.json",
)  # fmt: skip
_HUGO_TOKEN = re.compile(r":(\w+)")


class HugoSource:
    """A Hugo site folder: its configuration, ``content/`` and ``static/``."""

    def __init__(self, path: str | Path) -> None:
        self._folder = _Folder(path)
        self._problems: list[ItemProblem] = []
        self._config = self._read_config()

    def _read_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for name in _HUGO_CONFIGS:
            path = self._folder.root / name
            if path.is_file():
                config = self._load(path) or {}
                break
        # Hugo's configuration folder may hold one file per key (permalinks.toml, menus.toml, params.toml).
        split = self._folder.root / "config" / "_default"
        if split.is_dir() and self._folder.inside(split) is not None:
            for path in sorted(split.iterdir()):
                if path.stem in ("hugo", "config") or path.suffix.lower() not in (".toml", ".yaml", ".yml", ".json"):
                    continue
                loaded = self._load(path)
                if loaded is not None:
                    config.setdefault(path.stem, loaded)
        return config

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            return _load_config(self._folder, path)
        except _FileError as error:
            self._problems.append(self._folder.problem(path, error.problem))
            return None

    @property
    def site_url(self) -> str | None:
        return _site_address(self._config.get("baseURL") or self._config.get("baseurl"))

    def items(self) -> Iterator[ImportedItem | ItemProblem]:
        yield from self._problems
        folder, config = self._folder, self._config
        content = folder.root / str(config.get("contentDir") or "content")
        if folder.inside(content) is None or not content.is_dir():
            yield folder.problem(folder.root, Problem(field="content", message="there is no content/ folder here"))
            return
        site = self.site_url
        base_path = _site_prefix(site, None)
        config_warnings: list[Problem] = []
        zone = _zone(config.get("timeZone") or config.get("timezone"), config_warnings)
        lower = not config.get("disablePathToLower", False)
        ugly = bool(config.get("uglyURLs", False))
        permalinks = _hugo_permalinks(config.get("permalinks"))
        menu = _hugo_menu(config.get("menu") or config.get("menus"))
        params = config.get("params") if isinstance(config.get("params"), Mapping) else {}
        default_author = _author(params, None) if isinstance(params, Mapping) else None
        default_author = default_author or _author(config, None)

        problems: list[ItemProblem] = []
        files = [path for path in folder.walk(content, problems) if path.suffix.lower() in MARKDOWN_EXTENSIONS]
        yield from problems
        # In a leaf bundle (a folder with an index.md) the other Markdown files are the page's
        # resources (parts it includes), not pages of their own.
        bundles = {path.parent for path in files if path.stem == "index"}
        entries: list[_Entry] = []
        for path in files:
            relative_to_content = path.relative_to(content).as_posix() if path.is_relative_to(content) else path.name
            if path.name.startswith("_index."):
                continue  # a section's or the home page's list: Pressline makes its own
            if path.stem != "index" and any(parent in bundles for parent in path.parents):
                continue
            try:
                entry = self._entry(path, relative_to_content, zone, lower, ugly, permalinks)
            except _FileError as error:
                yield folder.problem(path, error.problem)
                continue
            if entry is not None:
                entry.warnings[:0] = config_warnings
                entries.append(entry)

        by_content_path = {
            _strip_md(entry.relative.removeprefix(self._content_prefix(content))): entry for entry in entries
        }
        by_name: dict[str, list[_Entry]] = {}
        for entry in entries:
            by_name.setdefault(_strip_md(PurePosixPath(entry.relative).name), []).append(entry)
            if entry.path.stem == "index":
                by_name.setdefault(entry.path.parent.name, []).append(entry)

        for entry in entries:
            try:
                yield self._item(entry, content, site, base_path, zone, default_author, menu, by_content_path, by_name)
            except (ValueError, TypeError, RecursionError) as error:  # a value of a shape not foreseen
                message = f"cannot be read: {_short(str(error), 120)}"
                yield folder.problem(entry.path, Problem(field="file", message=message))

    def _content_prefix(self, content: Path) -> str:
        relative = self._folder.relative(content)
        return relative + "/" if relative and relative != "." else ""

    def _entry(
        self,
        path: Path,
        relative: str,
        zone: tzinfo,
        lower: bool,
        ugly: bool,
        permalinks: Mapping[str, str],
    ) -> _Entry | None:
        parsed = split_front_matter(self._folder.read_text(path))
        fields = parsed.fields
        warnings = list(parsed.warnings)
        parts = PurePosixPath(relative).parts
        bundle = path.stem == "index"
        # content/about.md and content/about/index.md are pages; anything in a section is a post.
        kind = "page" if len(parts) == 1 or (bundle and len(parts) == 2) else "post"
        if fields.get("headless") is True or (
            isinstance(fields.get("build"), Mapping) and fields["build"].get("render") in ("never", False)
        ):
            return None
        stem = path.parent.name if bundle else path.stem
        title = _text(fields, "title") or ""
        if not title:
            title = _title_of(stem)
            warnings.append(Problem(field="title", message=f"is missing; '{title}' (from the file name) is used"))
        slug = _item_slug(fields, stem, title, warnings)
        moment = _date_field(fields, ("date", "publishDate", "pubdate", "published"), zone, warnings)
        section = parts[0] if kind == "post" else ""
        url = _text(fields, "url")
        if url:  # as written: Hugo lowercases only the addresses it makes
            url = "/" + url.lstrip("/") if not urlsplit(url).scheme else urlsplit(url).path
        else:
            url = self._made_url(
                fields, relative, stem, title, section, moment, bundle, lower, ugly, permalinks, warnings
            )
        aliases = [_hugo_alias(alias, url) for alias in _words(fields.get("aliases"))]
        return _Entry(
            path=path,
            relative=self._folder.relative(path),
            parsed=parsed,
            kind=kind,
            slug=slug,
            title=title,
            date=moment,
            url=url,
            aliases=[alias for alias in aliases if alias],
            warnings=warnings,
            draft=fields.get("draft") is True or fields.get("draft") == "true",
        )

    @staticmethod
    def _made_url(
        fields: Mapping[str, Any],
        relative: str,
        stem: str,
        title: str,
        section: str,
        moment: datetime | None,
        bundle: bool,
        lower: bool,
        ugly: bool,
        permalinks: Mapping[str, str],
        warnings: list[Problem],
    ) -> str:
        """The address Hugo made for a content file: its section's permalink pattern, else its
        folders and file name (or ``slug``)."""
        directories = list(PurePosixPath(relative).parent.parts)
        if bundle:
            directories = directories[:-1]
        if section in permalinks:
            url = _expand_hugo(permalinks[section], fields, directories, stem, title, section, moment, warnings)
        else:
            last = _text(fields, "slug") or stem
            url = "/" + "/".join([*directories, last]).strip("/")
            url = url + ".html" if ugly else url + "/"
        url = url.replace(" ", "-")
        return url.lower() if lower else url

    def _item(
        self,
        entry: _Entry,
        content: Path,
        site: str | None,
        base_path: str,
        zone: tzinfo,
        default_author: str | None,
        menu: Mapping[str, int],
        by_content_path: Mapping[str, _Entry],
        by_name: Mapping[str, list[_Entry]],
    ) -> ImportedItem:
        fields = entry.parsed.fields

        resolved: dict[str, str | None] = {}

        def resolve_ref(target: str) -> str | None:
            if target not in resolved:
                resolved[target] = find_ref(target)
            return resolved[target]

        def find_ref(target: str) -> str | None:
            path, _, anchor = target.strip().partition("#")
            key = _strip_md(path.strip().lstrip("/"))
            here = PurePosixPath(entry.relative).parent.as_posix()
            content_prefix = self._content_prefix(content)
            relative_key = _strip_md(posixpath.normpath(posixpath.join(here, path)).removeprefix(content_prefix))
            found = next(
                (
                    by_content_path[candidate]
                    for candidate in (key, relative_key, key + "/index")
                    if candidate in by_content_path
                ),
                None,
            )
            if found is None:
                named = by_name.get(PurePosixPath(key).name, [])
                found = named[0] if len(named) == 1 else None
            if found is None:
                return None
            return _absolute(site, base_path, found.url) + (f"#{anchor}" if anchor else "")

        converted = convert_shortcodes(entry.parsed.body, resolve_ref, entry.parsed.body_line)
        warnings = converted.warnings
        assets = _Assets(self._folder, warnings)
        if entry.path.stem == "index":  # a page bundle: its files come with it
            bundle = entry.path.parent
            for path in sorted(bundle.rglob("*")):
                if (
                    path.is_file()
                    and path.suffix.lower() not in MARKDOWN_EXTENSIONS
                    and not any(part.startswith(".") for part in path.relative_to(bundle).parts)
                ):
                    assets.add(path, path.relative_to(bundle).as_posix())
        static = self._folder.root / str(self._config.get("staticDir") or "static")
        tags = _unique(_words(fields.get("tags")) + _words(fields.get("categories")))
        summary = _text(fields, "description", "summary") or ""
        nav = _hugo_nav(fields, entry.url, menu)
        return _finish(
            entry,
            "hugo",
            converted.text,
            fields,
            site=site,
            base_path=base_path,
            zone=zone,
            tags=tags,
            summary=summary,
            default_author=default_author,
            assets=assets,
            media_dirs=[entry.path.parent, static],
            updated_names=("lastmod", "modified", "updated"),
            nav_order=nav,
        )


def _strip_md(path: str) -> str:
    pure = PurePosixPath(path)
    return str(pure.with_suffix("")) if pure.suffix.lower() in MARKDOWN_EXTENSIONS else path


def _hugo_permalinks(value: object) -> dict[str, str]:
    """section -> pattern, from ``permalinks`` (Hugo 0.112+ also nests them under ``page``)."""
    if not isinstance(value, Mapping):
        return {}
    nested = value.get("page")
    table = nested if isinstance(nested, Mapping) else value
    return {str(key): pattern for key, pattern in table.items() if isinstance(pattern, str)}


_URL_PUNCTUATION = frozenset("./\\_#+~-@")


def _urlize(text: str) -> str:
    """Hugo's urlize (``helpers.UnicodeSanitize``, lowercased): letters, digits, marks and
    ``./\\_#+~-@`` kept, a run of spaces one hyphen (none after a hyphen), the rest dropped."""
    kept: list[str] = []
    was_hyphen = False
    for char in text.strip():
        category = unicodedata.category(char)
        if char in _URL_PUNCTUATION or category[0] in "LM" or category == "Nd":
            was_hyphen = char == "-"
            kept.append(char)
        elif not was_hyphen and char.isspace():
            was_hyphen = True
            kept.append("-")
    return "".join(kept).lower()


def _expand_hugo(
    pattern: str,
    fields: Mapping[str, Any],
    directories: list[str],
    stem: str,
    title: str,
    section: str,
    moment: datetime | None,
    warnings: list[Problem],
) -> str:
    slug = _text(fields, "slug")

    def value(match: re.Match[str]) -> str:
        token = match.group(1)
        when = moment or datetime(1970, 1, 1, tzinfo=UTC)
        if token in ("year", "month", "monthname", "day", "weekday", "weekdayname", "yearday") and moment is None:
            _warn_once(warnings, "date", "is missing, so the old URL's date part is a guess (1970-01-01)")
        table = {
            "year": f"{when.year:04d}",
            "month": f"{when.month:02d}",
            "monthname": when.strftime("%B").lower(),
            "day": f"{when.day:02d}",
            "weekday": str(when.isoweekday() % 7),
            "weekdayname": when.strftime("%A").lower(),
            "yearday": str(when.timetuple().tm_yday),
            "section": section,
            "sections": "/".join(directories),
            "title": _urlize(title),
            "slug": _urlize(slug) if slug else _urlize(title),
            "filename": stem,
            "slugorfilename": _urlize(slug) if slug else stem,
            "slugorcontentbasename": _urlize(slug) if slug else stem,
            "contentbasename": stem,
        }
        if token not in table:
            _warn_once(
                warnings, "permalinks", f"':{token}' in the permalink pattern is not known here; kept as written"
            )
            return match.group(0)
        return table[token]

    path = _HUGO_TOKEN.sub(value, pattern)
    return "/" + re.sub(r"/{2,}", "/", path).lstrip("/")


def _hugo_alias(alias: str, url: str) -> str | None:
    """An alias as a site path: Hugo takes one without a leading '/' as relative to the
    page's folder (``old`` beside ``/posts/new/`` is ``/posts/old``)."""
    alias = alias.strip()
    if not alias:
        return None
    if urlsplit(alias).scheme:
        return urlsplit(alias).path or None
    if alias.startswith("/"):
        return alias
    parent = posixpath.dirname(url.rstrip("/"))
    return posixpath.normpath(posixpath.join(parent or "/", alias))


def _hugo_menu(value: object) -> dict[str, int]:
    """The site's main menu from the configuration: path -> position (its weight, else its place)."""
    entries = value.get("main") if isinstance(value, Mapping) else None
    menu: dict[str, int] = {}
    for position, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, Mapping):
            continue
        target = _text(entry, "pageRef", "url")
        if not target:
            continue
        weight = entry.get("weight")
        order = weight if isinstance(weight, int) and not isinstance(weight, bool) else position
        path = "/" + _strip_md(urlsplit(target).path.strip("/")).removesuffix("/index").strip("/")
        menu[path.rstrip("/") + "/"] = order
    return menu


def _hugo_nav(fields: Mapping[str, Any], url: str, menu: Mapping[str, int]) -> int | None:
    """A page's place in the navigation: its menu entry's weight, its ``weight``, or the
    configuration's main menu."""
    weight = fields.get("weight")
    page_weight = weight if isinstance(weight, int) and not isinstance(weight, bool) else None
    entry = fields.get("menu")
    if isinstance(entry, Mapping) and isinstance(entry.get("main"), Mapping):
        menu_weight = entry["main"].get("weight")
        if isinstance(menu_weight, int) and not isinstance(menu_weight, bool):
            return menu_weight
        return page_weight if page_weight is not None else 0
    if (
        entry == "main"
        or (isinstance(entry, list) and "main" in entry)
        or (isinstance(entry, Mapping) and "main" in entry)
    ):
        return page_weight if page_weight is not None else 0
    if url in menu:
        return menu[url]
    return page_weight


# --------------------------------------------------------------------------- Jekyll
_POST_NAME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-(.+)$")
_JEKYLL_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_JEKYLL_TOKEN = re.compile(r":(\w+)")
_LIQUID_LOOP = re.compile(r"\{%-?\s*(for|paginate)\b")


class JekyllSource:
    """A Jekyll site folder: ``_config.yml``, ``_posts/``, ``_drafts/`` and the pages beside them."""

    def __init__(self, path: str | Path) -> None:
        self._folder = _Folder(path)
        self._problems: list[ItemProblem] = []
        self._config: dict[str, Any] = {}
        for name in ("_config.yml", "_config.yaml", "_config.toml"):
            config_path = self._folder.root / name
            if config_path.is_file():
                try:
                    self._config = _load_config(self._folder, config_path)
                except _FileError as error:
                    self._problems.append(self._folder.problem(config_path, error.problem))
                break

    @property
    def site_url(self) -> str | None:
        address = _site_address(self._config.get("url"))
        if address is None:
            return None
        prefix = _site_prefix(None, self._config.get("baseurl"))
        return address + prefix

    def items(self) -> Iterator[ImportedItem | ItemProblem]:
        yield from self._problems
        folder, config = self._folder, self._config
        host = _site_address(config.get("url"))
        base_path = _site_prefix(None, config.get("baseurl"))
        config_warnings: list[Problem] = []
        zone = _zone(config.get("timezone"), config_warnings)
        style = config.get("permalink") if isinstance(config.get("permalink"), str) else "date"
        pattern = _JEKYLL_STYLES.get(str(style), str(style))
        pretty = str(style) == "pretty" or (str(style) not in _JEKYLL_STYLES and str(style).endswith("/"))
        excluded = set(_words(config.get("exclude")))
        header_pages = _words(config.get("header_pages"))
        default_author = _author(config, None)

        problems: list[ItemProblem] = []
        files = list(folder.walk(folder.root, problems, _SKIPPED_DIRS))
        yield from problems
        entries: list[_Entry] = []
        for path in files:
            relative = folder.relative(path)
            parts = PurePosixPath(relative).parts
            suffix = path.suffix.lower()
            if suffix not in MARKDOWN_EXTENSIONS | HTML_EXTENSIONS or any(
                part in excluded for part in (relative, parts[0])
            ):
                continue
            in_posts = "_posts" in parts[:-1]
            in_drafts = parts[0] == "_drafts"
            if not (in_posts or in_drafts) and any(part.startswith("_") for part in parts[:-1]):
                continue  # _layouts, _includes, _sass, collections: not posts or pages
            try:
                entry = self._entry(path, relative, in_posts, in_drafts, zone, pattern, pretty)
            except _FileError as error:
                yield folder.problem(path, error.problem)
                continue
            if entry is not None:
                entry.warnings[:0] = config_warnings
                entries.append(entry)

        by_post_name = {entry.path.stem: entry for entry in entries if entry.kind == "post"}
        by_relative = {entry.relative: entry for entry in entries}
        values = {
            "site.url": host or "",
            "site.baseurl": base_path,
            "site.github.url": (host or "") + base_path,
            "site.title": str(config.get("title") or ""),
        }
        for entry in entries:
            try:
                yield self._item(
                    entry, host, base_path, zone, values, by_post_name, by_relative, header_pages, default_author
                )
            except (ValueError, TypeError, RecursionError) as error:
                message = f"cannot be read: {_short(str(error), 120)}"
                yield folder.problem(entry.path, Problem(field="file", message=message))

    def _entry(
        self,
        path: Path,
        relative: str,
        in_posts: bool,
        in_drafts: bool,
        zone: tzinfo,
        pattern: str,
        pretty: bool,
    ) -> _Entry | None:
        text = self._folder.read_text(path)
        parts = PurePosixPath(relative).parts
        if not (in_posts or in_drafts):
            # Jekyll makes a page only of a file with front matter; the home page, the 404
            # page and listings built by Liquid loops are the new site's to make.
            if not text.startswith("---"):
                return None
            if len(parts) == 1 and path.stem in ("index", "404"):
                return None
        parsed = split_front_matter(text)
        kind_name = "posts" if in_posts or in_drafts else "pages"
        parsed.fields = {**_jekyll_defaults(self._config.get("defaults"), relative, kind_name), **parsed.fields}
        fields = parsed.fields
        warnings = list(parsed.warnings)
        if not (in_posts or in_drafts) and _LIQUID_LOOP.search(parsed.body):
            raise _FileError("file", "is a listing made by a Liquid loop, not content of its own; it is not imported")
        if fields.get("redirect_to"):
            raise _FileError("redirect_to", "makes this page a redirect elsewhere; it is not imported")
        moment: datetime | None = None
        if in_posts:
            match = _POST_NAME.match(path.stem)
            if match is None:
                raise _FileError("file", "is in _posts but not named YYYY-MM-DD-title.md, so Jekyll skips it too")
            year, month, day, stem = match.groups()
            try:
                moment = datetime(int(year), int(month), int(day), tzinfo=zone)
            except ValueError:
                raise _FileError("file", f"is named for a day that does not exist ({year}-{month}-{day})") from None
        else:
            stem = path.stem if path.stem != "index" else (path.parent.name or "index")
        moment = _date_field(fields, ("date",), zone, warnings) or moment
        title = _text(fields, "title") or ""
        if not title:
            title = _title_of(stem)
            warnings.append(Problem(field="title", message=f"is missing; '{title}' (from the file name) is used"))
        slug = _item_slug(fields, stem, title, warnings)
        kind = "post" if in_posts or in_drafts else "page"
        categories = _jekyll_categories(fields, parts if in_posts else ())
        permalink = _text(fields, "permalink")
        output_ext = ".html"
        # Jekyll dates a post's address in the site's zone, whatever offset its date is written with.
        local = moment.astimezone(zone) if moment is not None else None
        if kind == "post":
            template = permalink or pattern
            url = _expand_jekyll(template, local, stem, _text(fields, "slug"), title, categories, output_ext, warnings)
        elif permalink:
            url = _expand_jekyll(permalink, local, stem, _text(fields, "slug"), title, [], output_ext, warnings)
        else:
            directory = PurePosixPath(relative).parent.as_posix()
            directory = "" if directory == "." else directory
            if path.stem == "index":
                url = "/" + (directory + "/" if directory else "")
            else:
                url = "/" + (directory + "/" if directory else "") + path.stem + ("/" if pretty else ".html")
        aliases = [alias if alias.startswith("/") else "/" + alias for alias in _words(fields.get("redirect_from"))]
        published = fields.get("published")
        return _Entry(
            path=path,
            relative=relative,
            parsed=parsed,
            kind=kind,
            slug=slug,
            title=title,
            date=moment,
            url=url,
            aliases=[alias.strip() for alias in aliases if alias.strip() != "/"],
            warnings=warnings,
            is_html=path.suffix.lower() in HTML_EXTENSIONS,
            draft=in_drafts or published is False or published == "false",
        )

    def _item(
        self,
        entry: _Entry,
        host: str | None,
        base_path: str,
        zone: tzinfo,
        values: Mapping[str, str],
        by_post_name: Mapping[str, _Entry],
        by_relative: Mapping[str, _Entry],
        header_pages: list[str],
        default_author: str | None,
    ) -> ImportedItem:
        fields = entry.parsed.fields

        def resolve(tag: str, argument: str) -> str | None:
            name = argument.strip().strip("'\"")
            if tag == "post_url":
                found = by_post_name.get(PurePosixPath(name).name)
            else:
                found = by_relative.get(name.lstrip("/"))
            # post_url gives the path without the site's prefix (Jekyll 3), which authors write
            # after {{ site.baseurl }}; link gives it with the prefix.
            if found is None:
                return None
            return found.url if tag == "post_url" else base_path + found.url

        # {{ page.title }} and the like: the page's own text fields.
        page_values = {f"page.{name}": value for name, value in fields.items() if isinstance(value, str)}
        page_values |= {f"site.{name}": value for name, value in self._config.items() if isinstance(value, str)}
        converted = convert_liquid(
            entry.parsed.body, {**page_values, **values}, resolve, entry.is_html, entry.parsed.body_line
        )
        warnings = converted.warnings
        assets = _Assets(self._folder, warnings)
        tags = _unique(_jekyll_categories(fields, ()) + _words(fields.get("tags"), split_spaces=True))
        summary = _text(fields, "excerpt", "description", "summary") or ""
        nav: int | None = None
        if entry.kind == "page":
            if entry.relative in header_pages:
                nav = header_pages.index(entry.relative)
            else:
                order = fields.get("nav_order", fields.get("order", fields.get("weight")))
                nav = order if isinstance(order, int) and not isinstance(order, bool) else None
        return _finish(
            entry,
            "jekyll",
            converted.text,
            fields,
            site=host + base_path if host else None,
            base_path=base_path,
            zone=zone,
            tags=tags,
            summary=re.sub(r"<[^<>]*>", "", summary),
            default_author=default_author,
            assets=assets,
            media_dirs=[self._folder.root],
            updated_names=("last_modified_at", "lastmod", "updated", "modified"),
            nav_order=nav,
        )


def _jekyll_defaults(defaults: object, relative: str, kind: str) -> dict[str, Any]:
    """The front matter ``_config.yml``'s ``defaults`` give a file: each entry whose scope's
    path (a folder, or a glob) holds it and whose type is its kind, later entries winning."""
    merged: dict[str, Any] = {}
    for entry in defaults if isinstance(defaults, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("values"), Mapping):
            continue
        scope = entry.get("scope") if isinstance(entry.get("scope"), Mapping) else {}
        path = str(scope.get("path") or "").strip("/") if isinstance(scope, Mapping) else ""
        wanted = scope.get("type") if isinstance(scope, Mapping) else None
        if wanted not in (None, "", kind):
            continue
        inside = (
            fnmatch.fnmatchcase(relative, path) if "*" in path else not path or (relative + "/").startswith(path + "/")
        )
        if inside:
            merged.update(entry["values"])
    return merged


def _jekyll_categories(fields: Mapping[str, Any], parts: tuple[str, ...]) -> list[str]:
    """A post's categories: the folders above ``_posts`` (``blog/_posts/``), then ``category``
    and ``categories`` (a list, or words separated by spaces)."""
    from_folders = list(parts[: parts.index("_posts")]) if "_posts" in parts else []
    return from_folders + _words(fields.get("category")) + _words(fields.get("categories"), split_spaces=True)


def _expand_jekyll(
    pattern: str,
    moment: datetime | None,
    stem: str,
    slug: str | None,
    title: str,
    categories: list[str],
    output_ext: str,
    warnings: list[Problem],
) -> str:
    when = moment or datetime(1970, 1, 1, tzinfo=UTC)
    unique_categories = list(dict.fromkeys(category.lower() for category in categories))
    table = {
        "year": f"{when.year:04d}",
        "short_year": f"{when.year % 100:02d}",
        "month": f"{when.month:02d}",
        "i_month": str(when.month),
        "short_month": when.strftime("%b"),
        "long_month": when.strftime("%B"),
        "day": f"{when.day:02d}",
        "i_day": str(when.day),
        "y_day": f"{when.timetuple().tm_yday:03d}",
        "week": f"{when.isocalendar()[1]:02d}",
        "short_day": when.strftime("%a"),
        "long_day": when.strftime("%A"),
        "hour": f"{when.hour:02d}",
        "minute": f"{when.minute:02d}",
        "second": f"{when.second:02d}",
        "title": slug or stem,
        "slug": slugify(slug or stem) or stem,
        "name": stem,
        "basename": stem,
        "categories": "/".join(unique_categories),
        "output_ext": output_ext,
    }

    def value(match: re.Match[str]) -> str:
        token = match.group(1)
        for known in sorted(table, key=len, reverse=True):  # ":title:output_ext" has no separator
            if token.startswith(known):
                return table[known] + token[len(known) :]
        _warn_once(warnings, "permalink", f"':{token}' in the permalink is not known here; kept as written")
        return match.group(0)

    path = _JEKYLL_TOKEN.sub(value, pattern)
    path = re.sub(r"/{2,}", "/", path)
    return "/" + path.lstrip("/")


__all__ = [
    "MAX_ASSET_BYTES",
    "MAX_TEXT_BYTES",
    "HugoSource",
    "JekyllSource",
    "parse_date",
    "split_front_matter",
]
