"""Old URLs of a post (front matter ``aliases``): what an old address may be, and its one form.

``normalise_alias`` is the single definition, used by the post rules, by the importer (old
URLs -> aliases) and by whatever maps an alias to a redirect (a site bucket key, a CloudFront
key-value store entry). It is pure and refuses by class, not by case:

- only a site path (``/2019/05/hello/``, ``/old.html``; ``old.html`` is read as ``/old.html``)
  or an absolute ``http(s)`` URL, whose path is kept (the host is the old site's, not ours);
  any other scheme (``javascript:``, ``data:``, ``file:``) is refused;
- no query or fragment: the site cannot redirect on them, so saying nothing would be a lie;
- no way out of the site or into its own addresses: no ``.``/``..`` segments (also written
  ``%2e``), no empty segments (``//`` at the start names another host), no backslashes, no
  encoded ``/`` or ``\\``, no double encoding (``%252e``: a layer that decodes twice would see
  ``%2e``), nothing under the site's own paths (``/tags/``, ``/media/``, the feeds, ...) but a
  post's address, ``/posts/<slug>/``: a renamed post's old address on a site that had posts
  there (Hugo's default). Whether that slug is taken needs the catalog: Index decides
  (``pressline.indexing.redirects``: a post there wins over the alias);
- no control, format (bidi, zero-width), private-use, unassigned, surrogate or noncharacter
  code points, no whitespace but the space, no invalid UTF-8 in ``%XX`` bytes;
- at most ``MAX_ALIAS_BYTES`` in its normal form (CloudFront's key-value store takes 512-byte
  keys; S3's 1,024-byte keys leave room for ``index.html``), and ``MAX_ALIASES`` a post.

The normal form is what a browser sends for the address: each segment percent-decoded, then
every byte in the WHATWG path percent-encode set (controls, space, ``"#<>?`{}``), ``%`` and
every non-ASCII byte encoded as ``%XX`` with upper-case hex, everything else literal. So
``/caf%c3%a9/``, ``/café/`` and ``https://old.example/caf%C3%A9/`` are one alias,
``/caf%C3%A9/``; ``urllib.parse.unquote`` of it is the site bucket's key text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from pressline.posts.paths import SITE_FILES, SITE_FOLDERS
from pressline.posts.slug import is_valid_slug

MAX_ALIAS_BYTES = 512
MAX_ALIASES = 50
# Longer input cannot shrink to MAX_ALIAS_BYTES (``%XX`` -> one byte is the most), plus a
# generous host part of an absolute URL: refused before any work is spent on it.
_MAX_INPUT_CHARACTERS = 3 * MAX_ALIAS_BYTES + 300

# The site's own addresses (posts/paths.py, indexing/layout.py, site/, the local and deployed
# front door's /api), compared case-insensitively: an old URL differing only in case would
# still be confusing beside them, and a case-insensitive file system (an export) merges them.
RESERVED_FOLDERS = frozenset({"posts", *SITE_FOLDERS})
RESERVED_FILES = SITE_FILES

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# The WHATWG URL standard's path percent-encode set, with '%' itself (a literal percent sign
# must stay encoded) and DEL; bytes >= 0x80 are always encoded.
_ENCODED = frozenset(b' "#<>?`{}%\x7f') | frozenset(range(0x20))
_NOT_ALLOWED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


class AliasError(ValueError):
    """Why a value is not a usable old URL; the message does not name the field (the caller
    does: ``aliases``, ``url``, ``permalink``, an importer's item)."""


def normalise_alias(value: str) -> str:
    """The normal form of one old URL (see the module), or ``AliasError`` saying why not."""
    normal = normal_path(value)
    reserved = reserved_reason(normal)
    if reserved:
        raise AliasError(f"'{_shown(value.strip())}' {reserved}; an old URL cannot take it over")
    return normal


def normal_path(value: str) -> str:
    """The normal form of a path or http(s) URL's path, checked by every rule of
    ``normalise_alias`` but one: it may be one of the site's own paths (``reserved_reason``)."""
    if not isinstance(value, str):  # front matter and exports hand over anything
        raise AliasError("must be text: an old URL path like /2019/05/hello/")
    text = value.strip(" \t\n\r")
    shown = _shown(text)
    if not text:
        raise AliasError("is empty")
    if len(text) > _MAX_INPUT_CHARACTERS:
        raise AliasError(f"'{shown}' is longer than {MAX_ALIAS_BYTES} bytes")
    _refuse_characters(text, shown, "")
    if "\\" in text:
        raise AliasError(f"'{shown}' has a backslash; write the old URL with '/'")
    if "?" in text:
        raise AliasError(f"'{shown}' has a query ('?…'), which cannot be redirected; give the path only")
    if "#" in text:
        raise AliasError(f"'{shown}' has a fragment ('#…'), which browsers never send; give the path only")
    scheme = _SCHEME.match(text)
    if scheme:
        name = scheme.group(1).lower()
        if name not in ("http", "https"):
            raise AliasError(f"'{shown}' is a {name}: URL; an alias is a path (/2019/05/hello/) or an http(s) URL")
        rest = text[scheme.end() :]
        if not rest.startswith("//"):
            raise AliasError(f"'{shown}' is not an absolute URL ({name}://host/path) nor a path (/path)")
        host, slash, path = rest[2:].partition("/")
        if not host:
            raise AliasError(f"'{shown}' has no host")
        path = slash + path or "/"  # https://old.example is its home page
    elif text.startswith("//"):
        raise AliasError(f"'{shown}' starts with '//', which names another host; write one '/'")
    else:
        path = text if text.startswith("/") else "/" + text
    segments = path.split("/")
    normal = "/".join(_segment(segment, index, len(segments) - 1, shown) for index, segment in enumerate(segments))
    if len(normal) > MAX_ALIAS_BYTES:
        message = f"'{shown}' is {len(normal):,} bytes in its normal form; the limit is {MAX_ALIAS_BYTES}"
        raise AliasError(message)
    return normal


def normalise_aliases(values: Iterable[str]) -> tuple[str, ...]:
    """Several old URLs in normal form, in order, each once; ``AliasError`` naming the item
    (1-based) for the first that is refused, or when there are more than ``MAX_ALIASES``."""
    normal: list[str] = []
    for index, value in enumerate(values, start=1):
        try:
            alias = normalise_alias(value)
        except AliasError as error:
            raise AliasError(f"item {index} {error}") from None
        if alias not in normal:
            normal.append(alias)
        if len(normal) > MAX_ALIASES:
            raise AliasError(f"has more than {MAX_ALIASES} old URLs; the limit is {MAX_ALIASES}")
    return tuple(normal)


def reserved_reason(path: str) -> str | None:
    """Why a normal-form path is one of the site's own addresses, or None."""
    if path == "/":
        return "is the site's home page"
    segments = path.split("/")
    first = _decoded_segment(segments[1]).lower()
    if first in RESERVED_FOLDERS:
        if (
            segments[1] == "posts"
            and len(segments) in (3, 4)
            and is_valid_slug(segments[2])
            and segments[3:] in ([], [""])
        ):
            return None  # /posts/<slug>/: a post's address (see the module)
        if first == "posts":
            return "is under /posts/, which is the site's own (only a post's address, /posts/<slug>/, may be an alias)"
        return f"is under /{first}/, which is the site's own"
    if path.count("/") == 1 and first in RESERVED_FILES:
        return f"is the site's own /{first}"
    return None


def _segment(segment: str, index: int, last: int, shown: str) -> str:
    """One path segment, decoded, checked and encoded again. Segment 0 is the empty text
    before the leading '/', the last one is empty after a trailing '/'."""
    if not segment:
        if index in (0, last):
            return ""
        raise AliasError(f"'{shown}' has an empty segment ('//')")
    if _BAD_PERCENT.search(segment):
        raise AliasError(f"'{shown}' has a '%' not followed by two hex digits (a literal % is written %25)")
    try:
        decoded = _to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise AliasError(f"'{shown}' has %XX bytes that are not UTF-8 text") from None
    if "?" in decoded or "#" in decoded:  # a name no server keeps apart from a query or fragment
        raise AliasError(f"'{shown}' has an encoded '?' or '#' (%3F, %23); give the path without them")
    if _ESCAPE.search(decoded):
        raise AliasError(f"'{shown}' is percent-encoded twice (%25XX); write it encoded once")
    _refuse_characters(decoded, shown, " once decoded")
    # Compatibility forms too (U+FF0E FULLWIDTH FULL STOP, U+FF0F FULLWIDTH SOLIDUS, U+2024 ONE
    # DOT LEADER...): a server or file system that folds them (NFKC) would see '..' or '/'.
    folded = unicodedata.normalize("NFKC", decoded)
    if "/" in folded or "\\" in folded:
        raise AliasError(
            f"'{shown}' has an encoded '/' or '\\' (%2F, %5C or a look-alike), which would change its folders"
        )
    if decoded in (".", "..") or folded in (".", ".."):
        raise AliasError(f"'{shown}' has a '{decoded}' segment, which would leave its folder")
    return "".join(chr(byte) if byte < 0x80 and byte not in _ENCODED else f"%{byte:02X}" for byte in decoded.encode())


def _to_bytes(segment: str) -> bytes:
    """A segment's bytes: its ``%XX`` escapes as the bytes they name, every other character
    as its UTF-8 (a segment may mix both: ``café%20au%20lait``)."""
    out = bytearray()
    position = 0
    for escape in _ESCAPE.finditer(segment):
        out += segment[position : escape.start()].encode("utf-8")
        out.append(int(escape.group(1), 16))
        position = escape.end()
    out += segment[position:].encode("utf-8", "surrogatepass")
    return bytes(out)


def _decoded_segment(segment: str) -> str:
    return _to_bytes(segment).decode("utf-8", "replace")


def _refuse_characters(text: str, shown: str, where: str) -> None:
    for char in text:
        if char == " ":
            continue
        category = unicodedata.category(char)
        if category in _NOT_ALLOWED_CATEGORIES or _is_noncharacter(char):
            kind = "whitespace" if category.startswith("Z") else "an invisible, control or unassigned character"
            raise AliasError(f"'{shown}' has U+{ord(char):04X}{where} ({kind}), which no old URL should hold")


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _shown(text: str) -> str:
    """``text`` for a message: unprintable characters as <U+XXXX>, clipped."""
    printable = text if text.isprintable() else "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text)
    return _clip(printable)


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "…"
