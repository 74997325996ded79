"""cmark-gfm through cmarkgfm's compiled library, with the memory it allocates freed.

cmarkgfm's wrappers (``markdown_to_html``, ``markdown_to_html_with_extensions``) never free
the document tree nor the HTML string that cmark returns: every call leaks, ~44 KB for a
600-word post, ~1 MB for a 20 KB one. A warm Lambda container renders post after post, so
it would grow until it is killed. This module makes the same calls (the same options and
extensions, so the same HTML) and frees both with the two functions cmarkgfm does not
declare (``cmark_node_free`` and the allocator's ``free``): ctypes finds them in the same
library (cffi's ``cdef`` would import pycparser, ~45 ms on the first render) and cffi calls
them. It is also faster: the extensions are looked up once, not per call.

What cmark returns is made fit for a page (``fit_for_html``): cmark encodes U+FFFE and U+FFFF
(raw, or from ``&#xFFFF;``) as the single bytes 0xFE and 0xFF, which are not UTF-8, and it
passes control characters and noncharacters through, raw or as references in raw HTML.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from functools import cache
from typing import Any

# The GFM extensions a post may use ("tagfilter" is not needed: nh3 sanitizes by allow-list).
EXTENSIONS = (b"table", b"strikethrough", b"autolink")

REPLACEMENT = "\ufffd"
# The 66 noncharacters (U+FDD0-U+FDEF and the last two code points of every plane, "never to be
# interchanged") and the surrogates (only ever halves of a UTF-16 pair), as the inside of a regex
# character class: ``posts.rules`` removes them from the one-line texts too.
NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
SURROGATES = "\ud800-\udfff"
# Not text, wherever they come from: those, and the control characters other than tab, line
# feed, form feed and carriage return (HTML calls them parse errors, XML forbids them, terminals
# obey ESC). Each becomes U+FFFD, the character HTML and CommonMark themselves put in place of
# what cannot be shown (``&#0;``, ``&#xD800;``): the reader sees that something was there.
_NOT_TEXT = re.compile(f"[\x00-\x08\x0b\x0e-\x1f\x7f{SURROGATES}{NONCHARACTERS}]")
# The same search, fast: a character class of 34 single characters past U+FFFF costs the regex
# engine a comparison with each, for every character (~0.25 s for 1 MiB of prose). These
# classes are ranges only (~15 ms); the 32 noncharacters past U+FFFF are looked for only when
# the text has a character from U+1FFFE up at all.
_NOT_TEXT_IN_BMP = re.compile(f"[\x00-\x08\x0b\x0e-\x1f\x7f{SURROGATES}\ufdd0-\ufdef\ufffe\uffff]")
_PAST_PLANE_1 = re.compile("[\U0001fffe-\U0010ffff]")
# C1 controls (U+0080-U+009F): no one types them; they are Windows-1252 text read as Latin-1
# (0x96 is an en dash). Every HTML parser reads ``&#150;`` as one, so the raw character and the
# reference in Markdown text (which CommonMark decodes to U+0096) are shown the same way.
_C1 = re.compile("[\x80-\x9f]")
# Character references left in cmark's output come from raw HTML (cmark writes the text's own
# "&" as "&amp;"); HTML decodes them with or without the ";".
_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _windows_1252(code: int) -> str:
    """What HTML shows for the C1 code point ``code`` (U+FFFD for the five unassigned)."""
    return bytes([code]).decode("cp1252", errors="replace")


_C1_AS_WINDOWS_1252 = {chr(code): _windows_1252(code) for code in range(0x80, 0xA0)}


def _fit_reference(match: re.Match[str]) -> str:
    hexadecimal, decimal = match.groups()
    digits = (hexadecimal or decimal).lstrip("0")
    if len(digits) > 7:  # past U+10FFFF whatever the digits (and int() of 5,000 digits refuses)
        return REPLACEMENT
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    if 0x80 <= code <= 0x9F:
        return _windows_1252(code)
    if code == 0 or code > 0x10FFFF or _NOT_TEXT.match(chr(code)):
        return REPLACEMENT
    return match.group(0)


def unfit_characters(text: str) -> set[str]:
    """The characters of ``text`` that ``fit_for_html`` replaces (references aside): for the
    warning that tells the author."""
    if _NOT_TEXT_IN_BMP.search(text) or _C1.search(text) or (_PAST_PLANE_1.search(text) and _NOT_TEXT.search(text)):
        return set(_NOT_TEXT.findall(text)) | set(_C1.findall(text))
    return set()


def fit_for_html(html: str) -> str:
    """``html`` with every control character, surrogate and noncharacter, raw or as a numeric
    reference, replaced by U+FFFD (C1 controls by their Windows-1252 character, as HTML reads
    ``&#128;``-``&#159;``). Text without them (nearly every post) is returned as it is after
    one search each."""
    if _NOT_TEXT_IN_BMP.search(html) or (_PAST_PLANE_1.search(html) and _NOT_TEXT.search(html)):
        html = _NOT_TEXT.sub(REPLACEMENT, html)
    if _C1.search(html):
        # At most 32 str.replace passes: a function called per match takes seconds on a body
        # made of them (1 MiB of U+0085 is under the binary-file check: its bytes are C2 85).
        for char in set(_C1.findall(html)):
            html = html.replace(char, _C1_AS_WINDOWS_1252[char])
    if "&#" in html:
        decided: dict[str, str] = {}  # a body of one reference repeated decides it once

        def fit(match: re.Match[str]) -> str:
            text = match.group(0)
            if text not in decided:
                decided[text] = _fit_reference(match)
            return decided[text]

        html = _REFERENCE.sub(fit, html)
    return html


class _Memory(ctypes.Structure):
    """cmark's ``cmark_mem``: the allocator whose ``free`` releases what cmark returns."""

    _fields_ = [
        ("calloc", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)),
        ("realloc", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)),
        ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


class _Cmark:
    """The library, its options and extensions, resolved once per process."""

    def __init__(self) -> None:
        from cmarkgfm import _cmark

        self.lib: Any = _cmark.lib
        self.ffi: Any = _cmark.ffi
        lib, ffi = self.lib, self.ffi
        self.options = int(lib.CMARK_OPT_UNSAFE | lib.CMARK_OPT_FOOTNOTES | lib.CMARK_OPT_VALIDATE_UTF8)
        lib.cmark_gfm_core_extensions_ensure_registered()
        self.extensions = [lib.cmark_find_syntax_extension(name) for name in EXTENSIONS]
        if any(extension == ffi.NULL for extension in self.extensions):
            raise RuntimeError(f"cmark-gfm lacks one of the extensions {EXTENSIONS}")
        # ctypes finds the two functions once; cffi calls them (faster, and takes cffi's pointers).
        shared = ctypes.CDLL(_cmark.__file__)  # already loaded: the same library, not a second copy
        get_allocator = shared.cmark_get_default_mem_allocator
        get_allocator.restype = ctypes.POINTER(_Memory)
        get_allocator.argtypes = []
        free_address = ctypes.cast(get_allocator().contents.free, ctypes.c_void_p).value
        node_free_address = ctypes.cast(shared.cmark_node_free, ctypes.c_void_p).value
        self.free_buffer: Callable[[Any], None] = ffi.cast("void(*)(void *)", free_address)
        self.free_node: Callable[[Any], None] = ffi.cast("void(*)(cmark_node *)", node_free_address)


@cache
def _cmark() -> _Cmark:
    return _Cmark()


def to_html(markdown: str) -> str:
    """CommonMark + GFM tables, strikethrough, autolinks and footnotes; raw HTML kept
    (NOT sanitized). The same HTML as cmarkgfm's ``markdown_to_html_with_extensions``, made
    ``fit_for_html``: always valid UTF-8, without control characters or noncharacters."""
    cmark = _cmark()
    lib, null = cmark.lib, cmark.ffi.NULL
    # A lone surrogate (never in a decoded file; possible from other callers) goes through as
    # its 3 bytes, which cmark (CMARK_OPT_VALIDATE_UTF8) replaces with U+FFFD.
    encoded = markdown.encode("utf-8", errors="surrogatepass")
    parser = lib.cmark_parser_new(cmark.options)
    if parser == null:
        raise MemoryError("cmark could not make a parser")
    root = output = null
    try:
        for extension in cmark.extensions:
            lib.cmark_parser_attach_syntax_extension(parser, extension)
        lib.cmark_parser_feed(parser, encoded, len(encoded))
        root = lib.cmark_parser_finish(parser)
        if root == null or lib.cmark_node_get_type(root) == lib.CMARK_NODE_NONE:
            raise ValueError("cmark could not parse the Markdown")
        output = lib.cmark_render_html(root, cmark.options, lib.cmark_parser_get_syntax_extensions(parser))
        # "replace": the only bytes that are not UTF-8 are cmark's 0xFE/0xFF for U+FFFE/U+FFFF.
        return fit_for_html(cmark.ffi.string(output).decode("utf-8", errors="replace"))
    finally:
        if output != null:
            cmark.free_buffer(output)
        if root != null:
            cmark.free_node(root)
        lib.cmark_parser_free(parser)
