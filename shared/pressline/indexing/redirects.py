"""Old URLs answer 301: each alias of a live post is a small object in the site bucket.

**Mechanism, and why.** For each alias of a published post (``PostMeta.aliases``: a path
the post had on the old site), Index writes an object at the key that path is served from
(``/2019/05/hello/`` -> ``2019/05/hello/index.html``, ``/old.html`` -> ``old.html``: the
mapping of the distribution's viewer-request function), with S3's WebsiteRedirectLocation
set to the post's path and a tiny HTML body (a link, a meta refresh, ``rel=canonical``) for
any client that only sees the body. S3's REST GetObject answers such an object with the
header ``x-amz-website-redirect-location``; the distribution's viewer-response function
(``SiteRedirects`` in template.yaml) turns a response carrying it into a 301 with
``Location``, and the local web server does the same (``pressline.local.web``).

Not a CloudFront KeyValueStore: its data-plane API signs with SigV4A (botocore[crt], a
native dependency in Index's layer) and moto has no KVS, so the local stack could not run
it. Not S3's website endpoint, which would answer these objects with a 301 by itself: the
bucket is private behind Origin Access Control, which website endpoints do not take. An
object per alias also keeps a change's cost bounded by the post's own aliases, and
``pressline rebuild`` writes them from the catalog like every other page.

**Ownership** (at least once, any order). An alias is claimed in the catalog by the key it
is served from, as a slug item named ``/`` + key: a slug never starts with ``/``
(``posts.slug``), so the two never meet, and the claim is read in the batch's one read and
written in its one commit, with the post's slug. The first post or static page to claim a
key keeps it; a later one is warned in its report and keeps its other aliases. Each keeps
in the catalog only the aliases it owns (``CatalogPost.aliases``, ``CatalogPage.aliases``),
so a rebuild reads no claims; it also removes redirect objects that nothing holds any more.

Refused, with a warning: a path the site generates (the home page, archives, tags, feeds,
search, sitemaps, images), another post's address (``/posts/<slug>/`` of a slug that is
taken) and a live static page's. Its own address is dropped without a word: there is
nothing to redirect. A real page wins over an alias: a post or a page that later takes the
address hides the alias, which answers again once that page goes (``restore_under``).
(The front matter rules, ``posts.aliases``, already refuse the site's own paths, ``/posts/``
among them; this module does not rely on it: a planted rendering is checked here alike.)
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from pressline.indexing import layout
from pressline.indexing.catalog import CatalogPost
from pressline.indexing.overlay import CatalogOverlay
from pressline.models import Problem
from pressline.posts.paths import (
    MAX_KEY_BYTES,
    SITE_FILES,
    SITE_FOLDERS,
    is_page_key,
    key_bytes,
    page_key,
    post_page_key,
    post_path,
)
from pressline.posts.slug import SLUG_PATTERN
from pressline.site.pages import Site
from pressline.site.writer import HTML, SiteWriter

MAX_ALIASES = 100  # a post's old URLs; more is no migration but an attempt to fill the bucket
CLAIM_PREFIX = "/"  # claims share the slug items: no slug starts with "/"

# What the site generates (``pressline.indexing.layout``) and the images Validate publishes:
# an alias there would hide a page, or be overwritten by the next change.
GENERATED_KEYS = SITE_FILES
GENERATED_PREFIXES = tuple(f"{folder}/" for folder in SITE_FOLDERS)
_POST_PAGE = re.compile(r"posts/([^/]+)/index\.html")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\?#]")


# --------------------------------------------------------------------------- keys
def alias_key(path: str) -> str | None:
    """The site bucket key a site-relative path is served from, as the viewer-request
    function maps it (``/a/`` and ``/a`` serve ``a/index.html``, ``/a.html`` itself), or
    None for a path that names no safe key (not site-relative, a query or fragment, a
    backslash or control character, an empty, ``.`` or ``..`` segment, too long for S3)."""
    if not path.startswith("/") or path.startswith("//"):
        return None
    try:
        decoded = unquote(path, errors="strict")  # S3 keys are the decoded path, as CloudFront asks S3
    except UnicodeDecodeError:
        return None
    if _UNSAFE.search(decoded) or decoded.startswith("//"):
        return None
    key = decoded.lstrip("/")
    if key == "" or key.endswith("/"):
        key += "index.html"
    elif "." not in key.rsplit("/", 1)[-1]:
        key += "/index.html"
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments) or posixpath.normpath(key) != key:
        return None
    return key if key_bytes(key) <= MAX_KEY_BYTES else None


def claim_name(key: str) -> str:
    """The slug item that holds the claim on an alias key."""
    return CLAIM_PREFIX + key


def post_page_slug(key: str) -> str | None:
    """The slug whose post page ``key`` is (``posts/<slug>/index.html``), else None."""
    found = _POST_PAGE.fullmatch(key)
    return found.group(1) if found and SLUG_PATTERN.match(found.group(1)) else None


def generated(key: str) -> bool:
    return key in GENERATED_KEYS or key.startswith(GENERATED_PREFIXES)


# --------------------------------------------------------------------------- the plan (pure)
@dataclass(frozen=True)
class AliasPlan:
    """What one change does to a post's aliases: the aliases it keeps (by path, in the
    author's order), the claims it takes and gives back, and why any alias was refused."""

    kept: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()


def plan_aliases(
    requested: Sequence[str],
    *,
    source_key: str,
    own_key: str | None,
    held: Sequence[str],
    owners: Mapping[str, str],
    static_pages: Collection[str] = (),
) -> AliasPlan:
    """Which of ``requested`` a post or a static page keeps (``own_key``: its own page's key;
    None: it is gone), given the aliases it ``held``, the ``owners`` of the claims and slugs
    involved (claim names and slugs -> source key; absent: free) and the keys of the live
    ``static_pages``. Pure: Index and the tests call it alike."""
    kept: list[str] = []
    taken: set[str] = set()
    warnings: list[Problem] = []

    def refuse(path: str, reason: str) -> None:
        warnings.append(Problem(field="aliases", message=f"{path[:200]!r} {reason}; it does not redirect"))

    for path in requested if own_key is not None else ():
        key = alias_key(path)
        if key is None:
            refuse(path, "is not a site-relative path Pressline can serve")
            continue
        if key in taken:
            continue  # "/a/" and "/a/index.html": one key, one redirect
        if len(kept) >= MAX_ALIASES:
            refuse(path, f"is past the first {MAX_ALIASES} aliases")
            continue
        if key == own_key:
            continue  # its own address: nothing to redirect
        page_slug = post_page_slug(key)
        if generated(key):
            refuse(path, "is a page the site generates")
            continue
        owner = owners.get(claim_name(key), source_key)
        if owner != source_key:
            refuse(path, f"is already an alias of {owner}")
            continue
        held_here = claim_name(key) in owners  # kept when a page takes the address later: the page hides it
        if key in static_pages and not held_here:
            refuse(path, "is the address of a page of the site")
            continue
        if page_slug is not None and not held_here and owners.get(page_slug, source_key) != source_key:
            refuse(path, f"is the address of another post ({owners[page_slug]})")
            continue
        taken.add(key)
        kept.append(path)
    held_names = {claim_name(key) for path in held if (key := alias_key(path)) is not None}
    wanted = {claim_name(key) for key in taken}
    return AliasPlan(
        kept=tuple(kept),
        claims=tuple(sorted(wanted - held_names)),
        releases=tuple(sorted(name for name in held_names - wanted if owners.get(name) == source_key)),
        warnings=tuple(warnings),
    )


def live_redirects(post: CatalogPost | None) -> dict[str, str]:
    """The redirect objects a post's catalog state stands for: alias key -> its post's path."""
    return live(post_path(post.slug) if post is not None and post.public else None, post.aliases if post else ())


def live(location: str | None, aliases: Iterable[str]) -> dict[str, str]:
    """Alias key -> ``location`` for each alias (None ``location``: not live, no redirect)."""
    if location is None:
        return {}
    return {key: location for path in aliases if (key := alias_key(path)) is not None}


def redirect_page(location: str, site: Site) -> str:
    """The body of a redirect object: what a client that does not follow the 301 sees."""
    url = html.escape(site.url.rstrip("/") + location)
    here = html.escape(location)
    return (
        f'<!doctype html>\n<html lang="{html.escape(site.language)}"><head><meta charset="utf-8">'
        f"<title>Moved to {url}</title>"
        f'<meta http-equiv="refresh" content="0; url={here}">'
        f'<link rel="canonical" href="{url}"><meta name="robots" content="noindex"></head>\n'
        f'<body><p>This page has moved to <a href="{here}">{url}</a>.</p></body></html>\n'
    )


def write_redirect(writer: SiteWriter, key: str, location: str, site: Site) -> None:
    writer.put(key, redirect_page(location, site), HTML, layout.LISTING_CACHE, redirect=location)


# --------------------------------------------------------------------------- one change (Index)
@dataclass
class AliasChange:
    """What ``apply_aliases`` did: the post as the catalog keeps it (with the aliases it
    owns), the claims for the commit, and the warnings for its report."""

    post: CatalogPost | None
    claims: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    warnings: list[Problem] = field(default_factory=list)


def wanted_names(requested: Iterable[str], held: Iterable[str]) -> list[str]:
    """The claim and slug items a change's plan reads (for the batch's one read)."""
    names: list[str] = []
    for path in [*requested, *held][: 2 * MAX_ALIASES + 2]:
        key = alias_key(path)
        if key is None:
            continue
        names.append(claim_name(key))
        page_slug = post_page_slug(key)
        if page_slug is not None:
            names.append(page_slug)
    return names


def apply_aliases(
    catalog: CatalogOverlay,
    source_key: str,
    old: CatalogPost | None,
    new: CatalogPost | None,
    requested: Sequence[str],
    files: SiteWriter,
    site: Site,
) -> AliasChange:
    """Take a post's redirects from ``old`` to ``new`` (``requested``: the aliases of its new
    version); see ``change_aliases``."""
    plan = change_aliases(
        catalog,
        source_key,
        held=old.aliases if old is not None else (),
        before=live_redirects(old),
        own_key=post_page_key(new.slug) if new is not None else None,
        location=post_path(new.slug) if new is not None and new.public else None,
        requested=requested,
        files=files,
        site=site,
    )
    post = new.model_copy(update={"aliases": plan.kept}) if new is not None else None
    return AliasChange(post, plan.claims, plan.releases, list(plan.warnings))


def change_aliases(
    catalog: CatalogOverlay,
    source_key: str,
    *,
    held: Sequence[str],
    before: Mapping[str, str],
    own_key: str | None,
    location: str | None,
    requested: Sequence[str],
    files: SiteWriter,
    site: Site,
) -> AliasPlan:
    """One post's or static page's aliases, from what it ``held`` (live as ``before``) to
    ``requested`` (``own_key``: its own page, None: it is gone; ``location``: where its
    aliases lead now, None: not live). Writes the redirects it now stands for, deletes the
    ones it no longer does, and leaves alone any key a real page holds meanwhile."""
    names = wanted_names(requested if own_key is not None else (), held)
    catalog.load(slugs=names)
    owners = {name: catalog.slugs[name] for name in names if name in catalog.slugs}
    claiming = own_key is not None and any(name not in owners for name in names if name.startswith(CLAIM_PREFIX))
    plan = plan_aliases(
        requested,
        source_key=source_key,
        own_key=own_key,
        held=held,
        owners=owners,
        static_pages=static_page_keys(catalog) if claiming else (),
    )
    after = live(location, plan.kept)
    # Its own page (it took an address it held as an alias) and other pages stay.
    own_page = own_key if location is not None else None
    for key, target in after.items():
        if before.get(key) != target and not _held_by_page(catalog, key, source_key):
            write_redirect(files, key, target, site)
    for key in before.keys() - after.keys():
        if key != own_page and not _held_by_page(catalog, key, source_key):
            files.delete(key)
    return plan


def static_pages(catalog: CatalogOverlay) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """The live static pages (``pressline.indexing.pages``): source key -> (own key, path, aliases)."""
    from pressline.indexing.pages import PAGES_BLOB, load_pages  # it imports the transition, which imports this

    pages = load_pages(catalog.blobs([PAGES_BLOB]).get(PAGES_BLOB)).public
    return {page.source_key: (page_key(page.name), page.path, page.aliases) for page in pages}


def static_page_keys(catalog: CatalogOverlay) -> set[str]:
    """The keys of the live static pages (``<name>/index.html``)."""
    return {own for own, _, _ in static_pages(catalog).values()}


def _held_by_page(catalog: CatalogOverlay, key: str, source_key: str) -> bool:
    """Whether another post's live page, or a live static page, is at ``key`` (a real page
    wins over an alias)."""
    page_slug = post_page_slug(key)
    if page_slug is None:
        return "/" not in key.removesuffix("/index.html") and key in static_page_keys(catalog)
    catalog.load(slugs=[page_slug])
    owner = catalog.slugs.get(page_slug)
    if owner is None or owner == source_key:
        return False
    catalog.load(posts=[owner])
    page = catalog.posts.get(owner)
    return page is not None and page.public and page.slug == page_slug


def restore_under(catalog: CatalogOverlay, key: str, source_key: str, files: SiteWriter, site: Site) -> None:
    """A page at ``key`` went away: an alias waiting under it (another post's) answers again."""
    name = claim_name(key)
    catalog.load(slugs=[name])
    owner = catalog.slugs.get(name)
    if owner is None or owner == source_key:
        return  # nobody waits, or the change itself decides (``change_aliases``)
    if is_page_key(owner):
        _, path, aliases = static_pages(catalog).get(owner, ("", None, ()))
        location = live(path, aliases).get(key)
    else:
        catalog.load(posts=[owner])
        location = live_redirects(catalog.posts.get(owner)).get(key)
    if location is not None:
        write_redirect(files, key, location, site)


# --------------------------------------------------------------------------- rebuild
def rebuild_redirects(
    posts: Sequence[CatalogPost],
    files: SiteWriter,
    site: Site,
    live_pages: Iterable[tuple[str, str, tuple[str, ...]]] = (),
) -> None:
    """Every live post's and static page's redirects, from the catalog alone (``pressline
    rebuild``; ``live_pages``: each live static page's own key, path and aliases); a key
    that a published post's page or a live static page holds is left to the page."""
    pages = list(live_pages)
    held = {post_page_key(post.slug) for post in posts if post.public} | {own for own, _, _ in pages}
    wanted = [live_redirects(post) for post in posts] + [live(path, aliases) for _, path, aliases in pages]
    for redirects in wanted:
        for key, location in redirects.items():
            if key not in held:
                write_redirect(files, key, location, site)
