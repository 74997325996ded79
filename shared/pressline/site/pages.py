"""The post page: one pure function from a rendered post (and its neighbours) to HTML.

Render calls ``render_post_page`` without neighbours when a post is first rendered;
Index calls it again with the previous (older) and next (newer) posts whenever the
neighbours change. Everything author-written is escaped by Jinja2's autoescape except
the body, which was sanitized by ``pressline.posts.sanitize`` and is marked safe here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pressline.config import Settings, settings
from pressline.models import PostMeta, RenderedPost
from pressline.posts.paths import post_path, tag_path

if TYPE_CHECKING:
    from pressline.models import ImageSet

DEFAULT_DATE_FORMAT = "%B %-d %Y, %H:%M"  # January 7 2022, 18:48
DESCRIPTION_LIMIT = 300
# Reading time: ~230 words a minute for adult silent reading of non-fiction (Brysbaert 2019,
# "How many words do we read per minute?"). Chinese, Japanese and Korean are counted by
# characters, since Chinese and Japanese put no space between words: 500 a minute, the rate Hugo's
# ReadingTime uses for CJK (and a Korean syllable block is about a third of a word).
WORDS_PER_MINUTE = 230
CJK_CHARACTERS_PER_MINUTE = 500
_CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
# A word: what spaces separate, if it has a letter or a digit (a dash or a bullet alone is not
# one; don't, e-mail and 3.5 are one each), as Hugo counts words outside CJK.
_NOT_A_WORD = re.compile(r"[\W_]+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class PageLink:
    """A static page as the navigation and the sitemap show it (``pressline.indexing.pages``)."""

    path: str  # /<name>/
    title: str
    modified: datetime


@dataclass(frozen=True)
class Site:
    """What every page needs to know about the site. Templates call its methods."""

    title: str
    url: str
    api_url: str
    timezone: str = "UTC"
    date_format: str = DEFAULT_DATE_FORMAT
    language: str = "en"
    # The static pages in the navigation, in order, and every published static page (the
    # sitemap): from the catalog, set by Index and ``pressline rebuild`` for the pages they write.
    nav: tuple[PageLink, ...] = ()
    static_pages: tuple[PageLink, ...] = ()
    # The WebSub hub every feed advertises (HUB_URL, template.yaml's HubUrl); "" for none.
    hub_url: str = ""
    # The published variants of a site image by its src (``indexing.images``: Index sets it to
    # the batch's catalog); None: pages show images as written (Render, preview, tests).
    images: Callable[[str], ImageSet | None] | None = None

    @classmethod
    def from_settings(cls, config: Settings | None = None) -> Site:
        import os

        config = config or settings()
        return cls(
            title=config.site_title,
            url=config.base_url,
            api_url=config.api_url,
            timezone=config.site_timezone,
            date_format=os.environ.get("SITE_DATE_FORMAT", DEFAULT_DATE_FORMAT),
            language=os.environ.get("SITE_LANGUAGE", "en"),
            hub_url=os.environ.get("HUB_URL", "").strip(),
        )

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the site's time zone. The date rules keep every post within years that
        stay representable in any zone (``posts.rules.EARLIEST_YEAR``/``LATEST_YEAR``); a moment
        at the very edge of the calendar (a post stored before those rules) is shown in its own
        offset rather than failing the page."""
        try:
            return moment.astimezone(self.zone)
        except OverflowError:
            return moment

    def format_date(self, moment: datetime) -> str:
        """A date for people, in the site's format and time zone. ``%-d``/``%-H``/``%-m``
        (no leading zero) work on every platform, not only with glibc."""
        local = self.local(moment)
        pattern = (
            self.date_format.replace("%-d", str(local.day))
            .replace("%-m", str(local.month))
            .replace("%-H", str(local.hour))
            .replace("%-I", str(local.hour % 12 or 12))
        )
        return local.strftime(pattern)

    def absolute(self, path: str) -> str:
        """An absolute URL for a site path; absolute URLs are returned unchanged."""
        if path.startswith(("http://", "https://")):
            return path
        return self.url.rstrip("/") + "/" + path.lstrip("/")

    def post_path(self, slug: str) -> str:
        return post_path(slug)

    def tag_path(self, tag: str) -> str:
        return tag_path(tag)

    def subscribe_action(self) -> str:
        return f"{self.api_url.rstrip('/')}/subscriptions"

    @cached_property
    def subscribe_url(self) -> str:
        """``subscribe_action()`` as an attribute: every post page shows the form, and a
        template reads an attribute for a fraction of what it costs to call a method."""
        return self.subscribe_action()


# json.dumps with options builds an encoder per call; one serves every page.
_JSON_LD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json_ld(data: dict[str, Any]) -> str:
    """JSON for a <script> element: ``<``, ``>`` and ``&`` escaped so no author text can
    close the element or open a comment."""
    text = _JSON_LD.encode(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def reading_minutes(body_html: str) -> int:
    """Minutes to read a rendered post body (HTML), rounded up, at least 1: words at
    ``WORDS_PER_MINUTE`` plus CJK characters at ``CJK_CHARACTERS_PER_MINUTE``. Markup is not
    text: tags are dropped and character references read as the characters they stand for."""
    from html import unescape

    others, characters = _CJK.subn(" ", unescape(_TAG.sub(" ", body_html)))
    words = sum(1 for token in others.split() if not _NOT_A_WORD.fullmatch(token))
    return max(1, math.ceil(words / WORDS_PER_MINUTE + characters / CJK_CHARACTERS_PER_MINUTE))


def _description(summary: str) -> str:
    if len(summary) <= DESCRIPTION_LIMIT:
        return summary
    return summary[: DESCRIPTION_LIMIT - 1].rsplit(" ", 1)[0] + "…"


def post_context(
    post: RenderedPost, site: Site, previous: PostMeta | None = None, next: PostMeta | None = None
) -> dict[str, Any]:
    """The template context of a post page (also handy for a site's own templates)."""
    from markupsafe import Markup

    from pressline.posts.sanitize import strip_markup

    meta = post.meta
    url = site.absolute(post_path(meta.slug))
    canonical = meta.canonical_url or url
    image = site.absolute(meta.image) if meta.image else None
    body_html, cover_html = post.body_html, None
    if site.images is not None:
        body_html, cover_html, shared = _with_variants(post, site.images, site.url)
        image = shared or image
    # Text, whatever was stored: meta and og:description and JSON-LD are read by crawlers and
    # link previews that may take it for HTML.
    description = _description(strip_markup(meta.summary))
    published = meta.date.isoformat()
    json_ld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": meta.title,
        "description": description,
        "datePublished": published,
        "dateModified": meta.updated.isoformat() if meta.updated else published,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
        "publisher": {"@type": "Organization", "name": site.title, "url": site.absolute("/")},
        "inLanguage": site.language,
    }
    if meta.author:
        json_ld["author"] = {"@type": "Person", "name": meta.author}
    if meta.tags:
        json_ld["keywords"] = list(meta.tags)
    if image:
        json_ld["image"] = image
    return {
        "site": site,
        "post": post,
        "meta": meta,
        "url": url,
        "canonical": canonical,
        "description": description,
        "image": image,
        # Worked out here rather than called from the template: a call costs Jinja several times more.
        "published": published,
        "published_text": site.format_date(meta.date),
        "reading_minutes": reading_minutes(post.body_html),
        "tag_links": [(tag, tag_path(tag)) for tag in meta.tags],
        # Sanitized by pressline.posts.sanitize; the <picture> markup is escaped by site.responsive.
        "body_html": Markup(body_html),  # noqa: S704  # nosec B704
        "cover": Markup(cover_html) if cover_html else None,  # noqa: S704  # nosec B704
        "json_ld": Markup(_json_ld(json_ld)),  # noqa: S704 - <, > and & are escaped by _json_ld  # nosec B704
        "previous": previous,
        "next": next,
    }


def _with_variants(
    post: RenderedPost, lookup: Callable[[str], ImageSet | None], site_url: str
) -> tuple[str, str | None, str | None]:
    """The body with each published image as a ``<picture>``, the cover's ``<picture>`` and the
    URL of the cover's variant for og:image (None, None: no published cover). The cover is the
    page's first image, so it loads eagerly and every body image lazily."""
    from pressline.site.responsive import cover, is_local, local_sources, responsive, share_url

    meta = post.meta
    cover_set = lookup(meta.image) if meta.image and is_local(meta.image) else None
    sets = {src: found for src in local_sources(post.body_html) if (found := lookup(src)) is not None}
    body = responsive(post.body_html, sets, eager_first=cover_set is None).html if sets else post.body_html
    if cover_set is None:
        return body, None, None
    return body, cover(cover_set, "", eager=True) or None, share_url(cover_set, site_url)


def render_post_page(
    post: RenderedPost, site: Site, previous: PostMeta | None = None, next: PostMeta | None = None
) -> str:
    """The HTML of ``/posts/<slug>/``. ``previous`` is the older neighbour, ``next`` the newer."""
    from pressline.site.templating import render

    return render("post.html", **post_context(post, site, previous, next))
