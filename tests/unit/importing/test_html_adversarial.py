"""Shapes of HTML that made html_to_markdown take time growing with the square of their size
(found while building it: regular expressions from an opener to its closer, bs4's list of void
elements, looking for text after each of thousands of <br>s, deep nesting), each at a size
where the quadratic version took minutes. No test measures time: each checks its outcome, and a
return to quadratic time would not finish."""

from __future__ import annotations

import pytest

from pressline.importing.html import convert_html

SIZE = 48 * 1024

SHAPES = {
    "unclosed [caption]": ("[caption]", None),
    "unclosed [video] with a source": ('[video src="http://old.example/v.mp4"]', "http://old.example/v.mp4"),
    "[caption without its ]": ("[caption a=b ", "caption a=b"),
    "unknown shortcodes": ('[foo x="1"]', "unknown shortcodes"),
    "[gallery without its ]": ("[gallery ids=1,2 ", "gallery ids=1,2"),
    "unclosed block comments": ("<!-- wp:paragraph ", None),
    "unclosed <pre>": ("<pre>", None),
    "unclosed comments": ("<!--", None),
    "unclosed <!--more": ("<!--more ", None),
    "lines of one letter": ("a\n", "a\\\na"),
    "runs of spaces": ("a" + " " * 200, "a a"),
    "<br>s": ("<br>", None),
    "<br>s between letters": ("a<br>", "a\\\na"),
    "paragraphs of <br>s": ("<p><br><br>", None),
    "unclosed <li>": ("<li>x", "- x\n- x"),
    "unclosed <td>": ("<td>x", None),
    "<ul without >": ("<ul", None),
    "nested <div>": ("<div>", "nested more than"),
    "nested <em>": ("<em>x", "nested more than"),
    "emphasis side by side": ("<em>x</em>", "<em>x</em><em>x</em>"),
    "code spans side by side": ("<code>`</code>", "<code>"),
}


@pytest.mark.parametrize("name", SHAPES)
def test_each_shape_converts_with_its_outcome(name: str) -> None:
    unit, expected = SHAPES[name]
    converted = convert_html(unit * (SIZE // len(unit)))
    assert isinstance(converted.markdown, str)
    if expected is not None:
        found = converted.markdown + " ".join(warning.message for warning in converted.warnings)
        assert expected in found, found[:300]
