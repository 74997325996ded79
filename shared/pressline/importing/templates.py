"""Template code in Hugo and Jekyll bodies: Hugo's shortcodes and Jekyll's Liquid, translated
where they mean something Markdown can say (``figure``, ``youtube``, ``ref``, ``highlight``;
``raw``, ``post_url``, ``{{ site.baseurl }}``), kept as text with a warning where they do not.

Pure functions of the body. Both read it in one pass (see ``_MAX_TAG``): the body is a whole
content file, up to the folder readers' size cap, and may be hostile.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pressline.models import Problem


@dataclass
class Converted:
    """A body with its template code translated, and what could not be."""

    text: str
    warnings: list[Problem]


def _fence(code: str, language: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code.strip(chr(10))}\n{ticks}"


class _Lines:
    """The file's line at an index of the text, for indexes that only grow: counted on from
    the last one, so that all the warnings of a file cost one pass over it."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text, self.index, self.line, self.first_line = text, 0, first_line, first_line

    def at(self, index: int) -> int:
        if index < self.index:
            return self.text.count("\n", 0, index) + self.first_line
        self.line += self.text.count("\n", self.index, index)
        self.index = index
        return self.line


# Warnings about template code one file gets at most: past them, one more says how many more.
MAX_TEMPLATE_WARNINGS = 20


class _Warner:
    """Adds a warning once per key (the message, unless given), at most MAX_TEMPLATE_WARNINGS."""

    def __init__(self, warnings: list[Problem], lines: _Lines) -> None:
        self.warnings, self.lines, self.seen, self.more = warnings, lines, set[str](), 0

    def __call__(self, message: str, at: int, once_key: str | None = None) -> None:
        key = once_key or message
        if key in self.seen:
            return
        self.seen.add(key)
        if len(self.seen) > MAX_TEMPLATE_WARNINGS:
            self.more += 1
            return
        self.warnings.append(Problem(field="body", message=message, line=self.lines.at(at)))

    def finish(self) -> None:
        if self.more:
            message = f"and {self.more:,} more template code warnings like those above"
            self.warnings.append(Problem(field="body", message=message))


# A shortcode or Liquid tag longer than this is text: no real one is near it.
_MAX_TAG = 4096
# Both converters scan for an opener, then for its closer with str.find, and take the opener
# nearest the closer (the ones before it are text): every character is looked at a bounded
# number of times. Once a closer is not found, no later opener can have one, and none is
# looked for again. (Regular expressions spanning opener to closer took time quadratic in the
# openers: 40 KB of "{{< a" took 35 s.)


# Hugo shortcodes: {{< name args >}} and {{% name args %}}, closing {{< /name >}};
# {{</* name */>}} is how a page writes one literally.
_SHORTCODE_OPEN = re.compile(r"\{\{[<%]")
_SHORTCODE_NAME = re.compile(r"\s*(/?)\s*([\w./-]+)(.*)", re.DOTALL)
_HIGHLIGHT_END = re.compile(r"\{\{[<%]\s*/\s*highlight\s*[>%]\}\}")
_ARGUMENT = re.compile(r"""(?:([\w-]+)\s*=\s*)?(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`|([^\s"`]+))""")


def _arguments(text: str) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    named: dict[str, str] = {}
    for match in _ARGUMENT.finditer(text):
        key, quoted, raw, bare = match.groups()
        value = quoted.replace('\\"', '"') if quoted is not None else raw if raw is not None else bare or ""
        if key:
            named[key] = value
        else:
            positional.append(value)
    return positional, named


@dataclass(frozen=True)
class _Arguments:
    positional: list[str]
    named: dict[str, str]

    def first(self, *keys: str, index: int = 0) -> str:
        """The first of the named arguments given, else the positional one at ``index``."""
        for key in keys:
            if self.named.get(key):
                return self.named[key]
        return self.positional[index] if len(self.positional) > index else ""


def _markdown_text(text: str) -> str:
    """Text for inside a Markdown link or image label."""
    return re.sub(r"([\[\]\\])", r"\\\1", text)


def convert_shortcodes(body: str, resolve_ref: Callable[[str], str | None], first_line: int = 1) -> Converted:
    """Hugo shortcodes Markdown can say, as Markdown; the others kept, with a warning each."""
    warnings: list[Problem] = []
    lines = _Lines(body, first_line)
    out: list[str] = []
    position = search = 0  # out holds the body up to position; openers are looked for from search
    may_close = {"<": True, "%": True, "/*<": True, "/*%": True, "highlight": True}
    kept_open: set[str] = set()

    warn = _Warner(warnings, lines)

    while (found := _SHORTCODE_OPEN.search(body, search)) is not None:
        start, kind = found.start(), body[found.start() + 2]
        closer = (">" if kind == "<" else "%") + "}}"
        if body.startswith("/*", start + 3):  # {{</* x */>}}: written literally, as Hugo shows it
            closer = "*/" + closer
            end = body.find(closer, start + 5) if may_close["/*" + kind] else -1
            if end == -1:
                may_close["/*" + kind], search = False, start + 3
                continue
            out.append(body[position:start] + "{{" + kind + body[start + 5 : end] + closer.removeprefix("*/"))
            position = search = end + len(closer)
            continue
        end = body.find(closer, start + 3) if may_close[kind] else -1
        if end == -1:
            may_close[kind], search = False, start + 3
            continue
        nearest = body.rfind("{{" + kind, start + 3, end)
        start = nearest if nearest != -1 else start
        search = end + 3
        parts = _SHORTCODE_NAME.fullmatch(body, start + 3, end) if end - start <= _MAX_TAG else None
        if parts is None:
            continue  # not a shortcode: text
        closing, name, argument_text = parts.groups()
        original = body[start : end + 3]
        out.append(body[position:start])
        position = end + 3
        positional, named = _arguments(argument_text)
        first = _Arguments(positional, named).first
        lowered = name.lower()
        if closing:
            if lowered not in kept_open:  # the end of one kept as text is text too, said once
                warn(f"a closing shortcode '{{{{< /{_short(name)} >}}}}' without its opening is kept as text", start)
            out.append(original)
        elif lowered == "figure":
            src = first("src")
            alt = first("alt") or first("caption") or first("title")
            title = named.get("title", "")
            image = f"![{_markdown_text(alt)}]({src}" + (f' "{title}"' if title else "") + ")"
            if named.get("link"):
                image = f"[{image}]({named['link']})"
            caption = named.get("caption", "")
            out.append(image + (f"\n\n*{caption}*" if caption and caption != alt else ""))
        elif lowered in ("youtube", "vimeo", "instagram", "gist", "tweet", "twitter", "x"):
            out.append(_embed_link(lowered, first, named))
        elif lowered in ("ref", "relref"):
            target = resolve_ref(first("path"))
            if target is None:
                warn(f"'{{{{< {name} {_short(first('path'))} >}}}}' names no imported page; kept as text", start)
                out.append(original)
            else:
                out.append(target)
        elif lowered == "highlight":
            block_end = _HIGHLIGHT_END.search(body, position) if may_close["highlight"] else None
            if block_end is None:
                may_close["highlight"] = False
                warn("a 'highlight' shortcode is never closed; kept as text", start)
                out.append(original)
            else:
                out.append(_fence(body[position : block_end.start()], first("lang")))
                position = search = block_end.end()
        else:
            kept_open.add(lowered)
            message = f"the shortcode '{_short(name)}' has no Markdown equivalent; it is kept as text"
            warn(message, start, once_key=f"the shortcode '{_short(name)}' ")
            out.append(original)
    out.append(body[position:])
    warn.finish()
    return Converted("".join(out), warnings)


def _embed_link(kind: str, first: Callable[..., str], named: Mapping[str, str]) -> str:
    if kind == "youtube":
        video = first("id")
        label = named.get("title") or "Video on YouTube"
        return f"[{_markdown_text(label)}](https://www.youtube.com/watch?v={video})"
    if kind == "vimeo":
        return f"[{_markdown_text(named.get('title') or 'Video on Vimeo')}](https://vimeo.com/{first('id')})"
    if kind == "instagram":
        return f"[Post on Instagram](https://www.instagram.com/p/{first('id')}/)"
    if kind == "gist":
        return f"[Gist by {first('user')}](https://gist.github.com/{first('user')}/{first('id', index=1)})"
    user, status = first("user"), first("id", index=1) or first("id")
    if user and status:
        return f"[Post by @{_markdown_text(user)}](https://x.com/{user}/status/{status})"
    return f"[Post on X](https://x.com/i/status/{first('id')})"


# Jekyll's Liquid: {{ output }} and {% tag %}, and the blocks that end with {% endname %}.
_LIQUID_OPEN = re.compile(r"\{[{%]")
_LIQUID_WORD = re.compile(r"\w+")
_BLOCK_END = {name: re.compile(r"\{%-?\s*end" + name + r"\s*-?%\}") for name in ("raw", "comment", "highlight")}


def convert_liquid(
    body: str,
    values: Mapping[str, str],
    resolve: Callable[[str, str], str | None],
    is_html: bool = False,
    first_line: int = 1,
) -> Converted:
    """Jekyll's Liquid that means something here, resolved; the rest kept, with a warning each.

    ``values``: ``site.url``, ``site.baseurl`` and the like; ``resolve(tag, argument)``: the old
    URL that ``post_url`` or ``link`` names, or None."""
    warnings: list[Problem] = []
    lines = _Lines(body, first_line)
    out: list[str] = []
    position = search = 0
    may_close = {"{": True, "%": True, "raw": True, "comment": True, "highlight": True}

    warn = _Warner(warnings, lines)

    while (found := _LIQUID_OPEN.search(body, search)) is not None:
        start, kind = found.start(), body[found.start() + 1]
        closer = "}}" if kind == "{" else "%}"
        end = body.find(closer, start + 2) if may_close[kind] else -1
        if end == -1:
            may_close[kind], search = False, start + 2
            continue
        nearest = body.rfind("{" + kind, start + 2, end)
        start = nearest if nearest != -1 else start
        search = end + 2
        if end - start > _MAX_TAG:
            continue  # text
        inner = body[start + 2 : end].strip().removeprefix("-").removesuffix("-").strip()
        original = body[start : end + 2]
        out.append(body[position:start])
        position = end + 2
        if kind == "{":
            value = _liquid_output(inner, values)
            if value is None:
                warn(f"the Liquid '{{{{ {_short(inner)} }}}}' is kept as text", start)
            out.append(original if value is None else value)
            continue
        word = _LIQUID_WORD.match(inner)
        name, argument = (word.group(0), inner[word.end() :].strip()) if word else ("", inner)
        if name in _BLOCK_END:
            block_end = _BLOCK_END[name].search(body, position) if may_close[name] else None
            if block_end is None:
                may_close[name] = False
                warn(f"'{{% {name} %}}' is never closed by '{{% end{name} %}}'; kept as text", start)
                out.append(original)
                continue
            block = body[position : block_end.start()]
            position = search = block_end.end()
            if name == "raw":
                out.append(block)
            elif name == "highlight":
                out.append(_code_block(block, (argument.split() or [""])[0], is_html))
            continue  # a comment: nothing
        if name in ("post_url", "link"):
            target = resolve(name, argument)
            if target is not None:
                out.append(target)
                continue
            warn(f"'{{% {name} {_short(argument)} %}}' names no imported post; kept as text", start)
        elif name in ("include", "include_relative"):
            warn(f"'{{% {name} {_short(argument)} %}}' includes a template, which is not imported; kept as text", start)
        else:
            warn(f"the Liquid tag '{_short(name or inner)}' has no Markdown equivalent; kept as text", start)
        out.append(original)
    out.append(body[position:])
    warn.finish()
    return Converted("".join(out), warnings)


def _code_block(code: str, language: str, is_html: bool) -> str:
    if not is_html:
        return _fence(code, language)
    import html

    escaped = html.escape(code.strip("\n"))
    return f'<pre><code class="language-{html.escape(language, quote=True)}">{escaped}</code></pre>'


def _liquid_output(expression: str, values: Mapping[str, str]) -> str | None:
    """What ``{{ expression }}`` gives, for the values and filters known here, else None."""
    parts = [part.strip() for part in expression.split("|")]
    value = _liquid_value(parts[0], values)
    for filter_text in parts[1:]:
        if value is None:
            break
        name = filter_text.split(":")[0].strip()
        if name == "relative_url":
            if not urlsplit(value).scheme:
                value = values.get("site.baseurl", "") + "/" + value.lstrip("/")
        elif name == "absolute_url":
            if not urlsplit(value).scheme:
                value = values.get("site.url", "") + values.get("site.baseurl", "") + "/" + value.lstrip("/")
        elif name not in ("strip", "escape", "xml_escape", "uri_escape", "url_encode"):
            value = None
    return value


def _liquid_value(expression: str, values: Mapping[str, str]) -> str | None:
    if len(expression) >= 2 and expression[0] == expression[-1] and expression[0] in "'\"":
        return expression[1:-1]
    return values.get(expression)


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["MAX_TEMPLATE_WARNINGS", "Converted", "convert_liquid", "convert_shortcodes"]
