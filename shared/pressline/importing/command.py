"""``pressline import SOURCE``: move an existing blog in.

Reads the export (WordPress WXR, Ghost JSON, a Hugo or Jekyll folder: ``--from``, or guessed
from SOURCE), converts every item (``convert``), and then either writes the files under
``--out DIR`` for review (``pressline check DIR``), or uploads them to the stack's source
bucket: images first, then posts oldest first, then pages; comments go beside them, outside
``posts/``, for the comments feature.

Idempotent and resumable. Every object written carries the import it came from
(``pressline-import: <source>:<source id>``) and the SHA-256 of its bytes; running again skips
what is identical ("unchanged"), updates what this import wrote and has changed, and never
overwrites anything else (the author's own post, or an imported file the author edited since):
that is a conflict, reported. Under ``--out`` the same record is kept in
``DIR/.pressline-import.json``. ``--dry-run`` says all of it and writes nothing.

Exit status: 0 when everything was imported, 1 when some item had errors (it is reported,
the others are imported), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pressline.importing import convert
from pressline.importing.media import (
    DEFAULT_TIMEOUT,
    ConnectTo,
    Downloaded,
    Downloader,
    DownloadPolicy,
    default_cache,
)
from pressline.importing.model import ImportedItem, ImportSource, ItemProblem
from pressline.importing.progress import Progress
from pressline.models import Problem
from pressline.posts.images import MAX_IMAGE_BYTES

SOURCES = ("wordpress", "ghost", "hugo", "jekyll", "pressline")
MANIFEST = ".pressline-import.json"
IMPORT_METADATA = "pressline-import"
HASH_METADATA = "pressline-sha256"
COMMENTS_PREFIX = "imports/"  # comments/<slug>.json is imports/comments/<slug>.json in the bucket
Action = Literal["create", "update", "unchanged", "conflict"]
_PAST = {"create": "created", "update": "updated", "unchanged": "unchanged", "conflict": "conflict"}


# --------------------------------------------------------------------------- sources
class UsageError(Exception):
    """A mistake in the command line (exit status 2)."""


def detect(source: Path) -> str:
    """Which reader SOURCE needs, from what it is."""
    if source.is_file():
        suffix = source.suffix.lower()
        if suffix == ".xml":
            return "wordpress"
        if suffix == ".json":
            return "ghost"
        raise UsageError(f"{source}: cannot tell what export this is (.xml: WordPress, .json: Ghost); pass --from")
    if source.is_dir():
        if _is_pressline_export(source):  # before Hugo: an export is a folder of Markdown too
            return "pressline"
        if any((source / name).exists() for name in ("hugo.toml", "hugo.yaml", "config.toml", "content")):
            return "hugo"
        if any((source / name).exists() for name in ("_config.yml", "_config.yaml", "_posts")):
            return "jekyll"
        raise UsageError(
            f"{source}: neither a Hugo site (hugo.toml, config.toml, content/) nor a Jekyll site (_config.yml,"
            " _posts/); pass --from"
        )
    raise UsageError(f"{source}: no such file or folder")


def _is_pressline_export(source: Path) -> bool:
    try:
        from pressline.importing.exported import is_pressline_export
    except ImportError:
        return False
    return is_pressline_export(source)


class _SiteUrlGiven:
    """A reader whose old-site address the author gave (``--site-url``): the export's own, if
    any, is overridden (the allow-list and internal links follow it)."""

    def __init__(self, reader: ImportSource, site_url: str) -> None:
        self._reader = reader
        self._site_url = site_url

    @property
    def site_url(self) -> str | None:
        return self._site_url

    def items(self) -> Iterator[ImportedItem | ItemProblem]:
        return self._reader.items()


def site_url_option(value: str) -> str:
    """``--site-url``: an absolute http(s) address, without its trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) address such as https://old.example.com")
    return value.strip().rstrip("/")


def open_source(source: Path, kind: str, site_url: str | None = None, timezone: tzinfo | None = None) -> ImportSource:
    """The reader for ``kind`` on ``source`` (each lives in its own module, imported when chosen).
    ``site_url`` (``--site-url``) is the old site's address when the export does not say it
    (Ghost 5 keeps it in its install's config, not in the export) or says it wrongly.
    ``timezone`` (``--timezone``) is the old site's zone for WXR's local dates (WXR does not say it)."""
    readers = {
        "wordpress": ("pressline.importing.wxr", "WxrSource"),
        "ghost": ("pressline.importing.ghost", "GhostSource"),
        "hugo": ("pressline.importing.folders", "HugoSource"),
        "jekyll": ("pressline.importing.folders", "JekyllSource"),
        "pressline": ("pressline.importing.exported", "ExportedFolder"),  # what `pressline export` wrote
    }
    module_name, class_name = readers[kind]
    import importlib

    try:
        reader = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise UsageError(f"the {kind} reader is not available in this installation ({error})") from None
    if site_url and kind == "ghost":  # Ghost resolves __GHOST_URL__ with it while reading
        ghost: ImportSource = reader(source, site_url=site_url)
        return ghost
    opened: ImportSource = reader(source, timezone=timezone) if kind == "wordpress" and timezone else reader(source)
    return _SiteUrlGiven(opened, site_url) if site_url else opened


# --------------------------------------------------------------------------- destinations
@dataclass(frozen=True)
class Existing:
    """What is at a file's place now: nothing (``present`` False), or bytes with this digest,
    written by this import id (None: not by an import) with this recorded digest."""

    present: bool
    digest: str | None = None
    import_id: str | None = None
    recorded_digest: str | None = None


def decide_action(existing: Existing, file: convert.OutFile, import_id: str) -> Action:
    """Create, update, leave, or refuse to touch one file (pure)."""
    if not existing.present:
        return "create"
    if existing.digest == file.digest:
        return "unchanged"
    ours = existing.import_id == import_id
    # Written by this import and not changed since (the recorded digest is what is there): ours to update.
    untouched = existing.recorded_digest is None or existing.recorded_digest == existing.digest
    return "update" if ours and untouched else "conflict"


class Destination(Protocol):
    name: str
    # How many files may be written at once: a bucket takes parallel puts (as `aws s3 cp
    # --recursive` makes them), a folder is written one file at a time.
    writers: int

    def existing(self, file: convert.OutFile) -> Existing: ...

    def write(self, file: convert.OutFile, import_id: str) -> None: ...

    def finish(self) -> None: ...


class FolderDestination:
    """``--out DIR``: the files under DIR, and what this import wrote in DIR/.pressline-import.json."""

    writers = 1

    def __init__(self, root: Path, *, dry_run: bool) -> None:
        self.root = root
        self.name = str(root)
        self.dry_run = dry_run
        manifest = root / MANIFEST
        self.manifest: dict[str, dict[str, str]] = {}
        if manifest.is_file():
            try:
                loaded = json.loads(manifest.read_text(encoding="utf-8"))
                self.manifest = {str(k): dict(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            except (OSError, ValueError, TypeError, AttributeError):
                self.manifest = {}  # unreadable: every existing file counts as not ours (never overwritten)

    def _path(self, file: convert.OutFile) -> Path:
        path = (self.root / file.path).resolve()
        if not path.is_relative_to(self.root.resolve()):  # slugs and names are safe; this makes it certain
            raise ValueError(f"{file.path} would be outside {self.root}")
        return path

    def existing(self, file: convert.OutFile) -> Existing:
        path = self._path(file)
        if not path.is_file():
            return Existing(present=path.exists())
        record = self.manifest.get(file.path, {})
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return Existing(True, digest, record.get("import"), record.get("sha256"))

    def write(self, file: convert.OutFile, import_id: str) -> None:
        path = self._path(file)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(file.data)
        os.replace(partial, path)
        self.manifest[file.path] = {"import": import_id, "sha256": file.digest}

    def finish(self) -> None:
        if self.dry_run or not self.manifest:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.manifest, indent=1, sort_keys=True, ensure_ascii=False)
        (self.root / MANIFEST).write_text(text + "\n", encoding="utf-8")


def bucket_key(file: convert.OutFile) -> str:
    return COMMENTS_PREFIX + file.path if file.kind == "comments" else file.path


def metadata_id(import_id: str) -> str:
    """An import id as S3 metadata can carry it (ASCII; at most 1 KiB of it)."""
    quoted = quote(import_id, safe=":/@-._~+=,;!$&'()*")
    return quoted if len(quoted) <= 1024 else "sha256:" + hashlib.sha256(import_id.encode()).hexdigest()


class BucketDestination:
    """The stack's source bucket. What is there comes from one listing of the prefixes an import
    writes (a few calls for thousands of objects): an absent key is created, an object whose ETag
    is the MD5 of the bytes to write is unchanged (S3's ETag of a single-part upload), and only
    an object that differs is asked for its metadata (one HEAD), to tell ours from the author's."""

    PREFIXES = ("posts/", "pages/", COMMENTS_PREFIX)
    # One thread put 1,000 posts in 29-51 s (bench_import), 16 in ~7 s (bench_bulk's uploads).
    writers = 16

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.name = f"s3://{bucket}"
        self._etags: dict[str, str] | None = None

    def _listing(self) -> dict[str, str]:
        if self._etags is None:
            etags: dict[str, str] = {}
            paginator = self.s3.get_paginator("list_objects_v2")
            for prefix in self.PREFIXES:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                    etags.update({item["Key"]: item.get("ETag", "").strip('"') for item in page.get("Contents", [])})
            self._etags = etags
        return self._etags

    def existing(self, file: convert.OutFile) -> Existing:
        from botocore.exceptions import ClientError

        key = bucket_key(file)
        etag = self._listing().get(key)
        if etag is None:
            return Existing(present=False)
        if etag == hashlib.md5(file.data, usedforsecurity=False).hexdigest():
            return Existing(True, file.digest)  # the very bytes: nothing to do, whoever put them
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return Existing(present=False)  # deleted since the listing
            raise
        metadata = {name.lower(): value for name, value in head.get("Metadata", {}).items()}
        recorded = metadata.get(HASH_METADATA)
        imported = metadata.get(IMPORT_METADATA)
        # The object's own bytes are not read: its recorded digest is what this import wrote; an
        # object put again by hand has no metadata (S3 replaces it on every put), so is not ours.
        return Existing(True, recorded, unquote(imported) if imported else None, recorded)

    def write(self, file: convert.OutFile, import_id: str) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=bucket_key(file),
            Body=file.data,
            ContentType=file.content_type,
            Metadata={IMPORT_METADATA: metadata_id(import_id), HASH_METADATA: file.digest},
        )

    def finish(self) -> None:
        return None


class _NoDestination:
    """``--dry-run`` with no stack to compare with: everything would be created."""

    name = "(no stack found: nothing compared)"
    writers = 1

    def existing(self, file: convert.OutFile) -> Existing:
        return Existing(present=False)

    def write(self, file: convert.OutFile, import_id: str) -> None:
        raise AssertionError("a dry run writes nothing")

    def finish(self) -> None:
        return None


# --------------------------------------------------------------------------- fetching
@dataclass
class CommandFetcher:
    """``convert.Fetcher`` for the command: the allow-list, ``--no-download``, the cache."""

    downloader: Downloader
    enabled: bool = True

    def allows(self, url: str) -> bool:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            return self.enabled  # refused by media with its reason (only http and https), never kept
        host = urlsplit(url).hostname or ""
        return self.enabled and self.downloader.policy.allows_host(host)

    def get(self, url: str) -> Downloaded:
        return self.downloader.get(url)


def file_reader(root: Path) -> Any:
    """Reads the files a folder reader names beside the content, never outside ``root``."""
    base = (root if root.is_dir() else root.parent).resolve()

    def read(path: str) -> bytes:
        target = (base / path).resolve()
        if not target.is_relative_to(base):
            raise OSError(f"{path} is outside {base}")
        with target.open("rb") as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
        return data

    return read


# --------------------------------------------------------------------------- the run
@dataclass
class Outcome:
    items: list[convert.ConvertedItem] = field(default_factory=list)
    problems: list[convert.Finding] = field(default_factory=list)  # readers' and the import's own
    actions: Counter[str] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)
    downloaded: int = 0
    cached: int = 0

    @property
    def failed(self) -> int:
        return sum(1 for item in self.items if not item.ok) + sum(1 for p in self.problems if p.error)

    @property
    def has_errors(self) -> bool:
        return bool(self.conflicts) or any(p.error for p in self.problems) or any(i.has_errors for i in self.items)


def read_items(source: ImportSource, label: str) -> tuple[list[ImportedItem], list[convert.Finding]]:
    """Every item of the export, and a finding for each it could not read; a reader that fails
    outright (a truncated file) is one finding, with the items before it kept."""
    items: list[ImportedItem] = []
    problems: list[convert.Finding] = []
    seen: set[str] = set()
    iterator: Iterator[ImportedItem | ItemProblem] = iter(source.items())
    while True:
        try:
            entry = next(iterator)
        except StopIteration:
            break
        except Exception as error:  # a reader's bug or an unreadable file stops that reader, not the report
            problem = Problem(field="file", message=f"could not be read further ({type(error).__name__}: {error})")
            problems.append(convert.Finding(label, "(export)", problem, error=True))
            break
        if isinstance(entry, ItemProblem):
            problems.append(convert.reader_problem(entry))
        elif entry.source_id in seen:
            message = "appears twice in the export: the second is skipped"
            problems.append(
                convert.Finding(label, convert.item_label(entry), Problem(field="source_id", message=message), True)
            )
        else:
            seen.add(entry.source_id)
            items.append(entry)
    return items, problems


def upload_order(items: Iterable[convert.ConvertedItem]) -> list[tuple[convert.ConvertedItem, convert.OutFile]]:
    """Images first (a post's page never waits for its pictures), then pages (each page that
    enters the navigation makes Index write every page of the site again: before the posts, that
    is none), then posts oldest first (the archive fills as it was written), then comments."""
    converted = [item for item in items if item.ok]
    dated = sorted(converted, key=lambda item: (convert.sort_date(item.item), item.slug))
    order: list[tuple[convert.ConvertedItem, convert.OutFile]] = []
    for kind in ("image", "page", "post", "comments"):
        order.extend((item, file) for item in dated for file in item.files if file.kind == kind)
    return order


def run_import(
    source: ImportSource,
    label: str,
    destination: Destination,
    converter_options: dict[str, Any],
    *,
    dry_run: bool,
    out: TextIO,
    progress_stream: TextIO | None = None,
    bar: bool | None = None,
) -> Outcome:
    """Read, convert, compare and (unless ``dry_run``) write: the whole import."""
    outcome = Outcome()
    items, outcome.problems = read_items(source, label)
    slugs, slug_warnings = convert.assign_slugs(items)
    site_url = source.site_url
    targets = convert.link_targets(items, slugs, site_url)
    converter = convert.Converter(site_url=site_url, slugs=slugs, targets=targets, **converter_options)
    by_item: dict[str, list[convert.Finding]] = {}
    for warning in slug_warnings:
        by_item.setdefault(warning.item, []).append(warning)
    with Progress(len(items), "Converting", progress_stream, bar=bar) as progress:
        for item in items:
            converted = converter.convert(item)
            converted.findings[:0] = by_item.get(convert.item_label(item), [])
            outcome.items.append(converted)
            progress.advance(status=converted.slug)
    fetcher = converter_options.get("fetcher")
    if isinstance(fetcher, CommandFetcher):
        outcome.downloaded, outcome.cached = fetcher.downloader.downloaded, fetcher.downloader.cached

    for finding in outcome.problems:
        print(format_finding(finding), file=out)
    for converted in outcome.items:
        for finding in converted.findings:
            print(format_finding(finding), file=out)
        if not converted.ok:
            print(f"{converted.path}: {convert.item_label(converted.item)}: not imported", file=out)

    order = upload_order(outcome.items)
    verb = "Checking" if dry_run else "Writing"
    try:
        with (
            Progress(len(order), verb, progress_stream, bar=bar) as progress,
            ThreadPoolExecutor(max(1, destination.writers), thread_name_prefix="import-write") as writers,
        ):
            # One kind at a time (images before the pages and posts that show them), its files
            # written by the destination's writers; what is decided and said stays in this thread.
            writing: list[tuple[Future[None], str]] = []
            kind: str | None = None
            for converted, file in order:
                if file.kind != kind:
                    _wait_for(writing, progress)
                    kind = file.kind
                action = decide_action(destination.existing(file), file, converted.import_id)
                outcome.actions[action] += 1
                where = bucket_key(file) if isinstance(destination, BucketDestination) else file.path
                if action == "conflict":
                    message = (
                        f"{where}: conflict: it exists and was not written by this import (or was changed since):"
                        " not overwritten"
                    )
                    outcome.conflicts.append(where)
                    if dry_run:
                        print(f"would skip {where} (conflict: not written by this import, or changed since)", file=out)
                    else:
                        progress.say(message)
                elif dry_run:
                    said = f"would leave {where} unchanged" if action == "unchanged" else f"would {action} {where}"
                    print(said, file=out)
                elif action in ("create", "update"):
                    writing.append((writers.submit(destination.write, file, converted.import_id), _PAST[action]))
                    continue  # counted once written
                progress.advance(status=_PAST[action])
            _wait_for(writing, progress)
    finally:
        if not dry_run:
            destination.finish()  # an interrupted run keeps the record of what it wrote: it resumes
    if dry_run:
        for converted in outcome.items:
            if converted.ok and (converted.links_rewritten or converted.images):
                print(
                    f"would rewrite {converted.path}: {converted.links_rewritten} link(s) to imported items,"
                    f" {converted.images} image(s) brought beside it",
                    file=out,
                )
    return outcome


def _wait_for(writing: list[tuple[Future[None], str]], progress: Progress) -> None:
    """Every write under way done (its error, if any, raised here), each counted as it ends."""
    for future, status in writing:
        future.result()
        progress.advance(status=status)
    writing.clear()


def format_finding(finding: convert.Finding) -> str:
    """``file: item: [warning: ]field: reason`` (``file:line:`` when the line is known), as
    ``pressline check`` prints problems."""
    where = f"{finding.file}:{finding.problem.line}" if finding.problem.line else finding.file
    kind = "" if finding.error else "warning: "
    return f"{where}: {finding.item}: {kind}{finding.problem.field}: {finding.problem.message}"


def summary(outcome: Outcome, *, dry_run: bool, source: str, destination: str) -> str:
    posts = sum(1 for item in outcome.items if item.ok and item.item.kind == "post")
    pages = sum(1 for item in outcome.items if item.ok and item.item.kind == "page")
    images = sum(item.images for item in outcome.items if item.ok)
    links_rewritten = sum(item.links_rewritten for item in outcome.items if item.ok)
    acts = outcome.actions
    would = "would be " if dry_run else ""
    lines = [
        f"{'Dry run: ' if dry_run else ''}{source} -> {destination}",
        f"  items: {posts} post(s) and {pages} page(s) {would}imported, {outcome.failed} failed",
        f"  files: {acts['create']} {would}created, {acts['update']} {would}updated, {acts['unchanged']} unchanged,"
        f" {acts['conflict']} skipped (conflicts)",
        f"  images: {images} beside their posts ({outcome.downloaded} downloaded, {outcome.cached} from the cache)",
        f"  links rewritten: {links_rewritten}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", metavar="SOURCE", help="a WXR (.xml) or Ghost (.json) export, or a Hugo/Jekyll folder"
    )
    parser.add_argument("--from", dest="source_kind", choices=SOURCES, default=None, help="the export's kind")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="write the files under DIR instead of uploading them"
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be done; write and upload nothing")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="also download images from HOST (the old site's host is always allowed)",
    )
    parser.add_argument(
        "--allow-local", action="store_true", help="allow downloads from loopback and private addresses"
    )
    parser.add_argument(
        "--connect-to",
        action="append",
        default=[],
        type=_connect_to,
        metavar="HOST1:PORT1:HOST2:PORT2",
        help="download what is on HOST1 (port PORT1, any if empty) from HOST2 (port PORT2, the same if empty),"
        " as curl's --connect-to: the old site's files on a server its name no longer points at; HOST1 must"
        " still be allowed, and a local HOST2 needs --allow-local",
    )
    parser.add_argument(
        "--site-url",
        type=site_url_option,
        default=None,
        metavar="URL",
        help="the old site's address, when the export does not say it (Ghost 5) or says it wrongly:"
        " old URLs, internal links and the download allow-list follow it",
    )
    parser.add_argument("--no-download", action="store_true", help="download no image referenced by URL")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where downloaded images are kept (default {default_cache()})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds a download may take (default %(default)s)",
    )
    parser.add_argument(
        "--timezone",
        default=None,
        help="the site's time zone for dates without an offset (default: $SITE_TIMEZONE, else what a WXR"
        " export's dates show, else UTC)",
    )
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument("--stack-name", default=None, help="a deployed stack: find its source bucket in CloudFormation")
    parser.add_argument("--bucket", default=None, help="the source bucket (default: the stack's)")


def _connect_to(text: str) -> ConnectTo:
    try:
        return ConnectTo.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _source_bucket(args: argparse.Namespace) -> str | None:
    if args.bucket:
        return str(args.bucket)
    if args.stack_name:
        from pressline.adapters.aws import client

        stack = client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        return outputs.get("SourceBucketName")
    path: Path | None = args.outputs
    if path is not None and path.is_file():
        outputs = json.loads(path.read_text(encoding="utf-8"))
        bucket = outputs.get("SourceBucketName") if isinstance(outputs, dict) else None
        if bucket:
            return str(bucket)
    return os.environ.get("SOURCE_BUCKET") or None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    source_path = Path(args.source)
    try:
        zone_name = args.timezone or os.environ.get("SITE_TIMEZONE")  # None: not said
        timezone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        print(f"pressline import: unknown time zone {zone_name!r}", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("pressline import: --timeout must be more than 0 seconds", file=sys.stderr)
        return 2
    try:
        kind = args.source_kind or detect(source_path)
        if not source_path.exists():
            raise UsageError(f"{source_path}: no such file or folder")
        source = open_source(source_path, kind, args.site_url, timezone if zone_name else None)
    except UsageError as error:
        print(f"pressline import: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the export cannot even be opened: say why, no traceback
        print(f"pressline import: {source_path}: cannot be read ({type(error).__name__}: {error})", file=sys.stderr)
        return 1

    destination: Destination
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            print(f"pressline import: --out {args.out} is not a folder", file=sys.stderr)
            return 2
        destination = FolderDestination(args.out, dry_run=args.dry_run)
    else:
        from pressline.adapters.aws import client, reset_clients

        reset_clients()  # the target's endpoint applies to the clients made from here on
        bucket = _source_bucket(args)
        if bucket is None:
            if not args.dry_run:
                print(
                    "pressline import: no stack to upload to: pass --local (the local stack), --stack-name NAME,"
                    " --bucket NAME, or --out DIR to write the files instead",
                    file=sys.stderr,
                )
                return 2
            destination = _NoDestination()
        else:
            destination = BucketDestination(client("s3"), bucket)

    try:
        site_url = source.site_url
    except Exception:
        site_url = None
    policy = DownloadPolicy.for_site(
        site_url,
        args.allow_host,
        allow_local=args.allow_local,
        timeout=float(args.timeout),
        connect_to=tuple(args.connect_to),
    )
    downloader = Downloader(policy, cache=args.cache or default_cache(), write_cache=not args.dry_run)
    options: dict[str, Any] = {
        "fetcher": CommandFetcher(downloader, enabled=not args.no_download),
        "read_file": file_reader(source_path),
        "timezone": timezone,
        "checked_at": datetime.now(UTC),
    }
    outcome = run_import(source, str(source_path), destination, options, dry_run=args.dry_run, out=out)
    print(
        summary(outcome, dry_run=args.dry_run, source=f"{kind} {source_path}", destination=destination.name), file=out
    )
    if not site_url:
        print("  (the export names no site address: old URLs and images on the old site are not recognised)", file=out)
    return 1 if outcome.has_errors else 0


__all__ = [
    "BucketDestination",
    "Existing",
    "FolderDestination",
    "add_arguments",
    "decide_action",
    "detect",
    "run",
    "run_import",
]
