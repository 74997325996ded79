"""Splitting a post into front matter and Markdown body, and loading the front matter safely:
YAML between ``---`` lines, or TOML between ``+++`` lines (Hugo's), read by ``tomllib``.

Safety, beyond "no object construction" (SafeLoader only builds plain data):
- the front matter is capped in size;
- flow nesting (``[[[[...``) is bounded *before* libyaml sees it: libyaml's composer
  recurses in C and crashes the process on ~100,000 levels;
- alias/anchor expansion is bounded ("billion laughs"), self-referencing aliases are
  refused, and nesting depth is limited, all measured on the composed node graph
  before any Python object is built;
- TOML gets the same size cap and nesting bound; its dotted keys (``a.b.c = 1``) are bounded
  in parts before ``tomllib`` sees them, which takes quadratic time in them (30,000: 18 s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pressline.models import Problem

MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_DEPTH = 20
MAX_EXPANDED_NODES = 10_000
# Bounds the raw bracket count, a cheap over-estimate of flow depth, far below libyaml's limit.
_MAX_BRACKET_DEPTH = 100

_DELIMITER = re.compile(r"^---[ \t]*$")
_CLOSERS = ("---", "...")
_TOML_DELIMITER = re.compile(r"^\+\+\+[ \t]*$")


class FrontMatterError(Exception):
    """The front matter cannot be read; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Document:
    """A post split in two. Lines are 1-based lines of the whole file."""

    fields: dict[str, Any]
    body: str
    body_line: int
    has_front_matter: bool
    field_lines: dict[str, int] = field(default_factory=dict)
    item_lines: dict[tuple[str, int], int] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def line_of(self, name: str, index: int | None = None) -> int | None:
        if index is not None and (name, index) in self.item_lines:
            return self.item_lines[(name, index)]
        return self.field_lines.get(name)


def split(text: str) -> Document:
    """Split ``text`` (already decoded, newlines normalised) into front matter and body."""
    end = text.find("\n")
    first = text if end == -1 else text[:end]
    closers: tuple[str, ...]
    if _DELIMITER.match(first):
        closers, opener, load = _CLOSERS, "---", load_yaml
    elif _TOML_DELIMITER.match(first):
        closers, opener, load = ("+++",), "+++", load_toml
    else:
        return Document(fields={}, body=text, body_line=1, has_front_matter=False)
    # Line by line up to the closing delimiter only: the body is sliced off, never split and re-joined.
    matter_start, line_number = end + 1, 1
    while end != -1:
        start = end + 1
        end = text.find("\n", start)
        line_number += 1
        if (text[start:end] if end != -1 else text[start:]).rstrip() in closers:
            matter = text[matter_start : start - 1]
            body = text[end + 1 :] if end != -1 else ""
            fields, field_lines, item_lines, warnings = load(matter, first_line=2)
            return Document(fields, body, line_number + 1, True, field_lines, item_lines, warnings)
    message = f"opened with '{opener}' but never closed by a '{opener}' line"
    raise FrontMatterError(Problem(field="front matter", message=message, line=1))


def _bracket_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest, or, when there are too few of them to pass the bound,
    their count (an upper bound: a character loop costs more than the whole YAML load)."""
    openers = text.count("[") + text.count("{")
    if openers <= _MAX_BRACKET_DEPTH:  # the usual front matter: too few to nest past the bound
        return openers
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


# Block collections nest without brackets too: "- - - a" is three sequences deep on one line,
# and libyaml's composer, recursing in C, crashed the process (a segmentation fault: no report,
# retries, DLQ) on ~30,000 of them, which 64 KiB holds. Over several lines nesting costs
# indentation (a line d levels deep starts about d columns in), which the size limit keeps far
# below that, so the indicators that open one line ("- ", "? ", ": ") are what is bounded.
_LINE_INDICATORS = re.compile(r"^[ \t]*((?:[-?:][ \t]+)+)", re.MULTILINE)


def _deepest_line(text: str) -> tuple[int, int]:
    """The most collections one line opens with its leading indicators, and that line (0-based)."""
    deepest, where = 0, 0
    for match in _LINE_INDICATORS.finditer(text):
        count = len(match.group(1).split())
        if count > deepest:
            deepest, where = count, match.start()
    return deepest, text.count("\n", 0, where)


@cache
def _loader_class() -> Any:
    """libyaml's safe loader (10x faster than pure Python), else the pure one; dates and
    times stay text so that ``rules.parse_datetime`` parses them (and names a bad one)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: Any = type("PostLoader", (base,), {})
    loader.add_constructor("tag:yaml.org,2002:timestamp", lambda self, node: self.construct_scalar(node))
    return loader


def _measure(node: Any) -> None:
    """Refuse alias cycles, deep nesting and alias expansion beyond the limits."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(current: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _Limit(f"is nested deeper than {MAX_DEPTH} levels", current)
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise _Limit("has an alias that refers to itself", current)
        total = 1
        if isinstance(current.value, list):
            on_path.add(key)
            for child in current.value:
                pairs = child if isinstance(child, tuple) else (child,)
                for item in pairs:
                    total += size(item, depth + 1)
                    if total > MAX_EXPANDED_NODES:
                        reason = f"expands to more than {MAX_EXPANDED_NODES} values (each alias counts what it repeats)"
                        raise _Limit(reason, current)
            on_path.discard(key)
        sizes[key] = total
        return total

    size(node, 0)


_TAG = "tag:yaml.org,2002:"
_AS_WRITTEN = frozenset({_TAG + "str", _TAG + "timestamp"})  # dates stay text (see _loader_class)
_NOT_PLAIN = object()


def _plain_mapping(node: Any) -> dict[str, Any] | None:
    """The usual front matter, built without PyYAML's constructors (half the cost of loading
    it): a mapping of text keys to text, dates, booleans, nulls or lists of those. ``None``
    for anything else, which then goes the general way (``_measure``, ``construct_document``).
    Gives exactly what the constructors would; aliases are counted like ``_measure`` counts
    them, so a document past its limits goes the general way and is refused there."""
    from yaml import MappingNode, ScalarNode, SequenceNode

    if type(node) is not MappingNode or node.tag != _TAG + "map":
        return None
    data: dict[str, Any] = {}
    expanded = 1
    for key, value in node.value:
        if type(key) is not ScalarNode or key.tag != _TAG + "str":
            return None
        if type(value) is ScalarNode:
            item = _plain_scalar(value)
            expanded += 2
        elif type(value) is SequenceNode and value.tag == _TAG + "seq":
            items = [_plain_scalar(child) if type(child) is ScalarNode else _NOT_PLAIN for child in value.value]
            item = _NOT_PLAIN if _NOT_PLAIN in items else items
            expanded += 2 + len(items)
        else:
            return None
        if item is _NOT_PLAIN or expanded > MAX_EXPANDED_NODES:
            return None
        data[key.value] = item
    return data


def _plain_scalar(node: Any) -> Any:
    """What SafeConstructor makes of a text, date, null or boolean scalar, else _NOT_PLAIN."""
    tag = node.tag
    if tag in _AS_WRITTEN:
        return node.value
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        from yaml.constructor import SafeConstructor

        return SafeConstructor.bool_values.get(node.value.lower(), _NOT_PLAIN)
    return _NOT_PLAIN


class _Limit(Exception):
    def __init__(self, reason: str, node: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node


def _unreadable_character(text: str, error: Any, first_line: int) -> FrontMatterError:
    """YAML refuses some characters anywhere in a document, even in a quoted text: control
    characters other than tab and newlines, U+FFFE and U+FFFF, and surrogates. Its own message
    says "control characters" for all of them and gives a position (in bytes with libyaml, in
    characters without), so the line is found from the character itself: the reader stops at
    its first occurrence. Refused rather than removed: the value they were in would silently
    become another one (a slug, a date)."""
    character = chr(error.character) if isinstance(error.character, int) else str(error.character)
    index = text.find(character)
    line = first_line + text.count("\n", 0, index) if index != -1 else first_line - 1
    code = f"U+{ord(character):04X}" if len(character) == 1 else repr(character)
    message = (
        f"has the character {code}, which YAML does not allow (a control character, noncharacter or "
        "surrogate); remove it"
    )
    return FrontMatterError(Problem(field="front matter", message=message, line=line))


def load_yaml(
    text: str, first_line: int = 1
) -> tuple[dict[str, Any], dict[str, int], dict[tuple[str, int], int], list[Problem]]:
    """Load a YAML mapping safely. Returns the fields, the line of each field, the line of
    each item of list fields, and warnings (duplicate or non-text keys)."""
    import yaml

    def problem(message: str, mark: Any = None) -> FrontMatterError:
        line = first_line + mark.line if mark is not None else first_line - 1
        return FrontMatterError(Problem(field="front matter", message=message, line=line))

    if len(text) * 4 > MAX_FRONT_MATTER_BYTES and len(text.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise problem(f"is larger than {MAX_FRONT_MATTER_BYTES // 1024} KiB")
    if _bracket_depth(text) > _MAX_BRACKET_DEPTH:
        raise problem(f"is nested deeper than {MAX_DEPTH} levels")
    indicators, line = _deepest_line(text)
    if indicators > _MAX_BRACKET_DEPTH:
        message = f"is nested deeper than {MAX_DEPTH} levels ({indicators:,} '- ', '? ' or ': ' open one line)"
        raise FrontMatterError(Problem(field="front matter", message=message, line=first_line + line))
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}, {}, []
        data = _plain_mapping(node)
        if data is None:
            _measure(node)
            if not isinstance(node, yaml.MappingNode):
                raise problem("must be a mapping of 'field: value' lines", node.start_mark)
            data = loader.construct_document(node)
    except _Limit as limit:
        raise problem(limit.reason, limit.node.start_mark) from None
    except yaml.reader.ReaderError as error:
        raise _unreadable_character(text, error, first_line) from None
    except yaml.MarkedYAMLError as error:
        reason = error.problem or error.context or "is not valid YAML"
        raise problem(f"is not valid YAML: {reason}", error.problem_mark or error.context_mark) from None
    except yaml.YAMLError as error:
        raise problem(f"is not valid YAML: {error}") from None
    except (ValueError, TypeError, OverflowError) as error:  # a scalar its tag cannot build
        raise problem(f"has a value that cannot be read: {error}") from None
    except KeyError as error:  # !!bool maybe: PyYAML looks the value up in its table of booleans
        raise problem(f"has a value that cannot be read: {error} is not a value of its type") from None
    finally:
        loader.dispose()

    fields: dict[str, Any] = {}
    field_lines: dict[str, int] = {}
    item_lines: dict[tuple[str, int], int] = {}
    warnings: list[Problem] = []
    for key_node, value_node in node.value:
        line = first_line + key_node.start_mark.line
        name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if not name or not name.strip() or key_node.tag == "tag:yaml.org,2002:null":
            # "": x, ? : x, [a]: x: no name to report the field under, so the front matter is named.
            message = "has a value without a field name (write 'name: value'); it is ignored"
            warnings.append(Problem(field="front matter", message=message, line=line))
            continue
        if key_node.tag != "tag:yaml.org,2002:str":
            warnings.append(Problem(field=name, message="is ignored: a field name must be text", line=line))
            continue
        if name in field_lines:
            warnings.append(
                Problem(
                    field=name,
                    message=f"appears twice (first on line {field_lines[name]}); the last one is used",
                    line=line,
                )
            )
        field_lines[name] = line
        fields[name] = data[name]
        if isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                item_lines[(name, index)] = first_line + item.start_mark.line
    return fields, field_lines, item_lines, warnings


# A key of more than MAX_DEPTH dotted parts, bare or quoted (``a.b."c"``), wherever it is (a
# line's key, a table header, inside an inline table): an over-estimate, as a text value with
# as many dotted words would match too. Linear: a part starts only where a word or a quoted
# text starts (a long word is not tried from each of its letters, 60,000 letters: 39 s), and
# possessive quantifiers give nothing back.
_DOTTED_KEY = re.compile(
    r"""(?<![A-Za-z0-9_\-"'])(?:(?:[A-Za-z0-9_-]++|"[^"\n]*+"|'[^'\n]*+')[ \t]*+\.[ \t]*+){%d,}"""  # noqa: UP031
    % MAX_DEPTH
)
_TOML_ERROR_LINE = re.compile(r"\(at line (\d+), column \d+\)$")
_TOML_KEY_LINE = re.compile(r"""^[ \t]*(?:([A-Za-z0-9_-]+)|"([^"\\\n]*)"|'([^'\n]*)')[ \t]*[=.]""")
_TOML_TABLE_LINE = re.compile(r"""^[ \t]*\[\[?[ \t]*(?:([A-Za-z0-9_-]+)|"([^"\\\n]*)"|'([^'\n]*)')""")


def load_toml(
    text: str, first_line: int = 1
) -> tuple[dict[str, Any], dict[str, int], dict[tuple[str, int], int], list[Problem]]:
    """Load TOML front matter safely, in the shape ``load_yaml`` gives. Dates and times are
    ``tomllib``'s objects (a date, a datetime with or without its offset), which
    ``rules.parse_datetime`` reads as it reads YAML's: without an offset, in the site's zone.
    Field lines come from a cheap scan of the top-level ``key =`` and ``[table]`` lines."""
    import tomllib

    def problem(message: str, line: int | None = None) -> FrontMatterError:
        where = first_line - 1 if line is None else first_line + line
        return FrontMatterError(Problem(field="front matter", message=message, line=where))

    if len(text) * 4 > MAX_FRONT_MATTER_BYTES and len(text.encode("utf-8")) > MAX_FRONT_MATTER_BYTES:
        raise problem(f"is larger than {MAX_FRONT_MATTER_BYTES // 1024} KiB")
    if _bracket_depth(text) > _MAX_BRACKET_DEPTH:
        raise problem(f"is nested deeper than {MAX_DEPTH} levels")
    dotted = _DOTTED_KEY.search(text)
    if dotted:
        message = f"is nested deeper than {MAX_DEPTH} levels (a dotted key of more than {MAX_DEPTH} parts)"
        raise problem(message, text.count("\n", 0, dotted.start()))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        reason = str(error)
        at = _TOML_ERROR_LINE.search(reason)
        reason = (reason[: at.start()] if at else reason.removesuffix(" (at end of document)")).strip()
        line = int(at.group(1)) - 1 if at else text.count("\n")
        raise problem(f"is not valid TOML: {reason}", line) from None
    except RecursionError:  # the bracket bound keeps this away; never a crash if it does not
        raise problem(f"is nested deeper than {MAX_DEPTH} levels") from None
    if _toml_depth(data) > MAX_DEPTH:
        raise problem(f"is nested deeper than {MAX_DEPTH} levels")

    field_lines = _toml_field_lines(text, first_line)
    fields: dict[str, Any] = {}
    warnings: list[Problem] = []
    for name, value in data.items():
        if not name.strip():
            message = "has a value without a field name (write 'name = value'); it is ignored"
            warnings.append(Problem(field="front matter", message=message, line=field_lines.get(name)))
            field_lines.pop(name, None)
            continue
        fields[name] = value
    return fields, field_lines, {}, warnings


def _toml_depth(data: Any) -> int:
    """How deep tables and arrays nest, without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _toml_field_lines(text: str, first_line: int) -> dict[str, int]:
    """The line of each top-level key: ``key = …`` lines before the first table header, and the
    headers themselves (``[params]``, ``[[menu.main]]``) by their first part. Lines inside
    multi-line strings are skipped, well enough for reports (a line tells, it never decides)."""
    lines: dict[str, int] = {}
    in_table = False
    open_quote: str | None = None
    for number, line in enumerate(text.split("\n")):
        if open_quote is not None:
            if line.count(open_quote) % 2 == 1:
                open_quote = None
            continue
        table = _TOML_TABLE_LINE.match(line)
        if table:
            in_table = True
            name = next(part for part in table.groups() if part is not None)
            lines.setdefault(name, first_line + number)
            continue
        key = None if in_table else _TOML_KEY_LINE.match(line)
        if key:
            name = next(part for part in key.groups() if part is not None)
            lines.setdefault(name, first_line + number)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                open_quote = quote
                break
    return lines
