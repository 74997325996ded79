"""Splitting a post into YAML front matter and Markdown body, and loading the YAML safely.

Safety, beyond "no object construction" (SafeLoader only builds plain data):
- the front matter is capped in size;
- flow nesting (``[[[[...``) is bounded *before* libyaml sees it: libyaml's composer
  recurses in C and crashes the process on ~100,000 levels;
- alias/anchor expansion is bounded ("billion laughs"), self-referencing aliases are
  refused, and nesting depth is limited, all measured on the composed node graph
  before any Python object is built.
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
    if not _DELIMITER.match(text if end == -1 else text[:end]):
        return Document(fields={}, body=text, body_line=1, has_front_matter=False)
    # Line by line up to the closing delimiter only: the body is sliced off, never split and re-joined.
    yaml_start, line_number = end + 1, 1
    while end != -1:
        start = end + 1
        end = text.find("\n", start)
        line_number += 1
        if (text[start:end] if end != -1 else text[start:]).rstrip() in _CLOSERS:
            yaml_text = text[yaml_start : start - 1]
            body = text[end + 1 :] if end != -1 else ""
            fields, field_lines, item_lines, warnings = load_yaml(yaml_text, first_line=2)
            return Document(fields, body, line_number + 1, True, field_lines, item_lines, warnings)
    raise FrontMatterError(
        Problem(field="front matter", message="opened with '---' but never closed by a '---' line", line=1)
    )


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
                        raise _Limit(f"expands to more than {MAX_EXPANDED_NODES} values (aliases)", current)
            on_path.discard(key)
        sizes[key] = total
        return total

    size(node, 0)


class _Limit(Exception):
    def __init__(self, reason: str, node: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node


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
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}, {}, []
        _measure(node)
        if not isinstance(node, yaml.MappingNode):
            raise problem("must be a mapping of 'field: value' lines", node.start_mark)
        data = loader.construct_document(node)
    except _Limit as limit:
        raise problem(limit.reason, limit.node.start_mark) from None
    except yaml.MarkedYAMLError as error:
        reason = error.problem or error.context or "is not valid YAML"
        raise problem(f"is not valid YAML: {reason}", error.problem_mark or error.context_mark) from None
    except yaml.YAMLError as error:
        raise problem(f"is not valid YAML: {error}") from None
    except (ValueError, TypeError, OverflowError) as error:  # a scalar its tag cannot build
        raise problem(f"has a value that cannot be read: {error}") from None
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
