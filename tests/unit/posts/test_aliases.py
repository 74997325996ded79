"""Old URLs (``aliases``): the normal form, each refused class with its reason, and a property
over hostile strings: whatever is accepted is a clean path inside the site, and whatever is
refused is refused under ``aliases`` by ``check_post``."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from posts_helpers import check, post

from pressline.indexing.redirects import alias_key
from pressline.posts.aliases import (
    MAX_ALIAS_BYTES,
    MAX_ALIASES,
    RESERVED_FILES,
    RESERVED_FOLDERS,
    AliasError,
    normal_path,
    normalise_alias,
    normalise_aliases,
    reserved_reason,
)


# ----------------------------------------------------------------- accepted, in normal form
@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("/2019/05/hello/", "/2019/05/hello/"),
        ("/old.html", "/old.html"),
        ("old.html", "/old.html"),  # site-relative without its leading '/'
        ("  /padded/  ", "/padded/"),
        ("/2019/05/hello", "/2019/05/hello"),  # no trailing slash stays so: another URL
        ("https://old.example/2019/05/hello/", "/2019/05/hello/"),
        ("HTTP://Old.Example:8080/a/", "/a/"),
        ("https://user@old.example/a", "/a"),
        ("/café/", "/caf%C3%A9/"),
        ("/caf%c3%a9/", "/caf%C3%A9/"),  # hex case
        ("/caf%C3%A9/", "/caf%C3%A9/"),
        ("/%61bc/", "/abc/"),  # an unreserved letter needs no escape
        ("/a b/", "/a%20b/"),
        ("/a%20b/", "/a%20b/"),
        ("/100%25/", "/100%25/"),  # a literal percent sign stays encoded
        ("/a|b^c[d]!$&'()*+,;=:@~/", "/a|b^c[d]!$&'()*+,;=:@~/"),  # as browsers send them
        ("/日本語/", "/%E6%97%A5%E6%9C%AC%E8%AA%9E/"),
        ("/.well-known-ish/...", "/.well-known-ish/..."),  # '...' is a name, not a dot segment
        ("/2019/index.html", "/2019/index.html"),
        ("/blog/posts/x/", "/blog/posts/x/"),  # only the site's top-level folders are its own
        ("/2019/feed.xml", "/2019/feed.xml"),
        # A post's address (a renamed post's, on a site that had them there): Index decides
        # whether its slug is free (pressline.indexing.redirects).
        ("/posts/old-name/", "/posts/old-name/"),
        ("/posts/old-name", "/posts/old-name"),
        ("/%70osts/old-name/", "/posts/old-name/"),
    ],
)
def test_old_urls_are_normalised(written: str, normal: str) -> None:
    assert normalise_alias(written) == normal
    assert normalise_alias(normal) == normal  # the normal form is a fixed point
    _assert_clean(normal)


def test_a_list_is_normalised_in_order_each_once() -> None:
    assert normalise_aliases(["/b/", "/a/", "b/", "/%62/"]) == ("/b/", "/a/")


def test_a_list_names_the_item_it_refuses() -> None:
    with pytest.raises(AliasError, match=r"^item 2 '/\.\./x' has a '\.\.' segment"):
        normalise_aliases(["/ok/", "/../x"])


def test_at_most_so_many_aliases() -> None:
    assert len(normalise_aliases([f"/p{n}/" for n in range(MAX_ALIASES)])) == MAX_ALIASES
    with pytest.raises(AliasError, match=f"more than {MAX_ALIASES}"):
        normalise_aliases([f"/p{n}/" for n in range(MAX_ALIASES + 1)])


# ----------------------------------------------------------------- refused, by class
@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("/../etc/passwd", "'..' segment"),
        ("/a/./b", "'.' segment"),
        ("/a/..", "'..' segment"),
        ("/%2e%2e/x", "'..' segment"),
        ("/%2E./x", "'..' segment"),
        ("/.%2E/x", "'..' segment"),
        ("/\uff0e\uff0e/x", "segment, which would leave"),  # FULLWIDTH FULL STOP: NFKC '..'
        ("/\u2025/x", "segment, which would leave"),  # TWO DOT LEADER: NFKC '..'
        ("/%252e%252e/x", "percent-encoded twice"),
        ("/a%2Fb", "encoded '/'"),
        ("/a%5cb", "encoded '/'"),
        ("/a\uff0fb", "look-alike"),  # FULLWIDTH SOLIDUS
        ("/a\\b", "backslash"),
        ("\\\\evil.example\\x", "backslash"),
        ("//evil.example/x", "starts with '//'"),
        ("/a//b", "empty segment"),
        ("javascript:alert(1)", "javascript: URL"),
        ("JavaScript:alert(1)", "javascript: URL"),
        ("data:text/html,<script>", "data: URL"),
        ("file:///etc/passwd", "file: URL"),
        ("ftp://old.example/a", "ftp: URL"),
        ("http:/a", "not an absolute URL"),
        ("https:///a", "has no host"),
        ("/a?p=1", "has a query"),
        ("https://old.example/?p=123", "has a query"),
        ("/a#top", "has a fragment"),
        ("/a%3Fp=1", "encoded '?' or '#'"),
        ("/a%23top", "encoded '?' or '#'"),
        ("/a%", "'%' not followed by two hex digits"),
        ("/a%zz", "'%' not followed by two hex digits"),
        ("/%C0%AE%C0%AE/", "not UTF-8"),  # overlong '.'
        ("/%FF/", "not UTF-8"),
        ("/a\x00b", "U+0000"),
        ("/a%00b", "U+0000 once decoded"),
        ("/a\tb", "U+0009"),
        ("/a%0Ab", "U+000A once decoded"),
        ("/a\u202eb", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE
        ("/a%E2%80%AEb", "U+202E once decoded"),
        ("/a\u200bb", "U+200B"),  # ZERO WIDTH SPACE
        ("/a\u00a0b", "U+00A0"),  # NO-BREAK SPACE
        ("/a\u2028b", "U+2028"),  # LINE SEPARATOR
        ("/a\ue000b", "U+E000"),  # private use
        ("/a\uffffb", "U+FFFF"),  # noncharacter
        ("/a\ufdd0b", "U+FDD0"),
        ("/a\U0010fffeb", "U+10FFFE"),
        ("/a\u0378b", "U+0378"),  # unassigned
        ("/a\ud800b", "U+D800"),  # surrogate
        ("/" + "a" * MAX_ALIAS_BYTES, f"the limit is {MAX_ALIAS_BYTES}"),
        ("/" + "é" * 100, f"the limit is {MAX_ALIAS_BYTES}"),  # 600 bytes once encoded
        ("/" + "a" * 100_000, f"longer than {MAX_ALIAS_BYTES}"),
        ("/", "home page"),
        ("https://old.example", "home page"),
        ("/index.html", "site's own /index.html"),
        ("/posts", "under /posts/"),
        ("/posts/", "under /posts/"),
        ("/posts/hello/extra/", "under /posts/, which is the site's own (only a post's address"),
        ("/posts/hello.html", "under /posts/"),
        ("/posts/Hello/", "under /posts/"),  # not a slug: no post's address
        ("/posts/caf%C3%A9/", "under /posts/"),
        ("/Posts/hello/", "under /posts/"),
        ("/%70osts/x/y", "under /posts/"),
        ("/tags/python/", "under /tags/"),
        ("/archive/2019/05/", "under /archive/"),
        ("/media/pic.png", "under /media/"),
        ("/search/", "under /search/"),
        ("/sitemaps/2019-05.xml", "under /sitemaps/"),
        ("/api/subscriptions", "under /api/"),
        ("https://old.example/feed.xml", "site's own /feed.xml"),
        ("/rss.xml", "site's own /rss.xml"),
        ("/feed.json", "site's own /feed.json"),
        ("/sitemap.xml", "site's own /sitemap.xml"),
        ("/robots.txt", "site's own /robots.txt"),
        ("/404.html", "site's own /404.html"),
    ],
)
def test_refused_with_the_reason(written: str, reason: str) -> None:
    with pytest.raises(AliasError) as refused:
        normalise_alias(written)
    assert reason in str(refused.value)
    assert str(refused.value).isprintable()  # what is shown of the value cannot drive a terminal


def test_every_reserved_name_is_refused_and_normal_path_still_reads_it() -> None:
    for name in sorted(RESERVED_FOLDERS):
        assert reserved_reason(normal_path(f"/{name}/x/y")) is not None
    for name in sorted(RESERVED_FILES):
        assert reserved_reason(normal_path(f"/{name}")) is not None
    assert normal_path("/tags/python/") == "/tags/python/"  # to say why an old address is not an alias


def test_not_text_is_refused() -> None:
    with pytest.raises(AliasError, match="must be text"):
        normalise_alias(5)  # type: ignore[arg-type]


# ----------------------------------------------------------------- the class, as a property
_PIECES = [
    "/", "//", ".", "..", "...", "%2e", "%2E", "%2e%2e", "%252e", "%25", "%2f", "%2F", "%5c", "\\", "%",
    "%zz", "%3F", "%23", "%C0%AE", "%FF", "%E2%80%AE", "%00", "%0A", "%20", " ", "?", "#", ":", "@",
    "javascript:", "JaVaScRiPt:", "data:", "file:", "vbscript:", "http:", "https:", "http://", "https://h",
    "https://old.example", "/posts/", "posts", "Posts", "tags", "media", "api", "archive", "search", "sitemaps",
    "feed.xml", "rss.xml", "index.html", "404.html", "robots.txt", "2019", "05", "hello", "old.html",
    "café", "日本", "\uff0e", "\uff0f", "\u2024", "\u2025", "\ufe52", "\u202e", "\u2066", "\u200b", "\ufeff",
    "\u00a0", "\u2028", "\x00", "\x1b", "\x7f", "\x85", "\t", "\n", "\ue000", "\uffff", "\ufdd0", "\u0378",
    "\U000e0001",
]  # fmt: skip
_HOSTILE = st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=12).map("".join)
_SITE = "https://new.example"


def _yaml_quoted(value: str) -> str:
    """``value`` as a YAML double-quoted text, every character but printable ASCII escaped."""
    escaped = (
        char
        if " " <= char <= "~" and char not in '"\\'
        else f"\\u{ord(char):04X}"
        if ord(char) < 0x10000
        else f"\\U{ord(char):08X}"
        for char in value
    )
    return '"' + "".join(escaped) + '"'


def _assert_clean(alias: str) -> None:
    """What no accepted alias may be: anything but a plain path inside the site, off its own paths."""
    assert alias.startswith("/") and not alias.startswith("//")
    assert alias.isascii() and alias.isprintable() and " " not in alias
    assert not any(char in alias for char in "?#\\")
    assert len(alias.encode()) <= MAX_ALIAS_BYTES
    for escape in alias.split("%")[1:]:  # every '%' starts an upper-case %XX
        assert len(escape) >= 2 and all(c in "0123456789ABCDEF" for c in escape[:2])
    decoded = unquote(alias, errors="strict")
    segments = decoded.split("/")[1:]
    assert all(segment or index == len(segments) - 1 for index, segment in enumerate(segments))
    for segment in segments:
        folded = unicodedata.normalize("NFKC", segment)
        assert segment not in (".", "..") and folded not in (".", "..")
        assert "/" not in folded and "\\" not in folded
    assert not re.search("%[0-9A-Fa-f]{2}", decoded)  # encoded once: no layer decoding twice finds more
    assert posixpath.normpath(decoded) == decoded.rstrip("/") or decoded == "/"
    for char in decoded:
        assert char == " " or unicodedata.category(char)[0] not in "CZ"
    assert urlsplit(urljoin(_SITE + "/", alias)).netloc == "new.example"  # it cannot name another host
    assert "?" not in decoded and "#" not in decoded
    assert reserved_reason(alias) is None
    assert normalise_alias(alias) == alias
    # Index serves it from a key (the mapping of the distribution's viewer-request function).
    key = alias_key(alias)
    assert key is not None and not key.startswith("/") and ".." not in key.split("/")


@settings(max_examples=400, deadline=None)
@given(_HOSTILE)
@example("/%2e%2e/%2e%2e/etc/passwd")
@example("https://old.example/%252e%252e/")
@example("/\uff0e\uff0e/x")
@example("java\tscript:alert(1)")
@example("/caf%C3%A9/")
def test_an_alias_is_a_clean_path_or_refused_under_aliases(value: str) -> None:
    try:
        alias = normalise_alias(value)
    except AliasError as refused:
        assert str(refused) and str(refused).isprintable()
        accepted = None
    else:
        _assert_clean(alias)
        accepted = alias
    # The same value through the rules, as an author would write it, in a YAML quoted text.
    raw = post(f"title: T\naliases: [{_yaml_quoted(value)}]")
    result = check(raw)
    if accepted is None:
        assert result.post is None
        assert [error.field for error in result.errors] == ["aliases"], result.errors
        assert result.errors[0].message.startswith("item 1 ")
        assert result.errors[0].line == 3
    else:
        assert result.post is not None, result.errors
        assert result.post.meta.aliases == (accepted,)
