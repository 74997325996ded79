"""cmark-gfm through cmarkgfm's compiled library, with the memory it allocates freed.

cmarkgfm's wrappers (``markdown_to_html``, ``markdown_to_html_with_extensions``) never free
the document tree nor the HTML string that cmark returns: every call leaks, ~44 KB for a
600-word post, ~1 MB for a 20 KB one. A warm Lambda container renders post after post, so
it would grow until it is killed. This module makes the same calls (the same options and
extensions, so the same HTML) and frees both with the two functions cmarkgfm does not
declare (``cmark_node_free`` and the allocator's ``free``): ctypes finds them in the same
library (cffi's ``cdef`` would import pycparser, ~45 ms on the first render) and cffi calls
them. It is also faster: the extensions are looked up once, not per call.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache
from typing import Any

# The GFM extensions a post may use ("tagfilter" is not needed: nh3 sanitizes by allow-list).
EXTENSIONS = (b"table", b"strikethrough", b"autolink")


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
    (NOT sanitized). The same HTML as cmarkgfm's ``markdown_to_html_with_extensions``."""
    cmark = _cmark()
    lib, null = cmark.lib, cmark.ffi.NULL
    encoded = markdown.encode("utf-8")
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
        return str(cmark.ffi.string(output).decode("utf-8"))
    finally:
        if output != null:
            cmark.free_buffer(output)
        if root != null:
            cmark.free_node(root)
        lib.cmark_parser_free(parser)
