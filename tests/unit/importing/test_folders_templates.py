"""Hugo shortcodes and Jekyll's Liquid, one construct at a time, and adversarial shapes at the
content file's size limit: unclosed, nested and repeated openers are text, in one pass, with a
bounded number of warnings."""

from __future__ import annotations

import pytest

from pressline.importing.folders import MAX_TEXT_BYTES
from pressline.importing.templates import MAX_TEMPLATE_WARNINGS, convert_liquid, convert_shortcodes


def _hugo(text: str, refs: dict[str, str] | None = None) -> tuple[str, list[str]]:
    converted = convert_shortcodes(text, lambda target: (refs or {}).get(target))
    return converted.text, [warning.message for warning in converted.warnings]


def _liquid(text: str, is_html: bool = False) -> tuple[str, list[str]]:
    values = {"site.url": "http://old.example", "site.baseurl": "/blog", "page.title": "T"}
    posts = {"2020-01-01-a": "/2020/01/01/a/"}
    converted = convert_liquid(text, values, lambda tag, argument: posts.get(argument), is_html)
    return converted.text, [warning.message for warning in converted.warnings]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{< figure src="a.png" link="big.png" alt="A" >}}', "[![A](a.png)](big.png)"),
        ('{{< figure src="a.png" caption="C [1]" >}}', "![C \\[1\\]](a.png)"),
        ("{{< youtube id=abc title=Talk >}}", "[Talk](https://www.youtube.com/watch?v=abc)"),
        ("{{< vimeo 123 >}}", "[Video on Vimeo](https://vimeo.com/123)"),
        ("{{< gist someone 0a1b >}}", "[Gist by someone](https://gist.github.com/someone/0a1b)"),
        ('{{< tweet user="jack" id="20" >}}', "[Post by @jack](https://x.com/jack/status/20)"),
        ("{{% instagram BWNjjyYFxVx %}}", "[Post on Instagram](https://www.instagram.com/p/BWNjjyYFxVx/)"),
        ('[x]({{< ref "posts/a" >}})', "[x](/posts/a/)"),
        ("{{< highlight py >}}\nx = '```'\n{{< /highlight >}}", "````py\nx = '```'\n````"),
        ("{{%/* notice */%}}", "{{% notice %}}"),
        ("{{< a {{< youtube z >}}", "{{< a [Video on YouTube](https://www.youtube.com/watch?v=z)"),
    ],
)
def test_shortcodes_markdown_can_say(text: str, expected: str) -> None:
    assert _hugo(text, {"posts/a": "/posts/a/"}) == (expected, [])


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("{{< notice >}}x{{< /notice >}}", "the shortcode 'notice' has no Markdown equivalent"),
        ("{{< /orphan >}}", "a closing shortcode"),
        ("{{< ref missing >}}", "names no imported page"),
        ("{{< highlight go >}}never closed", "never closed"),
    ],
)
def test_shortcodes_kept_as_text_with_a_warning(text: str, warning: str) -> None:
    converted, warnings = _hugo(text)
    assert converted == text
    assert len(warnings) == 1 and warning in warnings[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ site.baseurl }}/a.png", "/blog/a.png"),
        ("{{- site.url -}}", "http://old.example"),
        ("{{ '/a.png' | relative_url }}", "/blog/a.png"),
        ('{{ "/a.png" | absolute_url }}', "http://old.example/blog/a.png"),
        ("{{ page.title | escape }}", "T"),
        ("{% post_url 2020-01-01-a %}", "/2020/01/01/a/"),
        ("a{% comment %}gone {{ x }}{% endcomment %}b", "ab"),
        ("{% raw %}{{ kept }}{% endraw %}", "{{ kept }}"),
        ("{%- highlight js linenos -%}\nx < 1\n{% endhighlight %}", "```js\nx < 1\n```"),
    ],
)
def test_liquid_that_means_something_here(text: str, expected: str) -> None:
    assert _liquid(text) == (expected, [])


def test_liquid_highlight_in_an_html_post_is_escaped_html() -> None:
    assert _liquid("{% highlight html %}<b>{% endhighlight %}", is_html=True) == (
        '<pre><code class="language-html">&lt;b&gt;</code></pre>',
        [],
    )


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("{{ site.unknown }}", "the Liquid '{{ site.unknown }}' is kept as text"),
        ("{{ site.url | upcase }}", "is kept as text"),
        ("{% include x.html %}", "includes a template"),
        ("{% post_url 1999-nope %}", "names no imported post"),
        ("{% raw %}never closed", "never closed"),
        ("{% if x %}", "the Liquid tag 'if'"),
    ],
)
def test_liquid_kept_as_text_with_a_warning(text: str, warning: str) -> None:
    converted, warnings = _liquid(text)
    assert converted == text
    assert len(warnings) == 1 and warning in warnings[0]


def test_warnings_are_bounded_per_file() -> None:
    text = "".join(f"{{{{< widget{n} >}}}}\n" for n in range(500))
    converted = convert_shortcodes(text, lambda _: None)
    assert converted.text == text
    assert len(converted.warnings) == MAX_TEMPLATE_WARNINGS + 1
    assert converted.warnings[-1].message.startswith("and 480 more")
    assert converted.warnings[3].line == 4  # each at its own line


# Unclosed, nested and repeated openers, each a whole file at the size limit. They took time
# quadratic in the openers when one regular expression spanned opener to closer (40 KB of
# "{{< a": 35 s); now each is read in one pass and stays text.
_UNCLOSED = ["{{< a", '{{< a "', "{{< a ", "{{< a > ", "{{</* a ", "{{< highlight go >}}x", "{{ a ", "{% a ",
             "{% raw %}x", "{% comment %}x", "{% highlight ruby %}x", "{{<{{<", "{%{%{{", "}}{{"]  # fmt: skip


@pytest.mark.parametrize("unit", _UNCLOSED)
def test_adversarial_template_code_at_the_size_limit_stays_text(unit: str) -> None:
    text = (unit * (MAX_TEXT_BYTES // len(unit) + 1))[:MAX_TEXT_BYTES]
    shortcodes = convert_shortcodes(text, lambda _: None)
    liquid = convert_liquid(text, {}, lambda _tag, _argument: None)
    assert len(shortcodes.warnings) <= MAX_TEMPLATE_WARNINGS + 1
    assert len(liquid.warnings) <= MAX_TEMPLATE_WARNINGS + 1
    if "{{<" in unit and ">}}" not in unit and "%}}" not in unit:
        assert shortcodes.text == text
    if unit.startswith("{%") and "%}" not in unit:
        assert liquid.text == text
