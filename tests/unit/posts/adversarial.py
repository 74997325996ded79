"""Adversarial post shapes for the rules and the renderer: nested and unclosed constructs,
repetitions, long lines, many short lines, deep YAML and TOML. Each makes a post of about ``size``
bytes; ``rejected`` is what the rules say of it at the size limit (``None``: accepted).

Used by ``test_superlinear.py`` (the outcome at the limit, and what the render makes of it)
and by ``tests/bench/bench_adversarial.py`` (how the time grows with the size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

HEADER = "---\ntitle: Adversarial\ndate: 2025-03-01 10:00\n---\n"
MAX_FRONT_MATTER = 64 * 1024


def repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


def _lines(make: Callable[[int], str]) -> Callable[[int], str]:
    """Whole lines only, so that the last one is not cut in the middle of its construct."""
    return lambda size: make(size).rsplit("\n", 1)[0] + "\n"


def _nested_list(size: int) -> str:
    lines, used, level = [], 0, 0
    while used + 2 * level + 4 <= size:
        lines.append("  " * level + "- a\n")
        used, level = used + 2 * level + 4, level + 1
    return "".join(lines)


@dataclass(frozen=True)
class Shape:
    name: str
    body: Callable[[int], str] | None = None  # a body of ``size`` characters, after HEADER
    front: Callable[[int], str] | None = None  # else front matter lines after "title: T"
    rejected: tuple[str, str] | None = None  # (field, part of the message) at the limit
    only_at_limit: bool = False  # rejected for its size: smaller, it is accepted
    toml: bool = False  # the front matter is TOML, between '+++' lines, after 'title = "T"'

    @property
    def limit(self) -> int:
        """The largest post of this shape the rules take a look at."""
        return MAX_FRONT_MATTER - 64 if self.front else 1024 * 1024 - 64

    def post(self, size: int) -> bytes:
        if self.front is not None and self.toml:
            return f'+++\ntitle = "T"\n{self.front(size - 30)}+++\nBody.\n'.encode()
        if self.front is not None:
            return f"---\ntitle: T\n{self.front(size - 30)}---\nBody.\n".encode()
        assert self.body is not None
        return (HEADER + self.body(size - len(HEADER))).encode()


_NESTED = ("body", "is nested more than 100 levels deep")
_EMPTY = ("body", "is empty")
_FM_NESTED = ("front matter", "is nested deeper than 20 levels")
_FM_VALUES = ("front matter", "expands to more than 10000 values")
_HTML_SIZE = ("body", "characters of HTML")

SHAPES = [
    # Unclosed and closed HTML comments: Validate's emptiness check, the <!--more--> search.
    Shape("comments unclosed <!--", repeat("<!--")),
    Shape("comments unclosed <!-- more", repeat("<!-- more ")),
    Shape("comments closed, nothing else", _lines(repeat("<!-- a -->\n")), rejected=_EMPTY),
    # Headings: ids made unique across the page.
    Shape("headings repeated # a", repeat("# a\n\n")),
    Shape("headings setext a / =", repeat("a\n=\n")),
    Shape("headings a-1 and a", repeat("# a-1\n\n# a\n\n# a-2\n\n")),
    # Inline constructs left open.
    Shape("brackets [", repeat("[")),
    Shape("links [a](", repeat("[a](")),
    Shape("images ![", repeat("![")),
    Shape("closers ]", repeat("]")),
    Shape("angle brackets <", repeat("<")),
    Shape("tags unclosed <a ", repeat("<a ")),
    Shape("emphasis *a", repeat("*a ")),
    Shape("emphasis *_", repeat("*_")),
    Shape("strikethrough ~~a", repeat("~~a ")),
    Shape("backticks `", repeat("`")),
    Shape("code spans of growing runs", lambda size: "".join("`" * i + "a" for i in range(1, 1500))[:size]),
    Shape("entities &#", repeat("&#")),
    # Blocks: quotes, lists, tables, fences, line shapes.
    Shape("block quotes >>>", repeat(">"), rejected=_NESTED),
    Shape("quoted lines > a", repeat("> a\n")),
    Shape("lists nested deep", lambda size: _nested_list(size), rejected=_NESTED),
    Shape("list items - a", repeat("- a\n")),
    Shape("fences ```", repeat("```\n")),
    Shape(
        "table rows",
        lambda size: "|a|b|\n|-|-|\n" + repeat("|a|b|\n")(size - 12),
        rejected=_HTML_SIZE,
        only_at_limit=True,
    ),
    Shape(
        "table of 1,000 columns, rows of one cell",
        lambda size: "|a" * 1000 + "|\n" + "|-" * 1000 + "|\n" + repeat("a\n")(size - 4004),
        rejected=("body", "empty table cells: each row gets all the header's columns"),
        only_at_limit=True,
    ),
    Shape("autolinks www.a", repeat("www.a "), rejected=_HTML_SIZE, only_at_limit=True),
    Shape("one long line", repeat("word ")),
    Shape("many short lines", repeat("a\n")),
    Shape("blank lines", repeat("\n\na")),
    # References: the same link reference, footnotes.
    Shape("link references defined", repeat("[a]: /u\n")),
    Shape(
        "link reference used",
        lambda size: "[a]: /u\n\n" + repeat("[a] ")(size - 9),
        rejected=_HTML_SIZE,
        only_at_limit=True,
    ),
    Shape(
        "footnote marks [^a]",
        lambda size: repeat("[^a]")(size - 10) + "\n\n[^a]: x\n",
        rejected=("body", "[^"),
        only_at_limit=True,
    ),
    Shape("footnotes defined", repeat("[^a]: x\n"), rejected=("body", "[^"), only_at_limit=True),
    # Raw HTML that the parser nests although the tags seem to close.
    Shape("html <div></span>", repeat("<div></span>"), rejected=_NESTED),
    Shape("html <rt>", repeat("<rt>"), rejected=_NESTED),
    Shape("html <optgroup>", repeat("<optgroup>"), rejected=_NESTED),
    Shape("html <my-a></my-b>", repeat("<my-a></my-b>"), rejected=_NESTED),
    Shape("html <table><td>", repeat("<table><td>"), rejected=_NESTED),
    Shape(
        "html <b> with attributes",
        lambda size: "".join(f"<b class={i}>" for i in range(size // 10))[:size],
        rejected=_NESTED,
    ),
    Shape(
        "html one element, many attributes",
        lambda size: "<div " + " ".join(f"a{i}" for i in range(size // 6))[: size - 10] + ">x</div>",
        rejected=("body", "attributes; the limit is 1,000"),
    ),
    Shape(
        "html attributes split by quoted >",
        lambda size: "<div " + " ".join(f'a{i} x=">"' for i in range(size // 12))[: size - 10] + ">x</div>",
        rejected=("body", "attributes; the limit is 1,000"),
    ),
    Shape("html 100 deep, then flat", lambda size: "<div>" * 100 + repeat("<p>a</p>")(size - 500)),
    # Front matter (64 KiB at most).
    Shape("yaml - - - on one line", front=lambda size: "x:\n" + repeat("- ")(size - 6) + "a\n", rejected=_FM_NESTED),
    Shape("yaml ? ? ? on one line", front=lambda size: "x:\n  " + repeat("? ")(size - 8) + "a\n", rejected=_FM_NESTED),
    Shape("yaml [[[ flow", front=lambda size: "x: " + repeat("[")(size - 4) + "\n", rejected=_FM_NESTED),
    Shape(
        "yaml many keys",
        front=_lines(lambda size: "".join(f"k{i}: v\n" for i in range(size // 4))[:size]),
        rejected=_FM_VALUES,
    ),
    Shape("yaml one key repeated", front=_lines(repeat("k: v\n")), rejected=_FM_VALUES),
    Shape(
        "yaml long key", front=lambda size: "k" * (size - 5) + ": v\n", rejected=("front matter", "is not valid YAML")
    ),
    Shape("yaml anchors", front=lambda size: "x: [" + ",".join(f"&a{i} v" for i in range(size // 12)) + "]\n"),
    Shape(
        "yaml tags repeated",
        front=lambda size: "tags: [" + ",".join("t" for _ in range(size // 2 - 5)) + "]\n",
        rejected=_FM_VALUES,
    ),
    Shape("yaml long title", front=lambda size: "summary: " + "a " * (size // 2 - 6) + "\n"),
    # TOML (tomllib is pure Python and recursive): the bounds before it reads, and what it reads.
    Shape("toml [[[ arrays", front=lambda size: "x = " + repeat("[")(size - 5) + "\n", toml=True, rejected=_FM_NESTED),
    Shape(
        "toml {a = { inline",
        front=lambda size: "x = " + repeat("{a = ")(size - 5) + "\n",
        toml=True,
        rejected=_FM_NESTED,
    ),
    Shape(
        "toml a.a.a dotted key",
        front=lambda size: "a" + repeat(".a")(size - 6) + " = 1\n",
        toml=True,
        rejected=_FM_NESTED,
    ),
    Shape(
        "toml [a.a.a] table", front=lambda size: "[a" + repeat(".a")(size - 4) + "]\n", toml=True, rejected=_FM_NESTED
    ),
    Shape("toml long word", front=lambda size: 'summary = "' + "a" * (size - 13) + '"\n', toml=True),
    Shape("toml quotes", front=lambda size: "x = '" + '"' * (size - 7) + "'\n", toml=True),
    Shape(
        "toml many keys", front=_lines(lambda size: "".join(f"k{i} = 1\n" for i in range(size // 6))[:size]), toml=True
    ),
    Shape(
        "toml many tables", front=_lines(lambda size: "".join(f"[t{i}]\n" for i in range(size // 5))[:size]), toml=True
    ),
    Shape(
        "toml long array", front=lambda size: "x = [" + ",".join("1" for _ in range(size // 2 - 4)) + "]\n", toml=True
    ),
]
