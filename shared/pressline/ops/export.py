"""``pressline export DIR``: the whole site as files, so nobody is locked in.

DIR gets the source bucket's ``posts/`` and ``pages/`` with the same layout (the Markdown as
it was uploaded, and the images beside it), ``subscribers.csv`` (every subscriber with
status, tags and consent record, as ``pressline subscribers export`` writes it) and a
manifest, ``pressline-export.json``: the site URL, when, and counts. ``pressline import DIR``
reads it back (``importing/exported.py``), and Hugo reads the posts (Markdown with YAML front
matter). DIR must be new, empty, or an earlier export (its files are overwritten).

A key that cannot be a path inside DIR (``..``, an empty segment, NUL) is reported and
skipped: nothing is ever written outside DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pressline.importing.exported import FORMAT, MANIFEST, MARKDOWN_SUFFIXES, PREFIXES, SUBSCRIBERS_FILE

MANIFEST_VERSION = 1


@dataclass
class ExportResult:
    files: list[str] = field(default_factory=list)  # keys written
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, why)
    subscribers: int | None = None

    def counts(self) -> dict[str, int]:
        posts = sum(1 for key in self.files if key.startswith("posts/") and key.lower().endswith(MARKDOWN_SUFFIXES))
        pages = sum(1 for key in self.files if key.startswith("pages/") and key.lower().endswith(MARKDOWN_SUFFIXES))
        counted = {
            "posts": posts,
            "pages": pages,
            "files": len(self.files),
            "other_files": len(self.files) - posts - pages,
        }
        if self.subscribers is not None:
            counted["subscribers"] = self.subscribers
        return counted


def safe_path(root: Path, key: str) -> Path | None:
    """Where ``key`` goes under ``root``, or None if it cannot go there safely."""
    if "\x00" in key or "\\" in key or key.startswith("/"):
        return None
    parts = PurePosixPath(key).parts
    if not parts or any(part in ("", ".", "..") for part in parts) or key.endswith("/"):
        return None
    if len(key.split("/")) != len(parts):  # an empty segment ("a//b") that PurePosixPath folded away
        return None
    target = root.joinpath(*parts)
    resolved_root = root.resolve()
    if resolved_root not in target.resolve().parents:
        return None
    return target


def source_keys(s3: Any, bucket: str) -> Iterator[str]:
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in PREFIXES:
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/"):
            for item in page.get("Contents", []):
                yield str(item["Key"])


def export_site(
    s3: Any,
    bucket: str,
    root: Path,
    *,
    site_url: str,
    repository: Any | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write the export into ``root`` (created if need be); subscribers only if ``repository``."""
    now = now or datetime.now(UTC)
    check_target(root)
    root.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    for key in source_keys(s3, bucket):
        if key.endswith("/"):
            continue  # a "folder" made by a console: nothing to keep
        target = safe_path(root, key)
        if target is None:
            result.skipped.append((key, "cannot be a file name inside the export folder"))
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()  # never write through a link planted in an earlier export
        target.write_bytes(body)
        result.files.append(key)
    if repository is not None:
        from pressline.ops.subscribers import export_subscribers

        result.subscribers = export_subscribers(repository, root / SUBSCRIBERS_FILE, now)
    manifest = {
        "format": FORMAT,
        "version": MANIFEST_VERSION,
        "site_url": site_url,
        "exported_at": now.isoformat(),
        "counts": result.counts(),
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return result


class ExportTargetError(Exception):
    """The folder cannot receive an export (says why)."""


def check_target(root: Path) -> None:
    if root.is_symlink():
        raise ExportTargetError(f"{root} is a symbolic link: give the folder itself")
    if root.exists() and not root.is_dir():
        raise ExportTargetError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / MANIFEST).is_file():
        raise ExportTargetError(f"{root} is not empty and holds no earlier export ({MANIFEST}): choose a new folder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, help="the folder to write (new, empty, or an earlier export)")
    parser.add_argument("--no-subscribers", action="store_true", help="leave subscribers.csv out")
    parser.add_argument(
        "--outputs", type=Path, default=None, help="stack outputs JSON (pressline local writes .local/outputs.json)"
    )
    parser.add_argument("--stack-name", default=None, help="a deployed stack: read its outputs and settings")


def run(args: argparse.Namespace) -> int:
    from pressline.adapters.aws import client, reset_clients
    from pressline.ops.subscribers import stack_settings, subscribers_table

    reset_clients()
    found = stack_settings(args)
    bucket = found.outputs.get("SourceBucketName") or os.environ.get("SOURCE_BUCKET", "")
    if not bucket:
        print("pressline export: no source bucket (give --local, --stack-name or --outputs)", file=sys.stderr)
        return 2
    site_url = found.outputs.get("SiteUrl") or found.environment.get("SITE_URL") or os.environ.get("SITE_URL", "")
    repository = None
    if not args.no_subscribers:
        from pressline.subscribers.dynamodb import DynamoSubscriberRepository

        table = subscribers_table(found)
        if table:
            found.apply()
            repository = DynamoSubscriberRepository(table)
    try:
        result = export_site(client("s3"), bucket, args.dir, site_url=site_url, repository=repository)
    except ExportTargetError as error:
        print(f"pressline export: {error}", file=sys.stderr)
        return 2
    for key, why in result.skipped:
        print(f"  skipped {key}: {why}")
    counts = result.counts()
    text = f"Exported {counts['posts']} post(s), {counts['pages']} page(s) and {counts['other_files']} other file(s)"
    if result.subscribers is not None:
        text += f" and {result.subscribers} subscriber(s)"
    print(f"{text} to {args.dir}")
    return 0 if not result.skipped else 1
