"""The folder ``pressline export DIR`` writes, read back as an import source.

Auto-detect rule (for ``pressline import``'s reader choice): a directory holding a
``pressline-export.json`` whose ``"format"`` is ``"pressline-export"`` (see
:func:`is_pressline_export`). Check it before the Hugo and Jekyll folder readers: an export
is also a folder of Markdown with YAML front matter, which Hugo reads too.

Layout, the source bucket's own: ``posts/…`` and ``pages/…`` (Markdown as uploaded, and the
images beside them), ``subscribers.csv`` (``pressline subscribers import`` reads it) and the
manifest. Every item carries its file's own front matter, read by the pipeline's own rules
(``posts.rules.check_post``), so the slug, and so the URL, is the one the site had; its body
is the Markdown after the front matter (``body_format="markdown"``), and its assets are the
files beside it that its body or ``image`` names, by path.

These files are Pressline posts already: :meth:`ExportedFolder.files` lists each one with
the source key it came from, so an importer can upload them as they are (same keys, same
bytes) instead of writing them anew.

Never outside the folder: symbolic links are not followed, and only regular files under
``posts/`` and ``pages/`` are read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pressline.importing.model import ImportedAsset, ImportedItem, ItemProblem
from pressline.models import Problem

MANIFEST = "pressline-export.json"
FORMAT = "pressline-export"
SUBSCRIBERS_FILE = "subscribers.csv"
PREFIXES = ("posts", "pages")
MARKDOWN_SUFFIXES = (".md", ".markdown")


def is_pressline_export(path: Path) -> bool:
    """Whether ``path`` is a folder ``pressline export`` wrote (its manifest says so)."""
    manifest = read_manifest(path)
    return manifest is not None and manifest.get("format") == FORMAT


def read_manifest(path: Path) -> dict[str, Any] | None:
    file = path / MANIFEST
    if not path.is_dir() or not file.is_file() or file.is_symlink():
        return None
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


@dataclass(frozen=True)
class ExportedFile:
    key: str  # the source bucket key it was exported from (and imports back to)
    path: Path


class ExportedFolder:
    """An ``ImportSource`` over a ``pressline export`` folder."""

    def __init__(self, root: Path, *, now: datetime | None = None) -> None:
        self.root = root
        self.manifest = read_manifest(root) or {}
        self.now = now or datetime.now(UTC)

    @property
    def site_url(self) -> str | None:
        url = self.manifest.get("site_url")
        return str(url) if isinstance(url, str) and url else None

    def files(self) -> Iterator[ExportedFile]:
        """Every regular file under ``posts/`` and ``pages/``, by key (sorted; links skipped)."""
        found: list[ExportedFile] = []
        for prefix in PREFIXES:
            top = self.root / prefix
            if not top.is_dir() or top.is_symlink():
                continue
            for directory, subdirectories, names in os.walk(top, followlinks=False):
                subdirectories[:] = sorted(d for d in subdirectories if not (Path(directory) / d).is_symlink())
                for name in names:
                    path = Path(directory) / name
                    if path.is_symlink() or not path.is_file():
                        continue
                    key = PurePosixPath(*path.relative_to(self.root).parts).as_posix()
                    found.append(ExportedFile(key=key, path=path))
        yield from sorted(found, key=lambda file: file.key)

    def items(self) -> Iterator[ImportedItem | ItemProblem]:
        from zoneinfo import ZoneInfo

        from pressline.posts.rules import check_post

        files = list(self.files())
        others = [file for file in files if not file.key.lower().endswith(MARKDOWN_SUFFIXES)]
        timezone = ZoneInfo(str(self.manifest.get("timezone") or "UTC"))
        for file in files:
            if file in others:
                continue
            try:
                raw = file.path.read_bytes()
            except OSError as error:
                yield self._problem(file, Problem(field="file", message=f"cannot be read: {error.strerror}"))
                continue
            result = check_post(raw, file.key, uploaded_at=self.now, timezone=timezone)
            if result.post is None or result.errors:
                for problem in result.errors or [Problem(field="file", message="cannot be read as a post")]:
                    yield self._problem(file, problem)
                continue
            meta, body = result.post.meta, result.post.body
            yield ImportedItem(
                source="pressline",
                source_id=file.key,
                kind="page" if file.key.startswith("pages/") else "post",
                slug=meta.slug,
                title=meta.title,
                # No date in the file: the rules give it the upload's time (here: now), which
                # would make every import of the same file differ. None: the importer decides.
                date=None if meta.date == self.now else meta.date,
                updated=meta.updated,
                tags=meta.tags,
                summary=meta.summary if result.post.summary_given else "",
                author=meta.author,
                draft=meta.draft,
                body=body,
                body_format="markdown",
                image=meta.image,
                canonical_url=meta.canonical_url,
                old_urls=meta.aliases,
                assets=tuple(_assets_of(file, body, meta.image, others)),
                nav_order=meta.nav_order,
                warnings=tuple(result.warnings),
            )

    def _problem(self, file: ExportedFile, problem: Problem) -> ItemProblem:
        return ItemProblem(file=str(file.path), item=file.key, problem=problem)


def _assets_of(item: ExportedFile, body: str, image: str | None, others: list[ExportedFile]) -> Iterator[ImportedAsset]:
    """The files beside ``item`` (its folder and below) that its body or cover image names by
    their path relative to it."""
    folder = PurePosixPath(item.key).parent
    for other in others:
        key = PurePosixPath(other.key)
        if folder not in key.parents:
            continue
        reference = key.relative_to(folder).as_posix()
        if reference in body or (image is not None and reference in image):
            yield ImportedAsset(name=reference, reference=reference, path=str(other.path))


__all__ = ["MANIFEST", "ExportedFile", "ExportedFolder", "is_pressline_export", "read_manifest"]
