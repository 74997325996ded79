"""The browser search index: one shard per archive month and a small manifest.

A shard holds, for each post of its month, the title, date (as the pages show it, too),
tags, summary and the distinct words of its body. A new post rewrites its month's shard (read, replace its document,
write) and nothing else; the manifest lists the shards newest first and changes only
when a month appears or disappears. ``search.js`` loads the manifest, then the shards
newest first, showing results as they arrive, so recent posts are found at once and the
whole site is searched without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from html import unescape
from typing import Any

from pressline.indexing.catalog import CatalogPost
from pressline.indexing.feeds import rfc3339
from pressline.indexing.layout import search_shard_key
from pressline.posts.paths import post_path
from pressline.site.pages import Site

MAX_WORDS = 600  # distinct body words kept per post: bounds a shard whatever a post's length
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.DOTALL | re.IGNORECASE)
_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)
MAX_WORD = 40  # longer "words" (hashes, data) are not worth a place in the index
_STOP_WORDS = (
    "the and for are but not you all any can her was one our out day get has him his how man new now old see"
    " two way who its did yes this that with from they will have been were what when your which their there"
    " would about into than then them these some could other more also only over such"
)
_STOP = frozenset(_STOP_WORDS.split())


def body_words(body_html: str) -> str:
    """Distinct lowercase words of a post body, in order of first use (stop words dropped)."""
    text = unescape(_TAG.sub(" ", body_html)).lower()
    words: dict[str, None] = {}
    for word in _WORD.findall(text):
        if len(word) <= MAX_WORD and word not in _STOP:
            words.setdefault(word, None)
            if len(words) >= MAX_WORDS:
                break
    return " ".join(words)


def document(post: CatalogPost, body_html: str, site: Site) -> dict[str, Any]:
    return {
        "u": post_path(post.slug),
        "t": post.title,
        "d": rfc3339(post.date),  # the order of results, and the <time datetime>
        # The date as the pages print it (``Site.format_date``: the site's format and time zone),
        # made here by the same function, so a result and the post's page always agree.
        "f": site.format_date(post.date),
        "g": list(post.tags),
        "s": post.summary,  # already clipped by the catalog
        "w": body_words(body_html),
    }


def load_shard(body: bytes | None) -> list[dict[str, Any]]:
    if not body:
        return []
    data = json.loads(body)
    posts = data.get("posts", []) if isinstance(data, dict) else []
    return [doc for doc in posts if isinstance(doc, dict) and "u" in doc]


def update_shard(
    docs: list[dict[str, Any]], remove_paths: Iterable[str], add: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Set semantics by URL path: re-applying the same change gives the same shard."""
    drop = set(remove_paths) | ({add["u"]} if add else set())
    kept = [doc for doc in docs if doc.get("u") not in drop]
    if add:
        kept.append(add)
    return sorted(kept, key=lambda doc: (str(doc.get("d", "")), str(doc.get("u"))), reverse=True)


def dump_shard(month: str, docs: list[dict[str, Any]]) -> str:
    return json.dumps({"month": month, "posts": docs}, ensure_ascii=False, separators=(",", ":"))


def manifest(months: Iterable[str]) -> str:
    shards = [{"month": month, "url": "/" + search_shard_key(month)} for month in sorted(months, reverse=True)]
    return json.dumps({"version": 1, "shards": shards}, separators=(",", ":"))
