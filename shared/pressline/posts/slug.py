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
# Cyrillic and Greek have standard Latin forms (simplified BGN/PCGN and ELOT 743), so a
# title or file name in them still makes a readable address, and a lookalike letter in a file
# name ("paypal.md" with U+0430, a Cyrillic a) gives the address it appears to, never one
# missing a letter. Built from code points (the letters themselves look like Latin ones in
# source code). Applied to lowercase text, before NFKD (which would split the letters with a
# breve or diaeresis) and after it (when the Greek letters are bare of their accents).
_CYRILLIC_LATIN = [
    # U+0430-U+044F, the Russian alphabet
    "a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u",
    "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya",
    # U+0450-U+045F: Ukrainian, Belarusian, Serbian and Macedonian letters
    "e", "e", "dj", "gj", "ye", "dz", "i", "yi", "j", "lj", "nj", "c", "kj", "i", "u", "dz",
]  # fmt: skip
_GREEK_LATIN = [  # U+03B1-U+03C9
    "a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o", "p", "r", "s", "s", "t",
    "y", "f", "ch", "ps", "o",
]  # fmt: skip
_TRANSLITERATE = {
    **{0x430 + index: latin for index, latin in enumerate(_CYRILLIC_LATIN)},
    0x491: "g",  # Ukrainian ghe with upturn
    **{0x3B1 + index: latin for index, latin in enumerate(_GREEK_LATIN)},
}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


# Longer texts are slugified without the cache: a heading or a refused slug may be a whole
# post long, and 4,096 of them kept in a warm container would outgrow its memory.
_CACHED_LENGTH = 256


def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """Transliterate accents, Cyrillic and Greek, and keep ASCII letters and digits, joined by
    single hyphens.

    Returns "" when nothing usable remains (for example a title in Chinese or Arabic).
    """
    if len(text) > _CACHED_LENGTH:
        return _slugify(text, max_length)
    return _cached_slugify(text, max_length)


def _slugify(text: str, max_length: int) -> str:
    lower = unicodedata.normalize("NFC", text).translate(_SPECIAL).lower().translate(_TRANSLITERATE)
    ascii_text = unicodedata.normalize("NFKD", lower).translate(_TRANSLITERATE).encode("ascii", "ignore").decode()
    slug = _NOT_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        # Cut at a hyphen where possible so the slug does not end mid-word.
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut[max_length // 2 :] else cut
    return slug.strip("-")


_cached_slugify = lru_cache(maxsize=4096)(_slugify)  # tags are slugified on every page that shows them


def lost_letters(text: str) -> str:
    """The letters of ``text`` that ``slugify`` cannot keep (they have no Latin form here)."""
    if text.isascii():
        return ""
    lost = (char for char in text if char.isalpha() and ord(char.lower()) not in _TRANSLITERATE and not slugify(char))
    return "".join(dict.fromkeys(lost))


def is_valid_slug(slug: str) -> bool:
    return len(slug) <= MAX_SLUG_LENGTH and bool(SLUG_PATTERN.match(slug))


def tag_slug(tag: str) -> str:
    """The URL segment of a tag page: ``tags/<tag_slug>/``. Listings must use this too."""
    return slugify(tag)
