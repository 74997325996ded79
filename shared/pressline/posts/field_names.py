"""Hugo's and Jekyll's names for Pressline's front matter fields, so that their files publish
unchanged: the front matter read under its own names, before the rules see it.

- ``lastmod`` (Hugo) is ``updated``; ``description`` (Hugo) and ``excerpt`` (Jekyll) are
  ``summary``;
- ``publishDate``/``pubdate`` (Hugo), and ``published`` when it is a date (Hugo), give the
  ``date`` when there is none (Hugo's own order); beside a ``date`` they are ignored, saying so;
- ``published: false`` (Jekyll) is ``draft: true``;
- ``categories`` and ``category`` (both) join ``tags``, in order, each once (the tag rules drop
  repeats); a text ``tags``/``categories`` is a space-separated list, as Jekyll reads it
  (``category`` is one category);
- ``redirect_from`` (Jekyll's jekyll-redirect-from plugin) joins ``aliases``.

A name and its other name with different values is an error naming both: which one the
author meant cannot be guessed. The same value twice is fine.

Hugo's ``url`` and Jekyll's ``permalink`` (the post's address on the old site) become
aliases in ``rules.check_post``, once the slug is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pressline.models import Problem

# Pressline's field -> the other names for it, in the order they are read.
OTHER_NAMES: dict[str, tuple[str, ...]] = {
    "updated": ("lastmod",),
    "summary": ("description", "excerpt"),
}
DATE_FALLBACKS = ("publishDate", "pubdate", "published")
TAG_SOURCES = ("tags", "categories", "category")
ALIAS_SOURCES = ("aliases", "redirect_from")
ALL_OTHER_NAMES = frozenset(
    {*(n for names in OTHER_NAMES.values() for n in names), *DATE_FALLBACKS, *TAG_SOURCES, *ALIAS_SOURCES}
)

# (field, a value, another value) -> whether they say the same (dates are compared as instants).
Same = Callable[[str, Any, Any], bool]


@dataclass
class Renamed:
    """The fields under Pressline's names, and where each came from for problems' sake."""

    fields: dict[str, Any]
    # Pressline's field -> the name the author wrote, when it was another one.
    written: dict[str, str] = field(default_factory=dict)
    # (tags or aliases, index in the joined list) -> (field written, index there; None: one text).
    item_origins: dict[tuple[str, int], tuple[str, int | None]] = field(default_factory=dict)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


def rename(fields: dict[str, Any], line_of: Callable[[str], int | None], same: Same) -> Renamed:
    """``fields`` under Pressline's names (see the module); ``fields`` itself is not changed."""
    result = Renamed(fields=dict(fields))
    out = result.fields
    for target, others in OTHER_NAMES.items():
        given = [name for name in (target, *others) if out.get(name) is not None]
        for name in others:
            out.pop(name, None)
        if not given:
            continue
        first = given[0]
        for name in given[1:]:
            if not same(target, fields[first], fields[name]):
                message = f"is {_quoted(fields[name])} but {first} is {_quoted(fields[first])}: give one of them"
                result.errors.append(
                    Problem(field=name, message=f"{message} ({_meaning(name, target)})", line=line_of(name))
                )
        out[target] = fields[first]
        if first != target:
            result.written[target] = first
    _date(fields, out, result, line_of, same)
    _draft(fields, out, result, line_of)
    _tags(fields, out, result, line_of)
    _aliases(fields, out, result, line_of)
    return result


def _date(
    fields: dict[str, Any], out: dict[str, Any], result: Renamed, line_of: Callable[[str], int | None], same: Same
) -> None:
    fallbacks = [name for name in DATE_FALLBACKS if fields.get(name) is not None and not isinstance(fields[name], bool)]
    for name in fallbacks:
        out.pop(name, None)
    if not fallbacks:
        return
    if fields.get("date") is None:
        out["date"] = fields[fallbacks[0]]
        result.written["date"] = fallbacks[0]
        fallbacks = fallbacks[1:]
    for name in fallbacks:
        if not same("date", out["date"], fields[name]):
            shown = result.written.get("date", "date")
            message = f"is ignored: the post's {shown} ({_quoted(out['date'])}) is when it is published"
            result.warnings.append(Problem(field=name, message=message, line=line_of(name)))


def _draft(fields: dict[str, Any], out: dict[str, Any], result: Renamed, line_of: Callable[[str], int | None]) -> None:
    published = fields.get("published")
    if not isinstance(published, bool):
        return
    out.pop("published", None)
    draft = fields.get("draft")
    if isinstance(draft, bool) and draft == published:  # draft: true with published: true says both
        shown = "true" if published else "false"
        message = (
            f"is {shown} but draft is {'true' if draft else 'false'}: give one of them "
            "(published: false is Jekyll's draft: true)"
        )
        result.errors.append(Problem(field="published", message=message, line=line_of("published")))
        return
    if draft is None:
        out["draft"] = not published
        result.written["draft"] = "published"


def _tags(fields: dict[str, Any], out: dict[str, Any], result: Renamed, line_of: Callable[[str], int | None]) -> None:
    given = [name for name in TAG_SOURCES if fields.get(name) is not None]
    for name in TAG_SOURCES[1:]:
        out.pop(name, None)
    if not given or (given == ["tags"] and not isinstance(fields["tags"], str)):
        return  # Pressline's own list, or none: the tag rules read it as it is
    joined: list[Any] = []
    for name in given:
        value = fields[name]
        if isinstance(value, str):
            words = [value.strip()] if name == "category" else value.split()
            if len(words) > 1:
                listed = ", ".join(words[:5]) + (", …" if len(words) > 5 else "")
                message = (
                    f"was read as {len(words)} tags ({listed}): a text is a space-separated list, as Jekyll reads "
                    f"it; write [{value.strip()[:40]}] for one tag"
                )
                result.warnings.append(Problem(field=name, message=message, line=line_of(name)))
            for word in words:
                result.item_origins[("tags", len(joined))] = (name, None)
                joined.append(word)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                result.item_origins[("tags", len(joined))] = (name, index)
                joined.append(item)
        elif len(given) == 1:
            out["tags"] = value  # the tag rules say what is wrong with it, under its own name
            result.written["tags"] = name
            return
        else:
            message = f"must be a list of strings, like [news, python], or a space-separated text, not {_kind(value)}"
            result.errors.append(Problem(field=name, message=message, line=line_of(name)))
    out["tags"] = joined
    if given[0] != "tags" and len(given) == 1:
        result.written["tags"] = given[0]


def _aliases(
    fields: dict[str, Any], out: dict[str, Any], result: Renamed, line_of: Callable[[str], int | None]
) -> None:
    """``redirect_from`` joined to ``aliases``: each a list or one text (the alias rules say
    what is wrong with anything else, under its own name when it is alone)."""
    given = [name for name in ALIAS_SOURCES if fields.get(name) is not None]
    out.pop("redirect_from", None)
    if given == ["redirect_from"]:
        out["aliases"] = fields["redirect_from"]
        result.written["aliases"] = "redirect_from"
    if len(given) < 2:
        return
    for name in given:
        if not isinstance(fields[name], list | str):
            message = f"must be a list of old URLs, like [/2019/05/hello/, /old.html], not {_kind(fields[name])}"
            result.errors.append(Problem(field=name, message=message, line=line_of(name)))
    if result.errors:
        return
    joined: list[Any] = []
    for name in given:
        value = fields[name]
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            result.item_origins[("aliases", len(joined))] = (name, index if isinstance(value, list) else None)
            joined.append(item)
    out["aliases"] = joined


def _kind(value: Any) -> str:
    """What a value is, in the rules' words (``rules._describe`` for the values met here)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    return "a date" if hasattr(value, "isoformat") else type(value).__name__


def _meaning(name: str, target: str) -> str:
    whose = "Jekyll's" if name == "excerpt" else "Hugo's"
    return f"{name} is {whose} name for {target}"


def _quoted(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    text = " ".join(text.split())
    text = text if text.isprintable() else "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text)
    return f"'{text[:40]}…'" if len(text) > 40 else f"'{text}'"
