"""The rules a static page (``pages/<name>.md``) must satisfy: the post rules
(``pressline.posts.rules.check_post``), with what a page changes:

- its **name** is its address: ``pages/about.md`` publishes at ``/about/``, so the name must
  be a slug (lowercase letters a-z, digits and single hyphens), one path segment (no folders
  under ``pages/``) and none of the site's own top-level names (``RESERVED_PAGE_NAMES``);
  ``slug:`` is not used (a warning says so when it differs);
- ``title`` is required, as for posts; ``date`` is not (the upload time, shown as the page's
  last change in the sitemap), and a page is never scheduled: it is live once uploaded,
  unless ``draft: true``;
- **navigation**: ``nav_order:`` (an integer; Hugo's ``weight:`` is read as the same) places
  the page in the site's navigation, lowest first; pages without one follow, by title;
  ``nav: false`` keeps the page out of the navigation (it is still published and in the
  sitemap);
- ``tags`` are ignored (pages are in no listing), with a warning.

Pure, like ``check_post``: Validate, Render and ``pressline check`` call it for pages.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, tzinfo
from typing import Any

from pressline.models import Problem
from pressline.posts import frontmatter
from pressline.posts.paths import PAGES_PREFIX, POST_SUFFIXES, RESERVED_PAGE_NAMES, page_name, page_path
from pressline.posts.rules import CheckResult, Status, check_post, decode
from pressline.posts.slug import MAX_SLUG_LENGTH, is_valid_slug, slugify

NAV_FIELDS = ("nav_order", "weight", "nav")
# Wide enough for any hand-made order (Hugo sites use weights like 10, 20, 100 or -1), small
# enough that no order is a number nobody meant.
NAV_ORDER_LIMIT = 1_000_000
NAV_HINT = (
    "use 'nav_order: <integer>' (or Hugo's 'weight:') to place the page in the navigation, lowest first, "
    "or 'nav: false' to keep it out"
)


def name_problems(source_key: str) -> list[Problem]:
    """Why ``source_key`` cannot be a page's address (empty: it can)."""
    rest = source_key.removeprefix(PAGES_PREFIX)
    if not rest.lower().endswith(POST_SUFFIXES):
        message = (
            "is not a page: only Markdown files (pages/<name>.md) are published from pages/; a page's images go "
            "under posts/ (posts/about/team.jpg, shown from pages/about.md as ../posts/about/team.jpg)"
        )
        return [Problem(field="file", message=message)]
    if "/" in rest:
        message = "is in a folder under pages/: a page is one file, pages/<name>.md, published at /<name>/"
        return [Problem(field="file", message=message)]
    name = page_name(source_key)
    if not is_valid_slug(name):
        suggestion = slugify(name)
        hint = f"; try pages/{suggestion}.md" if suggestion else ""
        message = (
            f"the page name '{name[:80]}' is its address /<name>/ and must be lowercase letters a-z, digits and "
            f"single hyphens, at most {MAX_SLUG_LENGTH} characters{hint}"
        )
        return [Problem(field="file", message=message)]
    if name in RESERVED_PAGE_NAMES:
        taken = ", ".join(sorted(RESERVED_PAGE_NAMES))
        message = f"the page name '{name}' is one of the site's own addresses ({taken}); choose another file name"
        return [Problem(field="file", message=message)]
    return []


def page_status(draft: bool) -> Status:
    """A page is live once uploaded (never scheduled), unless it is a draft."""
    return "draft" if draft else "published"


def check_page(raw: bytes, source_key: str, *, uploaded_at: datetime, timezone: tzinfo) -> CheckResult:
    """Apply every page rule to one uploaded page."""
    naming = name_problems(source_key)
    if naming:
        return CheckResult(None, naming)
    result = check_post(raw, source_key, uploaded_at=uploaded_at, timezone=timezone)
    document = _document(raw)
    fields = document.fields if document is not None else {}
    errors = [_as_page(problem) for problem in result.errors]
    # check_post does not know the page fields (posts have none), and a page's slug is its name.
    warnings = [w for w in result.warnings if not (w.field in NAV_FIELDS and w.message.startswith("is not a known"))]
    warnings = [w for w in warnings if w.field != "slug"]
    nav_order, nav, nav_errors = _navigation(fields, document)
    errors += nav_errors
    if result.post is None or errors:
        return CheckResult(None, errors, warnings)
    name = page_name(source_key)
    line = document.line_of if document is not None else (lambda _name: None)
    given_slug = fields.get("slug")
    if isinstance(given_slug, str) and given_slug != name:
        message = f"is not used for a page: its address is its file name, {page_path(name)}"
        warnings.append(Problem(field="slug", message=message, line=line("slug")))
    if result.post.meta.tags:
        warnings.append(
            Problem(field="tags", message="are not used for a page: pages are in no listing", line=line("tags"))
        )
    warnings = [w for w in warnings if w.field != "slug" or w.message.startswith("is not used")]
    meta = result.post.meta.model_copy(update={"slug": name, "tags": (), "nav_order": nav_order, "nav": nav})
    return CheckResult(dataclasses.replace(result.post, meta=meta), [], warnings)


def _as_page(problem: Problem) -> Problem:
    if problem.field == "title" and "every post" in problem.message:
        return problem.model_copy(update={"message": problem.message.replace("every post", "every page")})
    return problem


def _document(raw: bytes) -> frontmatter.Document | None:
    """The front matter again, for the fields only pages have (check_post reads the ones
    posts have). Pages are few and small: reading it twice costs nothing that matters."""
    text, _ = decode(raw)
    if text is None:
        return None
    try:
        return frontmatter.split(text)
    except frontmatter.FrontMatterError:
        return None  # check_post reported it


def _navigation(
    fields: dict[str, Any], document: frontmatter.Document | None
) -> tuple[int | None, bool, list[Problem]]:
    """``nav_order`` (or ``weight``) and ``nav``, or the problems with them."""

    def line(name: str) -> int | None:
        return document.line_of(name) if document is not None else None

    errors: list[Problem] = []
    orders: dict[str, int] = {}
    for name in ("nav_order", "weight"):
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(
                Problem(field=name, message=f"must be a whole number, not {value!r:.40}; {NAV_HINT}", line=line(name))
            )
        elif abs(value) > NAV_ORDER_LIMIT:
            message = f"is {value}; the limit is {NAV_ORDER_LIMIT:,} either way; {NAV_HINT}"
            errors.append(Problem(field=name, message=message, line=line(name)))
        else:
            orders[name] = value
    if len(orders) == 2 and orders["nav_order"] != orders["weight"]:
        message = f"is {orders['weight']} but nav_order is {orders['nav_order']}: give one of them ({NAV_HINT})"
        errors.append(Problem(field="weight", message=message, line=line("weight")))
    nav = fields.get("nav", True)
    if nav is None:
        nav = True
    if not isinstance(nav, bool):
        errors.append(
            Problem(field="nav", message=f"must be true or false, not {nav!r:.40}; {NAV_HINT}", line=line("nav"))
        )
        nav = True
    order = orders.get("nav_order", orders.get("weight"))
    return order, nav, errors
