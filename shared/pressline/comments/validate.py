"""A comment form, as posted, to a clean ``Submission``, a ``Refusal`` or ``Spam``.

Nothing here raises for bad input: every field a stranger can type is checked and each
refusal names the field and a reason fit to show to the person who typed it. ``Spam`` is a
distinct outcome because the shell answers it exactly like a success (a bot learns nothing
from the response), while a ``Refusal`` is shown.

Invisible and unassigned characters (Unicode categories Cc, Cf, Co, Cn: controls, bidi
overrides, zero-width joiners and spaces, private use, unassigned) are refused in every field,
not removed: a name that reads differently than it sorts, or a text whose displayed order
differs from its stored one, is an attack on the reader, and silently altering what someone
wrote is worse than telling them. The one exception is line breaks and tabs in the text.
A zero-width joiner between two pictographs (an emoji ZWJ sequence: 👨‍👩‍👧, 🏳️‍🌈, 👩🏽‍💻) is
taken: there it is what the person typed, and it hides nothing between letters. (Subdivision
flags, made of invisible tag characters, are refused with the class.)

Names that imitate the site author's are refused: both are reduced to a skeleton (NFKC,
casefold, combining marks stripped, the Latin/Cyrillic/Greek lookalikes in ``CONFUSABLES``
mapped to Latin, everything but letters and digits removed) and compared.
"""

# ruff: noqa: RUF001  (the lookalikes below are the point: the confusables map)

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pressline.comments.model import PostState, Submission
from pressline.subscribers.addresses import InvalidAddress, normalize_address

MAX_NAME = 80
MAX_TEXT = 5_000
MAX_WEBSITE = 300
MAX_LINKS = 3
# A person reads a post before commenting; a bot posts the form the moment it has it.
MIN_SECONDS = timedelta(seconds=3)
# Clocks differ a little between the page's signer and the function: more than this in the
# future is a forged issued-at.
CLOCK_SKEW = timedelta(seconds=30)

# Legal in some URLs, never needed in a homepage's, and each a way out of an attribute or a
# way to another host ("\\host" is "//host" to browsers).
_NOT_IN_WEBSITE = frozenset("\"'<>`\\")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn"})
_TEXT_ALLOWED_CONTROLS = frozenset({"\n", "\t"})
# What a reader's client turns into a link, in the text: schemes, bare "www." and autolinks.
_LINK = re.compile(r"(?:https?://|mailto:|www\.)", re.IGNORECASE)
_POST_REFUSALS = {
    PostState.DRAFT: "this post is not published; it takes no comments",
    PostState.SCHEDULED: "this post is not published yet; it takes no comments",
    PostState.DELETED: "this post was removed; it takes no comments",
    PostState.MISSING: "there is no such post",
}

# Lookalikes of Latin letters in Cyrillic and Greek (after casefolding), as Unicode's
# confusables list pairs them; enough for a name, not a general skeleton.
CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k",
        "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s",
        "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ӏ": "l",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "μ": "u",
        # Latin look-alikes of other Latin letters
        "ı": "i", "ȷ": "j", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
        # digits read as letters in a name
        "0": "o", "1": "l", "3": "e", "5": "s",
    }
)  # fmt: skip


@dataclass(frozen=True)
class RawForm:
    """The comment form as the shell received it: strings, or bytes when the body was not
    decodable (then refused here, not there), and the issued-at the shell read from the form's
    signed field (None when it was missing or its signature did not match)."""

    post_slug: str
    parent_id: str | None = None
    name: str | bytes | None = None
    email: str | bytes | None = None
    website: str | bytes | None = None
    text: str | bytes | None = None
    honeypot: str | bytes | None = None
    form_issued_at: datetime | None = None
    notify_replies: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why a submission is not taken: the field at fault and a reason to show."""

    field: str
    reason: str


@dataclass(frozen=True)
class Spam:
    """A submission taken for a bot's: answered as a success, stored nowhere."""

    reason: str


def _as_text(field: str, value: str | bytes | None) -> str | Refusal:
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal(field, "is not valid UTF-8 text")
    return value


ZWJ = "\u200d"
# What may sit between an emoji and the joiner after it: a variation selector (Mn) or a skin
# tone modifier (Sk).
_EMOJI_TRAILERS = frozenset({"Mn", "Sk"})


def joins_emoji(text: str, index: int) -> bool:
    """Whether the zero-width joiner at ``index`` joins two pictographs (an emoji ZWJ sequence:
    a family, a profession, a flag): the one invisible character a reader means to type."""
    before = index - 1
    while before >= 0 and unicodedata.category(text[before]) in _EMOJI_TRAILERS:
        before -= 1
    after = index + 1
    return (
        before >= 0
        and after < len(text)
        and unicodedata.category(text[before]) == "So"
        and unicodedata.category(text[after]) == "So"
    )


def refused_character(text: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """Why ``text`` holds a character no field takes, or None."""
    for index, char in enumerate(text):
        if char in allowed or (char == ZWJ and joins_emoji(text, index)):
            continue
        if "\ud800" <= char <= "\udfff":
            return "is not valid Unicode text (a lone surrogate)"
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            kind = {
                "Cc": "control characters or line breaks",
                "Cf": "invisible formatting characters (bidi overrides, zero-width characters)",
                "Co": "private-use characters",
                "Cn": "unassigned characters",
            }[category]
            return f"must not contain {kind} (U+{ord(char):04X})"
    return None


def skeleton(name: str) -> str:
    """``name`` reduced to what a reader sees: NFKC, casefolded, marks stripped, lookalikes
    mapped to Latin, only letters and digits kept."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    bare = "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))
    mapped = bare.translate(CONFUSABLES)
    return "".join(c for c in mapped if c.isalnum())


# An author's skeleton at least this long is also refused inside a longer name ("Ada Lovelace
# (official)"); shorter ones only as the whole name, or "Al" would refuse "Alice".
MIN_CONTAINED_SKELETON = 6


def imitates(name: str, author_names: Sequence[str]) -> bool:
    """Whether ``name`` reads as one of ``author_names`` (the site author's own names)."""
    shape = skeleton(name)
    if not shape:
        return False
    for author in author_names:
        target = skeleton(author)
        if target and (shape == target or (len(target) >= MIN_CONTAINED_SKELETON and target in shape)):
            return True
    return False


def _website(raw: str) -> str | Refusal | None:
    website = raw.strip()
    if not website:
        return None
    if len(website) > MAX_WEBSITE:
        return Refusal("website", f"is longer than {MAX_WEBSITE} characters")
    if any(c.isspace() or c in _NOT_IN_WEBSITE for c in website):
        return Refusal("website", "must be one web address, without spaces, quotes or angle brackets")
    try:
        parts = urlsplit(website)
        host = parts.hostname
    except ValueError:
        return Refusal("website", "is not a web address")
    if parts.scheme.lower() not in ("http", "https"):
        return Refusal("website", "must start with http:// or https://")
    if not host or parts.username is not None or parts.password is not None:
        return Refusal("website", "must name a site, like https://example.com")
    return website


def validate(
    form: RawForm,
    *,
    post_state: PostState,
    now: datetime,
    author_names: Sequence[str] = (),
) -> Submission | Refusal | Spam:
    """The form checked, field by field; the first problem found is the answer."""
    if post_state is not PostState.PUBLISHED:
        return Refusal("post", _POST_REFUSALS[post_state])
    if form.honeypot:  # any value at all, decodable or not: only a bot sees the field
        return Spam("the hidden field was filled in")
    fields: dict[str, str] = {}
    for field in ("name", "email", "website", "text"):
        decoded = _as_text(field, getattr(form, field))
        if isinstance(decoded, Refusal):
            return decoded
        fields[field] = decoded
    if form.form_issued_at is None:
        return Spam("the form has no valid issued-at")
    if form.form_issued_at > now + CLOCK_SKEW:
        return Spam("the form's issued-at is in the future")
    if now - form.form_issued_at < MIN_SECONDS:
        return Spam(f"posted less than {MIN_SECONDS.total_seconds():g} s after the form was shown")

    raw_name = fields["name"]
    if problem := refused_character(raw_name):
        return Refusal("name", problem)
    name = " ".join(raw_name.split())
    if not name:
        return Refusal("name", "a name is required")
    if len(name) > MAX_NAME:
        return Refusal("name", f"is longer than {MAX_NAME} characters")
    if imitates(name, author_names):
        return Refusal("name", "looks like the site author's name; choose another")

    try:
        email = normalize_address(fields["email"])
    except InvalidAddress as error:
        return Refusal("email", str(error))

    if problem := refused_character(fields["website"]):
        return Refusal("website", problem)
    website = _website(fields["website"])
    if isinstance(website, Refusal):
        return website

    raw_text = fields["text"].replace("\r\n", "\n").replace("\r", "\n")
    if problem := refused_character(raw_text, _TEXT_ALLOWED_CONTROLS):
        return Refusal("text", problem)
    text = raw_text.strip()
    if not text:
        return Refusal("text", "a comment needs some text")
    if len(text) > MAX_TEXT:
        return Refusal("text", f"is longer than {MAX_TEXT:,} characters")
    links = len(_LINK.findall(text))
    if links > MAX_LINKS:
        return Refusal("text", f"has {links} links; at most {MAX_LINKS} are allowed")

    return Submission(
        post_slug=form.post_slug,
        parent_id=form.parent_id or None,
        name=name,
        email=email,
        website=website,
        text=text,
        form_issued_at=form.form_issued_at,
        notify_replies=form.notify_replies,
    )
