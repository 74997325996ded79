"""Any text in a WXR field comes back as written: titles, bodies, excerpts, tags, authors and
comments with every character class (CDATA's own "]]>", entities' "&", markup's "<", RTL,
combining marks, emoji, the characters XML forbids), written as WordPress writes them (CDATA,
"]]>" split across two sections)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.importing.model import ImportedItem
from pressline.importing.wxr import WxrSource

# XML 1.0 cannot hold these: the reader shows them as U+FFFD.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from("]]>&<;#\"'\\ \n\t\u05d0\u0627\u0301\u4e2d\U0001f600\u200d\x00\x01\x1b\ufffe"),
        st.characters(codec="utf-8"),
    ),
    max_size=80,
)


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def shown(text: str) -> str:
    return NOT_XML.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


@settings(max_examples=150, deadline=None)
@given(title=texts, body=texts, excerpt=texts, tag=texts, author=texts, comment=texts)
def test_fields_come_back_as_written(
    tmp_path_factory: object, title: str, body: str, excerpt: str, tag: str, author: str, comment: str
) -> None:
    export = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
 xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:wp="http://wordpress.org/export/1.2/"><channel><link>http://old.example</link>
<wp:author><wp:author_login>{cdata("login")}</wp:author_login><wp:author_display_name>{cdata(author)}</wp:author_display_name></wp:author>
<item><title>{cdata(title)}</title><link>http://old.example/p/</link><dc:creator>{cdata("login")}</dc:creator>
<guid isPermaLink="false">http://old.example/?p=1</guid><content:encoded>{cdata(body)}</content:encoded>
<excerpt:encoded>{cdata(excerpt)}</excerpt:encoded><wp:post_id>1</wp:post_id>
<wp:post_date_gmt>2020-01-01 10:00:00</wp:post_date_gmt><wp:post_name>p</wp:post_name>
<wp:status>publish</wp:status><wp:post_type>post</wp:post_type>
<category domain="post_tag" nicename="t">{cdata(tag)}</category>
<wp:comment><wp:comment_id>5</wp:comment_id><wp:comment_content>{cdata(comment)}</wp:comment_content>
<wp:comment_approved>1</wp:comment_approved></wp:comment></item></channel></rss>"""
    path = Path(str(tmp_path_factory.mktemp("text"))) / "export.xml"  # type: ignore[attr-defined]
    path.write_text(export, encoding="utf-8", errors="surrogatepass")
    [item] = list(WxrSource(path).items())
    assert isinstance(item, ImportedItem)
    assert item.body == shown(body)
    assert item.title == (" ".join(shown(title).split())[:200].rstrip() or "Untitled 1")
    expected_tag = " ".join(shown(tag).split())
    assert item.tags == ((expected_tag,) if expected_tag else ())
    assert item.author == (" ".join(shown(author).split()) or "login")
    assert item.comments[0].body_html == shown(comment)
    if "<" not in excerpt and "&" not in excerpt:
        assert item.summary == " ".join(shown(excerpt).split())
    assert ("\ufffd" in item.body) == ("\ufffd" in shown(body))
