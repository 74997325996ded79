"""Slugs: the URL path segment of a post or a tag.

A slug is lowercase ASCII letters, digits and single hyphens, so it is always a safe
single path segment (no ``/``, ``..``, spaces or percent-escapes).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_SLUG_LENGTH = 80
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Letters that NFKD does not decompose into an ASCII base letter.
_SPECIAL = str.maketrans(
    {
        "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l",
        "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "\u0131": "i", "&": " and ",
    }
)  # fmt: skip
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)  # tags are slugified on every page that shows them
def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Transliterate accents and keep ASCII letters and digits, joined by single hyphens.

    Returns "" when nothing usable remains (for example a title in a non-Latin script).
    """
    ascii_text = unicodedata.normalize("NFKD", text.translate(_SPECIAL)).encode("ascii", "ignore").decode()
    slug = _NOT_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        # Cut at a hyphen where possible so the slug does not end mid-word.
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_length // 2 :] else cut
    return slug.strip("-")


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= MAX_SLUG_LENGTH and bool(SLUG_PATTERN.match(slug))


def tag_slug(tag: str) -> str:
    """The URL segment of a tag page: ``tags/<tag_slug>/``. Listings must use this too."""
    return slugify(tag)
