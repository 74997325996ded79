"""The trust boundary of stored renderings: what the site publishes from the source bucket.

Render keeps each version's rendering at ``rendered/<source key>/<version>.json`` in the
source bucket, and Index keeps its newest-posts state there too (``state/index/recent.json``).
Authors can write to that bucket (they upload under ``posts/``, and IAM grants are easily
broader than that), and the version ids are in the public reports: so a rendering read back
from S3 is author input, whatever Render once made of it. ``load_rendering`` is the one way
in: the object must be a rendering of the version its key names, and every field that reaches
a page, a feed, a listing, the search index or an email is made safe again on the way:

- the body through the same allow-list sanitizer as Render's (``sanitize_rendered``);
- the summary through ``strip_markup``, the title, tags and author as one-line texts without
  control or direction characters;
- the slug must be a slug, the canonical URL an http(s) URL, the image an http(s) URL or a
  path on the site; otherwise the rendering is refused (or the URL dropped).

Idempotent and cheap on Render's own output (the same model back; one nh3 pass over the
body, ~0.2 ms for a 600-word post), so every reader can call it without a second thought.

The bucket policy also stops anyone but the Render function writing ``rendered/*``
(``template.yaml``, ``SourceBucketPolicy``); this module does not rely on it.
"""

from __future__ import annotations

import logging
import re

from pydantic import ValidationError

from pressline.adapters.store import ObjectStore
from pressline.indexing.catalog import Recent, RecentPost
from pressline.models import PostMeta, RenderedPost
from pressline.posts.markdown import html_problem
from pressline.posts.paths import PAGES_PREFIX, POSTS_PREFIX, rendered_key
from pressline.posts.sanitize import has_refused_scheme, sanitize_rendered, strip_markup
from pressline.posts.slug import is_valid_slug, tag_slug

logger = logging.getLogger(__name__)

# Far above the rules' limits (a title of 200 characters, tags of 60, 20 of them): a stored
# rendering beyond these was not Render's. Summaries and authors have no limit of their own.
MAX_TITLE = 1000
MAX_TAG = 300
MAX_TAGS = 50
# The characters the rules remove from one-line texts (posts.rules._UNSHOWN): direction
# embeddings, overrides and isolates, and control characters.
_UNSHOWN = re.compile(r"[\u202a-\u202e\u2066-\u2069\x00-\x08\x0e-\x1f\x7f-\x9f]")


class UntrustedRendering(ValueError):
    """A stored rendering that Render cannot have made; the reason says which field."""


def load_rendering(store: ObjectStore, key: str) -> RenderedPost | None:
    """The rendering stored at ``key`` (``rendered/<source key>/<version>.json``), made safe by
    ``trusted``; None when it is not there or is not a rendering of that version (logged)."""
    stored = store.get(key)
    return None if stored is None else parse_rendering(stored.body, key)


def parse_rendering(body: bytes | str, key: str) -> RenderedPost | None:
    """``load_rendering`` for bytes already read from ``key``."""
    try:
        rendered = RenderedPost.model_validate_json(body)
        _check_key(rendered, key)
        return trusted(rendered)
    except (ValidationError, UntrustedRendering) as error:
        logger.warning("Refused the rendering at %s: %s", key, _reason(error))
        return None


def parse_recent(body: bytes | str, key: str) -> Recent | None:
    """The newest-posts state (``state/index/recent.json``, in the source bucket too) with each
    post's rendering through ``trusted`` and its listing texts made safe; a post whose
    rendering is refused is left out. None when it is not a newest-posts state (logged)."""
    try:
        recent = Recent.model_validate_json(body)
    except ValidationError as error:
        logger.warning("Refused the newest-posts state at %s: %s", key, _reason(error))
        return None
    kept: list[RecentPost] = []
    for item in recent.posts:
        try:
            rendered = trusted(item.rendered)
        except UntrustedRendering as error:
            logger.warning("Left %s out of the newest-posts state at %s: %s", item.post.source_key, key, error)
            continue
        if item.post.slug != rendered.meta.slug or item.post.source_key != rendered.source.key:
            logger.warning("Left %s out of the newest-posts state at %s: not its rendering", item.post.source_key, key)
            continue
        post = item.post.model_copy(
            update={
                "title": rendered.meta.title,
                "tags": rendered.meta.tags,
                "summary": strip_markup(item.post.summary),
            }
        )
        kept.append(
            item if post == item.post and rendered is item.rendered else RecentPost(post=post, rendered=rendered)
        )
    return Recent(posts=tuple(kept))


def trusted(rendered: RenderedPost) -> RenderedPost:
    """``rendered`` with every published field made safe again (see the module's doc); the
    same object when nothing changed. Raises ``UntrustedRendering`` for a rendering that
    cannot be repaired (a slug that is no slug, a source outside ``posts/``)."""
    meta, source_key = rendered.meta, rendered.source.key
    if not source_key.startswith((POSTS_PREFIX, PAGES_PREFIX)):  # where its relative links resolve from
        raise UntrustedRendering(f"source.key {source_key[:80]!r} is not a post's or a page's key")
    if not is_valid_slug(meta.slug):
        raise UntrustedRendering(f"meta.slug {meta.slug[:80]!r} is not a slug")
    title = _one_line(meta.title, "meta.title", MAX_TITLE)
    if not title:
        raise UntrustedRendering("meta.title is empty")
    tags = tuple(dict.fromkeys(tag for tag in (_one_line(t, "meta.tags", MAX_TAG) for t in meta.tags) if tag_slug(tag)))
    safe_meta = PostMeta(
        slug=meta.slug,
        title=title,
        date=meta.date,
        updated=meta.updated,
        tags=tags[:MAX_TAGS],
        # Only the markup goes: a summary made from the body keeps what the body may hold.
        summary=strip_markup(meta.summary),
        author=(_one_line(meta.author, "meta.author") or None) if meta.author else None,
        canonical_url=meta.canonical_url if meta.canonical_url and _is_web_url(meta.canonical_url) else None,
        image=meta.image if meta.image and _is_site_or_web_url(meta.image) else None,
        draft=meta.draft,
        notify=meta.notify,  # True, False or None: nothing there to make safe (indexing.announce reads it)
        email=meta.email,  # "full", "summary" or None (the model allows nothing else)
        aliases=meta.aliases,  # made safe where used: indexing.redirects serves only the keys alias_key allows
        nav_order=meta.nav_order,  # an int or None, and a bool: nothing there to make safe
        nav=meta.nav,
    )
    # Bounded first: sanitizing grows with the square of the nesting (20,000 nested divs: 1.2 s),
    # and Render refuses what would be too costly, so no rendering of its own is refused here.
    problem = html_problem(rendered.body_html)
    if problem:
        raise UntrustedRendering(f"body_html {problem}")
    body_html = sanitize_rendered(rendered.body_html, source_key)
    if safe_meta == meta and body_html == rendered.body_html:
        return rendered
    logger.warning("The rendering of %s was changed on its way out: not as Render wrote it", source_key)
    return rendered.model_copy(update={"meta": safe_meta, "body_html": body_html})


def _check_key(rendered: RenderedPost, key: str) -> None:
    """The rendering must be of the version its key names: one copied from another post (or
    another version) under this key would publish that post's content or slug here. The key
    is the one Render writes (``paths.rendered_key``: hashed when the readable one would pass
    S3's 1,024 bytes)."""
    expected = rendered_key(rendered.source)
    if key != expected:
        raise UntrustedRendering(f"it is a rendering of {rendered.source.key[:80]!r}, not of what {key[:120]!r} names")


def _one_line(value: str, field: str, limit: int | None = None) -> str:
    if limit is not None and len(value) > limit:
        raise UntrustedRendering(f"{field} is {len(value)} characters long")
    return " ".join(_UNSHOWN.sub("", value).split())


def _is_web_url(value: str) -> bool:
    # As the rules' canonical_url check: absolute http(s), no spaces, nothing invisible.
    return (
        value.lower().startswith(("https://", "http://"))
        and len(value) > 8
        and value.isprintable()
        and " " not in value
    )


def _is_site_or_web_url(value: str) -> bool:
    """An http(s) URL, or a path on the site (``sanitize.resolve_image`` makes nothing else)."""
    if _is_web_url(value):
        return True
    return (
        value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
        and " " not in value
        and not has_refused_scheme(value)
    )


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return f"not a rendering ({error.error_count()} problems)"
    return str(error)
