"""Where things live: object keys in the buckets and public URL paths.

Every stage derives keys and URLs from here, so that a report, a rendered post and a
page always agree on where the others are.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Literal

from pressline.models import SourceRef
from pressline.posts.slug import tag_slug

POSTS_PREFIX = "posts/"
PAGES_PREFIX = "pages/"  # static pages: pages/<name>.md publishes at /<name>/
MEDIA_PREFIX = "media/"
POST_SUFFIXES = (".md", ".markdown")
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
REFUSED_IMAGE_SUFFIXES = (".svg", ".svgz")

SourceKind = Literal["post", "page", "image", "refused-image", "other"]


def classify(key: str) -> SourceKind:
    """What an object under ``posts/`` or ``pages/`` is, by its suffix (case-insensitive:
    cameras write .JPG). Only Markdown files count under ``pages/``: a page's name is
    checked by the page rules (``pressline.posts.pagerules``), which say what is wrong."""
    lower = key.lower()
    if is_page_key(key):
        return "page" if lower.endswith(POST_SUFFIXES) else "other"
    if not key.startswith(POSTS_PREFIX) or key.endswith("/"):
        return "other"
    if lower.endswith(POST_SUFFIXES):
        return "post"
    if lower.endswith(tuple(IMAGE_TYPES)):
        return "image"
    if lower.endswith(REFUSED_IMAGE_SUFFIXES):
        return "refused-image"
    return "other"


MAX_KEY_BYTES = 1024  # S3 refuses longer object keys (KeyTooLongError), counted in UTF-8 bytes
# Where a derived key goes when the readable one would pass the limit: a source key of about
# 1,000 bytes or more still gets its report and its renderings, named by its SHA-256.
HASHED_PREFIX = "by-hash/"


def key_bytes(key: str) -> int:
    """A key's length as S3 counts it (``surrogatepass``: total, never an error)."""
    return len(key.encode("utf-8", "surrogatepass"))


def key_digest(source_key: str) -> str:
    """The SHA-256 of a source key's UTF-8 bytes, in hex: ``printf %s KEY | sha256sum``."""
    return hashlib.sha256(source_key.encode("utf-8", "surrogatepass")).hexdigest()


def report_key(source_key: str) -> str:
    """``posts/a/b.md`` -> ``reports/posts/a/b.md.json`` (in the source bucket).

    When that would pass S3's 1,024 bytes (source keys over 1,011 bytes), the report is at
    ``reports/by-hash/<key_digest(source key)>.json`` instead; the report names its key. No
    source key under ``posts/`` can give a readable report key under ``reports/by-hash/``.
    """
    readable = f"reports/{source_key}.json"
    if key_bytes(readable) <= MAX_KEY_BYTES:
        return readable
    return f"reports/{HASHED_PREFIX}{key_digest(source_key)}.json"


def version_token(source: SourceRef) -> str:
    """Names one version of a source object: its S3 version id, else its ETag."""
    if source.version_id:
        return source.version_id
    if source.etag:
        return "etag-" + source.etag.strip('"')
    return "null"


def rendered_key(source: SourceRef) -> str:
    """The claim check of one rendered version: ``rendered/<source key>/<version>.json``."""
    return rendered_key_of(source.key, version_token(source))


def rendered_key_of(source_key: str, token: str) -> str:
    """``rendered/<source key>/<token>.json``, or, when that would pass S3's limit,
    ``rendered/by-hash/<key_digest(source key)>/<token>.json`` (the token hashed too if even
    that is too long). Deterministic: Render writes and Index reads the same key."""
    readable = f"rendered/{source_key}/{token}.json"
    if key_bytes(readable) <= MAX_KEY_BYTES:
        return readable
    hashed = f"rendered/{HASHED_PREFIX}{key_digest(source_key)}/{token}.json"
    if key_bytes(hashed) <= MAX_KEY_BYTES:
        return hashed
    return f"rendered/{HASHED_PREFIX}{key_digest(source_key)}/{key_digest(token)}.json"


def post_path(slug: str) -> str:
    """The public URL path of a post: ``/posts/<slug>/``."""
    return f"/posts/{slug}/"


def post_url(slug: str, base_url: str) -> str:
    """The absolute public URL of a post (``base_url`` without a trailing slash)."""
    return base_url.rstrip("/") + post_path(slug)


def post_page_key(slug: str) -> str:
    """The site bucket key of a post page."""
    return f"posts/{slug}/index.html"


def is_page_key(key: str) -> bool:
    """Whether a source key is under ``pages/`` (a static page, or something misplaced there)."""
    return key.startswith(PAGES_PREFIX) and not key.endswith("/")


# The site's own addresses, the one list of them: the files Index generates at the top
# (``pressline.indexing.layout`` names each; a test keeps the two equal) and the folders it
# generates, Validate's images (media/) and the API's prefix on the local server (api/); post
# pages are under posts/, by slug. An alias may not take any of them, nor a static page.
SITE_FILES = frozenset({"index.html", "404.html", "feed.xml", "rss.xml", "feed.json", "sitemap.xml", "robots.txt"})
SITE_FOLDERS = ("archive", "tags", "search", "sitemaps", "media", "api")

# The site's own top-level names: a page may not take them, or it would hide (or be hidden
# by) what Index generates there, and the feeds', sitemap's and robots file's names without
# their suffix (and Atom's) would only confuse; nor the source bucket's own prefixes.
RESERVED_PAGE_NAMES = frozenset(
    {"posts", *SITE_FOLDERS, *(name.split(".")[0] for name in SITE_FILES), "atom"}
    | {"state", "rendered", "reports", "pages", "static"}
)


def page_name(source_key: str) -> str:
    """``pages/about.md`` -> ``about`` (the file name without its suffix; checked by the page rules)."""
    stem = source_key.removeprefix(PAGES_PREFIX)
    for suffix in POST_SUFFIXES:
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def page_path(name: str) -> str:
    """The public URL path of a static page: ``/<name>/``."""
    return f"/{name}/"


def page_key(name: str) -> str:
    """The site bucket key of a static page: ``<name>/index.html``."""
    return f"{name}/index.html"


def tag_path(tag: str) -> str:
    return f"/tags/{tag_slug(tag)}/"


def media_key(source_key: str) -> str:
    """Images beside posts are published under ``media/``: ``posts/a/pic.png`` -> ``media/a/pic.png``.

    A prefix of their own keeps them apart from post pages (``posts/<slug>/``), whose
    paths depend on slugs, not on where the source sits.
    """
    return MEDIA_PREFIX + source_key.removeprefix(POSTS_PREFIX)


def media_path(source_key: str) -> str:
    return "/" + media_key(source_key)


def media_src(source_key: str) -> str:
    """The ``src`` rendered HTML gives an image beside a post (percent-encoded): the sanitizer
    writes it, and the Image stage and Index name the image's variants by it."""
    from urllib.parse import quote

    return quote(media_path(source_key))


def file_key(url_path: str) -> str:
    """The site bucket's key of a file's URL path: URLs are percent-encoded, keys are not
    (CloudFront hands S3 the encoded path, and S3 decodes it)."""
    from urllib.parse import unquote

    return unquote(url_path).lstrip("/")


def resolve_relative(source_key: str, reference: str) -> str | None:
    """Resolve a relative path written in a post against the post's folder in the source bucket.

    Returns the source key it names, or None when it leaves ``posts/``. (A page's images
    are looked for under ``posts/`` too: ``../posts/about/team.jpg`` from ``pages/about.md``.)
    """
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source_key), reference))
    return resolved if resolved.startswith(POSTS_PREFIX) else None
