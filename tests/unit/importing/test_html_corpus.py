"""Real-world WordPress HTML (tests/fixtures/import/wordpress/html) through html_to_markdown: the
reader sees the same text as on the old site, and Markdown says what it can."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_html_property import _attacks_in, reader_text_of_html, reader_text_of_markdown

from pressline.importing.html import convert_html, wpautop
from pressline.posts.markdown import markdown_to_html, render_body

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "wordpress" / "html"
FILES = sorted(CORPUS.glob("*.html"))
KEY = "posts/imported.md"
_EMBEDDED = re.compile(r'<iframe[^>]*\ssrc="([^"]+)"')


def _as_wordpress_shows(source: str) -> str:
    """What WordPress itself sends for a stored body: wpautop on classic content only."""
    return source if "<!-- wp:" in source else wpautop(source)


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_the_reader_sees_the_same_text(path: Path) -> None:
    source = path.read_text()
    converted = convert_html(source)
    # Shortcodes are WordPress's, not HTML: the HTML compared is the one they stand for.
    if "[caption" in source:
        source = source.replace("[/caption]", "").replace(
            '[caption id="attachment_412" align="alignright" width="300"]', ""
        )
    seen = reader_text_of_markdown(converted.markdown)
    for embedded in _EMBEDDED.findall(source):  # an <iframe> becomes a link to what it showed
        seen = seen.replace(embedded, "", 1)
    assert seen == reader_text_of_html(_as_wordpress_shows(source))
    assert _attacks_in(markdown_to_html(converted.markdown)) == []


def md(name: str) -> str:
    return convert_html((CORPUS / name).read_text()).markdown


def test_classic_post() -> None:
    markdown = md("classic-post.html")
    assert markdown.startswith("Last weekend we went to the **market** & bought *far* too much.\n")
    assert (
        "<figure>\n\n[![Stalls at the market](http://old.example/wp-content/uploads/2015/06/market-300x200.jpg)]"
        in markdown
    )
    assert "<figcaption>\n\nThe stalls at 7 a.m.\n\n</figcaption>" in markdown
    assert '3. A 2nd-hand book: [see my list](http://old.example/2014/01/reading-list/ "My reading list")' in markdown
    assert "\n\n<!--more-->\n\n" in markdown
    assert "5 \\* 3 = 15 and #1" in markdown  # literal, as on the old site
    assert "### Next time" in markdown and "Bring a bigger bag.\\\nAnd cash." in markdown
    summary = render_body(markdown, KEY).summary
    assert summary.startswith("Last weekend") and "Bring" not in summary  # <!--more--> still divides


def test_gutenberg_blocks() -> None:
    markdown = md("gutenberg-blocks.html")
    assert "wp:" not in markdown
    assert '```bash\npip install pressline\necho "*done*" | tee log_file.txt\n```' in markdown
    assert "- Right **one**\n- Right two\n  - nested" in markdown
    assert "| Plan | Price |\n| --- | --- |\n| Free | $0 |\n| Pro \\\\| yearly | **$10** |" in markdown
    assert "https://www.youtube.com/watch?v=dQw4w9WgXcQ" in markdown
    assert "\n---\n" in markdown


def test_what_markdown_cannot_say_stays_html() -> None:
    converted = convert_html((CORPUS / "syntax-and-markup.html").read_text())
    markdown = converted.markdown
    assert markdown.count("```php\n") == 1 and "````" in markdown  # the code holds ``` itself
    for kept in (
        "<sup>",
        "<sub>2</sub>",
        '<abbr title="World Wide Web">WWW</abbr>',
        "<kbd>Ctrl</kbd>",
        "<mark>",
        "<u>",
    ):
        assert kept in markdown
    assert "~~gone~~" in markdown and "<q>quoted</q>" in markdown
    assert "<dl>" in markdown and '<td rowspan="2">' in markdown and "<details>" in markdown
    html = render_body(markdown, KEY).html
    assert "<dt>WXR</dt>" in html and "<summary>More</summary>" in html


def test_messy_html_is_read_as_a_browser_reads_it() -> None:
    converted = convert_html((CORPUS / "messy-classic.html").read_text())
    markdown = converted.markdown
    assert "- unclosed item one\n- unclosed item two" in markdown
    assert "[odd link](<http://old.example/a b (c).html>)" in markdown
    assert "[mail me](mailto:me@old.example)" in markdown and "a popup" in markdown
    assert "javascript" not in markdown and "onmouseover" not in markdown and "document.write" not in markdown
    assert "[https://www.youtube.com/embed/dQw4w9WgXcQ](https://www.youtube.com/embed/dQw4w9WgXcQ)" in markdown or (
        "<https://www.youtube.com/embed/dQw4w9WgXcQ>" in markdown
    )
    messages = " ".join(warning.message for warning in converted.warnings)
    assert "<script>" in messages and "javascript:" in messages and "<iframe>" in messages
