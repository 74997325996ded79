"""``pressline check FILE…``: validate posts (and images) locally with the pipeline's rules.

Prints ``file:line: field: message`` for each problem (``file: field: message`` when no
line applies), warnings marked ``warning:``, and exits 1 if any file has an error, so an
author can check before uploading and CI can check a repository of posts. Directories
are searched for posts and images. Slug uniqueness is checked across the given files
(the live catalog is not consulted).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pressline.models import Problem
from pressline.posts.paths import PAGES_PREFIX, POSTS_PREFIX, classify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="posts (.md), images, or folders of them")
    parser.add_argument(
        "--timezone",
        default=os.environ.get("SITE_TIMEZONE", "UTC"),
        help="the site's time zone for dates without an offset (default: $SITE_TIMEZONE or UTC)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--quiet", action="store_true", help="print problems only, no summary")


def source_key(path: Path) -> str:
    """The key a file would have in the source bucket: from its ``posts/`` folder if it is in
    one (``blog/posts/2024/a.md`` -> ``posts/2024/a.md``), a static page if it is in a ``pages/``
    folder outside any ``posts/`` one (``blog/pages/about.md`` -> ``pages/about.md``), else
    ``posts/<file name>``."""
    parts = path.parts
    if len(parts) >= 2 and parts[-2] == "pages" and "posts" not in parts[:-2]:
        return PAGES_PREFIX + path.name
    if "posts" in parts[:-1]:
        index = len(parts) - 1 - parts[:-1][::-1].index("posts") - 1
        return "/".join(parts[index:])
    return POSTS_PREFIX + path.name


def expand(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and classify(source_key(p)) != "other"))
        else:
            found.append(path)
    return found


def format_problem(path: Path, problem: Problem, *, warning: bool = False) -> str:
    where = f"{path}:{problem.line}" if problem.line else f"{path}"
    kind = "warning: " if warning else ""
    return f"{where}: {kind}{problem.field}: {problem.message}"


def check_file(
    path: Path, timezone: ZoneInfo, slugs: dict[str, Path], aliases: dict[str, Path] | None = None
) -> tuple[list[Problem], list[Problem]]:
    """The errors and warnings of one file; ``slugs`` collects slugs already seen, ``aliases``
    the old URLs already claimed (Index gives one to the post published first, and warns the other)."""
    from pressline.posts.images import check_image, clipped, cover_problem
    from pressline.posts.markdown import reference_line, render_body
    from pressline.posts.rules import check_post

    try:
        data = path.read_bytes()
    except OSError as error:
        return [Problem(field="file", message=f"cannot be read: {error.strerror or error}")], []
    key = source_key(path)
    kind = classify(key)
    if kind in ("image", "refused-image"):
        checked = check_image(data, key)
        return checked.errors, checked.warnings
    uploaded_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    if kind == "page":  # the page rules (pressline.posts.pagerules); a page's name is no post's slug
        from pressline.posts.pagerules import check_page

        page = check_page(data, key, uploaded_at=uploaded_at, timezone=timezone)
        return list(page.errors), list(page.warnings)
    if kind != "post":
        return [Problem(field="file", message="is neither a post (.md) nor an image; it would not be published")], []
    result = check_post(data, key, uploaded_at=uploaded_at, timezone=timezone)
    errors, warnings = list(result.errors), list(result.warnings)
    if result.post is None:
        return errors, warnings
    slug = result.post.meta.slug
    if slug in slugs and slugs[slug] != path:
        message = f"'{slug}' is also the slug of {slugs[slug]}"
        errors.append(Problem(field="slug", message=message, line=result.post.slug_line))
    slugs.setdefault(slug, path)
    post = result.post
    if aliases is not None:
        warnings.extend(_alias_clashes(post.meta.aliases, path, slugs, aliases, _field_line(data, "aliases")))
    body = render_body(post.body, key, post.meta.summary, post.unsafe_html, body_line=post.body_line)
    warnings.extend(body.warnings)
    base = path.parent
    for image_key in body.images:
        # Both keys are under posts/: the image's path relative to the post's folder.
        relative = os.path.relpath(image_key, os.path.dirname(key))
        if not (base / relative).is_file():
            line = reference_line(post.body, image_key, post.body_line)
            message = f"image {relative} is not beside the post; upload it too"
            warnings.append(Problem(field="body", message=message, line=line))
    cover = post.meta.image
    if cover:
        # Why Render will drop it or a browser will not show it; else whether it is there to upload.
        reason = cover_problem(cover, key)
        target = resolve_image_key(cover, key)
        if reason is None and target and not (base / os.path.relpath(target, os.path.dirname(key))).is_file():
            reason = f"{clipped(cover)} is not beside the post; upload it too"
        if reason:
            warnings.append(Problem(field="image", message=reason, line=_field_line(data, "image")))
    return errors, warnings


def _alias_clashes(
    wanted: tuple[str, ...], path: Path, slugs: dict[str, Path], aliases: dict[str, Path], line: int | None
) -> list[Problem]:
    """What Index would warn of these aliases among the files checked: one that another file
    claims too, or another checked post's address."""
    from pressline.posts.paths import post_path

    found: list[Problem] = []
    for alias in wanted:
        # Another checked post's address, /posts/<slug>/: looked up by its slug (a table of every
        # address for each file made checking a folder quadratic: 500,000 comparisons at 1,000 posts).
        slug = alias.removeprefix("/posts/").removesuffix("/")
        address_of = slugs.get(slug) if post_path(slug) == alias else None
        if address_of is not None and address_of != path:
            message = f"'{alias}' is the address of {address_of}; it would not redirect"
            found.append(Problem(field="aliases", message=message, line=line))
            continue
        owner = aliases.setdefault(alias, path)
        if owner != path:
            message = f"'{alias}' is also an alias of {owner}; the post published first keeps it"
            found.append(Problem(field="aliases", message=message, line=line))
    return found


def resolve_image_key(reference: str, source_key: str) -> str | None:
    """The source key a front matter ``image`` names beside the post, or None (a URL, a path on the site)."""
    from urllib.parse import unquote

    from pressline.posts.paths import resolve_relative

    if "://" in reference or reference.startswith("/"):
        return None
    return resolve_relative(source_key, unquote(reference.split("#")[0].split("?")[0]))


def _field_line(data: bytes, name: str) -> int | None:
    """The line of a front matter field, read again (check_post keeps only the slug's)."""
    from pressline.posts import frontmatter
    from pressline.posts.rules import decode

    text, _ = decode(data)
    try:
        return frontmatter.split(text).line_of(name) if text is not None else None
    except frontmatter.FrontMatterError:
        return None


def ordered(errors: list[Problem], warnings: list[Problem]) -> list[tuple[Problem, bool]]:
    """Errors and warnings (flagged True) by line, those of the whole file first; on one line,
    errors before warnings."""
    marked = [(problem, False) for problem in errors] + [(problem, True) for problem in warnings]
    return sorted(marked, key=lambda item: (item[0].line or 0, item[1]))


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        timezone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"pressline check: unknown time zone {args.timezone!r}", file=sys.stderr)
        return 2
    files = expand(args.files)
    slugs: dict[str, Path] = {}
    aliases: dict[str, Path] = {}
    error_count = warning_count = 0
    for path in files:
        errors, warnings = check_file(path, timezone, slugs, aliases)
        for problem, warning in ordered(errors, warnings):
            print(format_problem(path, problem, warning=warning), file=out)
        error_count += len(errors)
        warning_count += len(warnings)
    if not args.quiet:
        print(f"{len(files)} file(s) checked: {error_count} error(s), {warning_count} warning(s)", file=sys.stderr)
    return 1 if error_count or (args.strict and warning_count) else 0
